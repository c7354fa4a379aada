//! The world of an end-to-end test: an emulator process with a management and a target
//! cluster, a Git repository behind a git daemon, and the `ferry controller` binary; and the
//! Given/When/Then steps the tests are written in.

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct Killed(pub(crate) Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The world of one test: clusters, a Git repository and its server, the controller.
pub(crate) struct World {
    pub(crate) _emulator: Killed,
    pub(crate) control: String,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) repo: PathBuf,
    pub(crate) repo_url: String,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) daemon: Option<Killed>,
    pub(crate) controller: Option<Killed>,
    /// Arguments the controller is started with, after the common ones.
    pub(crate) controller_args: Vec<String>,
    pub(crate) poll_seconds: u64,
    /// The controller's log goes to `controller.log` in `dir` (read by
    /// [`World::controller_log`]) instead of the test's output.
    pub(crate) capture_log: bool,
    pub(crate) mgmt: kube::Client,
    pub(crate) target: kube::Client,
}

pub(crate) fn git(dir: &Path, args: &[&str]) {
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

pub(crate) fn git_daemon_binary() -> PathBuf {
    let out = Command::new("git")
        .arg("--exec-path")
        .output()
        .expect("git --exec-path");
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("git-daemon")
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

pub(crate) async fn client_of(kubeconfig: &Path, context: &str) -> kube::Client {
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

pub(crate) const TOKEN: &str = "e2e-admin-token";

/// `ferry emulator` with the admin token [`TOKEN`], `args` (its `--cluster`s and `--user`s),
/// the fault control endpoint on `control_port` and a kubeconfig written to `kubeconfig`;
/// answers once every cluster listens.
pub(crate) async fn start_emulator(
    args: &[String],
    control_port: u16,
    kubeconfig: &Path,
) -> Killed {
    let mut emulator = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["--log", "warn", "emulator", "--admin-token", TOKEN])
        .args(args)
        .args(["--control-port", &control_port.to_string()])
        .arg("--kubeconfig")
        .arg(kubeconfig)
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
    Killed(emulator)
}

/// A Git repository `apps` under `base/git` with `files` committed on `main`, served by a
/// git daemon: the repository's path, its URL and the daemon.
pub(crate) fn serve_git(base: &Path, files: &[(&str, String)]) -> (PathBuf, String, Killed) {
    let repo = base.join("git").join("apps");
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
        .arg(format!("--base-path={}", base.join("git").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git daemon");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "git daemon listens");
        std::thread::sleep(Duration::from_millis(50));
    }
    (repo, format!("git://127.0.0.1:{port}/apps"), Killed(daemon))
}

/// Writes (or, for `None`, removes) `files` in `repo` and commits them.
pub(crate) fn commit_files(repo: &Path, files: &[(&str, Option<String>)], message: &str) {
    for (path, content) in files {
        let p = repo.join(path);
        match content {
            Some(c) => {
                std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
                std::fs::write(&p, c).expect("write");
            }
            None => std::fs::remove_file(&p).expect("remove"),
        }
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", message]);
}

/// The status of the Application `name` of namespace `ferry` (`null` while there is none).
pub(crate) async fn app_status(mgmt: &kube::Client, name: &str) -> Value {
    let api: Api<DynamicObject> = Api::namespaced_with(
        mgmt.clone(),
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

/// Then, within `secs`, the status of the Application `name` satisfies `ok`.
pub(crate) async fn expect_app_status(
    mgmt: &kube::Client,
    name: &str,
    secs: u64,
    what: &str,
    ok: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let s = app_status(mgmt, name).await;
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

pub(crate) fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n"
    )
}

/// A ConfigMap with one annotation.
pub(crate) fn cm_annotated(name: &str, value: &str, key: &str, annotation: &str) -> String {
    cm(name, value).replace(
        &format!("  name: {name}\n"),
        &format!("  name: {name}\n  annotations:\n    {key}: {annotation}\n"),
    )
}

pub(crate) fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: main\n          image: {image}\n"
    )
}

impl World {
    /// Given clusters, a repository with `files`, and a controller not started yet.
    pub(crate) async fn new_stopped(files: &[(&str, String)]) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        // The clusters run in their own process, as a real API server would.
        let kubeconfig = dir.path().join("kubeconfig");
        let (mgmt_port, target_port, control_port) = (free_port(), free_port(), free_port());
        let emulator = start_emulator(
            &[
                "--user".into(),
                "reader:reader-token:viewers".into(),
                "--cluster".into(),
                format!("management,version=v1.30.2,port={mgmt_port}"),
                "--cluster".into(),
                format!("target,version=v1.29.4,port={target_port}"),
            ],
            control_port,
            &kubeconfig,
        )
        .await;
        let (repo, repo_url, daemon) = serve_git(dir.path(), files);
        let mgmt = client_of(&kubeconfig, "management").await;
        let target = client_of(&kubeconfig, "target").await;
        let world = World {
            _emulator: emulator,
            control: format!("http://127.0.0.1:{control_port}"),
            dir,
            repo,
            repo_url,
            kubeconfig,
            daemon: Some(daemon),
            controller: None,
            controller_args: Vec::new(),
            poll_seconds: 2,
            capture_log: false,
            mgmt,
            target,
        };
        world.register_target().await;
        world
    }

    /// Given a world whose controller is started with `args` as well.
    pub(crate) async fn with_controller_args(
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

    /// Given a world whose controller polls Git only every 10 minutes and serves push
    /// webhooks, with the GitHub webhook secret `s3cret`; answers it and the webhook port.
    pub(crate) async fn with_webhook(files: &[(&str, String)]) -> (World, u16) {
        let port = free_port();
        let w = World::with_controller_args(
            files,
            600,
            &["--webhook-listen".into(), format!("127.0.0.1:{port}")],
        )
        .await;
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "ferry-secret"},
            "stringData": {"webhook.github.secret": "s3cret"}});
        w.apply_mgmt(&ar("", "v1", "Secret", "secrets"), Some("ferry"), secret)
            .await;
        (w, port)
    }

    pub(crate) async fn new(files: &[(&str, String)]) -> World {
        let mut w = World::new_stopped(files).await;
        w.start_controller();
        w
    }

    /// The controller starts (again).
    pub(crate) fn start_controller(&mut self) {
        self.start_ferry("controller", &[]);
    }

    /// `ferry <command>` (`controller`, or `all`: the controllers and the server) starts with
    /// the controller's usual flags, then [`World::controller_args`], then `extra`.
    pub(crate) fn start_ferry(&mut self, command: &str, extra: &[String]) {
        let controller = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "--log",
                "ferry=debug,warn",
                command,
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
            .args(extra)
            .stdout(Stdio::null())
            .stderr(if self.capture_log {
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.dir.path().join("controller.log"))
                    .expect("controller log");
                Stdio::from(log)
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("ferry {command}: {e}"));
        self.controller = Some(Killed(controller));
    }

    /// What the controller logged so far (with [`World::capture_log`]).
    pub(crate) fn controller_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("controller.log")).unwrap_or_default()
    }

    /// The controller is killed (SIGKILL: no chance to finish anything).
    pub(crate) fn kill_controller(&mut self) {
        self.controller.take();
    }

    pub(crate) async fn register_target(&self) {
        self.register_cluster("target", TOKEN).await;
    }

    /// Registers the target cluster under `name`, with the credentials `token`.
    pub(crate) async fn register_cluster(&self, name: &str, token: &str) {
        self.register_cluster_labelled(name, token, json!({})).await;
    }

    /// Registers the target cluster under `name` with `labels` on its Secret (what the
    /// cluster generator of an ApplicationSet selects on).
    pub(crate) async fn register_cluster_labelled(&self, name: &str, token: &str, labels: Value) {
        self.register_context_labelled("target", name, token, labels)
            .await;
    }

    /// Registers the emulated cluster of kubeconfig context `context` under `name`, with the
    /// credentials `token` and `labels` on its Secret.
    pub(crate) async fn register_context_labelled(
        &self,
        context: &str,
        name: &str,
        token: &str,
        labels: Value,
    ) {
        let kc = Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let cluster = kc
            .clusters
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.cluster.clone())
            .unwrap_or_else(|| panic!("cluster {context} in the kubeconfig"));
        let server = cluster.server.clone().expect("server");
        let ca = cluster.certificate_authority_data.clone().expect("CA data");
        let config = json!({"bearerToken": token, "tlsClientConfig": {"caData": ca}});
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("cluster-{name}"), "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": name, "server": server, "config": config.to_string()}});
        let mut secret = secret;
        merge(&mut secret["metadata"]["labels"], labels);
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ferry"}});
        self.apply_mgmt(&ar("", "v1", "Namespace", "namespaces"), None, ns)
            .await;
        self.apply_mgmt(&ar("", "v1", "Secret", "secrets"), Some("ferry"), secret)
            .await;
    }

    pub(crate) async fn apply_mgmt(&self, r: &ApiResource, ns: Option<&str>, obj: Value) {
        apply_object(&self.mgmt, r, ns, obj).await;
    }

    /// Deletes an object of the management cluster (in namespace `ferry` when namespaced).
    pub(crate) async fn delete_mgmt(&self, r: &ApiResource, namespaced: bool, name: &str) {
        let api: Api<DynamicObject> = if namespaced {
            Api::namespaced_with(self.mgmt.clone(), "ferry", r)
        } else {
            Api::all_with(self.mgmt.clone(), r)
        };
        api.delete(name, &kube::api::DeleteParams::default())
            .await
            .unwrap_or_else(|e| panic!("deleting {name}: {e}"));
    }

    /// An object of namespace `ferry` on the management cluster, if it exists.
    pub(crate) async fn mgmt_get(&self, r: &ApiResource, name: &str) -> Option<Value> {
        get_object(&self.mgmt, "ferry", r, name).await
    }

    /// Then, within `secs`, the object of namespace `ferry` satisfies `ok`.
    pub(crate) async fn expect_mgmt(
        &self,
        r: &ApiResource,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(Option<&Value>) -> bool,
    ) -> Option<Value> {
        let shown = format!("{} {name}", r.kind);
        eventually(secs, &shown, what, || self.mgmt_get(r, name), ok).await
    }

    /// A ConfigMap of the target cluster in namespace `ns`, if it exists.
    pub(crate) async fn target_cm(&self, ns: &str, name: &str) -> Option<Value> {
        get_object(&self.target, ns, &cm_res(), name).await
    }

    /// When an application is created: the usual one (this repository's `main`, the target
    /// cluster's namespace `demo`, `CreateNamespace=true`) with `spec` merged over it.
    pub(crate) async fn create_app(&self, name: &str, spec: Value) {
        self.create_app_with(name, json!({}), spec).await;
    }

    /// [`Self::create_app`] with `metadata` merged over the usual name too.
    pub(crate) async fn create_app_with(&self, name: &str, metadata: Value, spec: Value) {
        let mut app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"project": "default", "source": {"repoURL": self.repo_url, "targetRevision": "main"},
                "destination": {"name": "target", "namespace": "demo"},
                "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}});
        merge(&mut app["metadata"], metadata);
        merge(&mut app["spec"], spec);
        self.apply_mgmt(
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
            Some("ferry"),
            app,
        )
        .await;
    }

    /// When an application of `path` is created, automated with prune and self-heal or
    /// manual, with or without the resources finalizer.
    pub(crate) async fn app(&self, name: &str, path: &str, automated: bool, finalizer: bool) {
        let mut spec = json!({"source": {"path": path}});
        if automated {
            spec["syncPolicy"] = json!({"automated": {"prune": true, "selfHeal": true}});
        }
        let metadata = if finalizer {
            json!({"finalizers": ["ferry.dev/resources-finalizer"]})
        } else {
            json!({})
        };
        self.create_app_with(name, metadata, spec).await;
    }

    /// When someone edits the ConfigMap `settings` by hand, then the edit is reverted to
    /// `value` (self-heal).
    pub(crate) async fn edit_settings_and_expect_healed(&self, value: &str) {
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
    pub(crate) async fn apply_target_namespace(&self, name: &str) {
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
    pub(crate) async fn fault(&self, args: &[&str]) {
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
    pub(crate) fn stop_git(&mut self) {
        self.daemon.take();
    }

    pub(crate) fn commit(&self, files: &[(&str, Option<String>)], message: &str) {
        commit_files(&self.repo, files, message);
    }

    pub(crate) async fn status(&self, name: &str) -> Value {
        app_status(&self.mgmt, name).await
    }

    /// Then, within `secs`, the application's status satisfies `ok`.
    pub(crate) async fn expect_app(
        &self,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        expect_app_status(&self.mgmt, name, secs, what, ok).await
    }

    pub(crate) async fn target_get(&self, r: &ApiResource, name: &str) -> Option<Value> {
        get_object(&self.target, "demo", r, name).await
    }

    pub(crate) async fn expect_target(
        &self,
        r: &ApiResource,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(Option<&Value>) -> bool,
    ) {
        let shown = format!("{} {name}", r.kind);
        eventually(secs, &shown, what, || self.target_get(r, name), ok).await;
    }

    pub(crate) async fn ferry(&self, args: &[&str]) -> (bool, String) {
        self.ferry_cmd("app", args).await
    }

    /// `ferry <command> ARGS` against the management cluster: success, stdout and stderr.
    pub(crate) async fn ferry_cmd(&self, command: &str, args: &[&str]) -> (bool, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--log", "warn", command, "--context", "management"])
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

/// Server-side applies `obj` (forced, as manager `test`), retrying for up to 30 s while the
/// kind is not served yet (the controller installs the CRDs when it starts).
pub(crate) async fn apply_object(
    client: &kube::Client,
    r: &ApiResource,
    ns: Option<&str>,
    obj: Value,
) {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, r),
        None => Api::all_with(client.clone(), r),
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
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("applying {name}: {e}"),
        }
    }
}

/// `patch` merged into `base` (objects key by key, anything else replaced).
pub(crate) fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

pub(crate) fn synced_healthy(s: &Value) -> bool {
    s["sync"]["status"] == "Synced" && s["health"]["status"] == "Healthy"
}

pub(crate) fn condition<'a>(s: &'a Value, kind: &str) -> Option<&'a str> {
    s["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?["message"]
        .as_str()
}

