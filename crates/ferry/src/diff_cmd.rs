//! `ferry app diff`: renders the application's source here, asks its cluster for a
//! server-side-apply dry run of every object, and prints what a sync would change (Secret
//! values masked). Uses the same code as the controller.

use std::time::Duration;

use anyhow::Context as _;
use ferry_api::Application;
use ferry_cluster::{Limits, Registry, ResourceKey};
use ferry_controller::compare::{Desired, apply, describe_shared, place, shared_owner};
use ferry_controller::source::Sources;
use kube::api::{Api, DynamicObject, ListParams};
use kube::discovery::Scope;
use serde_json::Value;

use crate::mgmt::MgmtArgs;

pub async fn diff(mgmt: &MgmtArgs, apps: &Api<DynamicObject>, name: &str) -> anyhow::Result<bool> {
    let o = apps
        .get(name)
        .await
        .with_context(|| format!("getting application {name}"))?;
    let app: Application =
        serde_json::from_value(serde_json::to_value(&o)?).context("not an Application")?;
    let config = mgmt.config().await?;
    let client = kube::Client::try_from(config.clone())?;
    let ignore = ignore_rules(&client, &mgmt.namespace, &app).await?;
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client,
        &mgmt.namespace,
        &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()),
    );
    let list = secrets
        .list(&ListParams::default().labels(ferry_api::SECRET_TYPE_LABEL))
        .await
        .context("reading cluster and repository Secrets (diff needs read access to them)")?;
    let registry = Registry::new(config, Limits::default());
    let mut repo = Vec::new();
    for s in &list.items {
        let v = serde_json::to_value(s)?;
        if ferry_cluster::is_cluster_secret(&v) {
            if let Ok(spec) = ferry_cluster::parse_cluster_secret(&v) {
                let _ = registry.upsert(spec);
            }
        } else {
            repo.push(v);
        }
    }
    if app.spec.source.plugin.is_some() {
        anyhow::bail!(
            "{name} is rendered by a config management plugin, which runs only in the controller; `ferry app get {name}` shows which resources differ"
        );
    }
    let dest = &app.spec.destination;
    let cluster = registry.find(dest.server.as_deref(), dest.name.as_deref())?;
    let root = std::env::temp_dir().join("ferry-cli-git");
    let git = ferry_git::GitCache::new(ferry_git::GitConfig::new(root))?;
    let sources = Sources::new(git, ferry_render::RenderCache::new(4), Duration::ZERO);
    sources.set_repo_secrets(ferry_git::repositories_from_secrets(&repo));
    let resolved = sources.render(&app.spec.source, None, true, None).await?;
    println!(
        "comparing {name} at {} with cluster {}",
        &resolved.commit,
        cluster.name()
    );
    let default_ns = dest.namespace.clone().unwrap_or_else(|| "default".into());
    let mut differs = false;
    for item in resolved.rendered.objects() {
        // Hooks run during a sync; they are not compared.
        if ferry_api::annotation(&item.object, "hook").is_some() {
            continue;
        }
        let api_version = item.object["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let kind = item.object["kind"].as_str().unwrap_or_default();
        let (ar, caps) = cluster.resolve(group, version, kind).await?;
        let namespaced = caps.scope == Scope::Namespaced;
        let object = place(name, item.object.clone(), &ar, namespaced, &default_ns);
        let d = Desired {
            key: ResourceKey::of(&object),
            ar: ar.clone(),
            namespaced,
            object,
            in_sync: false,
            pending_kind: false,
            owner: None,
        };
        let live_api = cluster.api(&ar, namespaced, &d.key.namespace);
        let live: Option<Value> = live_api
            .get_opt(&d.key.name)
            .await
            .map_err(|e| anyhow::anyhow!(ferry_cluster::explain(&cluster, &e)))
            .with_context(|| format!("reading {}", d.key))?
            .map(serde_json::to_value)
            .transpose()?;
        // An object another application tracks is not written by a sync of this one.
        if let Some(owner) = live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/annotations"))
            .and_then(|a| a.get(ferry_api::TRACKING_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|t| shared_owner(name, &d.object, t))
        {
            differs = true;
            println!("===== {} (shared: a sync leaves it as it is)", d.key);
            println!("{}", describe_shared(&d.key, &owner));
            continue;
        }
        let mut live = live;
        let mut predicted = match apply(&cluster, &d, true).await {
            Ok(p) => p,
            Err(e) if live.is_none() => {
                println!(
                    "===== {} (would be created; dry run refused: {})",
                    d.key,
                    ferry_cluster::explain(&cluster, &e)
                );
                differs = true;
                continue;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(ferry_cluster::explain(&cluster, &e)))
                    .with_context(|| format!("dry run of {}", d.key));
            }
        };
        // The same differences are ignored as in the controller's comparison.
        let applicable = ignore.for_resource(&d.object);
        if !applicable.is_empty() {
            let schema = ferry_kube_builtin::BuiltinSchema::for_kind(&d.key.group, &d.key.kind);
            for w in applicable.normalize_both(live.as_mut(), &mut predicted, &schema) {
                eprintln!("ignoreDifferences: {w}");
            }
        }
        let diff = ferry_diff::compare(live.as_ref(), &predicted);
        if !diff.in_sync {
            differs = true;
            println!("===== {}", d.key);
            print!("{}", diff.unified);
        }
    }
    if let Some(status) = app.status {
        for r in status.resources.iter().filter(|r| r.requires_pruning) {
            differs = true;
            println!(
                "===== {} {}/{} (in the cluster, no longer in Git: pruned by a sync with prune)",
                r.kind, r.namespace, r.name
            );
        }
    }
    if !differs {
        println!("no differences");
    }
    Ok(differs)
}

/// The application's `ignoreDifferences` and the controller-wide ones (ConfigMap `ferry-cm`).
async fn ignore_rules(
    client: &kube::Client,
    namespace: &str,
    app: &Application,
) -> anyhow::Result<ferry_diff::IgnoreRules> {
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &kube::discovery::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&()),
    );
    let defaults = match configmaps
        .get_opt(ferry_controller::SETTINGS_CONFIGMAP_NAME)
        .await
    {
        Ok(Some(cm)) => ferry_controller::ignore_defaults_of(Some(&cm)).with_context(|| {
            format!(
                "ConfigMap {namespace}/{}",
                ferry_controller::SETTINGS_CONFIGMAP_NAME
            )
        })?,
        Ok(None) => Vec::new(),
        // Without read access to the settings, the application's own rules still apply.
        Err(e) => {
            eprintln!(
                "warning: cannot read ConfigMap {namespace}/{} ({e}); controller-wide ignoreDifferences not applied",
                ferry_controller::SETTINGS_CONFIGMAP_NAME
            );
            Vec::new()
        }
    };
    let rules = app
        .spec
        .ignore_differences
        .iter()
        .map(ferry_controller::compare::ignore_rule)
        .chain(defaults);
    ferry_diff::IgnoreRules::new(rules).context("spec.ignoreDifferences")
}
