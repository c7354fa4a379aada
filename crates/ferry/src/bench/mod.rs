//! `ferry bench`: N applications × K objects × M clusters from a generated Git repository,
//! against emulated clusters, with baselines measured in the same run (the API server's own
//! limit, `kubectl apply --server-side`, `git clone`). Prints a table and one JSON line.
//! `--sizes 100x1,1000x1,1000x10` runs each size in its own process (so that memory figures
//! are per size) and prints them side by side.

mod aws;
mod baselines;
mod scenario;
mod server;
mod setup;

use scenario::scenario;

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Args;
use ferry_cluster::{Limits, api_resource};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

/// Argo CD's published default rate: 10,000 one-ConfigMap apps in 53 minutes on 16 vCPUs.
const ARGO_APPS_PER_CPU_SECOND: f64 = 10_000.0 / (53.0 * 60.0) / 16.0;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Applications, spread over the target clusters.
    #[arg(long, default_value_t = 100)]
    pub apps: usize,
    /// Objects per application: a Deployment, a Service, and ConfigMaps for the rest.
    #[arg(long, default_value_t = 2)]
    pub objects: usize,
    /// Target clusters.
    #[arg(long, default_value_t = 1)]
    pub clusters: usize,
    /// Several sizes, `APPSxCLUSTERS` separated by commas (e.g. `100x1,1000x1,1000x10`).
    #[arg(long)]
    pub sizes: Option<String>,
    /// Skip the kubectl baseline (slow at large sizes).
    #[arg(long)]
    pub skip_kubectl: bool,
    /// Applications reconciled at once.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
    /// Per-cluster requests per second of the controller.
    #[arg(long, default_value_t = Limits::default().qps)]
    pub qps: f64,
    /// Per-cluster burst of the controller.
    #[arg(long, default_value_t = Limits::default().burst)]
    pub burst: u32,
    /// Per-cluster requests in flight of the controller.
    #[arg(long, default_value_t = Limits::default().concurrency)]
    pub concurrency: usize,
    /// Run against existing clusters from this kubeconfig instead of emulated ones (needs
    /// `--management-context` and `--target-contexts`; requests are then not counted).
    #[arg(long)]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// The management cluster's context, with `--kubeconfig`.
    #[arg(long)]
    pub management_context: Option<String>,
    /// The target clusters' contexts, comma-separated, with `--kubeconfig`.
    #[arg(long, value_delimiter = ',')]
    pub target_contexts: Vec<String>,
    /// Container image of the generated Deployments (pullable, on real clusters).
    #[arg(long, default_value = "registry.example/web:1.0")]
    pub image: String,
    /// Print only the JSON line.
    #[arg(long)]
    pub json_only: bool,
    /// For profiling the controller (`perf record --no-inherit ferry bench --cold-only`):
    /// no baselines, and the run ends after the cold sync.
    #[arg(long)]
    pub cold_only: bool,
    /// The AWS step (issue 11): the applications over EKS-emulated clusters in three
    /// accounts, reached by role from web-identity credentials (moto's server plays STS; it
    /// must be installed), against the same cold sync with bearer tokens. Its default size
    /// is 1,000 applications over 10 clusters.
    #[arg(long)]
    pub aws: bool,
    /// The server step (issue 12): `GET /api/v1/applications` and the event stream's
    /// fan-out to 50 clients with 1,000 and 10,000 applications (or `--apps`), against the
    /// API server's own list of the same Applications.
    #[arg(long)]
    pub server: bool,
}

