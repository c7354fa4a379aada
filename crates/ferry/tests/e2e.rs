//! End to end: a Git repository served over the git protocol, emulated clusters, and the real
//! `ferry controller` binary. Each test reads as Given / When / Then.

use ferry_cluster::api_resource as ar;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The world of one test: clusters, a Git repository and its server, the controller.
struct World {
    _emulator: Killed,
    control: String,
    dir: tempfile::TempDir,
    repo: PathBuf,
    repo_url: String,
    kubeconfig: PathBuf,
    daemon: Option<Killed>,
    controller: Option<Killed>,
    /// Arguments the controller is started with, after the common ones.
    controller_args: Vec<String>,
    poll_seconds: u64,
    mgmt: kube::Client,
    target: kube::Client,
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@t")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@t")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn git_daemon_binary() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("git-daemon")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

async fn client_of(kubeconfig: &Path, context: &str) -> kube::Client {
    let kc = Kubeconfig::read_from(kubeconfig).expect("kubeconfig");
    let options = KubeConfigOptions {
        context: Some(context.into()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

const TOKEN: &str = "e2e-admin-token";

fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// A ConfigMap with one annotation.
fn cm_annotated(name: &str, value: &str, key: &str, annotation: &str) -> String {
    cm(name, value).replace(
        &format!("  name: {name}\n"),
        &format!("  name: {name}\n  annotations:\n    {key}: {annotation}\n"),
    )
}

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: main\n          image: {image}\n"
    )
}

impl World {
    /// Given clusters, a repository with `files`, and a controller not started yet.
    async fn new_stopped(files: &[(&str, String)]) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        // The clusters run in their own process, as a real API server would.
        let kubeconfig = dir.path().join("kubeconfig");
        let (mgmt_port, target_port, control_port) = (free_port(), free_port(), free_port());
        let mut emulator = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--log", "warn", "emulator", "--admin-token", TOKEN])
            .args(["--user", "reader:reader-token:viewers"])
            .args([
                "--cluster",
                &format!("management,version=v1.30.2,port={mgmt_port}"),
            ])
            .args([
                "--cluster",
                &format!("target,version=v1.29.4,port={target_port}"),
            ])
            .args(["--control-port", &control_port.to_string()])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(Stdio::piped())
            .spawn()
            .expect("ferry emulator");
        let stdout = emulator.stdout.take().expect("stdout");
        let ready = tokio::task::spawn_blocking(move || {
            use std::io::BufRead as _;
            let mut seen = Vec::new();
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let done = line.contains("fault control endpoint at");
                seen.push(line);
                if done {
                    return Ok(seen);
                }
            }
            Err(seen)
        });
        let ready = tokio::time::timeout(Duration::from_secs(60), ready)
            .await
            .expect("emulator starts in time")
            .expect("join");
        assert!(ready.is_ok(), "ferry emulator did not start: {ready:?}");
        let repo = dir.path().join("git").join("apps");
        std::fs::create_dir_all(&repo).expect("repo dir");
        git(&repo, &["init", "-q", "-b", "main"]);
        for (path, content) in files {
            let p = repo.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
            std::fs::write(p, content).expect("write");
        }
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "initial"]);
        let port = free_port();
        // `git daemon` forks `git-daemon` and exits; run the real one so that killing it
        // stops the server.
        let daemon = Command::new(git_daemon_binary())
            .args([
                "--export-all",
                "--reuseaddr",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
            ])
            .arg(format!("--base-path={}", dir.path().join("git").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "git daemon listens");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mgmt = client_of(&kubeconfig, "management").await;
        let target = client_of(&kubeconfig, "target").await;
        let world = World {
            _emulator: Killed(emulator),
            control: format!("http://127.0.0.1:{control_port}"),
            dir,
            repo,
            repo_url: format!("git://127.0.0.1:{port}/apps"),
            kubeconfig,
            daemon: Some(Killed(daemon)),
            controller: None,
            controller_args: Vec::new(),
            poll_seconds: 2,
            mgmt,
            target,
        };
        world.register_target().await;
        world
    }

    /// Given a world whose controller is started with `args` as well.
    async fn with_controller_args(
        files: &[(&str, String)],
        poll_seconds: u64,
        args: &[String],
    ) -> World {
        let mut w = World::new_stopped(files).await;
        w.controller_args = args.to_vec();
        w.poll_seconds = poll_seconds;
        w.start_controller();
        w
    }

    async fn new(files: &[(&str, String)]) -> World {
        let mut w = World::new_stopped(files).await;
        w.start_controller();
        w
    }

    /// The controller starts (again).
    fn start_controller(&mut self) {
        let controller = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "--log",
                "ferry=debug,warn",
                "controller",
                "--context",
                "management",
                "--workers",
                "4",
            ])
            .args(["--poll-seconds", &self.poll_seconds.to_string()])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--git-cache")
            .arg(self.dir.path().join("cache"))
            .args(&self.controller_args)
            .stdout(Stdio::null())
            .spawn()
            .expect("ferry controller");
        self.controller = Some(Killed(controller));
    }

    /// The controller is killed (SIGKILL: no chance to finish anything).
    fn kill_controller(&mut self) {
        self.controller.take();
    }

    async fn register_target(&self) {
        self.register_cluster("target", TOKEN).await;
    }

    /// Registers the target cluster under `name`, with the credentials `token`.
    async fn register_cluster(&self, name: &str, token: &str) {
        let kc = Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let cluster = kc
            .clusters
            .iter()
            .find(|c| c.name == "target")
            .and_then(|c| c.cluster.clone())
            .expect("target cluster");
        let server = cluster.server.clone().expect("server");
        let ca = cluster.certificate_authority_data.clone().expect("CA data");
        let config = json!({"bearerToken": token, "tlsClientConfig": {"caData": ca}});
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("cluster-{name}"), "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": name, "server": server, "config": config.to_string()}});
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ferry"}});
        self.apply_mgmt(&ar("", "v1", "Namespace", "namespaces"), None, ns)
            .await;
        self.apply_mgmt(&ar("", "v1", "Secret", "secrets"), Some("ferry"), secret)
            .await;
    }

    async fn apply_mgmt(&self, r: &ApiResource, ns: Option<&str>, obj: Value) {
        let api: Api<DynamicObject> = match ns {
            Some(ns) => Api::namespaced_with(self.mgmt.clone(), ns, r),
            None => Api::all_with(self.mgmt.clone(), r),
        };
        let name = obj["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match api
                .patch(
                    &name,
                    &PatchParams::apply("test").force(),
                    &Patch::Apply(&obj),
                )
                .await
            {
                Ok(_) => return,
                // The controller installs the CRDs when it starts.
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("applying {name}: {e}"),
            }
        }
    }

    /// When an application of `path` is created.
    async fn app(&self, name: &str, path: &str, automated: bool, finalizer: bool) {
        let mut app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"project": "default", "source": {"repoURL": self.repo_url, "targetRevision": "main", "path": path},
                "destination": {"name": "target", "namespace": "demo"},
                "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}});
        if automated {
            app["spec"]["syncPolicy"]["automated"] = json!({"prune": true, "selfHeal": true});
        }
        if finalizer {
            app["metadata"]["finalizers"] = json!(["ferry.dev/resources-finalizer"]);
        }
        self.apply_mgmt(
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
            Some("ferry"),
            app,
        )
        .await;
    }

    /// When an application with this source (merged over the usual one) is created.
    async fn app_with_source(&self, name: &str, source: Value, automated: bool) {
        let mut src = json!({"repoURL": self.repo_url, "targetRevision": "main"});
        for (k, v) in source.as_object().into_iter().flatten() {
            src[k] = v.clone();
        }
        let mut app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"project": "default", "source": src,
                "destination": {"name": "target", "namespace": "demo"},
                "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}});
        if automated {
            app["spec"]["syncPolicy"]["automated"] = json!({"prune": true, "selfHeal": true});
        }
        self.apply_mgmt(
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
            Some("ferry"),
            app,
        )
        .await;
    }

    /// When someone edits the ConfigMap `settings` by hand, then the edit is reverted to
    /// `value` (self-heal).
    async fn edit_settings_and_expect_healed(&self, value: &str) {
        let cms: Api<DynamicObject> = Api::namespaced_with(self.target.clone(), "demo", &cm_res());
        cms.patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "hand-edited"}})),
        )
        .await
        .expect("edit");
        self.expect_target(&cm_res(), "settings", 20, "the edit reverted", |v| {
            v.is_some_and(|v| v["data"]["value"] == value)
        })
        .await;
    }

    /// Someone creates namespace `name` on the target cluster.
    async fn apply_target_namespace(&self, name: &str) {
        let api: Api<DynamicObject> = Api::all_with(
            self.target.clone(),
            &ar("", "v1", "Namespace", "namespaces"),
        );
        api.patch(
            name,
            &PatchParams::apply("test").force(),
            &Patch::Apply(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
            ),
        )
        .await
        .expect("namespace");
    }

    /// Changes the target cluster's faults through the emulator's control endpoint.
    async fn fault(&self, args: &[&str]) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "emulator",
                "fault",
                "--control",
                &self.control,
                "--cluster",
                "target",
                "--admin-token",
                TOKEN,
            ])
            .args(args)
            .output()
            .await
            .expect("ferry emulator fault runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The Git server goes down.
    fn stop_git(&mut self) {
        self.daemon.take();
    }

    fn commit(&self, files: &[(&str, Option<String>)], message: &str) {
        for (path, content) in files {
            let p = self.repo.join(path);
            match content {
                Some(c) => {
                    std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
                    std::fs::write(&p, c).expect("write");
                }
                None => std::fs::remove_file(&p).expect("remove"),
            }
        }
        git(&self.repo, &["add", "-A"]);
        git(&self.repo, &["commit", "-q", "-m", message]);
    }

    async fn status(&self, name: &str) -> Value {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.mgmt.clone(),
            "ferry",
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        );
        api.get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|o| serde_json::to_value(o).ok())
            .map(|v| v["status"].clone())
            .unwrap_or(Value::Null)
    }

    /// Then, within `secs`, the application's status satisfies `ok`.
    async fn expect_app(
        &self,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.status(name).await;
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "application {name}: expected {what} within {secs}s; status:\n{s:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn target_get(&self, r: &ApiResource, name: &str) -> Option<Value> {
        let api: Api<DynamicObject> = Api::namespaced_with(self.target.clone(), "demo", r);
        api.get_opt(name)
            .await
            .ok()
            .flatten()
            .and_then(|o| serde_json::to_value(o).ok())
    }

    async fn expect_target(
        &self,
        r: &ApiResource,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(Option<&Value>) -> bool,
    ) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.target_get(r, name).await;
            if ok(v.as_ref()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} {name}: expected {what} within {secs}s; got {v:#?}",
                r.kind
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn ferry(&self, args: &[&str]) -> (bool, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--log", "warn", "app", "--context", "management"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .await
            .expect("ferry app runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

fn synced_healthy(s: &Value) -> bool {
    s["sync"]["status"] == "Synced" && s["health"]["status"] == "Healthy"
}

fn condition<'a>(s: &'a Value, kind: &str) -> Option<&'a str> {
    s["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?["message"]
        .as_str()
}

fn cm_res() -> ApiResource {
    ar("", "v1", "ConfigMap", "configmaps")
}

fn deploy_res() -> ApiResource {
    ar("apps", "v1", "Deployment", "deployments")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_changes_reach_the_cluster_drift_heals_and_removed_files_are_pruned() {
    // Given a repository with a ConfigMap and a Deployment, and an automated application.
    let w = World::new(&[
        ("web/config.yaml", cm("settings", "v1")),
        ("web/deploy.yaml", deployment("web", "nginx:1.25")),
    ])
    .await;
    w.app("web", "web", true, true).await;
    let s = w
        .expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;
    assert_eq!(s["resources"].as_array().map(Vec::len), Some(2), "{s:#}");
    w.expect_target(&cm_res(), "settings", 5, "the ConfigMap", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v1")
    })
    .await;

    // When a change is pushed, then it is applied on the next poll.
    w.commit(&[("web/config.yaml", Some(cm("settings", "v2")))], "change");
    w.expect_target(&cm_res(), "settings", 20, "the new value", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v2")
    })
    .await;
    w.expect_app("web", 20, "Synced again", synced_healthy)
        .await;

    // When a live object is edited, then it is self-healed.
    w.edit_settings_and_expect_healed("v2").await;

    // When a file is deleted from Git, then its object is pruned.
    w.commit(&[("web/config.yaml", None)], "remove the ConfigMap");
    w.expect_target(&cm_res(), "settings", 20, "pruned", |v| v.is_none())
        .await;
    w.expect_target(&deploy_res(), "web", 1, "still there", |v| v.is_some())
        .await;
    let s = w
        .expect_app("web", 20, "Synced with one resource", |s| {
            synced_healthy(s) && s["resources"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    assert!(
        s["history"].as_array().is_some_and(|h| h.len() >= 3),
        "history records the syncs: {s:#}"
    );

    // When the YAML breaks, then a condition names the file and nothing is removed.
    w.commit(
        &[(
            "web/deploy.yaml",
            Some("apiVersion: apps/v1\nkind: Deployment\nmetadata: [oops\n".into()),
        )],
        "break",
    );
    let s = w
        .expect_app("web", 20, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let msg = condition(&s, "ComparisonError")
        .unwrap_or_default()
        .to_owned();
    assert!(
        msg.contains("deploy.yaml"),
        "the condition names the file: {msg}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.expect_target(&deploy_res(), "web", 1, "untouched", |v| {
        v.is_some_and(|v| v["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25")
    })
    .await;

    // When Git is fixed again, the condition goes.
    w.commit(
        &[("web/deploy.yaml", Some(deployment("web", "nginx:1.26")))],
        "fix",
    );
    w.expect_app("web", 20, "the condition cleared", |s| {
        condition(s, "ComparisonError").is_none() && synced_healthy(s)
    })
    .await;
    w.expect_target(&deploy_res(), "web", 5, "the new image", |v| {
        v.is_some_and(|v| v["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26")
    })
    .await;

    // When the application is deleted (with the finalizer), then its resources go.
    let (ok, out) = w.ferry(&["delete", "web"]).await;
    assert!(ok, "{out}");
    w.expect_target(
        &deploy_res(),
        "web",
        20,
        "deleted with the application",
        |v| v.is_none(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_unknown_and_nothing_is_deleted_meanwhile() {
    let w = World::new(&[("app/config.yaml", cm("keep", "1"))]).await;
    w.app("keeper", "app", true, false).await;
    w.expect_app("keeper", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When the cluster goes down, then the application is Unknown with a condition.
    w.fault(&["--unreachable", "true"]).await;
    let s = w
        .expect_app("keeper", 30, "Unknown", |s| {
            s["sync"]["status"] == "Unknown"
        })
        .await;
    assert!(
        condition(&s, "ComparisonError").is_some_and(|m| m.contains("target")),
        "{s:#}"
    );

    // When it comes back, then it is Synced again, and nothing was deleted in between.
    w.fault(&["--unreachable", "false"]).await;
    w.expect_app("keeper", 30, "Synced again", synced_healthy)
        .await;
    w.expect_target(&cm_res(), "keep", 1, "never deleted", |v| v.is_some())
        .await;

    // An emptied source never prunes everything without allowEmpty.
    w.commit(
        &[
            ("app/config.yaml", None),
            ("app/README.md", Some("nothing here".into())),
        ],
        "empty",
    );
    let s = w
        .expect_app("keeper", 20, "a SyncError about allowEmpty", |s| {
            condition(s, "SyncError").is_some()
        })
        .await;
    assert!(
        condition(&s, "SyncError").is_some_and(|m| m.contains("allowEmpty")),
        "{s:#}"
    );
    w.expect_target(&cm_res(), "keep", 1, "not pruned", |v| v.is_some())
        .await;

    // Deleting the application without the finalizer leaves its resources.
    let (ok, out) = w.ferry(&["delete", "keeper", "--cascade", "false"]).await;
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.expect_target(&cm_res(), "keep", 1, "left in place", |v| v.is_some())
        .await;
    drop(w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_sync_from_the_cli_and_bad_sources_get_conditions() {
    let mut w = World::new(&[("manual/config.yaml", cm("by-hand", "1"))]).await;
    w.app("manual", "manual", false, true).await;
    let s = w
        .expect_app("manual", 60, "OutOfSync and Missing", |s| {
            s["sync"]["status"] == "OutOfSync"
        })
        .await;
    assert_eq!(s["health"]["status"], "Missing", "{s:#}");
    assert!(
        w.target_get(&cm_res(), "by-hand").await.is_none(),
        "nothing is applied without a sync"
    );

    let (ok, out) = w.ferry(&["diff", "manual"]).await;
    assert!(
        !ok && out.contains("by-hand"),
        "diff shows the missing ConfigMap and exits 1:\n{out}"
    );
    let (ok, out) = w.ferry(&["sync", "manual", "--timeout", "30"]).await;
    if !ok {
        let (_, app) = w.ferry(&["get", "manual", "-o", "json"]).await;
        panic!("{out}\n{app}");
    }
    assert!(
        out.contains("Succeeded") && out.contains("by-hand"),
        "{out}"
    );
    w.expect_app("manual", 20, "Synced", synced_healthy).await;
    let (ok, out) = w.ferry(&["list"]).await;
    assert!(
        ok && out.contains("manual") && out.contains("Synced"),
        "{out}"
    );
    let (ok, out) = w.ferry(&["history", "manual"]).await;
    assert!(ok && out.lines().count() >= 2, "{out}");
    let (ok, out) = w.ferry(&["get", "manual", "-o", "json"]).await;
    assert!(ok && out.contains("\"repoURL\""), "{out}");

    // A revision that does not exist, and a path that escapes the repository.
    let apps = ar("ferry.dev", "v1alpha1", "Application", "applications");
    let api: Api<DynamicObject> = Api::namespaced_with(w.mgmt.clone(), "ferry", &apps);
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"source": {"targetRevision": "no-such-branch"}}})),
    )
    .await
    .expect("patch");
    let s = w
        .expect_app("manual", 20, "a condition about the revision", |s| {
            condition(s, "ComparisonError").is_some_and(|m| m.contains("no-such-branch"))
        })
        .await;
    assert_eq!(s["sync"]["status"], "Unknown");
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"source": {"targetRevision": "main", "path": "../outside"}}}),
        ),
    )
    .await
    .expect("patch");
    w.expect_app("manual", 20, "a condition about the path", |s| {
        condition(s, "ComparisonError").is_some_and(|m| m.contains("outside"))
    })
    .await;
    w.expect_target(&cm_res(), "by-hand", 1, "untouched", |v| v.is_some())
        .await;

    // A kind the cluster does not serve names the kind and the file, and changes nothing.
    w.commit(
        &[(
            "manual/gizmo.yaml",
            Some("apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n".into()),
        )],
        "unknown kind",
    );
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"source": {"path": "manual"}}, "metadata": {"annotations": {"ferry.dev/refresh": "hard"}}})),
    )
    .await
    .expect("patch");
    w.expect_app("manual", 20, "a condition naming the kind", |s| {
        condition(s, "ComparisonError")
            .is_some_and(|m| m.contains("Gizmo") && m.contains("gizmo.yaml"))
    })
    .await;

    // The Git server going down is a condition too, and what is deployed stays.
    w.stop_git();
    w.commit(&[("manual/gizmo.yaml", None)], "fix");
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"ferry.dev/refresh": "hard"}}})),
    )
    .await
    .expect("patch");
    w.expect_app("manual", 30, "a condition about the repository", |s| {
        condition(s, "ComparisonError").is_some_and(|m| m.contains("127.0.0.1"))
    })
    .await;
    w.expect_target(&cm_res(), "by-hand", 1, "untouched", |v| v.is_some())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_refuses_ferry_is_a_condition_and_nothing_is_written() {
    // Given the target registered a second time with a user that RBAC gives nothing.
    let w = World::new(&[("denied/config.yaml", cm("denied", "1"))]).await;
    w.register_cluster("limited", "reader-token").await;

    // When an automated application is delivered through it, then a condition says why.
    let mut app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "denied"},
        "spec": {"project": "default", "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": "denied"},
            "destination": {"name": "limited", "namespace": "demo"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}});
    app["spec"]["syncPolicy"]["syncOptions"] = json!(["CreateNamespace=true"]);
    w.apply_mgmt(
        &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        Some("ferry"),
        app,
    )
    .await;
    let s = w
        .expect_app("denied", 30, "a condition naming the refusal", |s| {
            condition(s, "ComparisonError")
                .is_some_and(|m| m.contains("limited") && m.contains("forbidden"))
        })
        .await;
    assert_eq!(s["sync"]["status"], "Unknown", "{s:#}");
    w.expect_target(&cm_res(), "denied", 1, "not created", |v| v.is_none())
        .await;
}

