//! `ferry bench --server` (issue 12, Performance): the server's list of applications and
//! its event fan-out, at 1,000 and 10,000 applications (or `--apps`). The emulator (its own
//! process) holds the Applications, each with a status as the controller writes one; the
//! server runs in this process, so that its CPU and resident memory are this process's.
//!
//! For each size: the resident memory the server added once its caches hold every
//! Application; `GET /api/v1/applications` timed over repeated requests (wall and this
//! process's CPU per request, which includes reading the answer on the client side) and
//! its size; the same list as the API server answers it (`LIST` of the Applications, the
//! baseline in the same run); and the time until 50 event-stream clients all hear of one
//! change.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ferry_core::Sensitive;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::setup;

const TOKEN: &str = "bench-server-token";
const REQUESTS: usize = 30;
const STREAMS: usize = 50;

/// One size's figures.
fn figures(
    apps: usize,
    added_rss: u64,
    list: (Duration, f64, usize),
    baseline: Duration,
    fanout: Duration,
) -> Value {
    let (wall, cpu, bytes) = list;
    json!({
        "applications": apps,
        "serverAddedResidentMiB": added_rss as f64 / (1024.0 * 1024.0),
        "listWallMs": wall.as_secs_f64() * 1000.0,
        "listCpuMs": cpu * 1000.0,
        "listBytes": bytes,
        "apiServerListMs": baseline.as_secs_f64() * 1000.0,
        "listRatioToApiServer": wall.as_secs_f64() / baseline.as_secs_f64().max(1e-9),
        "fanOut50Ms": fanout.as_secs_f64() * 1000.0,
    })
}

async fn request(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<Vec<u8>> {
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await?;
    if !out.starts_with(b"HTTP/1.1 200") {
        bail!(
            "GET {path}: {}",
            String::from_utf8_lossy(&out[..out.len().min(300)])
        );
    }
    Ok(out)
}

/// Makes `n` Applications (names `app-00000` ..), each with a status of two resources.
async fn make_apps(client: &kube::Client, from: usize, to: usize) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "ferry",
        &ferry_controller::applications_resource(),
    );
    let mut pending = futures::stream::FuturesUnordered::new();
    use futures::StreamExt as _;
    for i in from..to {
        let api = api.clone();
        pending.push(async move {
            let name = format!("app-{i:05}");
            let cluster = if i % 2 == 0 { "blue" } else { "green" };
            let app: DynamicObject = serde_json::from_value(json!({
                "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
                "metadata": {"name": name, "labels": {"team": format!("team-{}", i % 10)}},
                "spec": {"project": "default",
                    "source": {"repoURL": "https://git.example/apps.git", "targetRevision": "main",
                        "path": format!("apps/{i}")},
                    "destination": {"name": cluster, "namespace": format!("ns-{i}")}}}))?;
            api.create(&PostParams::default(), &app).await?;
            let status = json!({"status": {
                "sync": {"status": "Synced", "revision": "0123456789abcdef0123456789abcdef01234567"},
                "health": {"status": "Healthy"},
                "resources": [
                    {"version": "v1", "kind": "ConfigMap", "namespace": format!("ns-{i}"),
                     "name": "settings", "status": "Synced", "health": {"status": "Healthy"}},
                    {"group": "apps", "version": "v1", "kind": "Deployment",
                     "namespace": format!("ns-{i}"), "name": "web", "status": "Synced",
                     "health": {"status": "Healthy"}}],
                "operationState": {"operation": {"sync": {}}, "phase": "Succeeded",
                    "message": "successfully synced 2 resources", "startedAt": "2026-12-04T00:00:00Z",
                    "finishedAt": "2026-12-04T00:00:01Z"}}});
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
                .await?;
            anyhow::Ok(())
        });
        if pending.len() >= 32
            && let Some(r) = pending.next().await
        {
            r?;
        }
    }
    while let Some(r) = pending.next().await {
        r?;
    }
    Ok(())
}

