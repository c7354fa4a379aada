//! Baselines measured in the same run as Ferry, so that every figure is also a ratio: the API
//! server's own limit (the same objects applied by plain, maximally parallel server-side
//! apply), `kubectl apply --server-side`, and `git clone` against Ferry's fetch.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use ferry_cluster::api_resource;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// The objects of application `i`, placed in namespace `ns`.
pub fn objects_of(repo: &Path, i: usize, ns: &str) -> anyhow::Result<Vec<Value>> {
    let rendered = ferry_render::render_directory(
        repo,
        &format!("app-{i}"),
        &Default::default(),
        &Default::default(),
    )?;
    Ok(rendered
        .objects()
        .iter()
        .map(|o| {
            let mut v = o.object.clone();
            v["metadata"]["namespace"] = json!(ns);
            v
        })
        .collect())
}

fn resource_of(obj: &Value) -> kube::discovery::ApiResource {
    match obj["kind"].as_str().unwrap_or_default() {
        "Deployment" => api_resource("apps", "v1", "Deployment", "deployments"),
        "Service" => api_resource("", "v1", "Service", "services"),
        "Namespace" => api_resource("", "v1", "Namespace", "namespaces"),
        _ => api_resource("", "v1", "ConfigMap", "configmaps"),
    }
}

async fn ssa(client: &kube::Client, obj: &Value) -> anyhow::Result<()> {
    let ar = resource_of(obj);
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    let api: Api<DynamicObject> = match obj["metadata"]["namespace"].as_str() {
        Some(ns) if obj["kind"] != "Namespace" => Api::namespaced_with(client.clone(), ns, &ar),
        _ => Api::all_with(client.clone(), &ar),
    };
    api.patch(
        name,
        &PatchParams::apply("bench-baseline").force(),
        &Patch::Apply(obj),
    )
    .await?;
    Ok(())
}

/// Waits until every Deployment labelled `bench=ferry` in namespaces starting with `prefix`
/// (there are `count`) reports all replicas ready.
pub async fn wait_ready(
    client: &kube::Client,
    prefix: &str,
    count: usize,
    limit: Duration,
) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &api_resource("apps", "v1", "Deployment", "deployments"),
    );
    let start = Instant::now();
    loop {
        // Paged: one list of every Deployment, with its managedFields, would be tens of MiB
        // in this process, which the memory figures of the controller beside it would carry.
        let mut ready = 0;
        let mut params = ListParams::default().labels("bench=ferry").limit(250);
        loop {
            let page = api.list(&params).await?;
            ready += page
                .items
                .iter()
                .filter(|d| {
                    d.metadata
                        .namespace
                        .as_deref()
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .filter(|d| {
                    d.data["status"]["readyReplicas"].as_i64()
                        == d.data["spec"]["replicas"].as_i64()
                })
                .count();
            match page.metadata.continue_.filter(|c| !c.is_empty()) {
                Some(token) => params = params.continue_token(&token),
                None => break,
            }
        }
        if ready >= count {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!("only {ready} of {count} deployments in {prefix}* became ready within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The API server's own limit: every object applied at once (64 in flight), then ready.
pub async fn api_limit(client: &kube::Client, repo: &Path, apps: usize) -> anyhow::Result<f64> {
    let mut all = Vec::new();
    for i in 0..apps {
        all.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": format!("base-{i}")}}));
    }
    let namespaces = all.len();
    for i in 0..apps {
        all.extend(objects_of(repo, i, &format!("base-{i}"))?);
    }
    let start = Instant::now();
    let sem = Arc::new(Semaphore::new(64));
    // Namespaces first, then everything else.
    for batch in [&all[..namespaces], &all[namespaces..]] {
        let mut tasks = Vec::new();
        for obj in batch {
            let obj = obj.clone();
            let permit = sem.clone().acquire_owned().await?;
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let r = ssa(&client, &obj).await;
                drop(permit);
                r
            }));
        }
        for t in tasks {
            t.await??;
        }
    }
    wait_ready(client, "base-", apps, Duration::from_secs(600)).await?;
    Ok(start.elapsed().as_secs_f64())
}

/// `kubectl apply --server-side` of the same objects, then ready.
pub async fn kubectl(
    kubeconfig: &Path,
    context: &str,
    client: &kube::Client,
    repo: &Path,
    apps: usize,
    dir: &Path,
) -> anyhow::Result<f64> {
    let out_dir = dir.join("kubectl");
    std::fs::create_dir_all(&out_dir)?;
    for i in 0..apps {
        let ns = format!("kubectl-{i}");
        let mut docs =
            vec![json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})];
        docs.extend(objects_of(repo, i, &ns)?);
        let list = json!({"apiVersion": "v1", "kind": "List", "items": docs});
        std::fs::write(
            out_dir.join(format!("{i:05}.json")),
            serde_json::to_vec(&list)?,
        )?;
    }
    let start = Instant::now();
    let out = tokio::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args([
            "--context",
            context,
            "apply",
            "--server-side",
            "--validate=false",
            "-f",
        ])
        .arg(&out_dir)
        .output()
        .await
        .context("running kubectl")?;
    if !out.status.success() {
        bail!(
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_ready(client, "kubectl-", apps, Duration::from_secs(600)).await?;
    Ok(start.elapsed().as_secs_f64())
}

/// `(git clone seconds, Ferry resolve + checkout seconds)` of the benchmark repository.
pub async fn git(url: &str, dir: &Path) -> anyhow::Result<(f64, f64)> {
    let start = Instant::now();
    let out = tokio::process::Command::new("git")
        .args(["clone", "--quiet", url])
        .arg(dir.join("clone"))
        .output()
        .await?;
    if !out.status.success() {
        bail!("git clone: {}", String::from_utf8_lossy(&out.stderr));
    }
    let cli = start.elapsed().as_secs_f64();
    let cache = ferry_git::GitCache::new(ferry_git::GitConfig::new(dir.join("ferry-git")))?;
    let repo = ferry_git::Repo::new(url);
    let start = Instant::now();
    let commit = cache.resolve(&repo, "main").await?;
    cache.checkout(&repo, &commit).await?;
    Ok((cli, start.elapsed().as_secs_f64()))
}