fn job(name: &str, image: &str, annotations: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n{annotations}spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: main\n          image: {image}\n"
    )
}

fn job_res() -> ApiResource {
    ar("batch", "v1", "Job", "jobs")
}

fn op_state(s: &Value) -> &Value {
    &s["operationState"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_waves_run_in_order_and_a_killed_controller_resumes_the_same_operation() {
    // Given an application with a PreSync migration Job, a Deployment in wave 0 that stays
    // unready, a ConfigMap in wave 1 and a PostSync smoke test deleted when it succeeds.
    let mut w = World::new(&[
        (
            "waves/migrate.yaml",
            job(
                "migrate",
                "busybox:1",
                "    argocd.argoproj.io/hook: PreSync\n",
            ),
        ),
        (
            "waves/slow.yaml",
            deployment("slow", "nginx:1.25").replace(
                "metadata:\n  name: slow\n",
                "metadata:\n  name: slow\n  annotations:\n    emulator.ferry.dev/never-ready: \"true\"\n",
            ),
        ),
        (
            "waves/late.yaml",
            cm_annotated("late", "v1", "argocd.argoproj.io/sync-wave", "\"1\""),
        ),
        (
            "waves/smoke.yaml",
            job(
                "smoke",
                "busybox:1",
                "    argocd.argoproj.io/hook: PostSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded\n",
            ),
        ),
    ])
    .await;
    // Automated without self-heal: the test makes the Deployment ready by editing it, which
    // self-heal would (rightly) undo with a second operation.
    w.apply_mgmt(
        &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        Some("ferry"),
        json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "waves"},
            "spec": {"project": "default",
                "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": "waves"},
                "destination": {"name": "target", "namespace": "demo"},
                "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}}}),
    )
    .await;

    // Then the migration runs first, wave 0 is applied, and wave 1 waits for it to be healthy.
    let s = w
        .expect_app("waves", 60, "waiting for the Deployment", |s| {
            op_state(s)["phase"] == "Running"
                && op_state(s)["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("healthy state of Deployment slow"))
        })
        .await;
    let sync_id = op_state(&s)["syncId"].as_str().expect("sync id").to_owned();
    w.expect_target(
        &job_res(),
        "migrate",
        5,
        "the migration Job, complete",
        |v| v.is_some_and(|v| v["status"]["succeeded"] == 1),
    )
    .await;
    w.expect_target(&cm_res(), "late", 1, "not applied yet", |v| v.is_none())
        .await;
    let results = op_state(&s)["syncResult"]["resources"].clone();
    assert!(
        results
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["name"] == "migrate"
                && r["hookType"] == "PreSync"
                && r["hookPhase"] == "Succeeded")),
        "the PreSync hook is recorded as succeeded: {results:#}"
    );

    // When the controller is killed between waves and comes back, then it resumes the same
    // operation (same sync id), still waiting.
    w.kill_controller();
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.start_controller();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = w.status("waves").await;
    assert_eq!(op_state(&s)["phase"], "Running", "{s:#}");
    assert_eq!(op_state(&s)["syncId"], sync_id.as_str(), "{s:#}");
    w.expect_target(&cm_res(), "late", 1, "still not applied", |v| v.is_none())
        .await;

    // When the Deployment becomes ready, then wave 1 and the PostSync hook run, the hook is
    // deleted as it asked, and the operation that was started before the kill succeeds.
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(w.target.clone(), "demo", &deploy_res());
    deployments
        .patch(
            "slow",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"emulator.ferry.dev/never-ready": null}}}),
            ),
        )
        .await
        .expect("make it ready");
    let s = w
        .expect_app("waves", 60, "the operation to succeed", |s| {
            op_state(s)["phase"] == "Succeeded"
        })
        .await;
    assert_eq!(op_state(&s)["syncId"], sync_id.as_str(), "{s:#}");
    w.expect_target(&cm_res(), "late", 1, "applied", |v| v.is_some())
        .await;
    let results = op_state(&s)["syncResult"]["resources"].clone();
    let phases: Vec<String> = results
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["syncPhase"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let at = |n: &str| phases.iter().position(|p| p.ends_with(&format!(":{n}")));
    assert!(
        at("migrate") < at("slow") && at("slow") < at("late") && at("late") < at("smoke"),
        "results in order PreSync, wave 0, wave 1, PostSync: {phases:?}"
    );
    w.expect_target(&job_res(), "smoke", 10, "deleted after success", |v| {
        v.is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_presync_hook_stops_the_sync_and_runs_the_syncfail_hooks() {
    // Given an application whose PreSync migration fails, with a SyncFail hook.
    let w = World::new(&[
        (
            "app/migrate.yaml",
            job(
                "migrate",
                "busybox:fail",
                "    argocd.argoproj.io/hook: PreSync\n",
            ),
        ),
        (
            "app/alert.yaml",
            cm_annotated(
                "alert",
                "sync failed",
                "argocd.argoproj.io/hook",
                "SyncFail",
            ),
        ),
        ("app/web.yaml", deployment("web", "nginx:1.25")),
    ])
    .await;
    w.app("app", "app", true, false).await;

    // Then the sync fails naming the Job, the Deployment is never applied, the SyncFail hook
    // ran, and the failure is not retried for the same revision.
    let s = w
        .expect_app("app", 60, "a failed operation", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    let msg = op_state(&s)["message"].as_str().unwrap_or_default();
    assert!(msg.contains("Job demo/migrate"), "{msg}");
    assert!(
        condition(&s, "SyncError").is_some_and(|c| c.contains("migrate")),
        "{s:#}"
    );
    w.expect_target(&cm_res(), "alert", 5, "the SyncFail hook ran", |v| {
        v.is_some()
    })
    .await;
    w.expect_target(&deploy_res(), "web", 1, "never applied", |v| v.is_none())
        .await;
    let started = op_state(&s)["startedAt"].clone();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = w.status("app").await;
    assert_eq!(op_state(&s)["startedAt"], started, "not retried: {s:#}");
    assert_eq!(s["sync"]["status"], "OutOfSync", "{s:#}");
}

/// A helmfile-like plugin: picks the environment from `ARGOCD_ENV_ENVIRONMENT`, reads that
/// environment's values file from the repository, prints a ConfigMap and a Deployment.
const HELMFILE_GENERATE: &str = r#"#!/bin/sh
set -eu
env_name="${ARGOCD_ENV_ENVIRONMENT:-default}"
values="../../envs/$env_name/values.env"
if [ ! -f "$values" ]; then
  echo "helmfile: environment \"$env_name\" has no values file $values" >&2
  exit 3
fi
. "$values"
cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${ARGOCD_APP_NAME}-settings
data:
  environment: "$env_name"
  replicas: "$REPLICAS"
  kubeVersion: "$KUBE_VERSION"
  revision: "$ARGOCD_APP_REVISION_SHORT"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${ARGOCD_APP_NAME}
spec:
  replicas: $REPLICAS
  selector:
    matchLabels: {app: ${ARGOCD_APP_NAME}}
  template:
    metadata:
      labels: {app: ${ARGOCD_APP_NAME}}
    spec:
      containers:
        - name: main
          image: nginx:$TAG
EOF
"#;

fn helmfile_plugin(script: &Path) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: helmfile\nspec:\n  version: v1.0\n  init:\n    command: [sh, -c, 'test -f helmfile.yaml']\n  generate:\n    command: [sh, {}]\n  discover:\n    fileName: ./helmfile.yaml\n",
        script.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_management_plugin_renders_and_its_failure_changes_nothing() {
    // Given a helmfile-style plugin, and a repository with per-environment values files.
    let plugins = tempfile::tempdir().expect("tempdir");
    let script = plugins.path().join("generate.sh");
    std::fs::write(&script, HELMFILE_GENERATE).expect("script");
    std::fs::create_dir_all(plugins.path().join("helmfile")).expect("dir");
    std::fs::write(
        plugins.path().join("helmfile").join("plugin.yaml"),
        helmfile_plugin(&script),
    )
    .expect("plugin.yaml");
    let w = World::with_controller_args(
        &[
            ("envs/staging/values.env", "REPLICAS=1\nTAG=1.25\n".into()),
            ("envs/prod/values.env", "REPLICAS=3\nTAG=1.26\n".into()),
            ("apps/web/helmfile.yaml", "releases: [web]\n".into()),
        ],
        2,
        &["--plugins-dir".into(), plugins.path().display().to_string()],
    )
    .await;

    // When one application names the plugin for staging and another lets discovery find it
    // for prod, then each renders its environment.
    w.app_with_source(
        "web",
        json!({"path": "apps/web", "plugin": {"name": "helmfile-v1.0",
            "env": [{"name": "ENVIRONMENT", "value": "staging"}]}}),
        true,
    )
    .await;
    w.app_with_source(
        "web-prod",
        json!({"path": "apps/web", "plugin": {"env": [{"name": "ENVIRONMENT", "value": "prod"}]}}),
        true,
    )
    .await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;
    w.expect_app("web-prod", 60, "Synced and Healthy", synced_healthy)
        .await;
    w.expect_target(&cm_res(), "web-settings", 5, "staging values", |v| {
        v.is_some_and(|v| {
            v["data"]["environment"] == "staging"
                && v["data"]["replicas"] == "1"
                && v["data"]["kubeVersion"] == "v1.29.4"
        })
    })
    .await;
    w.expect_target(&deploy_res(), "web-prod", 5, "prod replicas", |v| {
        v.is_some_and(|v| {
            v["spec"]["replicas"] == 3
                && v["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
        })
    })
    .await;

    // When the staging values file disappears, then the plugin fails, its stderr is in the
    // condition, and what is deployed stays as it was.
    w.commit(&[("envs/staging/values.env", None)], "drop staging values");
    let s = w
        .expect_app("web", 30, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let msg = condition(&s, "ComparisonError").unwrap_or_default();
    assert!(
        msg.contains("has no values file") && msg.contains("helmfile"),
        "the condition carries the plugin's stderr: {msg}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.expect_target(&cm_res(), "web-settings", 1, "untouched", |v| {
        v.is_some_and(|v| v["data"]["environment"] == "staging")
    })
    .await;
    w.expect_target(&deploy_res(), "web", 1, "untouched", |v| v.is_some())
        .await;
}

/// Posts `body` to the webhook endpoint; answers the status code.
async fn post_webhook(port: u16, headers: &[(&str, String)], body: &str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("webhook endpoint listens");
    let mut req = format!(
        "POST /api/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_webhook_makes_a_change_live_within_seconds_and_an_unsigned_one_is_refused() {
    // Given a controller that polls only every 10 minutes, with a GitHub webhook secret.
    let port = free_port();
    let w = World::with_controller_args(
        &[("web/config.yaml", cm("settings", "v1"))],
        600,
        &["--webhook-listen".into(), format!("127.0.0.1:{port}")],
    )
    .await;
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "ferry-secret"},
        "stringData": {"webhook.github.secret": "s3cret"}});
    w.apply_mgmt(&ar("", "v1", "Secret", "secrets"), Some("ferry"), secret)
        .await;
    w.app("web", "web", true, false).await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When a change is pushed and announced without a signature, or with a wrong one, then
    // it is refused and nothing changes.
    w.commit(&[("web/config.yaml", Some(cm("settings", "v2")))], "change");
    let http_url = w.repo_url.replacen("git://", "http://", 1);
    let payload = json!({"ref": "refs/heads/main", "before": "0".repeat(40), "after": "1".repeat(40),
        "repository": {"full_name": "apps", "html_url": http_url, "clone_url": w.repo_url, "default_branch": "main"},
        "commits": [{"id": "1".repeat(40), "modified": ["web/config.yaml"], "added": [], "removed": []}]})
    .to_string();
    let github = [("X-GitHub-Event", "push".to_owned())];
    assert_eq!(post_webhook(port, &github, &payload).await, 401);
    let wrong = ferry_webhook::signature_header_value(b"not-the-secret", payload.as_bytes());
    let mut headers = github.to_vec();
    headers.push(("X-Hub-Signature-256", wrong));
    assert_eq!(post_webhook(port, &headers, &payload).await, 401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.expect_target(&cm_res(), "settings", 1, "unchanged", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v1")
    })
    .await;

    // When it is announced with the right signature, then it is live within seconds.
    let good = ferry_webhook::signature_header_value(b"s3cret", payload.as_bytes());
    let mut headers = github.to_vec();
    headers.push(("X-Hub-Signature-256", good));
    let sent = Instant::now();
    assert_eq!(post_webhook(port, &headers, &payload).await, 200);
    w.expect_target(&cm_res(), "settings", 10, "the pushed value", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v2")
    })
    .await;
    eprintln!("push webhook to applied: {:?}", sent.elapsed());
}

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_operations_selective_sync_rollback_terminate_and_resource_options() {
    // Given a manually synced application with a CRD and its custom resource, a ConfigMap
    // that must never be pruned or deleted, another ConfigMap, and a generateName hook.
    let mut w = World::new(&[
        ("ops/crd.yaml", WIDGET_CRD.into()),
        (
            "ops/widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n"
                .into(),
        ),
        (
            "ops/keep.yaml",
            cm_annotated(
                "keep",
                "precious",
                "argocd.argoproj.io/sync-options",
                "Prune=false,Delete=false",
            ),
        ),
        ("ops/one.yaml", cm("one", "v1")),
        (
            "ops/report.yaml",
            job("x", "busybox:1", "    argocd.argoproj.io/hook: PostSync\n")
                .replace("  name: x\n", "  generateName: report-\n"),
        ),
    ])
    .await;
    w.app("ops", "ops", false, true).await;

    // When it is synced from the CLI, then the CRD comes before its custom resource and the
    // hook gets a generated name.
    let (ok, out) = w.ferry(&["sync", "ops"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("Succeeded"), "{out}");
    let widgets = ar("example.com", "v1", "Widget", "widgets");
    w.expect_target(&widgets, "w1", 5, "the custom resource", |v| {
        v.is_some_and(|v| v["spec"]["size"] == 3)
    })
    .await;
    let s = w.status("ops").await;
    let report = op_state(&s)["syncResult"]["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["hookType"] == "PostSync")
                .and_then(|r| r["name"].as_str())
                .map(str::to_owned)
        })
        .expect("the hook's result");
    assert!(
        report.starts_with("report-") && report.ends_with("-postsync-0"),
        "{report}"
    );
    w.expect_target(&job_res(), &report, 5, "the generated hook", |v| {
        v.is_some()
    })
    .await;
    let first = s["history"][0]["id"].as_i64().expect("history id");

    // When Git changes one ConfigMap and drops the other, and only the first is synced, then
    // nothing else is touched.
    w.commit(
        &[
            ("ops/one.yaml", Some(cm("one", "v2"))),
            ("ops/keep.yaml", None),
        ],
        "v2",
    );
    let (ok, out) = w.ferry(&["get", "ops", "--refresh", "-o", "json"]).await;
    assert!(ok, "{out}");
    let (ok, out) = w
        .ferry(&["sync", "ops", "--resource", ":ConfigMap:one"])
        .await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "one", 5, "v2", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v2")
    })
    .await;
    let s = w.status("ops").await;
    let synced: Vec<&str> = op_state(&s)["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["kind"] != "Namespace")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        synced,
        ["one"],
        "a selective sync syncs one resource: {s:#}"
    );

    // When a sync prunes, then the Prune=false ConfigMap stays and says why.
    let (ok, out) = w.ferry(&["sync", "ops", "--prune"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("Prune=false"), "{out}");
    w.expect_target(&cm_res(), "keep", 1, "kept", |v| v.is_some())
        .await;

    // When rolled back to the first sync, then the first revision is live again.
    let (ok, out) = w.ferry(&["rollback", "ops", &first.to_string()]).await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "one", 5, "v1 again", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v1")
    })
    .await;

    // When a sync waits on a hook that never finishes, then it can be terminated: the hook is
    // deleted and the operation fails, saying so; and a second sync meanwhile is refused.
    w.commit(
        &[(
            "ops/wait.yaml",
            Some(job(
                "wait",
                "busybox:never-ready",
                "    argocd.argoproj.io/hook: Sync\n",
            )),
        )],
        "a hook that never ends",
    );
    let (ok, out) = w.ferry(&["sync", "ops", "--timeout", "4"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("waiting for completion of hook Job wait"),
        "{out}"
    );
    let (ok, out) = w.ferry(&["sync", "ops"]).await;
    assert!(!ok && out.contains("operation in progress"), "{out}");
    let (ok, out) = w.ferry(&["terminate-op", "ops"]).await;
    assert!(ok, "{out}");
    let s = w
        .expect_app("ops", 20, "the operation terminated", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    assert_eq!(op_state(&s)["message"], "operation terminated", "{s:#}");
    w.expect_target(&job_res(), "wait", 10, "the running hook deleted", |v| {
        v.is_none()
    })
    .await;

    // When a running hook is deleted by hand, then the sync fails and says so.
    let (ok, out) = w.ferry(&["sync", "ops", "--timeout", "3"]).await;
    assert!(!ok, "{out}");
    let jobs: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &job_res());
    jobs.delete("wait", &Default::default())
        .await
        .expect("delete the hook");
    let s = w
        .expect_app("ops", 20, "the operation failed", |s| {
            op_state(s)["phase"] == "Failed"
                && op_state(s)["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("deleted before it finished"))
        })
        .await;
    assert!(
        condition(&s, "SyncError").is_some_and(|c| c.contains("Job demo/wait")),
        "{s:#}"
    );

    // When the application is deleted with its resources, then the Delete=false ConfigMap
    // stays and the rest goes.
    let (ok, out) = w.ferry(&["delete", "ops"]).await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "one", 20, "deleted", |v| v.is_none())
        .await;
    w.expect_target(&cm_res(), "keep", 1, "kept", |v| v.is_some())
        .await;
    w.stop_git();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_differences_are_not_drift_and_everything_else_still_heals() {
    // Given an automated application that ignores the Deployment's replicas (a JSON pointer),
    // and a controller default that ignores one ConfigMap key (a jq path expression).
    let w = World::new(&[
        ("web/deploy.yaml", deployment("web", "nginx:1.25")),
        (
            "web/config.yaml",
            format!("{}  tuned: \"no\"\n", cm("settings", "v1")),
        ),
        (
            "web/keep.yaml",
            cm_annotated(
                "keep",
                "v1",
                "argocd.argoproj.io/sync-options",
                "Prune=false",
            ),
        ),
    ])
    .await;
    let defaults = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "ferry-cm"},
        "data": {"resource.customizations.ignoreDifferences.ConfigMap":
            "jqPathExpressions:\n- .data.tuned\n"}});
    w.apply_mgmt(
        &ar("", "v1", "ConfigMap", "configmaps"),
        Some("ferry"),
        defaults,
    )
    .await;
    let mut app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "web"},
        "spec": {"project": "default",
            "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": "web"},
            "destination": {"name": "target", "namespace": "demo"},
            "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}});
    app["spec"]["syncPolicy"]["automated"] = json!({"prune": true, "selfHeal": true});
    w.apply_mgmt(
        &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        Some("ferry"),
        app,
    )
    .await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When someone scales the Deployment and tunes the ConfigMap, then the application stays
    // Synced and nothing is reverted.
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(w.target.clone(), "demo", &deploy_res());
    deployments
        .patch(
            "web",
            &PatchParams::apply("hpa").force(),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"}, "spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    let cms: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &cm_res());
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"tuned": "yes"}})),
    )
    .await
    .expect("tune");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = w.status("web").await;
    assert_eq!(s["sync"]["status"], "Synced", "{s:#}");
    let (ok, out) = w.ferry(&["diff", "web"]).await;
    assert!(
        ok && out.contains("no differences"),
        "the CLI ignores the same: {out}"
    );
    w.expect_target(&deploy_res(), "web", 1, "still scaled", |v| {
        v.is_some_and(|v| v["spec"]["replicas"] == 5)
    })
    .await;
    w.expect_target(&cm_res(), "settings", 1, "still tuned", |v| {
        v.is_some_and(|v| v["data"]["tuned"] == "yes")
    })
    .await;

    // When a field that is not ignored drifts, then it is healed as before.
    w.edit_settings_and_expect_healed("v1").await;

    // When a Prune=false object leaves Git, then it stays, the application says it needs
    // pruning, and the automated policy does not sync again and again because of it.
    w.commit(&[("web/keep.yaml", None)], "drop keep");
    let s = w
        .expect_app("web", 20, "keep requiring pruning", |s| {
            s["resources"].as_array().is_some_and(|rs| {
                rs.iter()
                    .any(|r| r["name"] == "keep" && r["requiresPruning"] == true)
            })
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = w.status("web").await["operationState"]["startedAt"].clone();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = w.status("web").await;
    assert_eq!(
        later["operationState"]["startedAt"], started,
        "no sync loop over an unprunable object: {later:#}"
    );
    assert_eq!(later["sync"]["status"], "OutOfSync", "{s:#}");
    w.expect_target(&cm_res(), "keep", 1, "kept", |v| v.is_some())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_is_retried_with_backoff_and_replace_writes_without_apply() {
    // Given an application whose ConfigMap goes into a namespace that does not exist yet,
    // with retries, and a ConfigMap that asks to be replaced rather than applied.
    let w = World::new(&[
        (
            "retry/late.yaml",
            cm("late", "v1").replace("  name: late\n", "  name: late\n  namespace: later\n"),
        ),
        (
            "retry/replaced.yaml",
            cm_annotated(
                "replaced",
                "v1",
                "argocd.argoproj.io/sync-options",
                "Replace=true",
            ),
        ),
    ])
    .await;
    let app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "retry"},
        "spec": {"project": "default",
            "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": "retry"},
            "destination": {"name": "target", "namespace": "demo"},
            "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"],
                "retry": {"limit": 5, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "4s"}}}}});
    w.apply_mgmt(
        &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        Some("ferry"),
        app,
    )
    .await;

    // Then the first attempt fails and is retried, saying when.
    let s = w
        .expect_app("retry", 30, "a retry", |s| {
            op_state(s)["phase"] == "Running" && op_state(s)["retryCount"].as_i64() >= Some(1)
        })
        .await;
    assert!(
        op_state(&s)["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("retrying (attempt") && m.contains("later")),
        "{s:#}"
    );

    // When the namespace appears, then a retry succeeds.
    w.apply_target_namespace("later").await;
    let s = w
        .expect_app("retry", 30, "the operation to succeed", |s| {
            op_state(s)["phase"] == "Succeeded"
        })
        .await;
    assert!(op_state(&s)["retryCount"].as_i64() >= Some(1), "{s:#}");
    let cms: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "later", &cm_res());
    assert!(cms.get_opt("late").await.expect("read").is_some());

    // And the Replace=true ConfigMap was written by an update, not by server-side apply.
    let replaced: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &cm_res());
    let obj = replaced.get("replaced").await.expect("replaced exists");
    let ops: Vec<String> = obj
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.operation.clone())
        .collect();
    assert!(
        !ops.is_empty() && ops.iter().all(|o| o == "Update"),
        "no Apply operation on a replaced object: {ops:?}"
    );
}
