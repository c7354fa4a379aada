//! `/api/v1/applicationsets`: summaries from the cache, and the preview of a posted
//! ApplicationSet: what the ApplicationSet controller would do with it now
//! (`ferry_controller::appset::preview`, as `ferry appset preview`), extended to the
//! resources each created, updated or deleted Application would bring to or take from its
//! cluster.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use ferry_api::{Application, ApplicationSet};
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

fn generator_kinds(set: &ApplicationSet) -> Vec<String> {
    set.spec
        .generators
        .iter()
        .map(|g| {
            serde_json::to_value(g)
                .ok()
                .and_then(|v| v.as_object().and_then(|o| o.keys().next().cloned()))
                .unwrap_or_else(|| "unknown".into())
        })
        .collect()
}

/// The names of the Applications `set` controls.
fn owned_by(state: &AppState, set: &ApplicationSet) -> Vec<String> {
    let uid = set.metadata.uid.clone().unwrap_or_default();
    let name = set.metadata.name.clone().unwrap_or_default();
    state
        .fleet
        .apps
        .entries()
        .into_iter()
        .filter(|(_, a)| {
            a.owner_set
                .as_ref()
                .is_some_and(|(u, n)| *u == uid || (uid.is_empty() && *n == name))
        })
        .map(|(n, _)| n)
        .collect()
}

fn set_summary(state: &AppState, set: &ApplicationSet) -> Value {
    let policy = set
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.applications_sync)
        .unwrap_or(state.preview.default_policy);
    let apps = owned_by(state, set);
    let conditions: Vec<Value> = set
        .status
        .as_ref()
        .map(|s| {
            s.conditions
                .iter()
                .map(|c| json!({"type": c.type_, "status": c.status, "message": c.message}))
                .collect()
        })
        .unwrap_or_default();
    json!({"name": set.metadata.name, "generators": generator_kinds(set),
        "policy": policy.to_string(), "applications": apps, "conditions": conditions})
}

/// The RBAC object of set `name`: `PROJECT/NAME`, the project its template gives (`*` when
/// the set is missing or its template's project is templated).
pub fn rbac_object(state: &AppState, name: &str) -> String {
    let project = state
        .fleet
        .sets
        .get(name)
        .map(|s| project_of(&s))
        .unwrap_or_else(|| "*".into());
    format!("{project}/{name}")
}

fn project_of(set: &ApplicationSet) -> String {
    let p = &set.spec.template.spec.project;
    if p.is_empty() {
        "default".into()
    } else if p.contains("{{") {
        "*".into()
    } else {
        p.clone()
    }
}

pub async fn list(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<crate::auth::User>,
) -> Json<Value> {
    let items: Vec<Value> = state
        .fleet
        .sets
        .all()
        .iter()
        .filter(|s| {
            let name = s.metadata.name.clone().unwrap_or_default();
            state.auth.allows(
                &user,
                "applicationsets",
                "get",
                &format!("{}/{name}", project_of(s)),
            )
        })
        .map(|s| set_summary(&state, s))
        .collect();
    Json(json!({"items": items}))
}

pub async fn get(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let set = state.fleet.sets.get(&name).ok_or_else(|| {
        ApiError::NotFound(format!(
            "ApplicationSet {name:?} not found in namespace {}",
            state.fleet.namespace
        ))
    })?;
    Ok(Json(
        json!({"summary": set_summary(&state, &set), "spec": set.spec,
        "status": set.status}),
    ))
}

/// The most a preview body may be.
pub const PREVIEW_MAX_BYTES: usize = 1024 * 1024;

/// An ApplicationSet from YAML or JSON text; malformed input names its line.
pub fn parse_set(body: &[u8]) -> Result<ApplicationSet, ApiError> {
    let text = std::str::from_utf8(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not UTF-8 text: {e}")))?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest(
            "the body is empty: post an ApplicationSet as YAML".into(),
        ));
    }
    let value: Value = serde_saphyr::from_str(text)
        .map_err(|e| ApiError::BadRequest(format!("the ApplicationSet is not valid YAML: {e}")))?;
    if value["kind"] != "ApplicationSet" {
        return Err(ApiError::BadRequest(format!(
            "the document is a {}, not an ApplicationSet",
            value["kind"].as_str().unwrap_or("document without a kind")
        )));
    }
    serde_path_to_set(value)
}

