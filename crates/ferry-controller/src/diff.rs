//! What a sync of one application would change, desired against live per resource, made
//! outside the controller (by `ferry app diff` and the server's `/diff`) with the same code
//! the controller compares with: the source rendered here, secret references resolved as
//! the controller resolves them, each object prepared and dry-run applied, the
//! `ignoreDifferences` of the application and of `ferry-cm` applied. Secret values and the
//! values references resolved to (and what is deployed in their place) are masked in every
//! text this answers.

use std::path::PathBuf;

use ferry_api::Application;
use ferry_apply::{describe_shared, shared_owner};
use ferry_cluster::{Limits, Registry};
use ferry_source::Sources;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

/// Why a diff could not be made. Each names what was being read.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("{what}: {cause}")]
    Management { what: String, cause: String },
    #[error(
        "{0} is rendered by a config management plugin, which runs only in the controller; its status shows which resources differ"
    )]
    Plugin(String),
    #[error("{0}")]
    Cluster(String),
    #[error("{0}")]
    Source(String),
    #[error("{what}: {cause}")]
    Resource { what: String, cause: String },
}

/// One resource of the diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceDiff {
    pub key: ferry_core::ResourceKey,
    pub change: Change,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Differs: the unified diff, live to desired, masked.
    Differs(String),
    /// Not there yet, and the cluster refused its dry run: why.
    Create(String),
    /// Another application tracks it; a sync leaves it as it is.
    Shared(String),
    /// In the cluster, no longer in Git: pruned by a sync with prune.
    Prune,
}

/// The diff of one application.
#[derive(Debug, Clone)]
pub struct AppDiff {
    pub commit: String,
    pub cluster: String,
    /// The resources that differ; those in sync are left out.
    pub items: Vec<ResourceDiff>,
    /// How many resources were compared.
    pub compared: usize,
}

/// Where to keep the Git checkouts a diff renders from.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    pub git_root: PathBuf,
    pub allow_file_urls: bool,
}

fn mgmt_error(what: impl Into<String>) -> impl FnOnce(kube::Error) -> DiffError {
    let what = what.into();
    move |e| DiffError::Management {
        what,
        cause: ferry_cluster::cause(&e),
    }
}

