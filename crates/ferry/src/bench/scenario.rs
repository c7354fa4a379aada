//! One benchmark run, as its steps: the clusters and the generated repository, the baselines
//! (`git clone`, the API server's own limit, `kubectl apply --server-side`), Ferry started
//! and the clusters registered, the cold sync, a no-op resync, a healed drift, a push
//! webhook, and an ApplicationSet's new cluster; then one JSON object of every figure.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ferry_cluster::{Limits, api_resource};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use super::{
    ARGO_APPS_PER_CPU_SECOND, BenchArgs, appset_step, baselines, per, push_webhook, setup,
    total_requests, wait_idle, wait_synced,
};

/// What Ferry is measured against, from the same run.
struct Baselines {
    git_clone_s: f64,
    ferry_git_s: f64,
    api_limit_s: f64,
    api_limit_server_cpu: Option<f64>,
    kubectl_s: Option<f64>,
}

/// The cold sync of every application.
pub(super) struct ColdSync {
    created_s: f64,
    pub(super) sync_s: f64,
    pub(super) cpu_s: f64,
    pub(super) server_cpu: Option<f64>,
    pub(super) requests_per_app: Value,
    writes_per_app: Value,
    mgmt_writes_per_app: Value,
    peak: u64,
}

/// One full resync with nothing to do.
struct NoopResync {
    wall_s: f64,
    cpu_s: f64,
    requests: Value,
}

pub(super) async fn scenario(args: &BenchArgs) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let clusters = match &args.kubeconfig {
        Some(path) => {
            let mgmt = args
                .management_context
                .clone()
                .context("--kubeconfig needs --management-context")?;
            if args.target_contexts.is_empty() {
                bail!("--kubeconfig needs --target-contexts");
            }
            setup::existing(path, &mgmt, &args.target_contexts)
        }
        None => setup::start_emulator(dir.path(), args.clusters.max(1))?,
    };
    let (n, m, k) = (args.apps, clusters.targets.len(), args.objects.max(2));
    let repo = setup::make_repo(dir.path(), n, k, &args.image)?;
    let (_daemon, url) = setup::git_daemon(dir.path())?;
    let first = clusters.client(&clusters.targets[0]).await?;

    let base = measure_baselines(args, &clusters, &first, &repo, &url, dir.path(), n).await?;

    // Ferry. The peak memory counts from here.
    if !setup::reset_peak_memory() {
        tracing::warn!("the peak resident memory could not be reset: it includes the baselines");
    }
    let webhook_port = setup::free_port()?;
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = ferry_runtime::start(
        clusters.config(&clusters.management).await?,
        ferry_config(args, dir.path(), webhook_port),
        stop_rx,
    )
    .await?;
    let ctx = running.apps.clone();
    // The repository is fetched and checked out before the clock starts: the first fetch of
    // a commit is measured on its own (`ferry_git_s`, against `git clone`), and the cold
    // sync measures what the API server's limit is compared with.
    let source = ferry_api::ApplicationSource {
        repo_url: url.clone(),
        target_revision: "main".into(),
        path: "app-0".into(),
        ..Default::default()
    };
    ctx.sources.render(&source, None, true, None).await?;
    let mgmt = clusters.client(&clusters.management).await?;
    register_clusters(&mgmt, &clusters).await?;

    let cold = cold_sync(&ctx, &mgmt, &clusters, &url, n).await?;
    if args.cold_only {
        println!(
            "cold sync {:.3} s, controller CPU {:.2} s, API server CPU {:?} s",
            cold.sync_s, cold.cpu_s, cold.server_cpu
        );
        return Ok(json!({"cold_sync_s": cold.sync_s, "cold_sync_cpu_s": cold.cpu_s}));
    }
    let noop = noop_resync(&running, &clusters).await?;
    let drift_s = heal_drift(&first).await?;

    // A push: one new object in application 0's directory, announced by a signed GitHub
    // webhook (the controller polls every 3 minutes, so only the webhook can bring it).
    let peak_steady = setup::memory().1;
    let webhook_s = push_webhook(&mgmt, &first, &repo, &url, webhook_port, "pushed").await?;

    // A cluster registered for an ApplicationSet: the time from its Secret to its
    // generated applications all Synced and Healthy.
    let peak_push = setup::memory().1;
    let appset_s = appset_step(&ctx, &mgmt, &clusters, &url, n).await?;

    let (rss, peak) = setup::memory();
    let (cached, cached_bytes) = ctx.cache_footprint();
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get()) as f64;
    let apps_per_s = n as f64 / cold.sync_s;
    let mib = |b: u64| b as f64 / 1048576.0;
    Ok(json!({
        "size": format!("{n}x{m}"), "apps": n, "clusters": m, "objects": k,
        "cold_sync_s": cold.sync_s, "apps_per_s": apps_per_s,
        "cold_vs_api_limit": cold.sync_s / base.api_limit_s,
        "vs_argo_per_cpu": apps_per_s / cpus / ARGO_APPS_PER_CPU_SECOND,
        "requests_per_app": cold.requests_per_app,
        "mgmt_writes_per_app": cold.mgmt_writes_per_app,
        "writes_per_app": cold.writes_per_app,
        "api_limit_s": base.api_limit_s, "kubectl_s": base.kubectl_s, "apps_created_s": cold.created_s, "cold_sync_cpu_s": cold.cpu_s,
        "cold_sync_server_cpu_s": cold.server_cpu, "api_limit_server_cpu_s": base.api_limit_server_cpu,
        "noop_resync_cpu_s": noop.cpu_s, "noop_resync_wall_s": noop.wall_s, "noop_resync_requests": noop.requests,
        "drift_healed_s": drift_s, "webhook_to_applied_s": webhook_s,
        "appset_apps": appset_s.0, "appset_synced_s": appset_s.1,
        "peak_rss_mib": mib(peak), "rss_mib": mib(rss),
        // The peak as it stood after each step (it only grows): where it was reached.
        "peak_rss_mib_after": {"cold_sync": mib(cold.peak),
            "resync_and_drift": mib(peak_steady),
            "push": mib(peak_push), "applicationset": mib(peak)},
        "cached_objects": cached, "bytes_per_cached_object": cached_bytes.checked_div(cached).unwrap_or(0),
        "git_clone_s": base.git_clone_s, "ferry_git_s": base.ferry_git_s,
        "qps": args.qps, "burst": args.burst, "concurrency": args.concurrency, "workers": args.workers, "cpus": cpus,
    }))
}

