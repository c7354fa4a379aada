//! How the server keeps Applications: each as compact JSON (without `managedFields`), parsed
//! in full again only when one is asked for, and read for lists through [`SummaryView`], a
//! type that takes only what a summary shows. A typed `Application` holds its large optional
//! parts inline even when they are empty and takes about four times its JSON (41 against
//! 9 MiB for 10,000 of `ferry bench --server`'s; see docs/benchmarks.md).

use std::collections::BTreeMap;

use ferry_api::{
    Application, ApplicationDestination, ConditionType, HealthStatus, OperationPhase, SyncCode,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// One Application in the server's cache.
#[derive(Debug)]
pub struct StoredApp {
    json: Box<[u8]>,
    /// The ApplicationSet that controls it, as `(uid, name)` of the owner reference.
    pub owner_set: Option<(String, String)>,
}

impl StoredApp {
    /// `value` (an Application as the API server sent it) kept without its `managedFields`;
    /// an error when it is not a valid Application (it is then left out of every answer).
    pub fn new(mut value: Value) -> Result<(String, StoredApp), serde_json::Error> {
        if let Some(meta) = value.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        let json = serde_json::to_vec(&value)?.into_boxed_slice();
        // Checked in full once, so that what is kept always reads back.
        let app: Application = serde_json::from_slice(&json)?;
        let owner_set = app
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|r| r.kind == "ApplicationSet" && r.controller == Some(true))
            .map(|r| (r.uid.clone(), r.name.clone()));
        let name = app.metadata.name.unwrap_or_default();
        Ok((name, StoredApp { json, owner_set }))
    }

    /// The Application in full.
    pub fn app(&self) -> Application {
        // The same bytes parsed as the same type when they were stored.
        serde_json::from_slice(&self.json).unwrap_or_default()
    }

    /// What a summary shows.
    pub fn view(&self) -> SummaryView {
        serde_json::from_slice(&self.json).unwrap_or_default()
    }
}

/// The fields of an Application that [`crate::api::apps::Summary`] shows, read with the same
/// types and defaults as [`Application`]'s.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SummaryView {
    pub metadata: ViewMeta,
    pub spec: ViewSpec,
    pub status: Option<ViewStatus>,
}

impl SummaryView {
    /// The view of a typed Application (one not from the cache: a generated one).
    pub fn of(app: &Application) -> SummaryView {
        serde_json::to_vec(app)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ViewMeta {
    pub name: Option<String>,
    pub labels: Option<BTreeMap<String, String>>,
    pub owner_references: Option<Vec<ViewOwner>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewOwner {
    pub kind: String,
    pub name: String,
    pub controller: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ViewSpec {
    pub project: String,
    pub source: ViewSource,
    pub destination: ApplicationDestination,
    pub sync_policy: Option<ViewPolicy>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ViewSource {
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    pub path: String,
    pub target_revision: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewPolicy {
    pub automated: Option<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ViewStatus {
    pub sync: ViewSync,
    pub health: HealthStatus,
    pub operation_state: Option<ViewOperation>,
    pub conditions: Vec<ViewCondition>,
    pub resources: Vec<IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewSync {
    pub status: SyncCode,
    pub revision: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ViewOperation {
    pub phase: OperationPhase,
    pub message: String,
    pub started_at: String,
    pub finished_at: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ViewCondition {
    #[serde(rename = "type")]
    pub type_: ConditionType,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_stored_application_reads_back_whole_without_managed_fields() {
        let v = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "web", "labels": {"team": "a"},
                "managedFields": [{"manager": "x", "operation": "Apply"}],
                "ownerReferences": [{"apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
                    "name": "set", "uid": "u-1", "controller": true}]},
            "spec": {"project": "default", "source": {"repoURL": "https://git.example/r.git",
                "path": "web", "targetRevision": "main"},
                "destination": {"name": "blue", "namespace": "web"},
                "syncPolicy": {"automated": {}}},
            "status": {"sync": {"status": "Synced", "revision": "abc"},
                "health": {"status": "Healthy"},
                "resources": [{"version": "v1", "kind": "ConfigMap", "name": "c", "status": "Synced"}],
                "operationState": {"operation": {"sync": {}}, "phase": "Succeeded",
                    "message": "ok", "startedAt": "2026-12-04T00:00:00Z"}}});
        let typed: Application = serde_json::from_value(v.clone()).expect("an Application");
        let (name, stored) = StoredApp::new(v).expect("stored");
        assert_eq!(name, "web");
        assert_eq!(stored.owner_set, Some(("u-1".into(), "set".into())));
        let back = stored.app();
        assert_eq!(back.metadata.managed_fields, None);
        assert_eq!(back.spec, typed.spec);
        assert_eq!(back.status, typed.status);
        let view = stored.view();
        assert_eq!(view.metadata.name.as_deref(), Some("web"));
        assert!(view.spec.sync_policy.is_some_and(|p| p.automated.is_some()));
        let status = view.status.expect("a status");
        assert_eq!(status.sync.status, SyncCode::Synced);
        assert_eq!(status.resources.len(), 1);
        assert_eq!(
            status.operation_state.map(|o| o.phase),
            Some(OperationPhase::Succeeded)
        );
    }

    #[test]
    fn what_is_not_an_application_is_refused() {
        let v = json!({"metadata": {"name": "x"}, "spec": {"source": 3}});
        assert!(StoredApp::new(v).is_err());
    }
}
