//! The fault-injection control endpoint: plain HTTP on loopback, so that scripts and
//! `ferry emulator fault` can make a running cluster slow, failing, unreachable, drop its
//! watches, revoke a token or change an EKS cluster's access entries, and benchmarks can read
//! how many requests a cluster answered (and, for an EKS cluster, how many STS calls it made).
//! Each request carries the target cluster's admin token.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::{AccessEntry, Cluster};

/// What to change; absent fields are left as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRequest {
    pub latency_ms: Option<u64>,
    pub fail_next: Option<u32>,
    pub fail_status: Option<u16>,
    pub unreachable: Option<bool>,
    #[serde(default)]
    pub drop_watches: bool,
    pub revoke_token: Option<String>,
    /// Adds (or replaces) an EKS access entry.
    pub add_access_entry: Option<AccessEntryRequest>,
    /// Removes the EKS access entry of this principal ARN.
    pub remove_access_entry: Option<String>,
}

/// An EKS access entry as `CreateAccessEntry` takes it.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccessEntryRequest {
    pub principal_arn: String,
    pub username: Option<String>,
    #[serde(default)]
    pub kubernetes_groups: Vec<String>,
}

type Answer = (StatusCode, Json<Value>);

/// The named cluster, when the request carries its admin token.
fn authorized<'a>(
    clusters: &'a [Cluster],
    name: &str,
    headers: &HeaderMap,
) -> Result<&'a Cluster, Answer> {
    let Some(c) = clusters.iter().find(|c| c.name() == name) else {
        return Err((
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("no cluster named {name}")})),
        ));
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(c.admin_token()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "the cluster's admin token is required"})),
        ));
    }
    Ok(c)
}

async fn faults(
    State(clusters): State<Vec<Cluster>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    Json(req): Json<FaultRequest>,
) -> (StatusCode, Json<Value>) {
    let c = match authorized(&clusters, &name, &headers) {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    if let Some(e) = req.add_access_entry {
        let entry = AccessEntry {
            principal_arn: e.principal_arn,
            username: e.username,
            groups: e.kubernetes_groups,
        };
        if let Err(e) = c.add_access_entry(entry) {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": e.to_string()})),
            );
        }
    }
    if let Some(arn) = req.remove_access_entry
        && !c.remove_access_entry(&arn)
    {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": format!("cluster {name} has no access entry for {arn}")})),
        );
    }
    if let Some(ms) = req.latency_ms {
        c.faults().set_latency(Duration::from_millis(ms));
    }
    if let Some(n) = req.fail_next {
        c.faults().fail_next(n, req.fail_status.unwrap_or(503));
    }
    if let Some(down) = req.unreachable {
        c.faults().set_unreachable(down);
    }
    if req.drop_watches {
        c.faults().drop_watches();
    }
    if let Some(t) = req.revoke_token {
        c.revoke_token(&t);
    }
    (
        StatusCode::OK,
        Json(json!({"cluster": name, "applied": true})),
    )
}

async fn stats(
    State(clusters): State<Vec<Cluster>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> (StatusCode, Json<Value>) {
    let c = match authorized(&clusters, &name, &headers) {
        Ok(c) => c,
        Err(answer) => return answer,
    };
    (
        StatusCode::OK,
        Json(
            json!({"cluster": name, "requests": c.request_stats(), "objects": c.object_count(),
            "eks": c.eks_stats()}),
        ),
    )
}

pub async fn serve(listener: TcpListener, clusters: Vec<Cluster>, mut stop: watch::Receiver<bool>) {
    let app = axum::Router::new()
        .route("/clusters/{name}/faults", post(faults))
        .route("/clusters/{name}/stats", axum::routing::get(stats))
        .with_state(clusters);
    let shutdown = async move {
        let _ = stop.changed().await;
    };
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::warn!(error = %e, "control endpoint stopped");
    }
}
