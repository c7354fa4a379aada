//! Ferry's Kubernetes API, `ferry.dev/v1alpha1`: the `Application`, `ApplicationSet` and
//! `AppProject` types,
//! their CRDs generated from the types, sync options, and the names every part agrees on.
//!
//! Field names follow Argo CD's wherever both have the feature, so that an Argo CD manifest
//! converts by changing its `apiVersion`.

pub mod application;
pub mod applicationset;
pub mod crd;
pub mod options;
pub mod project;

pub use application::*;
pub use applicationset::*;
pub use options::{Propagation, SyncOptionError, SyncOptions};
pub use project::{
    AppProject, AppProjectSpec, ClusterResourceRestriction, GroupKind, JwtToken, ProjectAws,
    ProjectDestination, ProjectRole, SyncWindow, default_project,
};

pub const GROUP: &str = "ferry.dev";
pub const VERSION: &str = "v1alpha1";
pub const API_VERSION: &str = "ferry.dev/v1alpha1";
/// Ferry's own namespace on the management cluster.
pub const NAMESPACE: &str = "ferry";
/// Field manager of every server-side apply Ferry makes.
pub const FIELD_MANAGER: &str = "ferry";
/// Annotation on managed objects: `<app>:<group>/<kind>:<namespace>/<name>`.
pub const TRACKING_ANNOTATION: &str = "ferry.dev/tracking-id";
/// Finalizer that makes deleting an application delete its resources.
pub const RESOURCES_FINALIZER: &str = "ferry.dev/resources-finalizer";
/// Finalizer the ApplicationSet controller keeps on an ApplicationSet while it cleans up.
pub const APPLICATIONSET_FINALIZER: &str = "ferry.dev/applicationset-finalizer";
/// Argo CD's equivalents of [`RESOURCES_FINALIZER`], honoured as they are (an Argo CD
/// manifest keeps its finalizer): foreground propagation, and with `/background` background.
pub const ARGOCD_RESOURCES_FINALIZERS: [&str; 3] = [
    "resources-finalizer.argocd.argoproj.io",
    "resources-finalizer.argocd.argoproj.io/foreground",
    "resources-finalizer.argocd.argoproj.io/background",
];

/// Whether deleting an Application with finalizer `f` deletes its resources first.
pub fn is_resources_finalizer(f: &str) -> bool {
    f == RESOURCES_FINALIZER || ARGOCD_RESOURCES_FINALIZERS.contains(&f)
}

/// The finalizers an Application with `finalizers` needs so that deleting it deletes its
/// resources (`cascade`) or leaves them: `None` when it has them already, else the new list
/// (to write before the delete, as `ferry app delete` and the API do).
pub fn finalizers_for_cascade(finalizers: &[String], cascade: bool) -> Option<Vec<String>> {
    let has = finalizers.iter().any(|f| is_resources_finalizer(f));
    if cascade == has {
        return None;
    }
    let mut out = finalizers.to_vec();
    if cascade {
        out.push(RESOURCES_FINALIZER.into());
    } else {
        out.retain(|f| !is_resources_finalizer(f));
    }
    Some(out)
}

/// Argo CD's finalizer on an ApplicationSet that holds its deletion until its Applications
/// are dealt with (Ferry's is [`APPLICATIONSET_FINALIZER`]; both are honoured).
pub const ARGOCD_APPLICATIONSET_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// Label of cluster Secrets (Argo CD's declarative format).
pub const SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// The server URL that names the management cluster itself.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";

/// Prefix of Argo CD's annotations, honoured as they are.
pub const ARGOCD_PREFIX: &str = "argocd.argoproj.io/";
/// Prefix of Ferry's own equivalents (they win over Argo CD's when both are set).
pub const FERRY_PREFIX: &str = "ferry.dev/";
/// Annotation on an Application that asks for a fresh resolve of its target revision
/// (any value; Ferry removes it once answered).
pub const REFRESH_ANNOTATION: &str = "ferry.dev/refresh";
/// Annotation naming the operation that created a hook.
pub const SYNC_ID_ANNOTATION: &str = "ferry.dev/sync-id";

/// The value of annotation `ferry.dev/<name>` or, failing that, `argocd.argoproj.io/<name>`
/// (`sync-wave`, `hook`, `hook-delete-policy`, `sync-options`) of a JSON object.
pub fn annotation<'a>(obj: &'a serde_json::Value, name: &str) -> Option<&'a str> {
    let annotations = obj.pointer("/metadata/annotations")?.as_object()?;
    [FERRY_PREFIX, ARGOCD_PREFIX]
        .iter()
        .find_map(|p| annotations.get(&format!("{p}{name}"))?.as_str())
}

/// The tracking id of an object managed by application `app`.
pub fn tracking_id(app: &str, group: &str, kind: &str, namespace: &str, name: &str) -> String {
    format!("{app}:{group}/{kind}:{namespace}/{name}")
}

/// The application a tracking id names.
pub fn app_of_tracking_id(id: &str) -> Option<&str> {
    id.split_once(':')
        .map(|(app, _)| app)
        .filter(|a| !a.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cascade_adds_or_removes_the_resources_finalizer_only_when_needed() {
        let argo = ARGOCD_RESOURCES_FINALIZERS[0].to_owned();
        let other = "example.com/keep".to_owned();
        assert_eq!(
            finalizers_for_cascade(std::slice::from_ref(&other), true),
            Some(vec![other.clone(), RESOURCES_FINALIZER.to_owned()])
        );
        assert_eq!(
            finalizers_for_cascade(std::slice::from_ref(&argo), true),
            None
        );
        assert_eq!(
            finalizers_for_cascade(&[argo, other.clone()], false),
            Some(vec![other.clone()])
        );
        assert_eq!(finalizers_for_cascade(&[other], false), None);
    }

    #[test]
    fn tracking_ids_round_trip() {
        let id = tracking_id("web", "apps", "Deployment", "prod", "api");
        assert_eq!(id, "web:apps/Deployment:prod/api");
        assert_eq!(app_of_tracking_id(&id), Some("web"));
        assert_eq!(app_of_tracking_id(":x"), None);
    }

    #[test]
    fn argo_cd_manifests_parse() {
        let yaml = serde_json::json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": "guestbook", "namespace": "ferry"},
            "spec": {"project": "default",
                "source": {"repoURL": "https://git.example/guestbook.git", "targetRevision": "HEAD", "path": "guestbook"},
                "destination": {"server": "https://kubernetes.default.svc", "namespace": "guestbook"},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}
        });
        let app: Application = serde_json::from_value(yaml).expect("parses");
        assert_eq!(
            app.spec.source.repo_url,
            "https://git.example/guestbook.git"
        );
        assert!(
            app.spec
                .sync_policy
                .and_then(|p| p.automated)
                .is_some_and(|a| a.self_heal)
        );
    }
}
