//! `ferry bench --aws` (issue 11, Performance): the cold sync of N applications over M
//! EKS-emulated clusters in three accounts (222222222222, 333333333333, 444444444444, the
//! clusters dealt round-robin), reached by assuming each account's `ferry-deployer` role from
//! web-identity base credentials, against the same run with bearer tokens, measured first in
//! the same process at the same sizes. moto's server (started on loopback) plays STS; the
//! emulator's clusters authenticate like EKS (the token's identity asked of moto, mapped by
//! `aws-auth`, then RBAC). Reports STS calls, the token cache's hit rate and the ratio of the
//! two cold syncs.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};
use ferry_cluster::api_resource;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::{BenchArgs, scenario, setup};

const ACCOUNTS: [&str; 3] = ["222222222222", "333333333333", "444444444444"];
const MGMT_ROLE: &str = "arn:aws:iam::111111111111:role/ferry-controller";
const REGION: &str = "eu-west-1";

fn deployer(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/ferry-deployer")
}

/// moto's server for the step (`ferry_emulator::moto`, no patches: the emulator speaks
/// moto's dialect).
fn start_moto() -> anyhow::Result<ferry_emulator::moto::Moto> {
    ferry_emulator::moto::Moto::start(&ferry_emulator::moto::MotoOptions::default())
        .map_err(|e| anyhow::anyhow!("`ferry bench --aws`: {e}"))
}

/// An emulator with `management` and `targets` EKS-like clusters `target-1` ..
/// `target-M`, in the accounts round-robin. Its admin token reaches every cluster.
fn start_emulator(dir: &Path, targets: usize, sts: &str) -> anyhow::Result<setup::Clusters> {
    let token = uuid::Uuid::new_v4().simple().to_string();
    let kubeconfig = dir.join("kubeconfig");
    let control = setup::free_port()?;
    let mut cmd = Command::new(std::env::current_exe().context("locating the ferry binary")?);
    cmd.args(["--log", "warn", "emulator", "--admin-token", &token])
        .args(["--control-port", &control.to_string()])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["--cluster", "management,version=v1.30.2"]);
    let names: Vec<String> = (1..=targets).map(|i| format!("target-{i}")).collect();
    for (i, n) in names.iter().enumerate() {
        cmd.args([
            "--cluster",
            &format!(
                "{n},version=v1.30.2-eks-1,eks={n},account={},region={REGION},sts={sts},sts-dialect=moto",
                ACCOUNTS[i % ACCOUNTS.len()]
            ),
        ]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .spawn()
        .context("starting ferry emulator")?;
    let stdout = child.stdout.take().context("emulator stdout")?;
    let process = setup::Killed(child);
    for line in BufReader::new(stdout).lines() {
        if line?.contains("fault control endpoint at") {
            return Ok(setup::Clusters {
                _process: Some(process),
                kubeconfig,
                control: Some(format!("127.0.0.1:{control}")),
                token,
                management: "management".into(),
                targets: names,
                fresh: None,
            });
        }
    }
    bail!("ferry emulator stopped before it was ready")
}

async fn apply(
    client: &kube::Client,
    ns: Option<&str>,
    res: &kube::discovery::ApiResource,
    obj: Value,
) -> anyhow::Result<()> {
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, res),
        None => Api::all_with(client.clone(), res),
    };
    api.patch(
        &name,
        &PatchParams::apply("bench").force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("applying {name}"))?;
    Ok(())
}

/// The cluster's `aws-auth` maps its account's deployer role to a group that RBAC makes
/// cluster admins (applied with the admin token).
async fn map_deployers(admin: &kube::Client, account: &str) -> anyhow::Result<()> {
    let map_roles = format!(
        "- rolearn: {}\n  username: ferry:{{{{SessionName}}}}\n  groups:\n    - ferry-deployers\n",
        deployer(account)
    );
    let aws_auth = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "aws-auth", "namespace": "kube-system"},
        "data": {"mapRoles": map_roles}});
    apply(
        admin,
        Some("kube-system"),
        &api_resource("", "v1", "ConfigMap", "configmaps"),
        aws_auth,
    )
    .await?;
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
        "metadata": {"name": "ferry-deployers"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "name": "ferry-deployers", "apiGroup": "rbac.authorization.k8s.io"}]});
    let crb = api_resource(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
    );
    apply(admin, None, &crb, binding).await
}