pub async fn run(mut args: BenchArgs) -> anyhow::Result<()> {
    if args.server {
        let given =
            |flag: &str| std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        let sizes = if given("--apps") {
            vec![args.apps]
        } else {
            vec![1000, 10_000]
        };
        let result = server::run(&sizes).await?;
        if !args.json_only {
            server::print_table(&result);
        }
        println!("{result}");
        return Ok(());
    }
    if args.aws {
        // The step's own default size, unless the sizes were given.
        let given =
            |flag: &str| std::env::args().any(|a| a == flag || a.starts_with(&format!("{flag}=")));
        if !given("--apps") {
            args.apps = 1000;
        }
        if !given("--clusters") {
            args.clusters = 10;
        }
        let result = aws::run(&args).await?;
        if !args.json_only {
            aws::print_table(&result);
        }
        println!("{result}");
        return Ok(());
    }
    if let Some(sizes) = &args.sizes {
        return run_sizes(&args, sizes).await;
    }
    let result = scenario(&args).await?;
    if !args.json_only && !args.cold_only {
        print_table(std::slice::from_ref(&result));
    }
    println!("{result}");
    Ok(())
}

async fn run_sizes(args: &BenchArgs, sizes: &str) -> anyhow::Result<()> {
    let mut results = Vec::new();
    for size in sizes.split(',') {
        let (apps, clusters) = size.split_once('x').context("a size is APPSxCLUSTERS")?;
        eprintln!("running {apps} applications x {clusters} clusters ...");
        let mut cmd = tokio::process::Command::new(std::env::current_exe()?);
        cmd.args([
            "--log",
            "warn",
            "bench",
            "--json-only",
            "--apps",
            apps,
            "--clusters",
            clusters,
        ])
        .args([
            "--objects",
            &args.objects.to_string(),
            "--workers",
            &args.workers.to_string(),
        ])
        .args([
            "--qps",
            &args.qps.to_string(),
            "--burst",
            &args.burst.to_string(),
            "--concurrency",
            &args.concurrency.to_string(),
        ]);
        if args.skip_kubectl {
            cmd.arg("--skip-kubectl");
        }
        let out = cmd.output().await?;
        if !out.status.success() {
            bail!(
                "size {size} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().last().unwrap_or_default();
        results.push(
            serde_json::from_str::<Value>(line)
                .with_context(|| format!("size {size} printed {text}"))?,
        );
    }
    print_table(&results);
    println!("{}", Value::Array(results));
    Ok(())
}

fn print_table(results: &[Value]) {
    let rows: [(&str, &str, &str); 28] = [
        ("applications x clusters", "size", ""),
        ("objects per application", "objects", ""),
        (
            "cold sync to Synced+Healthy, repo fetched (s)",
            "cold_sync_s",
            "s",
        ),
        ("  applications per second", "apps_per_s", ""),
        (
            "  of which creating the Applications (s)",
            "apps_created_s",
            "s",
        ),
        (
            "  CPU of the controller and harness (s)",
            "cold_sync_cpu_s",
            "s",
        ),
        (
            "  CPU of the API server(s) (s)",
            "cold_sync_server_cpu_s",
            "s",
        ),
        (
            "  vs API server limit (same objects)",
            "cold_vs_api_limit",
            "x",
        ),
        ("  vs Argo CD default rate per CPU", "vs_argo_per_cpu", "x"),
        ("  requests per application", "requests_per_app", ""),
        ("    of which writes", "writes_per_app", ""),
        (
            "  management writes per app (1 = create)",
            "mgmt_writes_per_app",
            "",
        ),
        ("API server limit: parallel SSA (s)", "api_limit_s", "s"),
        (
            "  CPU of the API server(s) (s)",
            "api_limit_server_cpu_s",
            "s",
        ),
        ("kubectl apply --server-side (s)", "kubectl_s", "s"),
        ("no-op resync of all apps (CPU s)", "noop_resync_cpu_s", "s"),
        ("  wall time (s)", "noop_resync_wall_s", "s"),
        ("  requests", "noop_resync_requests", ""),
        ("drifted object healed (s)", "drift_healed_s", "s"),
        ("push webhook to applied (s)", "webhook_to_applied_s", "s"),
        ("cluster registered: generated apps", "appset_apps", ""),
        ("  all Synced and Healthy after (s)", "appset_synced_s", "s"),
        ("peak resident memory (MiB)", "peak_rss_mib", ""),
        ("steady resident memory (MiB)", "rss_mib", ""),
        ("cached live objects", "cached_objects", ""),
        ("  bytes per cached object", "bytes_per_cached_object", ""),
        ("git clone (CLI) (s)", "git_clone_s", "s"),
        ("Ferry resolve + checkout (s)", "ferry_git_s", "s"),
    ];
    for (label, key, _) in rows {
        let cells: Vec<String> = results
            .iter()
            .map(|r| match &r[key] {
                Value::Number(n) => n.as_f64().map_or(n.to_string(), |f| {
                    if f.fract() == 0.0 {
                        format!("{f:.0}")
                    } else {
                        format!("{f:.3}")
                    }
                }),
                Value::String(s) => s.clone(),
                Value::Null => "-".into(),
                other => other.to_string(),
            })
            .collect();
        println!(
            "{label:<40} {}",
            cells.iter().map(|c| format!("{c:>14}")).collect::<String>()
        );
    }
    if let Some(r) = results.first() {
        println!(
            "client-side limits per cluster: {} qps, burst {}, {} in flight; {} workers",
            r["qps"], r["burst"], r["concurrency"], r["workers"]
        );
    }
}

/// Waits until every application of `names` is Synced and Healthy, as the controller's own
/// watch of Applications sees them (so, as the API server has them): a second watch here
/// would double the API server's work of sending every status change and add this
/// harness's parsing of it to the controller's CPU figure.
async fn wait_synced(
    ctx: &ferry_controller::ControllerCtx,
    names: &std::collections::HashSet<String>,
) -> anyhow::Result<()> {
    let total = names.len();
    let ready = |n: &str, a: &ferry_api::Application| {
        names.contains(n)
            && a.status.as_ref().is_some_and(|s| {
                s.sync.status == ferry_api::SyncCode::Synced
                    && s.health.status == ferry_api::HealthCode::Healthy
            })
    };
    let (mut best, mut since) = (0, Instant::now());
    loop {
        let done = ctx.count_apps(ready);
        if done == total {
            return Ok(());
        }
        if done > best {
            (best, since) = (done, Instant::now());
        } else if since.elapsed() > Duration::from_secs(120) {
            let example = names
                .iter()
                .filter_map(|n| ctx.app(n).map(|a| (n, a)))
                .find(|(n, a)| !ready(n, a))
                .map(|(n, a)| {
                    format!(
                        "{n}: {}",
                        serde_json::to_value(&a.status).unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            bail!(
                "no progress for 2 minutes: {done} of {total} applications Synced and Healthy; for example {example}"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_idle(running: &ferry_runtime::Running) {
    let mut quiet = 0;
    while quiet < 10 {
        if running.busy() {
            quiet = 0;
        } else {
            quiet += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn total_requests(clusters: &setup::Clusters) -> anyhow::Result<Option<(u64, u64)>> {
    let (mut all, mut writes) = (0, 0);
    for t in &clusters.targets {
        let Some((r, w, d, _)) = clusters.requests(t).await? else {
            return Ok(None);
        };
        all += r + w + d;
        writes += w;
    }
    Ok(Some((all, writes)))
}

fn per(before: Option<(u64, u64)>, after: Option<(u64, u64)>, apps: usize) -> (Value, Value) {
    match (before, after) {
        (Some(b), Some(a)) => (
            json!((a.0 - b.0) as f64 / apps as f64),
            json!((a.1 - b.1) as f64 / apps as f64),
        ),
        _ => (Value::Null, Value::Null),
    }
}

/// Commits a new ConfigMap to application 0, posts a signed GitHub push webhook, and times
/// until the ConfigMap is in the cluster.
async fn push_webhook(
    mgmt: &kube::Client,
    target: &kube::Client,
    repo: &std::path::Path,
    url: &str,
    port: u16,
    name: &str,
) -> anyhow::Result<f64> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    const SECRET: &str = "bench-webhook-secret";
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        mgmt.clone(),
        "ferry",
        &api_resource("", "v1", "Secret", "secrets"),
    );
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": ferry_runtime::WEBHOOK_SECRET_NAME},
        "stringData": {"webhook.github.secret": SECRET}});
    secrets
        .patch(
            ferry_runtime::WEBHOOK_SECRET_NAME,
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&secret),
        )
        .await?;
    std::fs::write(
        repo.join("app-0").join(format!("{name}.yaml")),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  by: webhook\n"
        ),
    )?;
    setup::commit(repo, "a push")?;
    let payload = json!({"ref": "refs/heads/main",
        "repository": {"html_url": url.replacen("git://", "http://", 1), "clone_url": url, "default_branch": "main"}})
    .to_string();
    let signature = ferry_webhook::signature_header_value(SECRET.as_bytes(), payload.as_bytes());
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        target.clone(),
        "app-0",
        &api_resource("", "v1", "ConfigMap", "configmaps"),
    );
    // The secret reaches the controller through a watch: retry a refused webhook briefly.
    let t0 = Instant::now();
    loop {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let request = format!(
            "POST /api/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\nX-Hub-Signature-256: {signature}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await?;
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        if t0.elapsed() > Duration::from_secs(10) {
            bail!(
                "the webhook was refused: {}",
                answer.lines().next().unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = Instant::now();
    while configmaps.get_opt(name).await?.is_none() {
        if sent.elapsed() > Duration::from_secs(60) {
            bail!("the pushed ConfigMap was not applied within a minute of the webhook");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(sent.elapsed().as_secs_f64())
}

/// An ApplicationSet generating an application for every directory `app-0` .. `app-99` on
/// every cluster labelled `bench-generation: new` (a matrix of a cluster and a git
/// generator); then such a cluster is registered (a new, empty emulated cluster; against
/// existing clusters, the first target under a second name) and the time until all its
/// applications are Synced and Healthy is measured. Answers how many
/// applications, and the seconds.
async fn appset_step(
    ctx: &ferry_controller::ControllerCtx,
    mgmt: &kube::Client,
    clusters: &setup::Clusters,
    url: &str,
    n: usize,
) -> anyhow::Result<(usize, f64)> {
    let generated = n.min(100);
    let sets: Api<DynamicObject> = Api::namespaced_with(
        mgmt.clone(),
        "ferry",
        &ferry_controller::appset::applicationsets_resource(),
    );
    let directories: Vec<Value> = if n >= 100 {
        vec![json!({"path": "app-?"}), json!({"path": "app-??"})]
    } else {
        vec![json!({"path": "app-*"})]
    };
    let set = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "bench-generation"},
        "spec": {
            "generators": [{"matrix": {"generators": [
                {"clusters": {"selector": {"matchLabels": {"bench-generation": "new"}}}},
                {"git": {"repoURL": url, "revision": "main", "directories": directories}}]}}],
            "template": {
                "metadata": {"name": "{{name}}-{{path.basename}}"},
                "spec": {"project": "default",
                    "source": {"repoURL": url, "targetRevision": "main", "path": "{{path}}"},
                    "destination": {"name": "{{name}}", "namespace": "gen-{{path.basename}}"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                        "syncOptions": ["CreateNamespace=true"]}}}}});
    sets.patch(
        "bench-generation",
        &PatchParams::apply("bench").force(),
        &Patch::Apply(&set),
    )
    .await?;
    // Until a cluster carries the label, the set has nothing to generate.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let target = clusters.fresh.as_ref().unwrap_or(&clusters.targets[0]);
    let (server, cfg) = clusters.endpoint(target)?;
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        mgmt.clone(),
        "ferry",
        &api_resource("", "v1", "Secret", "secrets"),
    );
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bench-new-generation",
        "labels": {"argocd.argoproj.io/secret-type": "cluster", "bench-generation": "new"}},
        "stringData": {"name": "new-generation", "server": server, "config": cfg.to_string()}});
    let names: std::collections::HashSet<String> = (0..generated)
        .map(|i| format!("new-generation-app-{i}"))
        .collect();
    let t0 = Instant::now();
    secrets
        .patch(
            "bench-new-generation",
            &PatchParams::apply("bench").force(),
            &Patch::Apply(&secret),
        )
        .await?;
    wait_synced(ctx, &names).await?;
    Ok((generated, t0.elapsed().as_secs_f64()))
}