pub(crate) fn cm_res() -> ApiResource {
    ar("", "v1", "ConfigMap", "configmaps")
}

pub(crate) fn deploy_res() -> ApiResource {
    ar("apps", "v1", "Deployment", "deployments")
}

pub(crate) fn job(name: &str, image: &str, annotations: &str) -> String {
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {name}\n  annotations:\n{annotations}spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: main\n          image: {image}\n"
    )
}

pub(crate) fn job_res() -> ApiResource {
    ar("batch", "v1", "Job", "jobs")
}

pub(crate) fn op_state(s: &Value) -> &Value {
    &s["operationState"]
}

/// Posts `body` to the webhook endpoint; answers the status code.
pub(crate) async fn post_webhook(port: u16, headers: &[(&str, String)], body: &str) -> u16 {
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

/// An object as JSON, if it exists.
pub(crate) async fn get_object(
    client: &kube::Client,
    ns: &str,
    r: &ApiResource,
    name: &str,
) -> Option<Value> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, r);
    match api.get_opt(name).await {
        Ok(o) => o.and_then(|o| serde_json::to_value(o).ok()),
        // The kind is not served (yet: the controller installs its CRDs when it starts).
        Err(kube::Error::Api(s)) if s.code == 404 => None,
        // A failed request is not "gone": a test of deletion must not pass on it.
        Err(e) => panic!("getting {} {ns}/{name}: {e}", r.kind),
    }
}