/// The time until `STREAMS` event-stream clients have all heard of a change of `name`.
async fn fan_out(
    addr: std::net::SocketAddr,
    client: &kube::Client,
    name: &str,
) -> anyhow::Result<Duration> {
    let mut streams = Vec::new();
    for _ in 0..STREAMS {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        let req = format!(
            "GET /api/v1/stream HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await?;
        // The answer's head, before any event.
        let mut head = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut head))
            .await
            .context("the event stream's head within 10 s")??;
        if !head[..n].starts_with(b"HTTP/1.1 200") {
            bail!("the event stream: {}", String::from_utf8_lossy(&head[..n]));
        }
        streams.push(s);
    }
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "ferry",
        &ferry_controller::applications_resource(),
    );
    let needle = format!("\"name\":\"{name}\"");
    let start = Instant::now();
    api.patch(
        name,
        &PatchParams::default(),
        // A value not written before: a patch that changes nothing makes no event.
        &Patch::Merge(json!({"metadata": {"labels": {"bench": format!("changed-{}", stamp())}}})),
    )
    .await?;
    let waits = streams.into_iter().map(|mut s| {
        let needle = needle.clone();
        async move {
            let mut seen = String::new();
            let mut buf = [0u8; 4096];
            while !seen.contains(&needle) {
                let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut buf))
                    .await
                    .context("no event within 30 s")??;
                if n == 0 {
                    bail!("the event stream ended");
                }
                seen.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
            anyhow::Ok(())
        }
    });
    // Keep-alives arrive every 15 s, so each read's timeout alone would never end a wait
    // for an event that does not come.
    tokio::time::timeout(
        Duration::from_secs(60),
        futures::future::try_join_all(waits),
    )
    .await
    .context("not every event stream heard of the change within 60 s")??;
    Ok(start.elapsed())
}

/// A number that differs between calls (nanoseconds since the epoch).
fn stamp() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Runs the step at each of `sizes` (ascending): JSON with one entry per size.
pub async fn run(sizes: &[usize]) -> anyhow::Result<Value> {
    let dir = tempfile::tempdir()?;
    let clusters = setup::start_emulator(dir.path(), 0)?;
    let kube_config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&clusters.kubeconfig)?,
        &kube::config::KubeConfigOptions {
            context: Some(clusters.management.clone()),
            ..Default::default()
        },
    )
    .await?;
    let client = kube::Client::try_from(kube_config.clone())?;
    ferry_runtime::install(&client, "ferry").await?;
    let mut results = Vec::new();
    let mut made = 0;
    for &size in sizes {
        eprintln!("server step: {size} applications ...");
        make_apps(&client, made, size).await?;
        made = size;
        // The server, started fresh for each size, so that its added memory is this size's
        // (measured before the baseline's list, whose answer this process also holds).
        let before = setup::memory().0;
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let mut config =
            ferry_server::ServerConfig::new("127.0.0.1:0".parse()?, dir.path().join("server-git"));
        config.namespace = "ferry".into();
        let server = ferry_server::start(
            kube_config.clone(),
            config,
            Sensitive::new(TOKEN.into()),
            None,
            stop,
        )
        .await?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while server.fleet.apps.len() < size || !server.fleet.is_ready() {
            if Instant::now() > deadline {
                bail!(
                    "the server's cache holds {} of {size}",
                    server.fleet.apps.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let added = setup::memory().0.saturating_sub(before);

        // The API server's own list of the same objects: the baseline.
        let api: Api<DynamicObject> = Api::namespaced_with(
            client.clone(),
            "ferry",
            &ferry_controller::applications_resource(),
        );
        let start = Instant::now();
        for _ in 0..3 {
            let list = api.list(&ListParams::default()).await?;
            if list.items.len() != size {
                bail!("the API server lists {} of {size}", list.items.len());
            }
        }
        let baseline = start.elapsed() / 3;

        let mut bytes = request(server.addr, "/api/v1/applications").await?.len();
        let (cpu0, wall0) = (setup::cpu_seconds(), Instant::now());
        for _ in 0..REQUESTS {
            bytes = request(server.addr, "/api/v1/applications").await?.len();
        }
        let wall = wall0.elapsed() / REQUESTS as u32;
        let cpu = (setup::cpu_seconds() - cpu0) / REQUESTS as f64;
        let fanout = fan_out(server.addr, &client, "app-00000").await?;
        results.push(figures(size, added, (wall, cpu, bytes), baseline, fanout));
        stop_tx.send_replace(true);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(
        json!({"step": "server", "requestsPerFigure": REQUESTS, "streams": STREAMS,
        "sizes": results}),
    )
}

pub fn print_table(result: &Value) {
    println!(
        "{:>8} {:>12} {:>12} {:>12} {:>12} {:>10} {:>14}",
        "apps", "list ms", "list CPU ms", "API srv ms", "ratio", "MiB sent", "+RSS MiB"
    );
    for s in result["sizes"].as_array().into_iter().flatten() {
        let f = |k: &str| s[k].as_f64().unwrap_or_default();
        println!(
            "{:>8} {:>12.1} {:>12.1} {:>12.1} {:>11.2}x {:>10.2} {:>14.1}",
            s["applications"],
            f("listWallMs"),
            f("listCpuMs"),
            f("apiServerListMs"),
            f("listRatioToApiServer"),
            f("listBytes") / (1024.0 * 1024.0),
            f("serverAddedResidentMiB"),
        );
    }
    for s in result["sizes"].as_array().into_iter().flatten() {
        println!(
            "{} applications: one change reached {STREAMS} event streams in {:.1} ms",
            s["applications"],
            s["fanOut50Ms"].as_f64().unwrap_or_default()
        );
    }
}
