//! `ferry emulator` (serve clusters; `fault` changes a running one) and, until the controller
//! exists, `ferry quickstart`.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ferry_emulator::{AccessEntry, ClusterConfig, EksConfig, Emulator, StsDialect};

/// Serve emulated Kubernetes clusters on loopback until interrupted.
///
/// Each `--cluster` is `NAME[,version=vX.Y.Z][,port=P][,http-port=P]`. Every cluster gets an
/// admin user (group `system:masters`) with `--admin-token`, plus every `--user`. Once all
/// clusters listen, one line per cluster is printed: `cluster NAME ready at URL (Kubernetes V)`.
///
/// A cluster becomes an EKS cluster with `eks=EKS_NAME,account=ACCOUNT,region=REGION` (and
/// optionally `sts=URL`, default `https://sts.REGION.amazonaws.com`; `sts-dialect=moto` when
/// that URL is moto's server; `token-lifetime=SECONDS`, default 900): it then also accepts
/// `k8s-aws-v1.` tokens, verified with STS and mapped by `kube-system/aws-auth` and each
/// `--access-entry`, then authorized by RBAC.
///
/// Workloads become ready after `--ready-delay-ms`. A workload annotated
/// `emulator.ferry.dev/never-ready: "true"` (or with an image tagged `:never-ready`) never
/// does; a Job or Pod annotated `emulator.ferry.dev/fail: "true"` (or image tag `:fail`) fails.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EmulatorArgs {
    #[command(subcommand)]
    pub action: Option<EmulatorAction>,

    /// A cluster to serve: `NAME[,version=vX.Y.Z][,port=P][,http-port=P]`, for an EKS cluster
    /// also `,eks=EKS_NAME,account=ACCOUNT,region=REGION[,sts=URL][,sts-dialect=aws|moto]
    /// [,token-lifetime=SECONDS]`. Repeatable.
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

    /// An EKS access entry of an EKS cluster: `CLUSTER,PRINCIPAL_ARN[,username=U][,groups=G;G]`
    /// (the username may use `{{SessionName}}`, `{{AccountID}}`). Repeatable.
    #[arg(long = "access-entry")]
    pub access_entries: Vec<String>,

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
    /// Add (or replace) an EKS access entry: `PRINCIPAL_ARN[,username=U][,groups=G;G]`.
    #[arg(long)]
    pub add_access_entry: Option<String>,
    /// Remove the EKS access entry of this principal ARN.
    #[arg(long)]
    pub remove_access_entry: Option<String>,
}

/// The EKS keys of a `--cluster`, gathered before they make an [`EksConfig`].
#[derive(Default)]
struct EksKeys {
    name: Option<String>,
    account: Option<String>,
    region: Option<String>,
    sts: Option<String>,
    dialect: Option<StsDialect>,
    lifetime: Option<Duration>,
}

