//! `/api/v1/applications`: summaries and details from the cache, and the actions, each a
//! small patch of the Application that the controller carries out (as `ferry app` makes
//! them).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use ferry_api::{Application, OperationPhase};
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::User;
use crate::error::ApiError;
use crate::stored::SummaryView;

/// One application in a list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub name: String,
    pub project: String,
    pub labels: BTreeMap<String, String>,
    pub cluster: String,
    pub server: String,
    pub namespace: String,
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub path: String,
    pub target_revision: String,
    pub sync: Value,
    pub health: Value,
    pub operation: Option<Value>,
    pub conditions: Vec<Value>,
    pub resources: usize,
    pub application_set: Option<String>,
    pub automated: bool,
    /// What the asking user may do to it (for the UI to offer only that).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub can: Option<Can>,
}

/// The actions a user may take on one application.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Can {
    pub sync: bool,
    pub delete: bool,
}

/// The RBAC object of application `name`: `PROJECT/NAME` (a missing application is
/// `*/NAME`, which only a rule over every project matches: others get 403, not a 404 that
/// would tell them it does not exist).
pub fn rbac_object(state: &AppState, name: &str) -> String {
    let project = state
        .fleet
        .apps
        .get(name)
        .map(|a| a.view().spec.project)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "*".into());
    format!("{project}/{name}")
}

/// What `user` may do to the application of summary `s`.
pub fn can(state: &AppState, user: &User, project: &str, name: &str) -> Can {
    let object = format!("{project}/{name}");
    Can {
        sync: state.auth.allows(user, "applications", "sync", &object),
        delete: state.auth.allows(user, "applications", "delete", &object),
    }
}

/// Whether `user` may see the application `project/name`.
pub fn visible(state: &AppState, user: &User, project: &str, name: &str) -> bool {
    state
        .auth
        .allows(user, "applications", "get", &format!("{project}/{name}"))
}

/// The summary of `app`, with its destination cluster's name found by server when the
/// destination gives only a server.
pub fn summary(app: &Application, cluster_by_server: &BTreeMap<String, String>) -> Summary {
    summary_of(&SummaryView::of(app), cluster_by_server)
}

/// The summary of an Application read as a [`SummaryView`] (what the cache's lists use).
pub fn summary_of(app: &SummaryView, cluster_by_server: &BTreeMap<String, String>) -> Summary {
    let dest = &app.spec.destination;
    let server = dest.server.clone().unwrap_or_default();
    let cluster = dest
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .or_else(|| cluster_by_server.get(server.trim_end_matches('/')).cloned())
        .unwrap_or_else(|| server.clone());
    let status = app.status.as_ref();
    Summary {
        name: app.metadata.name.clone().unwrap_or_default(),
        project: app.spec.project.clone(),
        labels: app.metadata.labels.clone().unwrap_or_default(),
        cluster,
        server,
        namespace: dest.namespace.clone().unwrap_or_default(),
        repo_url: app.spec.source.repo_url.clone(),
        path: app.spec.source.path.clone(),
        target_revision: app.spec.source.target_revision.clone(),
        sync: json!({
            "status": status.map(|s| s.sync.status.as_str()).unwrap_or("Unknown"),
            "revision": status.map(|s| s.sync.revision.clone()).unwrap_or_default(),
        }),
        health: json!({
            "status": status.map(|s| s.health.status.as_str()).unwrap_or("Unknown"),
            "message": status.map(|s| s.health.message.clone()).unwrap_or_default(),
        }),
        operation: status.and_then(|s| s.operation_state.as_ref()).map(|o| {
            json!({"phase": o.phase.as_str(), "message": o.message,
                "startedAt": o.started_at, "finishedAt": o.finished_at})
        }),
        conditions: status
            .map(|s| {
                s.conditions
                    .iter()
                    .map(|c| json!({"type": c.type_.as_str(), "message": c.message}))
                    .collect()
            })
            .unwrap_or_default(),
        resources: status.map_or(0, |s| s.resources.len()),
        application_set: app
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.kind == "ApplicationSet" && r.controller == Some(true))
            .map(|r| r.name.clone()),
        automated: app
            .spec
            .sync_policy
            .as_ref()
            .is_some_and(|p| p.automated.is_some()),
        can: None,
    }
}

/// Cluster names by server URL, for destinations that give only a server.
pub fn cluster_names(state: &AppState) -> BTreeMap<String, String> {
    state
        .fleet
        .clusters
        .all()
        .iter()
        .map(|c| (c.server.trim_end_matches('/').to_owned(), c.name.clone()))
        .collect()
}

#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    project: Option<String>,
    cluster: Option<String>,
    sync: Option<String>,
    health: Option<String>,
    selector: Option<String>,
    q: Option<String>,
}

impl Filter {
    fn selector(&self) -> Result<Vec<(String, String)>, ApiError> {
        let Some(s) = self.selector.as_deref().filter(|s| !s.trim().is_empty()) else {
            return Ok(Vec::new());
        };
        s.split(',')
            .map(|pair| {
                pair.split_once('=')
                    .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                    .ok_or_else(|| {
                        ApiError::BadRequest(format!(
                            "selector {pair:?} is not key=value (selector=key=value,key2=value2)"
                        ))
                    })
            })
            .collect()
    }

