//! `/api/v1/migration`: applications grouped across the values of a cluster label (the
//! generations of a blue/green upgrade), with which have moved to the new generation and
//! which old copies are safe to remove. Pure over the cache.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::api::apps::{Summary, cluster_names, summary_of};
use crate::error::ApiError;
use crate::stored::SummaryView;

/// The label that names an application's workload across generations, when its source and
/// namespace do not (different overlays per generation, say).
pub const WORKLOAD_LABEL: &str = "ferry.dev/workload";

#[derive(Debug, Deserialize)]
pub struct MigrationQuery {
    label: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// What names the same workload on every generation.
fn workload(app: &SummaryView) -> String {
    if let Some(w) = app
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(WORKLOAD_LABEL))
        .filter(|w| !w.is_empty())
    {
        return w.clone();
    }
    let repo = app.spec.source.repo_url.trim_end_matches('/');
    let repo = repo.rsplit('/').next().unwrap_or(repo);
    let path = if app.spec.source.path.is_empty() {
        "."
    } else {
        &app.spec.source.path
    };
    format!(
        "{repo} {path} → {}",
        app.spec.destination.namespace.clone().unwrap_or_default()
    )
}

fn healthy(s: &Summary) -> bool {
    s.sync["status"] == "Synced" && s.health["status"] == "Healthy"
}

/// Generations in order: numeric-looking values (`1.29` < `1.30`) by their numbers, others
/// as text.
fn ordered(values: BTreeSet<String>) -> Vec<String> {
    let mut v: Vec<String> = values.into_iter().collect();
    let key = |s: &String| -> Vec<Result<u64, String>> {
        s.trim_start_matches('v')
            .split(['.', '-'])
            .map(|p| p.parse::<u64>().map_err(|_| p.to_owned()))
            .collect()
    };
    v.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.cmp(b)));
    v
}

pub async fn view(
    State(state): State<AppState>,
    axum::Extension(user): axum::Extension<crate::auth::User>,
    Query(q): Query<MigrationQuery>,
) -> Result<Json<Value>, ApiError> {
    let clusters = state.fleet.clusters.all();
    let labels: BTreeSet<String> = clusters
        .iter()
        .flat_map(|c| c.labels.keys().cloned())
        .filter(|k| !k.starts_with(ferry_api::SECRET_TYPE_LABEL))
        .collect();
    let Some(label) = q.label.filter(|l| !l.trim().is_empty()) else {
        return Ok(Json(
            json!({"labels": labels, "label": null, "generations": [],
            "workloads": []}),
        ));
    };
    let generation_of: BTreeMap<String, String> = clusters
        .iter()
        .filter_map(|c| Some((c.name.clone(), c.labels.get(&label)?.clone())))
        .collect();
    let generations = ordered(generation_of.values().cloned().collect());
    if generations.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "no registered cluster has the label {label:?} (cluster labels: {})",
            labels.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let to = match q.to.filter(|t| !t.is_empty()) {
        Some(t) if generations.contains(&t) => t,
        Some(t) => {
            return Err(ApiError::BadRequest(format!(
                "to={t:?} is not a value of {label} (values: {})",
                generations.join(", ")
            )));
        }
        None => generations.last().cloned().unwrap_or_default(),
    };
    let from: Vec<String> = match q.from.filter(|f| !f.is_empty()) {
        Some(f) => f.split(',').map(str::to_owned).collect(),
        None => generations.iter().filter(|g| **g != to).cloned().collect(),
    };
    if let Some(bad) = from.iter().find(|f| !generations.contains(f)) {
        return Err(ApiError::BadRequest(format!(
            "from={bad:?} is not a value of {label} (values: {})",
            generations.join(", ")
        )));
    }

    let names = cluster_names(&state);
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<Summary>>> = BTreeMap::new();
    for stored in state.fleet.apps.all() {
        let app = stored.view();
        let s = summary_of(&app, &names);
        if !crate::api::apps::visible(&state, &user, &s.project, &s.name) {
            continue;
        }
        let Some(generation) = generation_of.get(&s.cluster) else {
            continue;
        };
        groups
            .entry(workload(&app))
            .or_default()
            .entry(generation.clone())
            .or_default()
            .push(s);
    }
    let workloads: Vec<Value> = groups
        .into_iter()
        .map(|(workload, on)| {
            let on_to = on.get(&to).map(Vec::as_slice).unwrap_or(&[]);
            let moved = !on_to.is_empty() && on_to.iter().all(healthy);
            let safe: Vec<&str> = if moved {
                from.iter()
                    .filter_map(|f| on.get(f))
                    .flatten()
                    .map(|s| s.name.as_str())
                    .collect()
            } else {
                Vec::new()
            };
            let per: BTreeMap<&String, Vec<Value>> = generations
                .iter()
                .map(|g| {
                    let apps = on
                        .get(g)
                        .map(|list| {
                            list.iter()
                                .map(|s| {
                                    json!({"name": s.name, "cluster": s.cluster,
                                    "sync": s.sync["status"], "health": s.health["status"]})
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    (g, apps)
                })
                .collect();
            json!({"workload": workload, "on": per, "moved": moved, "safeToRemove": safe})
        })
        .collect();
    Ok(Json(
        json!({"labels": labels, "label": label, "generations": generations,
        "from": from, "to": to, "workloads": workloads}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generations_order_by_their_numbers() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(
            ordered(set(&["1.30", "1.9", "1.29"])),
            ["1.9", "1.29", "1.30"]
        );
        assert_eq!(ordered(set(&["green", "blue"])), ["blue", "green"]);
        assert_eq!(ordered(set(&["v1.30", "v1.29"])), ["v1.29", "v1.30"]);
    }
}