impl EksKeys {
    /// Takes `k=v` if it is an EKS key.
    fn take(&mut self, cluster: &str, k: &str, v: &str) -> anyhow::Result<bool> {
        match k {
            "eks" => self.name = Some(v.to_owned()),
            "account" => self.account = Some(v.to_owned()),
            "region" => self.region = Some(v.to_owned()),
            "sts" => self.sts = Some(v.to_owned()),
            "sts-dialect" => {
                self.dialect = Some(match v {
                    "aws" => StsDialect::Aws,
                    "moto" => StsDialect::Moto,
                    _ => bail!("cluster {cluster}: sts-dialect is aws or moto, not {v:?}"),
                })
            }
            "token-lifetime" => {
                let secs: u64 = v
                    .parse()
                    .with_context(|| format!("cluster {cluster}: bad token-lifetime {v:?}"))?;
                self.lifetime = Some(Duration::from_secs(secs));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn config(self, cluster: &str) -> anyhow::Result<Option<EksConfig>> {
        let Some(name) = self.name else {
            let extra = self.account.is_some()
                || self.region.is_some()
                || self.sts.is_some()
                || self.dialect.is_some()
                || self.lifetime.is_some();
            if extra {
                bail!(
                    "cluster {cluster}: account, region, sts, sts-dialect and token-lifetime need eks=EKS_NAME"
                );
            }
            return Ok(None);
        };
        let account = self
            .account
            .with_context(|| format!("cluster {cluster}: eks needs account=ACCOUNT"))?;
        let region = self
            .region
            .with_context(|| format!("cluster {cluster}: eks needs region=REGION"))?;
        let mut e = EksConfig::new(&name, &account, &region);
        if let Some(url) = &self.sts {
            e = e.sts_endpoint(url);
        }
        if let Some(d) = self.dialect {
            e = e.sts_dialect(d);
        }
        if let Some(l) = self.lifetime {
            e = e.token_lifetime(l);
        }
        Ok(Some(e))
    }
}

fn parse_cluster(spec: &str, token: &str) -> anyhow::Result<ClusterConfig> {
    let mut parts = spec.split(',');
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .context("a --cluster needs a name")?;
    let mut c = ClusterConfig::new(name, token);
    let mut eks = EksKeys::default();
    for p in parts {
        let (k, v) = p
            .split_once('=')
            .with_context(|| format!("cluster {name}: expected key=value, got {p:?}"))?;
        if eks.take(name, k, v)? {
            continue;
        }
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
                bail!(
                    "cluster {name}: unknown setting {other:?} (known: version, port, http-port, \
                     eks, account, region, sts, sts-dialect, token-lifetime)"
                )
            }
        }
    }
    c.eks = eks.config(name)?;
    Ok(c)
}

/// `PRINCIPAL_ARN[,username=U][,groups=G;G]`.
fn parse_access_entry(spec: &str) -> anyhow::Result<AccessEntry> {
    let mut parts = spec.split(',');
    let arn = parts
        .next()
        .filter(|a| a.starts_with("arn:"))
        .context("an access entry starts with the principal's ARN")?;
    let mut entry = AccessEntry::new(arn, None, &[]);
    for p in parts {
        match p.split_once('=') {
            Some(("username", u)) => entry.username = Some(u.to_owned()),
            Some(("groups", g)) => {
                entry.groups = g
                    .split(';')
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect()
            }
            _ => bail!("access entry {arn}: expected username=U or groups=G;G, got {p:?}"),
        }
    }
    entry
        .validate()
        .with_context(|| format!("access entry {arn}"))?;
    Ok(entry)
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
    let mut entries = Vec::new();
    for spec in &args.access_entries {
        let (cluster, entry) = spec
            .split_once(',')
            .context("an --access-entry is CLUSTER,PRINCIPAL_ARN[,username=U][,groups=G;G]")?;
        entries.push((cluster.to_owned(), parse_access_entry(entry)?));
    }
    let mut configs = Vec::new();
    for spec in &args.clusters {
        let mut c = parse_cluster(spec, &token)?;
        for (cluster, entry) in entries.iter().filter(|(n, _)| *n == c.name) {
            let eks = c.eks.as_mut().with_context(|| {
                format!("--access-entry for {cluster}, which is not an EKS cluster (eks=...)")
            })?;
            eks.access_entries.push(entry.clone());
        }
        c.aggregated_discovery = !args.no_aggregated_discovery;
        c.workload_ready_delay = Duration::from_millis(args.ready_delay_ms);
        c.controller_delay = Duration::from_millis(args.controller_delay_ms);
        for (name, tok, groups) in &users {
            let g: Vec<&str> = groups.iter().map(String::as_str).collect();
            c = c.user(name, &g, tok);
        }
        configs.push(c);
    }
    if let Some((cluster, _)) = entries
        .iter()
        .find(|(n, _)| !configs.iter().any(|c| c.name == *n))
    {
        bail!("--access-entry for {cluster}, which is not a --cluster");
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
        if let Some(e) = c.eks() {
            println!(
                "cluster {} is EKS cluster {} ({}), verifying tokens with {}",
                c.name(),
                e.cluster_name,
                e.arn(),
                e.sts_url()
            );
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
    if let Some(spec) = &f.add_access_entry {
        let e = parse_access_entry(spec)?;
        body["addAccessEntry"] = serde_json::json!({
            "principalArn": e.principal_arn,
            "username": e.username,
            "kubernetesGroups": e.groups,
        });
    }
    if let Some(arn) = &f.remove_access_entry {
        body["removeAccessEntry"] = arn.clone().into();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eks_keys_make_an_eks_cluster() {
        let c = parse_cluster(
            "prod,version=v1.30.2-eks-1,eks=prod-euw1,account=222222222222,region=eu-west-1,sts=http://127.0.0.1:5000,sts-dialect=moto,token-lifetime=60",
            "t",
        )
        .expect("parses");
        let e = c.eks.expect("an EKS cluster");
        assert_eq!(
            (
                e.cluster_name.as_str(),
                e.account_id.as_str(),
                e.region.as_str()
            ),
            ("prod-euw1", "222222222222", "eu-west-1")
        );
        assert_eq!(e.sts_url(), "http://127.0.0.1:5000");
        assert_eq!(e.sts_dialect, StsDialect::Moto);
        assert_eq!(e.token_lifetime, Duration::from_secs(60));

        let default = parse_cluster("stg,eks=stg,account=333333333333,region=us-east-2", "t")
            .expect("parses")
            .eks
            .expect("eks");
        assert_eq!(default.sts_url(), "https://sts.us-east-2.amazonaws.com");
        assert!(parse_cluster("plain", "t").expect("parses").eks.is_none());
    }

    #[test]
    fn incomplete_eks_keys_are_refused() {
        for bad in [
            "a,eks=a,region=us-east-1",
            "a,eks=a,account=222222222222",
            "a,account=222222222222",
            "a,eks=a,account=1,region=r,sts-dialect=gcp",
        ] {
            assert!(parse_cluster(bad, "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn access_entries_parse() {
        let e = parse_access_entry(
            "arn:aws:iam::222222222222:role/ferry/deployer,username=ferry:{{SessionName}},groups=a;b",
        )
        .expect("parses");
        assert_eq!(
            e.principal_arn,
            "arn:aws:iam::222222222222:role/ferry/deployer"
        );
        assert_eq!(e.username.as_deref(), Some("ferry:{{SessionName}}"));
        assert_eq!(e.groups, ["a", "b"]);
        assert!(parse_access_entry("deployer").is_err());
        assert!(parse_access_entry("arn:aws:iam::1:role/x,username=system:x").is_err());
        assert!(parse_access_entry("arn:aws:iam::1:role/x,admin").is_err());
    }
}