    fn keeps(&self, s: &Summary, selector: &[(String, String)]) -> bool {
        let eq = |want: &Option<String>, got: &str| {
            want.as_deref()
                .filter(|w| !w.is_empty())
                .is_none_or(|w| w.eq_ignore_ascii_case(got))
        };
        eq(&self.project, &s.project)
            && self
                .cluster
                .as_deref()
                .filter(|c| !c.is_empty())
                .is_none_or(|c| c == s.cluster || c == s.server)
            && eq(&self.sync, s.sync["status"].as_str().unwrap_or_default())
            && eq(
                &self.health,
                s.health["status"].as_str().unwrap_or_default(),
            )
            && selector
                .iter()
                .all(|(k, v)| s.labels.get(k).is_some_and(|l| l == v))
            && self.q.as_deref().is_none_or(|q| s.name.contains(q.trim()))
    }
}

pub async fn list(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Query(filter): Query<Filter>,
) -> Result<Json<Value>, ApiError> {
    let selector = filter.selector()?;
    let names = cluster_names(&state);
    let items: Vec<Summary> = state
        .fleet
        .apps
        .all()
        .iter()
        .map(|a| summary_of(&a.view(), &names))
        .filter(|s| visible(&state, &user, &s.project, &s.name))
        .filter(|s| filter.keeps(s, &selector))
        .map(|mut s| {
            s.can = Some(can(&state, &user, &s.project, &s.name));
            s
        })
        .collect();
    let total = items.len();
    Ok(Json(json!({"items": items, "total": total})))
}

pub(crate) fn find(state: &AppState, name: &str) -> Result<Arc<Application>, ApiError> {
    state
        .fleet
        .apps
        .get(name)
        .map(|a| Arc::new(a.app()))
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "application {name:?} not found in namespace {}",
                state.fleet.namespace
            ))
        })
}

pub async fn get(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let app = find(&state, &name)?;
    let names = cluster_names(&state);
    let mut summary = summary(&app, &names);
    summary.can = Some(can(&state, &user, &summary.project, &summary.name));
    Ok(Json(json!({
        "summary": summary,
        "spec": app.spec,
        "status": app.status,
        "operation": app.operation,
    })))
}

pub async fn events(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    find(&state, &name)?;
    let api: Api<DynamicObject> = Api::namespaced_with(
        state.client.clone(),
        &state.fleet.namespace,
        &ferry_cluster::api_resource("", "v1", "Event", "events"),
    );
    let fields = format!("involvedObject.kind=Application,involvedObject.name={name}");
    let list = api
        .list(&ListParams::default().fields(&fields))
        .await
        .map_err(|e| ApiError::from_kube(&format!("events of {name}"), &e))?;
    let mut items: Vec<Value> = list
        .items
        .iter()
        .map(|e| {
            let d = &e.data;
            json!({"type": d["type"], "reason": d["reason"], "message": d["message"],
                "count": d["count"], "lastTimestamp": d["lastTimestamp"].as_str()
                    .or(d["eventTime"].as_str())})
        })
        .collect();
    items.sort_by(|a, b| {
        b["lastTimestamp"]
            .as_str()
            .cmp(&a["lastTimestamp"].as_str())
    });
    Ok(Json(json!({"items": items})))
}

fn apps_api(state: &AppState) -> Api<DynamicObject> {
    Api::namespaced_with(
        state.client.clone(),
        &state.fleet.namespace,
        &ferry_controller::applications_resource(),
    )
}

fn accepted(message: String) -> (StatusCode, Json<Value>) {
    (
        StatusCode::ACCEPTED,
        Json(json!({"accepted": true, "message": message})),
    )
}

fn running(app: &Application) -> Option<&ferry_api::OperationState> {
    app.status
        .as_ref()
        .and_then(|s| s.operation_state.as_ref())
        .filter(|o| o.phase.is_running())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SyncRequest {
    revision: Option<String>,
    #[serde(default)]
    prune: bool,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    resources: Vec<ferry_api::SyncOperationResource>,
}

/// Stores `operation` on the application, for the controller to run.
async fn request_operation(
    state: &AppState,
    user: &User,
    app: &Application,
    mut operation: Value,
) -> Result<(), ApiError> {
    let name = app.metadata.name.clone().unwrap_or_default();
    if let Some(op) = running(app) {
        return Err(ApiError::Conflict(format!(
            "{name} has an operation in progress (started {}: {}); wait for it or terminate it",
            op.started_at, op.message
        )));
    }
    operation["initiatedBy"] = json!({"username": user.name});
    apps_api(state)
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"operation": operation})),
        )
        .await
        .map_err(|e| ApiError::from_kube(&format!("requesting a sync of {name}"), &e))?;
    let what = if operation["sync"]["source"].is_object() {
        format!(
            "rollback to revision {}",
            operation["sync"]["revision"].as_str().unwrap_or_default()
        )
    } else {
        format!(
            "sync{}",
            operation["sync"]["revision"]
                .as_str()
                .map(|r| format!(" to {r}"))
                .unwrap_or_default()
        )
    };
    crate::audit::record(
        state,
        user,
        app,
        "OperationStarted",
        &format!("{} initiated {what}", user.name),
    )
    .await;
    Ok(())
}