/// Base credentials by web identity in the management account, moto as every endpoint, from
/// a shared config file of this run only (nothing of the host's `~/.aws`).
fn aws_options(dir: &Path, moto: &str) -> anyhow::Result<ferry_aws::AwsOptions> {
    let token = dir.join("web-identity-token");
    // moto accepts any web identity token.
    std::fs::write(&token, "bench-web-identity-eyJhbGciOiJSUzI1NiJ9.e30.c2ln")?;
    let config = dir.join("aws-config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = {REGION}\nrole_arn = {MGMT_ROLE}\nweb_identity_token_file = {}\nrole_session_name = ferry-controller\nendpoint_url = {moto}\n",
            token.display()
        ),
    )?;
    Ok(ferry_aws::AwsOptions {
        region: Some(REGION.into()),
        endpoint_url: Some(moto.into()),
        shared_config: Some(ferry_aws::SharedConfigFiles {
            config,
            credentials: None,
        }),
        ..ferry_aws::AwsOptions::default()
    })
}

/// The SSM parameter every application's `secret.yaml` refers to, in each account.
const PARAMETER: &str = "/bench/datadog/apiKey";

/// One call of SSM's JSON protocol to moto, acting in `account` (moto routes by the
/// credential scope and checks no signature).
async fn ssm(moto: &str, account: &str, action: &str, body: Value) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let authority = moto.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let body = body.to_string();
    let request = format!(
        "POST / HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/x-amz-json-1.1\r\n\
         X-Amz-Target: AmazonSSM.{action}\r\nx-moto-account-id: {account}\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=AKIABENCH/20250101/{REGION}/ssm/aws4_request, \
         SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    if !raw.starts_with("HTTP/1.0 200") && !raw.starts_with("HTTP/1.1 200") {
        bail!(
            "moto's SSM {action}: {}",
            raw.lines().next().unwrap_or_default()
        );
    }
    Ok(raw)
}

/// How the run reaches its clusters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bearer,
    Role,
    /// By role, every application with a ConfigMap holding a `ref+awsssm://` reference to
    /// [`PARAMETER`] in its destination's account.
    RoleWithSecrets,
}

