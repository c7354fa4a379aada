//! Who did what: every change made through the API is recorded as a Kubernetes Event on the
//! Application (reason, the user's name and the action in words), besides the
//! `initiatedBy` the operation itself carries, so that `kubectl describe`, the UI's events
//! and any event exporter show it. A failed recording is logged and does not undo the action.

use ferry_api::Application;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;

use crate::AppState;
use crate::auth::User;

/// Records `message` (reason `reason`) on `app`, as the server, for `user`.
pub async fn record(state: &AppState, user: &User, app: &Application, reason: &str, message: &str) {
    let ns = app
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| state.fleet.namespace.clone());
    let name = app.metadata.name.clone().unwrap_or_default();
    let now = ferry_core::timestamp::now();
    let event = json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"generateName": format!("{name}."), "namespace": ns,
            "annotations": {"ferry.dev/user": user.name, "ferry.dev/via": user.via}},
        "involvedObject": {"apiVersion": ferry_api::API_VERSION, "kind": "Application",
            "name": name, "namespace": ns, "uid": app.metadata.uid},
        "reason": reason, "message": message, "type": "Normal",
        "source": {"component": "ferry-server"},
        "reportingComponent": "ferry-server",
        "firstTimestamp": now, "lastTimestamp": now, "count": 1,
    });
    let api: Api<DynamicObject> = Api::namespaced_with(
        state.client.clone(),
        &ns,
        &ferry_cluster::api_resource("", "v1", "Event", "events"),
    );
    let result = match serde_json::from_value::<DynamicObject>(event) {
        Ok(obj) => api
            .create(&PostParams::default(), &obj)
            .await
            .map(|_| ())
            .map_err(|e| ferry_cluster::cause(&e)),
        Err(e) => Err(e.to_string()),
    };
    match result {
        Ok(()) => tracing::info!(user = %user.name, application = %name, %reason, "{message}"),
        Err(e) => {
            tracing::warn!(user = %user.name, application = %name, %reason, error = %e, "the audit event could not be recorded")
        }
    }
}