pub async fn sync(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = find(&state, &name)?;
    let req: SyncRequest = crate::api::body(&body)?;
    for r in &req.resources {
        if r.kind.is_empty() || r.name.is_empty() {
            return Err(ApiError::BadRequest(
                "resources: each needs at least a kind and a name".into(),
            ));
        }
    }
    let mut sync = json!({"prune": req.prune, "dryRun": req.dry_run});
    if let Some(rev) = req.revision.filter(|r| !r.trim().is_empty()) {
        sync["revision"] = json!(rev);
    }
    if !req.resources.is_empty() {
        sync["resources"] = json!(req.resources);
    }
    request_operation(&state, &user, &app, json!({"sync": sync})).await?;
    let what = if req.resources.is_empty() {
        String::new()
    } else {
        format!(" of {} resources", req.resources.len())
    };
    Ok(accepted(format!("sync{what} of {name} requested")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RollbackRequest {
    id: i64,
    #[serde(default)]
    prune: bool,
}

pub async fn rollback(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = find(&state, &name)?;
    let req: RollbackRequest = crate::api::body_required(&body)?;
    if app
        .spec
        .sync_policy
        .as_ref()
        .is_some_and(|p| p.automated.is_some())
    {
        return Err(ApiError::BadRequest(format!(
            "rollback of {name} refused: automated sync is on and would undo it; turn it off first (spec.syncPolicy.automated)"
        )));
    }
    let history = app.status.as_ref().map(|s| &s.history[..]).unwrap_or(&[]);
    let entry = history.iter().find(|h| h.id == req.id).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{name} has no history entry {} (it has {})",
            req.id,
            history
                .iter()
                .map(|h| h.id.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    let op = json!({"sync": {"prune": req.prune, "revision": entry.revision,
        "source": entry.source}});
    request_operation(&state, &user, &app, op).await?;
    Ok(accepted(format!(
        "rollback of {name} to history entry {} (revision {}) requested",
        entry.id, entry.revision
    )))
}

pub async fn terminate(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = find(&state, &name)?;
    if running(&app).is_none_or(|o| o.phase != OperationPhase::Running) {
        return Err(ApiError::Conflict(format!(
            "{name} has no running operation"
        )));
    }
    let body = json!({"metadata": {"resourceVersion": app.metadata.resource_version},
        "status": {"operationState": {"phase": "Terminating"}}});
    apps_api(&state)
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
        .await
        .map_err(|e| ApiError::from_kube(&format!("terminating the operation of {name}"), &e))?;
    crate::audit::record(
        &state,
        &user,
        &app,
        "OperationTerminating",
        &format!("{} terminated the running operation", user.name),
    )
    .await;
    Ok(accepted(format!(
        "termination of the operation of {name} requested"
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[serde(default)]
    hard: bool,
}

pub async fn refresh(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = find(&state, &name)?;
    let hard = crate::api::body::<RefreshRequest>(&body)?.hard;
    let kind = if hard { "hard" } else { "normal" };
    apps_api(&state)
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {ferry_api::REFRESH_ANNOTATION: kind}}}),
            ),
        )
        .await
        .map_err(|e| ApiError::from_kube(&format!("refreshing {name}"), &e))?;
    crate::audit::record(
        &state,
        &user,
        &app,
        "RefreshRequested",
        &format!("{} requested a {kind} refresh", user.name),
    )
    .await;
    Ok(accepted(format!("{kind} refresh of {name} requested")))
}

#[derive(Debug, Deserialize)]
pub struct DeleteQuery {
    cascade: Option<String>,
}

pub async fn delete(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<User>,
    Path(name): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let app = find(&state, &name)?;
    let cascade = match q.cascade.as_deref() {
        None | Some("true") | Some("foreground") | Some("background") => true,
        Some("false") | Some("orphan") => false,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "cascade={other:?}: expected true or false"
            )));
        }
    };
    let api = apps_api(&state);
    let current = app.metadata.finalizers.clone().unwrap_or_default();
    if let Some(finalizers) = ferry_api::finalizers_for_cascade(&current, cascade) {
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": finalizers}})),
        )
        .await
        .map_err(|e| ApiError::from_kube(&format!("deleting {name}"), &e))?;
    }
    api.delete(&name, &DeleteParams::default())
        .await
        .map_err(|e| ApiError::from_kube(&format!("deleting {name}"), &e))?;
    crate::audit::record(
        &state,
        &user,
        &app,
        "ResourceDeleted",
        &format!(
            "{} deleted the application{}",
            user.name,
            if cascade {
                " with its resources"
            } else {
                ", keeping its resources"
            }
        ),
    )
    .await;
    Ok(accepted(format!(
        "{name} is being deleted{}",
        if cascade {
            " with its resources"
        } else {
            "; its resources stay"
        }
    )))
}
