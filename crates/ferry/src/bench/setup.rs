//! What a benchmark run stands on: clusters (a `ferry emulator` process, so that its CPU and
//! memory are not the controller's), a generated Git repository served by `git-daemon`, and
//! clients.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use secrecy::ExposeSecret as _;

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
    /// The emulator process, when the clusters are emulated.
    pub _process: Option<Killed>,
    pub kubeconfig: PathBuf,
    /// The emulator's control endpoint (request counts), when emulated.
    pub control: Option<String>,
    pub token: String,
    /// Kubeconfig context of the management cluster.
    pub management: String,
    /// Kubeconfig contexts of the target clusters.
    pub targets: Vec<String>,
    /// Kubeconfig context of a cluster registered only by the ApplicationSet step (emulated
    /// runs); without it, that step registers the first target under a second name.
    pub fresh: Option<String>,
}

/// Clusters that already exist, named by kubeconfig contexts.
pub fn existing(kubeconfig: &Path, management: &str, targets: &[String]) -> Clusters {
    Clusters {
        _process: None,
        kubeconfig: kubeconfig.to_owned(),
        control: None,
        token: String::new(),
        management: management.to_owned(),
        targets: targets.to_vec(),
        fresh: None,
    }
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
    // A new cluster generation, registered only by the ApplicationSet step.
    cmd.args(["--cluster", "fresh,version=v1.30.2"]);
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("starting ferry emulator")?;
    let stdout = child.stdout.take().context("emulator stdout")?;
    let process = Killed(child);
    for line in std::io::BufReader::new(stdout).lines() {
        if line?.contains("fault control endpoint at") {
            return Ok(Clusters {
                _process: Some(process),
                kubeconfig,
                control: Some(format!("127.0.0.1:{control}")),
                token,
                management: "management".into(),
                targets: names,
                fresh: Some("fresh".into()),
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

    /// Requests a cluster has answered so far: `(reads, writes, dry runs, watches)`; `None`
    /// for clusters that are not emulated (their servers do not say).
    pub async fn requests(&self, cluster: &str) -> anyhow::Result<Option<(u64, u64, u64, u64)>> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let Some(control) = &self.control else {
            return Ok(None);
        };
        let mut s = tokio::net::TcpStream::connect(control).await?;
        let req = format!(
            "GET /clusters/{cluster}/stats HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
            control, self.token
        );
        s.write_all(req.as_bytes()).await?;
        let mut out = String::new();
        s.read_to_string(&mut out).await?;
        let body = out.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: serde_json::Value =
            serde_json::from_str(body).with_context(|| format!("stats of {cluster}: {body}"))?;
        let n = |k: &str| v["requests"][k].as_u64().unwrap_or(0);
        Ok(Some((n("reads"), n("writes"), n("dryRuns"), n("watches"))))
    }

    /// Server URL and the `config` of an Argo CD cluster Secret for a kubeconfig context
    /// (bearer token or client certificate; other kinds of credentials are refused).
    pub fn endpoint(&self, context: &str) -> anyhow::Result<(String, serde_json::Value)> {
        let kc = Kubeconfig::read_from(&self.kubeconfig)?;
        let ctx = kc
            .contexts
            .iter()
            .find(|c| c.name == context)
            .and_then(|c| c.context.clone())
            .context("context in kubeconfig")?;
        let cluster = kc
            .clusters
            .iter()
            .find(|c| c.name == ctx.cluster)
            .and_then(|c| c.cluster.clone())
            .context("cluster in kubeconfig")?;
        let user = kc
            .auth_infos
            .iter()
            .find(|u| Some(&u.name) == ctx.user.as_ref())
            .and_then(|u| u.auth_info.clone())
            .context("user in kubeconfig")?;
        let mut tls =
            serde_json::json!({"insecure": cluster.insecure_skip_tls_verify.unwrap_or(false)});
        if let Some(ca) = &cluster.certificate_authority_data {
            tls["caData"] = ca.clone().into();
        }
        let mut config = serde_json::json!({});
        if let Some(token) = &user.token {
            config["bearerToken"] = token.expose_secret().to_owned().into();
        } else if let (Some(cert), Some(key)) =
            (&user.client_certificate_data, &user.client_key_data)
        {
            tls["certData"] = cert.clone().into();
            tls["keyData"] = key.expose_secret().to_owned().into();
        } else {
            bail!(
                "context {context}: only token or client-certificate credentials can be registered as a cluster Secret"
            );
        }
        config["tlsClientConfig"] = tls;
        Ok((cluster.server.unwrap_or_default(), config))
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
pub fn app_manifests(i: usize, objects: usize, image: &str) -> Vec<(String, String)> {
    let name = format!("app-{i}");
    let mut files = vec![
        (
            "deployment.yaml".to_owned(),
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels: {{bench: ferry}}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: web\n          image: {image}\n          ports:\n            - containerPort: 8080\n"
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
pub fn make_repo(dir: &Path, apps: usize, objects: usize, image: &str) -> anyhow::Result<PathBuf> {
    let repo = dir.join("git").join("apps");
    for i in 0..apps {
        let d = repo.join(format!("app-{i}"));
        std::fs::create_dir_all(&d)?;
        for (file, text) in app_manifests(i, objects, image) {
            std::fs::write(d.join(file), text)?;
        }
    }
    git(&repo, &["init", "-q", "-b", "main"])?;
    git(&repo, &["add", "-A"])?;
    git(&repo, &["commit", "-q", "-m", "generated"])?;
    Ok(repo)
}

/// Commits everything in `repo`.
pub fn commit(repo: &Path, message: &str) -> anyhow::Result<()> {
    git(repo, &["add", "-A"])?;
    git(repo, &["commit", "-q", "-m", message])
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
    cpu_seconds_at("/proc/self/stat")
}

impl Clusters {
    /// CPU seconds the emulator process has used so far, when the clusters are emulated.
    pub fn server_cpu_seconds(&self) -> Option<f64> {
        let pid = self._process.as_ref()?.0.id();
        Some(cpu_seconds_at(&format!("/proc/{pid}/stat")))
    }
}

fn cpu_seconds_at(path: &str) -> f64 {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
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

/// Starts the peak resident memory over from the current resident memory (Linux: writing
/// `5` to `/proc/self/clear_refs` resets `VmHWM`), so that the peak measured afterwards is
/// the controller's and not the baselines' (their readiness checks list every Deployment).
/// Answers whether it could.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
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