/// The diff of `app`, whose objects live in Ferry's namespace `namespace` of the management
/// cluster `mgmt`.
pub async fn app_diff(
    mgmt: kube::Config,
    namespace: &str,
    app: &Application,
    options: &DiffOptions,
) -> Result<AppDiff, DiffError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    let client =
        kube::Client::try_from(mgmt.clone()).map_err(mgmt_error("the management cluster"))?;
    let ignore = ignore_rules(&client, namespace, app).await?;
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ferry_cluster::api_resource("", "v1", "Secret", "secrets"),
    );
    let list = secrets
        .list(&ListParams::default().labels(ferry_api::SECRET_TYPE_LABEL))
        .await
        .map_err(mgmt_error(
            "reading cluster and repository Secrets (a diff needs read access to them)",
        ))?;
    let registry = Registry::new(mgmt, Limits::default());
    let mut repo = Vec::new();
    for s in &list.items {
        let v = serde_json::to_value(s).unwrap_or(Value::Null);
        if ferry_cluster::is_cluster_secret(&v) {
            if let Ok(spec) = ferry_cluster::parse_cluster_secret(&v) {
                // Only the application's cluster matters; another one's error does not.
                if let Err(e) = registry.register(spec).await {
                    tracing::debug!(error = %e, "a cluster Secret that a diff cannot use");
                }
            }
        } else {
            repo.push(v);
        }
    }
    if app.spec.source.plugin.is_some() {
        return Err(DiffError::Plugin(name));
    }
    let dest = &app.spec.destination;
    let cluster = registry
        .find(dest.server.as_deref(), dest.name.as_deref())
        .map_err(|e| DiffError::Cluster(e.to_string()))?;
    let sources = Sources::for_command(options.git_root.clone(), options.allow_file_urls, &repo)
        .map_err(|e| DiffError::Source(format!("the Git cache: {e}")))?
        .with_aws(registry.aws().clone());
    let projects: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ferry_cluster::api_resource(
            ferry_api::GROUP,
            ferry_api::VERSION,
            "AppProject",
            "appprojects",
        ),
    );
    let project = projects
        .get_opt(&app.spec.project)
        .await
        .map_err(mgmt_error(format!(
            "reading AppProject {}",
            app.spec.project
        )))?
        .and_then(|p| {
            serde_json::from_value::<ferry_api::ProjectAws>(p.data["spec"]["aws"].clone()).ok()
        });
    let context = ferry_source::AppContext {
        aws: crate::compare::app_aws(app, project.as_ref(), &cluster),
        ..Default::default()
    };
    let resolved = sources
        .render(&app.spec.source, None, true, Some(&context))
        .await
        .map_err(|e| DiffError::Source(e.to_string()))?;
    let redactions = &resolved.redactions;
    let default_ns = dest.namespace.clone().unwrap_or_else(|| "default".into());
    // The same preparation and the same one-object diff as the controller's comparison.
    let prepared = ferry_apply::prepare(&name, resolved.rendered.objects(), &cluster, &default_ns)
        .await
        .map_err(|e| DiffError::Resource {
            what: format!("preparing {name}'s objects for cluster {}", cluster.name()),
            cause: redactions.redact(&e.to_string()),
        })?;
    let mut items = Vec::new();
    for d in &prepared.desired {
        let live_api = cluster.api(&d.ar, d.namespaced, &d.key.namespace);
        let live: Option<Value> = live_api
            .get_opt(&d.key.name)
            .await
            .map_err(|e| DiffError::Resource {
                what: format!("reading {}", d.key),
                cause: ferry_cluster::explain(&cluster, &e),
            })?
            .and_then(|o| serde_json::to_value(o).ok());
        // An object another application tracks is not written by a sync of this one.
        if let Some(owner) = live
            .as_ref()
            .and_then(|l| l.pointer("/metadata/annotations"))
            .and_then(|a| a.get(ferry_api::TRACKING_ANNOTATION))
            .and_then(Value::as_str)
            .and_then(|t| shared_owner(&name, &d.object, t))
        {
            items.push(ResourceDiff {
                key: d.key.clone(),
                change: Change::Shared(describe_shared(&d.key, &owner)),
            });
            continue;
        }
        let diff = match ferry_apply::dry_run_diff(&cluster, d, live.as_ref(), &ignore).await {
            Ok(diff) => diff,
            Err(e) if live.is_none() => {
                items.push(ResourceDiff {
                    key: d.key.clone(),
                    change: Change::Create(
                        redactions.redact(&ferry_cluster::explain(&cluster, &e)),
                    ),
                });
                continue;
            }
            Err(e) => {
                return Err(DiffError::Resource {
                    what: format!("dry run of {}", d.key),
                    cause: redactions.redact(&ferry_cluster::explain(&cluster, &e)),
                });
            }
        };
        if !diff.in_sync {
            // The values resolved, and the ones deployed before where references are.
            let shown = redactions.with_live(&d.key.kind, &d.key.name, live.as_ref());
            items.push(ResourceDiff {
                key: d.key.clone(),
                change: Change::Differs(shown.redact(&diff.unified)),
            });
        }
    }
    for r in app
        .status
        .iter()
        .flat_map(|s| &s.resources)
        .filter(|r| r.requires_pruning)
    {
        items.push(ResourceDiff {
            key: ferry_core::ResourceKey {
                group: r.group.clone(),
                kind: r.kind.clone(),
                namespace: r.namespace.clone(),
                name: r.name.clone(),
            },
            change: Change::Prune,
        });
    }
    Ok(AppDiff {
        commit: resolved.commit.to_string(),
        cluster: cluster.name().to_owned(),
        items,
        compared: prepared.desired.len(),
    })
}

/// The application's `ignoreDifferences` and the controller-wide ones (ConfigMap `ferry-cm`).
async fn ignore_rules(
    client: &kube::Client,
    namespace: &str,
    app: &Application,
) -> Result<ferry_diff::IgnoreRules, DiffError> {
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ferry_cluster::api_resource("", "v1", "ConfigMap", "configmaps"),
    );
    let defaults = match configmaps.get_opt(crate::SETTINGS_CONFIGMAP_NAME).await {
        Ok(Some(cm)) => {
            crate::ignore_defaults_of(Some(&cm)).map_err(|e| DiffError::Management {
                what: format!("ConfigMap {namespace}/{}", crate::SETTINGS_CONFIGMAP_NAME),
                cause: e.to_string(),
            })?
        }
        Ok(None) => Vec::new(),
        // Without read access to the settings, the application's own rules still apply.
        Err(e) => {
            tracing::warn!(
                configmap = crate::SETTINGS_CONFIGMAP_NAME,
                error = %e,
                "cannot read the settings; controller-wide ignoreDifferences not applied"
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
    ferry_diff::IgnoreRules::new(rules).map_err(|e| DiffError::Management {
        what: "spec.ignoreDifferences".into(),
        cause: e.to_string(),
    })
}
