//! `/api/v1/applications/{name}/diff`: desired against live per resource, made with the
//! controller's own comparison code (`ferry_controller::diff`), values masked.

use axum::Json;
use axum::extract::{Path, State};
use ferry_controller::diff::{Change, DiffError};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::ApiError;

pub async fn diff(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let app = crate::api::apps::find(&state, &name)?;
    let options = ferry_controller::diff::DiffOptions {
        git_root: state.preview.git_root.clone(),
        allow_file_urls: state.preview.allow_file_urls,
    };
    let diff = ferry_controller::diff::app_diff(
        state.kube_config.clone(),
        &state.fleet.namespace,
        &app,
        &options,
    )
    .await
    .map_err(|e| match e {
        DiffError::Plugin(_) => ApiError::Unprocessable(e.to_string()),
        other => ApiError::Cluster(other.to_string()),
    })?;
    let items: Vec<Value> = diff
        .items
        .iter()
        .map(|i| {
            let k = &i.key;
            let (status, text) = match &i.change {
                Change::Differs(u) => ("OutOfSync", u.clone()),
                Change::Create(why) => (
                    "Missing",
                    format!("would be created (dry run refused: {why})"),
                ),
                Change::Shared(note) => ("Shared", note.clone()),
                Change::Prune => (
                    "Prune",
                    "in the cluster, no longer in Git: pruned by a sync with prune".into(),
                ),
            };
            json!({"group": k.group, "kind": k.kind, "namespace": k.namespace,
                "name": k.name, "status": status, "diff": text})
        })
        .collect();
    Ok(Json(
        json!({"revision": diff.commit, "cluster": diff.cluster,
        "compared": diff.compared, "items": items}),
    ))
}
