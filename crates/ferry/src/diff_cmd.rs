//! `ferry app diff`: renders the application's source here, asks its cluster for a
//! server-side-apply dry run of every object, and prints what a sync would change (Secret
//! values masked). Uses the same code as the controller. Secret references are resolved
//! as the controller resolves them (the destination's or the Application's AWS role, with
//! this command's own base credentials), and every value they resolved to, as well as the
//! value deployed before in their place, is shown as `<ref+…>`.

use anyhow::Context as _;
use ferry_api::Application;
use ferry_apply::{describe_shared, shared_owner};
use ferry_cluster::{Limits, Registry};
use ferry_source::Sources;
use kube::api::{Api, DynamicObject, ListParams};
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
                // Only the application's cluster matters; another one's error does not.
                if let Err(e) = registry.register(spec).await {
                    tracing::debug!(error = %e, "a cluster Secret that diff cannot use");
                }
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
    let sources = Sources::for_command(root, false, &repo)?.with_aws(registry.aws().clone());
    let context = ferry_source::AppContext {
        aws: ferry_controller::compare::app_aws(&app, &cluster),
        ..Default::default()
    };
    let resolved = sources
        .render(&app.spec.source, None, true, Some(&context))
        .await?;
    let redactions = &resolved.redactions;
    println!(
        "comparing {name} at {} with cluster {}",
        &resolved.commit,
        cluster.name()
    );
    let default_ns = dest.namespace.clone().unwrap_or_else(|| "default".into());
    // The same preparation and the same one-object diff as the controller's comparison.
    let prepared = ferry_apply::prepare(name, resolved.rendered.objects(), &cluster, &default_ns)
        .await
        .map_err(|e| anyhow::anyhow!(redactions.redact(&e.to_string())))
        .with_context(|| format!("preparing {name}'s objects for cluster {}", cluster.name()))?;
    let mut differs = false;
    for d in &prepared.desired {
        let live_api = cluster.api(&d.ar, d.namespaced, &d.key.namespace);
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
        let diff = match ferry_apply::dry_run_diff(&cluster, d, live.as_ref(), &ignore).await {
            Ok(diff) => diff,
            Err(e) if live.is_none() => {
                println!(
                    "===== {} (would be created; dry run refused: {})",
                    d.key,
                    redactions.redact(&ferry_cluster::explain(&cluster, &e))
                );
                differs = true;
                continue;
            }
            Err(e) => {
                let explained = redactions.redact(&ferry_cluster::explain(&cluster, &e));
                return Err(anyhow::anyhow!(explained))
                    .with_context(|| format!("dry run of {}", d.key));
            }
        };
        if !diff.in_sync {
            differs = true;
            println!("===== {}", d.key);
            // The values resolved, and the ones deployed before where references are.
            let shown = redactions.with_live(&d.key.kind, &d.key.name, live.as_ref());
            print!("{}", shown.redact(&diff.unified));
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
        .map(ferry_apply::ignore_rule)
        .chain(defaults);
    ferry_diff::IgnoreRules::new(rules).context("spec.ignoreDifferences")
}