/// Then, within `secs`, what `fetch` answers satisfies `ok` (`shown` and `what` name the
/// object and the expectation when it does not); answers the last thing fetched.
pub(crate) async fn eventually<F, Fut>(
    secs: u64,
    shown: &str,
    what: &str,
    fetch: F,
    ok: impl Fn(Option<&Value>) -> bool,
) -> Option<Value>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<Value>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = fetch().await;
        if ok(v.as_ref()) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{shown}: expected {what} within {secs}s; got {:#}",
            v.unwrap_or(Value::Null)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl World {
    /// Given a management cluster and the target clusters `targets` (`(name, version)`, each
    /// its own API server), emulator flags `emulator_args` (such as `--ready-delay-ms`), a
    /// repository with `files`, and nothing of Ferry started nor any cluster registered
    /// ([`World::register_context_labelled`]). [`World::target`] is the first target.
    pub(crate) async fn with_targets_stopped(
        files: &[(&str, String)],
        targets: &[(&str, &str)],
        emulator_args: &[&str],
    ) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let control_port = free_port();
        let mut args: Vec<String> = emulator_args.iter().map(|a| a.to_string()).collect();
        args.push("--cluster".into());
        args.push(format!("management,version=v1.30.2,port={}", free_port()));
        for (name, version) in targets {
            args.push("--cluster".into());
            args.push(format!("{name},version={version},port={}", free_port()));
        }
        let emulator = start_emulator(&args, control_port, &kubeconfig).await;
        let (repo, repo_url, daemon) = serve_git(dir.path(), files);
        let mgmt = client_of(&kubeconfig, "management").await;
        let target = client_of(&kubeconfig, targets.first().expect("a target").0).await;
        World {
            _emulator: emulator,
            control: format!("http://127.0.0.1:{control_port}"),
            dir,
            repo,
            repo_url,
            kubeconfig,
            daemon: Some(daemon),
            controller: None,
            controller_args: Vec::new(),
            poll_seconds: 2,
            capture_log: false,
            mgmt,
            target,
        }
    }

    /// `ferry all` (the controllers and the server in one process) starts, listening on
    /// 127.0.0.1:`port` with `server_args` (`--admin-token`, `--root-path`, ...) as well;
    /// answers once `{root}readyz` answers 200 (`root` ends with `/`).
    pub(crate) async fn start_all(&mut self, port: u16, root: &str, server_args: &[String]) {
        let mut extra = vec!["--listen".to_string(), format!("127.0.0.1:{port}")];
        extra.extend_from_slice(server_args);
        self.start_ferry("all", &extra);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let answer = http_get(port, &format!("{root}readyz")).await;
            if answer.as_ref().is_some_and(|(code, _)| *code == 200) {
                return;
            }
            if let Some(c) = self.controller.as_mut()
                && let Ok(Some(status)) = c.0.try_wait()
            {
                panic!("ferry all exited before it was ready: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "ferry all: {root}readyz did not answer 200 within 60s; last answer: {answer:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// `GET path` on 127.0.0.1:`port` over plain HTTP/1.1: the status code and the body, or
/// `None` when nothing answers.
pub(crate) async fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.ok()?;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_string(&mut answer))
        .await
        .ok()?
        .ok()?;
    let code = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Some((code, body))
}