fn serde_path_to_set(value: Value) -> Result<ApplicationSet, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::BadRequest(format!("not a valid ApplicationSet: {e}")))
}

/// `(group, kind, namespace, name)` of a rendered or recorded resource.
type Key = (String, String, String, String);

fn key_of(object: &Value, default_ns: &str) -> Key {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let group = api_version
        .split_once('/')
        .map(|(g, _)| g.to_owned())
        .unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default().to_owned();
    let namespace = object["metadata"]["namespace"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if is_cluster_scoped(&group, &kind) {
                String::new()
            } else {
                default_ns.to_owned()
            }
        });
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (group, kind, namespace, name)
}

fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    matches!(
        (group, kind),
        ("", "Namespace" | "Node" | "PersistentVolume")
            | (
                "rbac.authorization.k8s.io",
                "ClusterRole" | "ClusterRoleBinding"
            )
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("storage.k8s.io", "StorageClass")
            | ("admissionregistration.k8s.io", _)
    )
}

fn recorded(app: &Application) -> BTreeSet<Key> {
    app.status
        .iter()
        .flat_map(|s| &s.resources)
        .map(|r| {
            (
                r.group.clone(),
                r.kind.clone(),
                r.namespace.clone(),
                r.name.clone(),
            )
        })
        .collect()
}

fn resource(k: &Key, action: &str) -> Value {
    json!({"group": k.0, "kind": k.1, "namespace": k.2, "name": k.3, "action": action})
}

/// The resources `app` renders to, or why they could not be had.
async fn rendered(
    sources: &ferry_source::Sources,
    app: &Application,
) -> Result<BTreeSet<Key>, String> {
    if app.spec.source.plugin.is_some() {
        return Err(
            "rendered by a config management plugin, which runs only in the controller".into(),
        );
    }
    let ns = app.spec.destination.namespace.clone().unwrap_or_default();
    let resolved = sources
        .render(&app.spec.source, None, false, None)
        .await
        .map_err(|e| e.to_string())?;
    Ok(resolved
        .rendered
        .objects()
        .iter()
        .map(|o| key_of(&o.object, &ns))
        .collect())
}

fn cluster_of(app: &Application, names: &BTreeMap<String, String>) -> String {
    crate::api::apps::summary(app, names).cluster
}

