//! `/api/v1/clusters`: each registered cluster's name, server and labels (from its Secret;
//! never its credentials) with what the controller published of it.

use axum::Json;
use axum::extract::State;
use ferry_core::locks;
use serde_json::{Value, json};

use crate::AppState;

pub async fn list(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<crate::auth::User>,
) -> Json<Value> {
    let published = locks::read(&state.fleet.cluster_status).clone();
    let mut items: Vec<Value> = state
        .fleet
        .clusters
        .all()
        .iter()
        // Argo CD's object for a cluster is its server URL.
        .filter(|c| {
            let server = if c.server.is_empty() {
                published
                    .get(&c.name)
                    .and_then(|p| p["server"].as_str())
                    .unwrap_or_default()
                    .to_owned()
            } else {
                c.server.clone()
            };
            state.auth.allows(&user, "clusters", "get", &server)
        })
        .map(|c| {
            let p = published.get(&c.name).cloned().unwrap_or(Value::Null);
            let seen = !p.is_null();
            json!({
                "name": c.name,
                "server": if c.server.is_empty() { p["server"].clone() } else { json!(c.server) },
                "labels": c.labels,
                "source": c.source,
                "reachable": p["reachable"].as_bool().unwrap_or(false),
                "registered": p["registered"].as_bool().unwrap_or(seen),
                "version": p["version"],
                "lastError": if seen { p["lastError"].clone() } else { json!("not seen by a controller yet") },
                "applications": p["applications"],
                "auth": p["auth"],
                "eks": p["eks"],
            })
        })
        .collect();
    items.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    Json(json!({"items": items}))
}