/// One cold sync of `args.apps` applications on fresh clusters: with the emulator's admin
/// bearer token, or by role. Answers the cold sync and, by role, the adapter's stats.
async fn one_run(
    args: &BenchArgs,
    moto: &str,
    mode: Mode,
) -> anyhow::Result<(scenario::ColdSync, Option<ferry_aws::AwsStats>)> {
    let aws = mode != Mode::Bearer;
    let dir = tempfile::tempdir()?;
    let clusters = start_emulator(dir.path(), args.clusters.max(1), moto)?;
    let repo_objects = args.objects.max(2);
    let repo = setup::make_repo(dir.path(), args.apps, repo_objects, &args.image)?;
    if mode == Mode::RoleWithSecrets {
        for i in 0..args.apps {
            std::fs::write(
                repo.join(format!("app-{i}")).join("secret.yaml"),
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-{i}-secret\ndata:\n  apiKey: \"ref+awsssm:/{PARAMETER}?region={REGION}\"\n"
                ),
            )?;
        }
        setup::commit(&repo, "secret references")?;
        for account in ACCOUNTS {
            ssm(
                moto,
                account,
                "PutParameter",
                json!({"Name": PARAMETER, "Value": format!("bench-{account}"), "Type": "SecureString"}),
            )
            .await?;
        }
    }
    let (_daemon, url) = setup::git_daemon(dir.path())?;
    let mgmt = clusters.client(&clusters.management).await?;
    let secrets = api_resource("", "v1", "Secret", "secrets");
    if aws {
        for (i, t) in clusters.targets.iter().enumerate() {
            map_deployers(&clusters.client(t).await?, ACCOUNTS[i % ACCOUNTS.len()]).await?;
        }
    }
    let mut config = ferry_runtime::Config::new(dir.path().join("cache"));
    config.workers = args.workers;
    config.limits = ferry_cluster::Limits {
        qps: args.qps,
        burst: args.burst,
        concurrency: args.concurrency,
    };
    if aws {
        config.aws = aws_options(dir.path(), moto)?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = ferry_runtime::start(
        clusters.config(&clusters.management).await?,
        config,
        stop_rx,
    )
    .await?;
    let ctx = running.apps.clone();
    let source = ferry_api::ApplicationSource {
        repo_url: url.clone(),
        target_revision: "main".into(),
        path: "app-0".into(),
        ..Default::default()
    };
    // The repository fetched before the clock starts; with secret references this render
    // (no destination, so no account) fails after the fetch, which is all it is for.
    let warm = ctx.sources.render(&source, None, true, None).await;
    if mode != Mode::RoleWithSecrets {
        warm?;
    }
    for (i, t) in clusters.targets.iter().enumerate() {
        let account = ACCOUNTS[i % ACCOUNTS.len()];
        let (server, mut cfg) = clusters.endpoint(t)?;
        if aws {
            cfg = json!({"awsAuthConfig": {"clusterName": t, "roleARN": deployer(account)},
                "tlsClientConfig": cfg["tlsClientConfig"].clone()});
        }
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("bench-cluster-{}", i + 1),
                "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": t, "server": server, "config": cfg.to_string()}});
        apply(&mgmt, Some("ferry"), &secrets, secret).await?;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let cold = scenario::cold_sync(&ctx, &mgmt, &clusters, &url, args.apps).await?;
    let stats = aws.then(|| ctx.registry.aws().stats());
    let _ = stop_tx.send(true);
    Ok((cold, stats))
}

