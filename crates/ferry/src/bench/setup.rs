//! What a benchmark run stands on: clusters (a `ferry emulator` process, so that its CPU and
//! memory are not the controller's), a generated Git repository served by `git-daemon`, and
//! clients.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// A child process killed on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The emulated clusters: `management` and `target-1` .. `target-M`.
pub struct Clusters {
    pub _process: Killed,
    pub kubeconfig: PathBuf,
    pub control: String,
    pub token: String,
    pub targets: Vec<String>,
}

pub fn start_emulator(dir: &Path, targets: usize) -> anyhow::Result<Clusters> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let kubeconfig = dir.join("kubeconfig");
    let control = free_port()?;
    let exe = std::env::current_exe().context("locating the ferry binary")?;
    let mut cmd = Command::new(exe);
    cmd.args([
        "--log",
        "warn",
        "emulator",
        "--admin-token",
        &token,
        "--control-port",
        &control.to_string(),
    ])
    .arg("--kubeconfig")
    .arg(&kubeconfig)
    .args(["--cluster", "management,version=v1.30.2"]);
    let names: Vec<String> = (1..=targets).map(|i| format!("target-{i}")).collect();
    for n in &names {
        cmd.args(["--cluster", &format!("{n},version=v1.29.4")]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("starting ferry emulator")?;
    let stdout = child.stdout.take().context("emulator stdout")?;
    let process = Killed(child);
    for line in std::io::BufReader::new(stdout).lines() {
        if line?.contains("fault control endpoint at") {
            return Ok(Clusters {
                _process: process,
                kubeconfig,
                control: format!("127.0.0.1:{control}"),
                token,
                targets: names,
            });
        }
    }
    bail!("ferry emulator stopped before it was ready")
}

impl Clusters {
    pub async fn client(&self, context: &str) -> anyhow::Result<kube::Client> {
        let kc = Kubeconfig::read_from(&self.kubeconfig)?;
        let options = KubeConfigOptions {
            context: Some(context.into()),
            ..Default::default()
        };
        let config = kube::Config::from_custom_kubeconfig(kc, &options).await?;
        Ok(kube::Client::try_from(config)?)
    }

    pub async fn config(&self, context: &str) -> anyhow::Result<kube::Config> {
        let kc = Kubeconfig::read_from(&self.kubeconfig)?;
        let options = KubeConfigOptions {
            context: Some(context.into()),
            ..Default::default()
        };
        Ok(kube::Config::from_custom_kubeconfig(kc, &options).await?)
    }

    /// Requests a cluster has answered so far: `(reads, writes, dry runs, watches)`.
    pub async fn requests(&self, cluster: &str) -> anyhow::Result<(u64, u64, u64, u64)> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let mut s = tokio::net::TcpStream::connect(&self.control).await?;
        let req = format!(
            "GET /clusters/{cluster}/stats HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            self.control, self.token
        );
        s.write_all(req.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_str(body).with_context(|| format!("stats of {cluster}: {body}"))?;
        let n = |k: &str| v["requests"][k].as_u64().unwrap_or(0);
        Ok((n("reads"), n("writes"), n("dryRuns"), n("watches")))
    }

    /// Server URL and CA data (base64) of a cluster, from the kubeconfig.
    pub fn endpoint(&self, name: &str) -> anyhow::Result<(String, String)> {
        let kc = Kubeconfig::read_from(&self.kubeconfig)?;
        let c = kc
            .clusters
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.cluster.clone())
            .context("cluster in kubeconfig")?;
        Ok((
            c.server.unwrap_or_default(),
            c.certificate_authority_data.unwrap_or_default(),
        ))
    }
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "bench")
        .env("GIT_AUTHOR_EMAIL", "bench@ferry.invalid")
        .env("GIT_COMMITTER_NAME", "bench")
        .env("GIT_COMMITTER_EMAIL", "bench@ferry.invalid")
        .output()?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The objects of application `i`: a Deployment, a Service and `objects - 2` ConfigMaps.
pub fn app_manifests(i: usize, objects: usize) -> Vec<(String, String)> {
    let name = format!("app-{i}");
    let mut files = vec![
        (
            "deployment.yaml".to_owned(),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{bench: ferry}}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: web\n          image: registry.example/web:1.0\n          ports:\n            - containerPort: 8080\n"
            ),
        ),
        (
            "service.yaml".to_owned(),
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector: {{app: {name}}}\n  ports:\n    - port: 80\n      targetPort: 8080\n"
            ),
        ),
    ];
    for j in 0..objects.saturating_sub(2) {
        files.push((format!("config-{j}.yaml"), format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}-{j}\ndata:\n  value: \"{j}\"\n")));
    }
    files
}

/// A repository `apps` under `dir/git` with `apps` application directories.
pub fn make_repo(dir: &Path, apps: usize, objects: usize) -> anyhow::Result<PathBuf> {
    let repo = dir.join("git").join("apps");
    for i in 0..apps {
        let d = repo.join(format!("app-{i}"));
        std::fs::create_dir_all(&d)?;
        for (file, text) in app_manifests(i, objects) {
            std::fs::write(d.join(file), text)?;
        }
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "generated"])?;
    Ok(repo)
}

/// Serves `dir/git` over the git protocol.
pub fn git_daemon(dir: &Path) -> anyhow::Result<(Killed, String)> {
    let port = free_port()?;
    let exec = Command::new("git").arg("--exec-path").output()?;
    let daemon = PathBuf::from(String::from_utf8_lossy(&exec.stdout).trim()).join("git-daemon");
    let child = Command::new(daemon)
        .args([
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
        ])
        .arg(format!("--base-path={}", dir.join("git").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting git-daemon")?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((Killed(child), format!("git://127.0.0.1:{port}/apps")));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("git-daemon did not listen")
}

/// User and system CPU seconds of this process so far.
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // Fields 14 and 15 of /proc/self/stat (utime, stime), counted after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

/// `(resident, peak resident)` bytes of this process.
pub fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}
