//! `ferry emulator` (serve clusters; `fault` changes a running one) and, until the controller
//! exists, `ferry quickstart`.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ferry_emulator::{ClusterConfig, Emulator};

/// Serve emulated Kubernetes clusters on loopback until interrupted.
///
/// Each `--cluster` is `NAME[,version=vX.Y.Z][,port=P][,http-port=P]`. Every cluster gets an
/// admin user (group `system:masters`) with `--admin-token`, plus every `--user`. Once all
/// clusters listen, one line per cluster is printed: `cluster NAME ready at URL (Kubernetes V)`.
///
/// Workloads become ready after `--ready-delay-ms`. A workload annotated
/// `emulator.ferry.dev/never-ready: "true"` (or with an image tagged `:never-ready`) never
/// does; a Job or Pod annotated `emulator.ferry.dev/fail: "true"` (or image tag `:fail`) fails.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub action: Option<EmulatorAction>,

    /// A cluster to serve: `NAME[,version=vX.Y.Z][,port=P][,http-port=P]`. Repeatable.
    #[arg(
        long = "cluster",
        env = "FERRY_EMULATOR_CLUSTERS",
        value_delimiter = ' ',
        default_value = "demo,version=v1.29.4"
    )]
    pub clusters: Vec<String>,

    /// Bearer token of the admin user (group `system:masters`) of every cluster. Random if unset.
    #[arg(long, env = "FERRY_EMULATOR_ADMIN_TOKEN")]
    pub admin_token: Option<String>,

    /// A further user: `NAME:TOKEN[:GROUP[;GROUP...]]`. Repeatable. Permissions come from RBAC
    /// objects created in the cluster.
    #[arg(long = "user")]
    pub users: Vec<String>,

    /// Write a kubeconfig for all clusters here.
    #[arg(long, env = "FERRY_EMULATOR_KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,

    /// Serve the fault-injection control endpoint on this loopback port.
    #[arg(long, env = "FERRY_EMULATOR_CONTROL_PORT")]
    pub control_port: Option<u16>,

    /// Do not offer aggregated discovery (apidiscovery.k8s.io/v2), like servers before 1.26.
    #[arg(long)]
    pub no_aggregated_discovery: bool,

    /// Milliseconds a workload takes to become ready.
    #[arg(long, default_value_t = 300)]
    pub ready_delay_ms: u64,

    /// Milliseconds the garbage collector and namespace controller take to act.
    #[arg(long, default_value_t = 600)]
    pub controller_delay_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum EmulatorAction {
    /// Change the faults of a running emulator's cluster (needs `--control-port` there).
    Fault(FaultArgs),
}

#[derive(Debug, Args)]
pub struct FaultArgs {
    /// The control endpoint, e.g. `http://127.0.0.1:7070`.
    #[arg(long, env = "FERRY_EMULATOR_CONTROL")]
    pub control: String,
    /// Which cluster.
    #[arg(long)]
    pub cluster: String,
    /// That cluster's admin token.
    #[arg(long, env = "FERRY_EMULATOR_ADMIN_TOKEN")]
    pub admin_token: String,
    /// Added latency for every request, in milliseconds (0 removes it).
    #[arg(long)]
    pub latency_ms: Option<u64>,
    /// Fail the next N requests with `--status`.
    #[arg(long)]
    pub fail_next: Option<u32>,
    /// Status code for `--fail-next`: 429, 500 or 503.
    #[arg(long, default_value_t = 503)]
    pub status: u16,
    /// Make the cluster unreachable (`true`) or reachable again (`false`).
    #[arg(long)]
    pub unreachable: Option<bool>,
    /// End every open watch stream.
    #[arg(long)]
    pub drop_watches: bool,
    /// Make this bearer token answer 401 from now on.
    #[arg(long)]
    pub revoke_token: Option<String>,
}