/// The baselines: a first `git clone` against Ferry's first fetch, the API server taking the
/// objects by raw parallel server-side apply (its limit), and `kubectl apply`.
async fn measure_baselines(
    args: &BenchArgs,
    clusters: &setup::Clusters,
    first: &kube::Client,
    repo: &std::path::Path,
    url: &str,
    dir: &std::path::Path,
    n: usize,
) -> anyhow::Result<Baselines> {
    let (git_clone_s, ferry_git_s) = baselines::git(url, dir).await?;
    let server_cpu0 = clusters.server_cpu_seconds();
    let api_limit_s = if args.cold_only {
        f64::NAN
    } else {
        baselines::api_limit(first, repo, n).await?
    };
    let api_limit_server_cpu = clusters
        .server_cpu_seconds()
        .zip(server_cpu0)
        .map(|(b, a)| b - a);
    let kubectl_s = if args.skip_kubectl || args.cold_only {
        None
    } else {
        Some(baselines::kubectl(&clusters.kubeconfig, "target-1", first, repo, n, dir).await?)
    };
    Ok(Baselines {
        git_clone_s,
        ferry_git_s,
        api_limit_s,
        api_limit_server_cpu,
        kubectl_s,
    })
}

/// Ferry as the benchmark runs it: its limits and workers from the flags, webhooks on
/// `webhook_port`.
fn ferry_config(
    args: &BenchArgs,
    dir: &std::path::Path,
    webhook_port: u16,
) -> ferry_runtime::Config {
    let mut config = ferry_runtime::Config::new(dir.join("cache"));
    config.workers = args.workers;
    config.webhook_listen = Some(std::net::SocketAddr::from(([127, 0, 0, 1], webhook_port)));
    config.limits = Limits {
        qps: args.qps,
        burst: args.burst,
        concurrency: args.concurrency,
    };
    config
}

/// A cluster Secret for every target cluster.
async fn register_clusters(mgmt: &kube::Client, clusters: &setup::Clusters) -> anyhow::Result<()> {
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        mgmt.clone(),
        "ferry",
        &api_resource("", "v1", "Secret", "secrets"),
    );
    for (idx, t) in clusters.targets.iter().enumerate() {
        let (server, cfg) = clusters.endpoint(t)?;
        let secret_name = format!("bench-cluster-{}", idx + 1);
        let s = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": secret_name,
            "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": {"name": t, "server": server, "config": cfg.to_string()}});
        secrets
            .patch(
                &secret_name,
                &PatchParams::apply("bench").force(),
                &Patch::Apply(&s),
            )
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(())
}

