//! `ferry quickstart`: the whole thing on one machine. Three emulated clusters (a management
//! cluster and two targets of different Kubernetes generations), a Git repository of
//! example applications served over the git protocol, the targets registered as Argo
//! CD-format cluster Secrets labelled `env: prod`, the controller, and an ApplicationSet
//! whose cluster generator makes one Application per prod cluster; both become Synced and
//! Healthy while you watch. Runs until interrupted.

use ferry_cluster::api_resource as resource;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use clap::Args;
use ferry_emulator::{ClusterConfig, Emulator};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use serde_json::json;

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where to write the kubeconfig of the demo clusters.
    #[arg(
        long,
        env = "FERRY_QUICKSTART_KUBECONFIG",
        default_value = "ferry-quickstart.kubeconfig"
    )]
    pub kubeconfig: PathBuf,
    /// Working directory: the example Git repository (edit, commit, watch it deploy) and the
    /// controller's Git cache.
    #[arg(long, env = "FERRY_QUICKSTART_DIR", default_value = "ferry-quickstart")]
    pub dir: PathBuf,
    /// Admin token of the demo clusters. Random if unset.
    #[arg(long, env = "FERRY_EMULATOR_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Seconds between polls of the Git repository.
    #[arg(long, default_value_t = 5)]
    pub poll_seconds: u64,
}

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
  labels:
    app: guestbook
spec:
  replicas: 2
  selector:
    matchLabels:
      app: guestbook
  template:
    metadata:
      labels:
        app: guestbook
    spec:
      containers:
        - name: web
          image: registry.example/guestbook:1.0
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: guestbook
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: guestbook
spec:
  selector:
    app: guestbook
  ports:
    - port: 80
      targetPort: 8080
";

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: guestbook
data:
  GREETING: hello from Git
";

async fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ferry Quickstart")
        .env("GIT_AUTHOR_EMAIL", "quickstart@ferry.invalid")
        .env("GIT_COMMITTER_NAME", "Ferry Quickstart")
        .env("GIT_COMMITTER_EMAIL", "quickstart@ferry.invalid")
        .output()
        .await
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Creates the example repository (once) under `base/examples`.
async fn example_repo(base: &Path) -> anyhow::Result<()> {
    let repo = base.join("examples");
    if repo.join(".git").exists() {
        return Ok(());
    }
    let app = repo.join("guestbook");
    std::fs::create_dir_all(&app).with_context(|| format!("creating {}", app.display()))?;
    std::fs::write(app.join("deployment.yaml"), DEPLOYMENT)?;
    std::fs::write(app.join("service.yaml"), SERVICE)?;
    std::fs::write(app.join("configmap.yaml"), CONFIGMAP)?;
    git(&repo, &["init", "-q", "-b", "main"]).await?;
    git(&repo, &["add", "."]).await?;
    git(
        &repo,
        &["commit", "-q", "-m", "Example application: guestbook"],
    )
    .await?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Serves `base` over the git protocol on loopback.
async fn git_daemon(base: &Path) -> anyhow::Result<(tokio::process::Child, u16)> {
    let port = free_port()?;
    // `git daemon` forks `git-daemon` and exits; run the real one so that it stops with us.
    let exec_path = tokio::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .await
        .context("running git --exec-path")?;
    let daemon =
        PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
    let child = tokio::process::Command::new(daemon)
        .args([
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
        ])
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting git daemon")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("git daemon did not listen on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, port))
}