fn parse_cluster(spec: &str, token: &str) -> anyhow::Result<ClusterConfig> {
    let mut parts = spec.split(',');
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .context("a --cluster needs a name")?;
    let mut c = ClusterConfig::new(name, token);
    for p in parts {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("cluster {name}: expected key=value, got {p:?}"))?;
        match k {
            "version" => c = c.version(v),
            "port" => {
                c.port = v
                    .parse()
                    .with_context(|| format!("cluster {name}: bad port {v:?}"))?
            }
            "http-port" => {
                c.http_port = Some(
                    v.parse()
                        .with_context(|| format!("cluster {name}: bad http-port {v:?}"))?,
                )
            }
            other => {
                bail!("cluster {name}: unknown setting {other:?} (known: version, port, http-port)")
            }
        }
    }
    Ok(c)
}

fn parse_user(spec: &str) -> anyhow::Result<(String, String, Vec<String>)> {
    let mut it = spec.splitn(3, ':');
    let name = it
        .next()
        .filter(|n| !n.is_empty())
        .context("a --user needs NAME:TOKEN")?;
    let token = it
        .next()
        .filter(|t| !t.is_empty())
        .with_context(|| format!("user {name}: missing token"))?;
    let groups = it
        .next()
        .map(|g| {
            g.split(';')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok((name.to_owned(), token.to_owned(), groups))
}

pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

pub async fn run(args: EmulatorArgs) -> anyhow::Result<()> {
    if let Some(EmulatorAction::Fault(f)) = args.action {
        return fault(f);
    }
    let token = args.admin_token.clone().unwrap_or_else(random_token);
    let users: Vec<_> = args
        .users
        .iter()
        .map(|u| parse_user(u))
        .collect::<anyhow::Result<_>>()?;
    let mut configs = Vec::new();
    for spec in &args.clusters {
        let mut c = parse_cluster(spec, &token)?;
        c.aggregated_discovery = !args.no_aggregated_discovery;
        c.workload_ready_delay = Duration::from_millis(args.ready_delay_ms);
        c.controller_delay = Duration::from_millis(args.controller_delay_ms);
        for (name, tok, groups) in &users {
            let g: Vec<&str> = groups.iter().map(String::as_str).collect();
            c = c.user(name, &g, tok);
        }
        configs.push(c);
    }
    let emu = Emulator::start_with_control(configs, args.control_port).await?;
    if let Some(path) = &args.kubeconfig {
        std::fs::write(path, emu.kubeconfig())
            .with_context(|| format!("writing kubeconfig {}", path.display()))?;
        println!("kubeconfig written to {}", path.display());
    }
    for c in emu.clusters() {
        println!(
            "cluster {} ready at {} (Kubernetes {})",
            c.name(),
            c.url(),
            c.kubernetes_version()
        );
        if let Some(h) = c.http_url() {
            println!("cluster {} also serves plain HTTP at {h}", c.name());
        }
    }
    if let Some(addr) = emu.control_addr() {
        println!("fault control endpoint at http://{addr}");
    }
    wait_for_interrupt().await;
    emu.shutdown().await;
    Ok(())
}

pub async fn wait_for_interrupt() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// Sends a fault change to a running emulator's control endpoint (plain HTTP on loopback).
fn fault(f: FaultArgs) -> anyhow::Result<()> {
    let mut body = serde_json::json!({});
    if let Some(ms) = f.latency_ms {
        body["latencyMs"] = ms.into();
    }
    if let Some(n) = f.fail_next {
        body["failNext"] = n.into();
        body["failStatus"] = f.status.into();
    }
    if let Some(u) = f.unreachable {
        body["unreachable"] = u.into();
    }
    if f.drop_watches {
        body["dropWatches"] = true.into();
    }
    if let Some(t) = &f.revoke_token {
        body["revokeToken"] = t.clone().into();
    }
    let hostport = f
        .control
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let payload = body.to_string();
    let request = format!(
        "POST /clusters/{}/faults HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        f.cluster,
        f.admin_token,
        payload.len()
    );
    let mut stream = std::net::TcpStream::connect(hostport)
        .with_context(|| format!("connecting to the control endpoint {}", f.control))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response.split_whitespace().nth(1).unwrap_or_default();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    if status != "200" {
        bail!("control endpoint answered {status}: {body}");
    }
    println!("cluster {}: faults updated", f.cluster);
    Ok(())
}