/// `n` automated applications created at once (32 requests in flight), timed until every
/// one is Synced and Healthy, with the requests and CPU it took.
pub(super) async fn cold_sync(
    ctx: &ferry_controller::ControllerCtx,
    mgmt: &kube::Client,
    clusters: &setup::Clusters,
    url: &str,
    n: usize,
) -> anyhow::Result<ColdSync> {
    let apps: Api<DynamicObject> = Api::namespaced_with(
        mgmt.clone(),
        "ferry",
        &ferry_controller::applications_resource(),
    );
    let before = total_requests(clusters).await?;
    let mgmt_before = clusters.requests("management").await?;
    let start = Instant::now();
    let cpu0 = setup::cpu_seconds();
    let server_cpu0 = clusters.server_cpu_seconds();
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(32));
    let mut tasks = Vec::new();
    for i in 0..n {
        let target = clusters.targets[i % clusters.targets.len()].clone();
        let permit = sem.clone().acquire_owned().await?;
        let apps = apps.clone();
        let name = format!("app-{i}");
        let app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"project": "default", "source": {"repoURL": url, "targetRevision": "main", "path": format!("app-{i}")},
                "destination": {"name": target, "namespace": format!("app-{i}")},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}});
        tasks.push(tokio::spawn(async move {
            let r = apps
                .patch(&name, &PatchParams::apply("bench"), &Patch::Apply(&app))
                .await;
            drop(permit);
            r
        }));
    }
    for t in tasks {
        t.await??;
    }
    let created_s = start.elapsed().as_secs_f64();
    let names: HashSet<String> = (0..n).map(|i| format!("app-{i}")).collect();
    wait_synced(ctx, &names).await?;
    let sync_s = start.elapsed().as_secs_f64();
    let cpu_s = setup::cpu_seconds() - cpu0;
    let peak = setup::memory().1;
    let server_cpu = clusters
        .server_cpu_seconds()
        .zip(server_cpu0)
        .map(|(b, a)| b - a);
    let after = total_requests(clusters).await?;
    let (requests_per_app, writes_per_app) = per(before, after, n);
    // Writes to the management cluster: the harness's creation of each Application, and
    // Ferry's status writes.
    let mgmt_after = clusters.requests("management").await?;
    let (_, mgmt_writes_per_app) = per(
        mgmt_before.map(|(r, w, d, _)| (r + w + d, w)),
        mgmt_after.map(|(r, w, d, _)| (r + w + d, w)),
        n,
    );
    Ok(ColdSync {
        created_s,
        sync_s,
        cpu_s,
        server_cpu,
        requests_per_app,
        writes_per_app,
        mgmt_writes_per_app,
        peak,
    })
}

/// Steady state: one full resync of applications that have nothing to do.
async fn noop_resync(
    running: &ferry_runtime::Running,
    clusters: &setup::Clusters,
) -> anyhow::Result<NoopResync> {
    wait_idle(running).await;
    let idle = total_requests(clusters).await?;
    let cpu0 = setup::cpu_seconds();
    let t0 = Instant::now();
    running.apps.resync_all();
    tokio::time::sleep(Duration::from_millis(20)).await;
    wait_idle(running).await;
    let wall_s = t0.elapsed().as_secs_f64() - 0.5;
    let cpu_s = setup::cpu_seconds() - cpu0;
    let resynced = total_requests(clusters).await?;
    let requests = match (idle, resynced) {
        (Some(a), Some(b)) => json!(b.0 - a.0),
        _ => Value::Null,
    };
    Ok(NoopResync {
        wall_s,
        cpu_s,
        requests,
    })
}

/// Drift: one Deployment scaled by hand, timed until Ferry puts it back.
async fn heal_drift(first: &kube::Client) -> anyhow::Result<f64> {
    let deploys: Api<DynamicObject> = Api::namespaced_with(
        first.clone(),
        "app-0",
        &api_resource("apps", "v1", "Deployment", "deployments"),
    );
    deploys
        .patch(
            "app-0",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await?;
    let t0 = Instant::now();
    loop {
        let d = deploys.get("app-0").await?;
        if d.data["spec"]["replicas"] == 1 {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            bail!("the drifted Deployment was not healed within a minute");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(t0.elapsed().as_secs_f64())
}