pub(super) async fn run(args: &BenchArgs) -> anyhow::Result<Value> {
    let moto = start_moto()?;
    let (n, m) = (args.apps, args.clusters.max(1));
    eprintln!("bearer tokens: {n} applications x {m} clusters ...");
    let (bearer, _) = one_run(args, &moto.url(), Mode::Bearer).await?;
    eprintln!("by role in {} accounts ...", ACCOUNTS.len().min(m));
    let (by_role, stats) = one_run(args, &moto.url(), Mode::Role).await?;
    eprintln!("by role, with a secret reference in every application ...");
    let (with_secrets, secret_stats) = one_run(args, &moto.url(), Mode::RoleWithSecrets).await?;
    let ss = secret_stats.context("the secrets run's stats")?;
    let s = stats.context("the AWS run's stats")?;
    let roles = ACCOUNTS.len().min(m);
    let signed_or_hit = s.token_hits + s.tokens_signed;
    Ok(json!({
        "size": format!("{n}x{m}"), "apps": n, "clusters": m, "accounts": roles,
        "bearer_cold_sync_s": bearer.sync_s, "aws_cold_sync_s": by_role.sync_s,
        "aws_cold_vs_bearer": by_role.sync_s / bearer.sync_s,
        "bearer_cold_sync_cpu_s": bearer.cpu_s, "aws_cold_sync_cpu_s": by_role.cpu_s,
        // The emulator's CPU: by role it also verifies tokens and maps them by `aws-auth`
        // and RBAC on every request (the admin token skips both).
        "bearer_cold_sync_server_cpu_s": bearer.server_cpu, "aws_cold_sync_server_cpu_s": by_role.server_cpu,
        "aws_requests_per_app": by_role.requests_per_app,
        "bearer_requests_per_app": bearer.requests_per_app,
        "sts_calls": s.sts_calls(),
        "sts_web_identity_calls": s.base_credential_fetches,
        "sts_assume_role_calls": s.sts_assume_role_calls,
        "sts_get_caller_identity_calls": s.sts_get_caller_identity_calls,
        "sts_calls_per_role": s.sts_calls() as f64 / roles as f64,
        // The run is shorter than one credential lifetime (15 min sessions, renewed after
        // 10) and one token renewal (10 min): what a cluster costs before its first renewal.
        "sts_calls_per_cluster_over_run": s.sts_calls() as f64 / m as f64,
        // The clients keep a token until it is renewed: requests per token signed is the
        // reuse the cache's own hit rate (asks of the cache) does not show.
        "requests_per_token": by_role.requests_per_app.as_f64().map(|r| r * n as f64 / s.tokens_signed.max(1) as f64),
        "tokens_signed": s.tokens_signed, "token_hits": s.token_hits,
        "token_cache_hit_rate": if signed_or_hit == 0 { Value::Null } else { json!(s.token_hits as f64 / signed_or_hit as f64) },
        "credential_hits": s.credential_hits, "credential_misses": s.credential_misses,
        // A third run, by role, with one `ref+awsssm://` per application (the same
        // parameter in each account): SSM calls per render (one render per application).
        "secrets_cold_sync_s": with_secrets.sync_s,
        "secrets_cold_vs_bearer": with_secrets.sync_s / bearer.sync_s,
        "ssm_get_parameters_calls": ss.ssm_get_parameters_calls,
        "ssm_get_parameters_calls_per_render": ss.ssm_get_parameters_calls as f64 / n as f64,
    }))
}

pub(super) fn print_table(r: &Value) {
    let rows = [
        ("applications x clusters", "size"),
        ("accounts (one role each)", "accounts"),
        ("cold sync, bearer tokens (s)", "bearer_cold_sync_s"),
        ("cold sync, by role (s)", "aws_cold_sync_s"),
        (
            "  ratio to bearer tokens (target <= 1.05)",
            "aws_cold_vs_bearer",
        ),
        (
            "  requests per application, bearer",
            "bearer_requests_per_app",
        ),
        (
            "  requests per application, by role",
            "aws_requests_per_app",
        ),
        ("STS calls in the run", "sts_calls"),
        ("  web identity", "sts_web_identity_calls"),
        ("  AssumeRole", "sts_assume_role_calls"),
        ("  GetCallerIdentity", "sts_get_caller_identity_calls"),
        ("  per role", "sts_calls_per_role"),
        (
            "  per cluster (run < credential lifetime)",
            "sts_calls_per_cluster_over_run",
        ),
        ("EKS tokens signed", "tokens_signed"),
        (
            "token cache hit rate (asks of the cache)",
            "token_cache_hit_rate",
        ),
        ("  API requests per token signed", "requests_per_token"),
        ("credential cache hits / misses", "credential_hits"),
        ("with a ref+awsssm:// per application:", "size"),
        ("  cold sync / bearer tokens", "secrets_cold_vs_bearer"),
        ("  SSM GetParameters calls", "ssm_get_parameters_calls"),
        ("  per render", "ssm_get_parameters_calls_per_render"),
    ];
    for (label, key) in rows {
        let cell = match &r[key] {
            Value::Number(x) => x.as_f64().map_or(x.to_string(), |f| {
                if f.fract() == 0.0 {
                    format!("{f:.0}")
                } else {
                    format!("{f:.3}")
                }
            }),
            Value::String(s) => s.clone(),
            Value::Null => "-".into(),
            other => other.to_string(),
        };
        let cell = if key == "credential_hits" {
            format!("{cell} / {}", r["credential_misses"])
        } else {
            cell
        };
        println!("{label:<44} {cell:>14}");
    }
}
