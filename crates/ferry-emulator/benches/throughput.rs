//! Emulator throughput: server-side apply, list and watch, against a baseline of the cheapest
//! request (`GET /version`) measured in the same run, so the figures read as ratios on a
//! shared, noisy machine.
//!
//! `cargo bench -p ferry-emulator --bench throughput` (objects: `FERRY_BENCH_OBJECTS`, default
//! 20000; concurrency: `FERRY_BENCH_CONCURRENCY`, default 32). Prints a table, then one JSON line.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_emulator::{ClusterConfig, Emulator};
use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use kube::runtime::{WatchStreamExt as _, watcher};
use serde_json::json;
use tokio::sync::Semaphore;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn cm_resource() -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        plural: "configmaps".into(),
    }
}

fn configmap(ns: &str, i: usize, value: &str) -> DynamicObject {
    serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("cm-{i}"), "namespace": ns, "labels": {"app": format!("app-{}", i % 100), "bench": "yes"},
            "annotations": {"ferry.dev/tracking-id": format!("app-{}:/ConfigMap:{ns}/cm-{i}", i % 100)}},
        "data": {"value": value, "config.yaml": "replicas: 3\nimage: registry.example/app:1.2.3\nfeatures: [a, b, c]\n"}}))
    .expect("object")
}

/// Runs `n` operations with `concurrency` in flight; answers requests per second.
async fn run<F, Fut>(n: usize, concurrency: usize, op: F) -> f64
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let sem = Arc::new(Semaphore::new(concurrency));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let permit = sem.clone().acquire_owned().await.expect("semaphore");
        let fut = op(i);
        tasks.push(tokio::spawn(async move {
            fut.await;
            drop(permit);
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let objects = env("FERRY_BENCH_OBJECTS", 20_000);
    let concurrency = env("FERRY_BENCH_CONCURRENCY", 32);
    let namespaces = 20usize;
    let rss_start = rss_bytes();
    let emu = Emulator::start(vec![ClusterConfig::new("bench", "bench-token")])
        .await
        .expect("emulator");
    let kc = Kubeconfig::from_yaml(&emu.kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("config");
    let client = kube::Client::try_from(config).expect("client");

    let ns_api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Namespace".into(),
            plural: "namespaces".into(),
        },
    );
    for n in 0..namespaces {
        let ns: DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("bench-{n}")}})).expect("ns");
        ns_api
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace");
    }

    // Baseline: the cheapest authenticated request.
    let baseline_n = objects.min(10_000);
    let c = client.clone();
    let baseline = run(baseline_n, concurrency, move |_| {
        let c = c.clone();
        async move {
            c.apiserver_version().await.expect("version");
        }
    })
    .await;

    let apply = |value: &'static str| {
        let c = client.clone();
        move |i: usize| {
            let ns = format!("bench-{}", i % namespaces);
            let api: Api<DynamicObject> = Api::namespaced_with(c.clone(), &ns, &cm_resource());
            let obj = configmap(&ns, i, value);
            async move {
                api.patch(
                    &format!("cm-{i}"),
                    &PatchParams::apply("ferry").force(),
                    &Patch::Apply(&obj),
                )
                .await
                .expect("apply");
            }
        }
    };
    let ssa_create = run(objects, concurrency, apply("v1")).await;
    let ssa_noop = run(objects, concurrency, apply("v1")).await;
    let ssa_change = run(objects, concurrency, apply("v2")).await;
    let rss_loaded = rss_bytes();

    // List everything, paged as informers do.
    let all: Api<DynamicObject> = Api::all_with(client.clone(), &cm_resource());
    let start = Instant::now();
    let mut listed = 0usize;
    let mut lp = ListParams::default().limit(500).labels("bench=yes");
    loop {
        let page = all.list(&lp).await.expect("list");
        listed += page.items.len();
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    let list_secs = start.elapsed().as_secs_f64();
    assert_eq!(listed, objects);

    // Watch: one watcher on every ConfigMap while a batch of changes is applied.
    let watch_n = objects.min(5_000);
    let mut stream = watcher(all.clone(), watcher::Config::default().labels("bench=yes"))
        .applied_objects()
        .boxed();
    // Drain the initial list.
    let mut seen = 0usize;
    while seen < objects {
        stream.try_next().await.expect("watch").expect("event");
        seen += 1;
    }
    let start = Instant::now();
    let writer = tokio::spawn(run(watch_n, concurrency, apply("v3")));
    let mut events = 0usize;
    while events < watch_n {
        match tokio::time::timeout(Duration::from_secs(60), stream.try_next()).await {
            Ok(Ok(Some(_))) => events += 1,
            other => panic!("watch stalled after {events} events: {other:?}"),
        }
    }
    let watch_secs = start.elapsed().as_secs_f64();
    writer.await.expect("writer");

    let per_object = rss_loaded.saturating_sub(rss_start) as f64 / objects as f64;
    println!(
        "emulator throughput ({objects} ConfigMaps in {namespaces} namespaces, {concurrency} requests in flight, HTTPS, kube-rs client in the same process)"
    );
    println!(
        "{:<38} {:>12} {:>10}",
        "operation", "per second", "vs GET /version"
    );
    let row = |name: &str, rate: f64| println!("{name:<38} {rate:>12.0} {:>10.2}", rate / baseline);
    row("GET /version (baseline)", baseline);
    row("server-side apply, create", ssa_create);
    row("server-side apply, no-op", ssa_noop);
    row("server-side apply, change", ssa_change);
    row("list, 500 per page (objects)", listed as f64 / list_secs);
    row("watch events delivered", events as f64 / watch_secs);
    println!(
        "resident memory: {:.1} MiB after loading ({per_object:.0} bytes per object, client included)",
        rss_loaded as f64 / 1048576.0
    );
    println!(
        "{}",
        json!({"objects": objects, "concurrency": concurrency, "baseline_rps": baseline, "ssa_create_rps": ssa_create,
            "ssa_noop_rps": ssa_noop, "ssa_change_rps": ssa_change, "list_objects_per_s": listed as f64 / list_secs,
            "watch_events_per_s": events as f64 / watch_secs, "rss_bytes": rss_loaded, "bytes_per_object": per_object})
    );
    emu.shutdown().await;
}