async fn apply(
    client: &kube::Client,
    ar: &ApiResource,
    ns: Option<&str>,
    obj: serde_json::Value,
) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.patch(
        &name,
        &PatchParams::apply("ferry-quickstart").force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("applying {} {name}", ar.kind))?;
    Ok(())
}

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    let token = args
        .admin_token
        .clone()
        .unwrap_or_else(crate::emulator_cmd::random_token);
    let emu = Emulator::start(vec![
        ClusterConfig::new("management", &token).version("v1.30.2"),
        ClusterConfig::new("prod-blue", &token).version("v1.29.4"),
        ClusterConfig::new("prod-green", &token).version("v1.30.2"),
    ])
    .await?;
    std::fs::write(&args.kubeconfig, emu.kubeconfig())
        .with_context(|| format!("writing kubeconfig {}", args.kubeconfig.display()))?;
    for c in emu.clusters() {
        println!(
            "cluster {} ready at {} (Kubernetes {})",
            c.name(),
            c.url(),
            c.kubernetes_version()
        );
    }

    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let base = std::fs::canonicalize(&args.dir)?;
    example_repo(&base).await?;
    let (_daemon, port) = git_daemon(&base).await?;
    let repo_url = format!("git://127.0.0.1:{port}/examples");
    println!(
        "git repository {} served at {repo_url}",
        base.join("examples").display()
    );

    let mgmt = emu.cluster("management").context("management cluster")?;
    let kc = Kubeconfig::from_yaml(&mgmt.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    let client = kube::Client::try_from(config.clone())?;
    let ns = ferry_api::NAMESPACE;
    apply(
        &client,
        &resource("", "v1", "Namespace", "namespaces"),
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await?;
    for target in ["prod-blue", "prod-green"] {
        let c = emu.cluster(target).context("target cluster")?;
        let cfg = json!({"bearerToken": c.admin_token(), "tlsClientConfig": {"insecure": false,
            "caData": base64::engine::general_purpose::STANDARD.encode(c.ca_pem())}});
        apply(&client, &resource("", "v1", "Secret", "secrets"), Some(ns), json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("cluster-{target}"), "labels": {ferry_api::SECRET_TYPE_LABEL: "cluster", "env": "prod"}},
            "stringData": {"name": target, "server": c.url(), "config": cfg.to_string()},
        }))
        .await?;
    }

    let mut controller_config = ferry_runtime::Config::new(base.join("git-cache"));
    controller_config.poll_interval = Duration::from_secs(args.poll_seconds.max(1));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let controller = tokio::spawn(ferry_runtime::run(config, controller_config, stop_rx));

    // The controller installs the CRDs; then the example ApplicationSet goes in: one
    // guestbook for every cluster labelled env=prod (both targets are).
    let apps = resource(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "Application",
        "applications",
    );
    let sets = resource(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "ApplicationSet",
        "applicationsets",
    );
    let set = json!({"apiVersion": ferry_api::API_VERSION, "kind": "ApplicationSet",
        "metadata": {"name": "guestbook"},
        "spec": {
            "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
            // Deleting the set (or a cluster's Secret) deletes the guestbooks too.
            "syncPolicy": {"preserveResourcesOnDeletion": false},
            "template": {
                "metadata": {"name": "guestbook-{{name}}"},
                "spec": {"project": "default",
                    "source": {"repoURL": repo_url, "targetRevision": "main", "path": "guestbook"},
                    "destination": {"name": "{{name}}", "namespace": "guestbook"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}}}});
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match apply(&client, &sets, Some(ns), set.clone()).await {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline && !controller.is_finished() => {
                tokio::time::sleep(Duration::from_millis(200)).await
            }
            Err(e) => {
                return Err(e.context(
                    "creating the example ApplicationSet (did the controller install its CRDs?)",
                ));
            }
        }
    }

    println!();
    println!("waiting for the applications to become Synced and Healthy...");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &apps);
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let list = api.list(&Default::default()).await?;
        let mut line = Vec::new();
        let mut done = list.items.len() == 2;
        for o in &list.items {
            let v = serde_json::to_value(o)?;
            let sync = v
                .pointer("/status/sync/status")
                .and_then(|s| s.as_str())
                .unwrap_or("-")
                .to_owned();
            let health = v
                .pointer("/status/health/status")
                .and_then(|s| s.as_str())
                .unwrap_or("-")
                .to_owned();
            done &= sync == "Synced" && health == "Healthy";
            line.push(format!(
                "{} {sync}/{health}",
                o.metadata.name.clone().unwrap_or_default()
            ));
        }
        let line = line.join("   ");
        if line != last {
            println!("  {:>5.1}s  {line}", started.elapsed().as_secs_f64());
            last = line;
        }
        if done {
            break;
        }
        if controller.is_finished() || started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the applications did not become Synced and Healthy; see `ferry app get` with the kubeconfig below:\n{}",
                emu.kubeconfig()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    println!();
    println!("--- kubeconfig ({}) ---", args.kubeconfig.display());
    print!("{}", emu.kubeconfig());
    println!("---");
    let k = args.kubeconfig.display();
    println!();
    println!(
        "try:  ferry --kubeconfig {k} --context management app list   (or: cargo run -p ferry -- ...)"
    );
    println!("      ferry --kubeconfig {k} --context management appset get guestbook");
    println!("      kubectl --kubeconfig {k} --context prod-blue -n guestbook get deploy,svc,cm");
    println!(
        "      edit {}/examples/guestbook, `git commit -am ...`, and watch it reach both clusters",
        base.display()
    );
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        r = controller => { r??; }
        _ = crate::emulator_cmd::wait_for_interrupt() => {}
    }
    stop_tx.send_replace(true);
    emu.shutdown().await;
    Ok(())
}