pub async fn preview(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<crate::auth::User>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if body.len() > PREVIEW_MAX_BYTES {
        return Err(ApiError::TooLarge(format!(
            "the ApplicationSet is {} bytes; at most {PREVIEW_MAX_BYTES} are read",
            body.len()
        )));
    }
    let mut set = parse_set(&body)?;
    let name = set.metadata.name.clone().unwrap_or_default();
    // A preview reads repositories and clusters as creating the set would (Argo CD asks
    // `applicationsets, create` for its generate call).
    state.auth.require(
        &user,
        "applicationsets",
        "create",
        &format!("{}/{name}", project_of(&set)),
    )?;
    // A posted change of an existing set is planned against what that set owns.
    if let Some(existing) = state.fleet.sets.get(&name) {
        set.metadata.uid = existing.metadata.uid.clone();
    }
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        state.client.clone(),
        &state.fleet.namespace,
        &ferry_cluster::api_resource("", "v1", "Secret", "secrets"),
    );
    let labelled = secrets
        .list(&ListParams::default().labels(ferry_api::SECRET_TYPE_LABEL))
        .await
        .map_err(|e| ApiError::from_kube("listing cluster and repository Secrets", &e))?;
    let mut clusters = Vec::new();
    let mut repo_secrets = Vec::new();
    for s in &labelled.items {
        let v = serde_json::to_value(s).unwrap_or(Value::Null);
        if ferry_cluster::is_cluster_secret(&v) {
            clusters.extend(ferry_controller::appset::fetched::cluster_info(&v));
        } else {
            repo_secrets.push(v);
        }
    }
    let sources = ferry_source::Sources::for_command(
        state.preview.git_root.clone(),
        state.preview.allow_file_urls,
        &repo_secrets,
    )
    .map_err(|e| ApiError::Cluster(format!("the preview's Git cache: {e}")))?;
    let owned_names: BTreeSet<String> = owned_by(&state, &set).into_iter().collect();
    let mut owned: Vec<Application> = Vec::new();
    let mut others: BTreeMap<String, Application> = BTreeMap::new();
    for (n, a) in state.fleet.apps.entries() {
        if owned_names.contains(&n) {
            owned.push(a.app());
        } else {
            others.insert(n, a.app());
        }
    }
    let existing = |n: &str| others.get(n).cloned();
    let p = ferry_controller::appset::preview(
        &set,
        clusters,
        owned.clone(),
        &existing,
        &sources,
        state.preview.default_policy,
        true,
    )
    .await
    .map_err(|e| {
        ApiError::Unprocessable(format!(
            "ApplicationSet {name}: the generators fail, so the controller would change nothing: {e}"
        ))
    })?;

    let names = crate::api::apps::cluster_names(&state);
    let by_name: BTreeMap<String, &Application> = owned
        .iter()
        .filter_map(|a| Some((a.metadata.name.clone()?, a)))
        .collect();
    let generated: BTreeMap<String, &Application> = p
        .generated
        .apps
        .iter()
        .filter_map(|a| Some((a.metadata.name.clone()?, a)))
        .collect();
    let mut per_cluster: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut push =
        |cluster: String, entry: Value| per_cluster.entry(cluster).or_default().push(entry);

    for a in &p.plan.create {
        let n = a.metadata.name.clone().unwrap_or_default();
        let entry = match rendered(&sources, a).await {
            Ok(keys) => json!({"name": n, "action": "create", "changed": [],
                "resources": keys.iter().map(|k| resource(k, "create")).collect::<Vec<_>>()}),
            Err(e) => json!({"name": n, "action": "create", "changed": [], "resources": [],
                "resourcesError": e}),
        };
        push(cluster_of(a, &names), entry);
    }
    for u in &p.plan.update {
        let Some(new) = generated.get(&u.name) else {
            continue;
        };
        let before = by_name.get(&u.name);
        let old = before.map(|a| recorded(a)).unwrap_or_default();
        // Resources that stay change only when what renders them or where they go does.
        let moved_source = before.is_none_or(|a| {
            a.spec.source != new.spec.source || a.spec.destination != new.spec.destination
        });
        let entry = match rendered(&sources, new).await {
            Ok(keys) => {
                let mut resources: Vec<Value> = Vec::new();
                for k in keys.iter().filter(|k| !old.contains(*k)) {
                    resources.push(resource(k, "create"));
                }
                for k in keys.iter().filter(|k| old.contains(*k)) {
                    resources.push(resource(
                        k,
                        if moved_source { "update" } else { "unchanged" },
                    ));
                }
                for k in old.iter().filter(|k| !keys.contains(*k)) {
                    resources.push(resource(k, "delete"));
                }
                json!({"name": u.name, "action": "update", "changed": u.changed,
                    "resources": resources})
            }
            Err(e) => json!({"name": u.name, "action": "update", "changed": u.changed,
                "resources": [], "resourcesError": e}),
        };
        push(cluster_of(new, &names), entry);
    }
    for n in &p.plan.delete {
        let Some(app) = by_name.get(n) else {
            continue;
        };
        // Without the resources finalizer, deleting the Application leaves its resources.
        let cascade = app
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| ferry_api::is_resources_finalizer(f));
        let action = if cascade { "delete" } else { "orphan" };
        let resources: Vec<Value> = recorded(app).iter().map(|k| resource(k, action)).collect();
        push(
            cluster_of(app, &names),
            json!({"name": n, "action": "delete", "changed": [], "resources": resources}),
        );
    }
    for n in &p.plan.unchanged {
        let Some(app) = by_name.get(n) else {
            continue;
        };
        let resources: Vec<Value> = recorded(app)
            .iter()
            .map(|k| resource(k, "unchanged"))
            .collect();
        push(
            cluster_of(app, &names),
            json!({"name": n, "action": "unchanged", "changed": [], "resources": resources}),
        );
    }
    let clusters: Vec<Value> = per_cluster
        .into_iter()
        .map(|(cluster, applications)| json!({"cluster": cluster, "applications": applications}))
        .collect();
    let refused: Vec<Value> = p
        .plan
        .conflicts
        .iter()
        .map(|c| json!({"name": c.name, "message": c.message}))
        .collect();
    let invalid: Vec<Value> = p
        .generated
        .invalid
        .iter()
        .map(|c| json!({"name": c.name, "message": c.message}))
        .collect();
    Ok(Json(
        json!({"name": name, "policy": p.policy.to_string(), "clusters": clusters,
        "refused": refused, "invalid": invalid}),
    ))
}
