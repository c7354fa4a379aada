//! Rendered objects made ready for one cluster: each object's kind resolved (by discovery,
//! or by a CustomResourceDefinition in the same render whose kind is not served yet), its
//! namespace (the destination's for namespaced kinds that name none) and the tracking
//! annotation placed, the cluster Secret's `namespaces` and `clusterResources` enforced, and
//! hooks (Argo CD's `hook` annotation) told apart from the objects a sync keeps equal to Git.
//! Also what makes an object another Application's: its live tracking id.

use ferry_cluster::{Cluster, ClusterError, ResourceKey};
use ferry_render::RenderedObject;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::{Value, json};

/// One desired object, ready to apply.
#[derive(Debug, Clone)]
pub struct Desired {
    pub key: ResourceKey,
    pub ar: ApiResource,
    pub namespaced: bool,
    pub object: Value,
    /// A comparison found the live object equal to what applying this one would give.
    pub in_sync: bool,
    /// Its kind is not served yet: a CRD of the same application defines it.
    pub pending_kind: bool,
    /// Another Application tracks the live object (its `ferry.dev/tracking-id` names that
    /// application): a shared object, never applied by this one unless handed over.
    pub owner: Option<String>,
}

/// The objects of one render, ready for a cluster.
#[derive(Debug, Default)]
pub struct Prepared {
    /// Compared and kept equal to Git; namespaces first, then CRDs, then the rest.
    pub desired: Vec<Desired>,
    /// Objects with a `hook` annotation: run by a sync, never compared or pruned.
    pub hooks: Vec<Desired>,
}

/// Why a render cannot be made ready for a cluster.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    /// The cluster did not answer discovery.
    #[error("{0}")]
    Cluster(ClusterError),
    /// An object that cannot go to this cluster: named, with its file and the reason.
    #[error("{object} in {file}: {reason}")]
    Invalid {
        object: String,
        file: String,
        reason: String,
    },
}

/// Annotation on a desired object that hands the live object over from the Application
/// named in it: `ferry.dev/take-over-from: <application>`. Without it, an object another
/// Application tracks is left to that application.
pub const TAKE_OVER_ANNOTATION: &str = "ferry.dev/take-over-from";

/// The Application that tracks `live` when it is another one than `app` and `desired` does
/// not take the object over from it: the object is shared, and `app` must not write it.
pub fn shared_owner(app: &str, desired: &Value, live_tracking: &str) -> Option<String> {
    let owner = ferry_api::app_of_tracking_id(live_tracking)?;
    if owner == app {
        return None;
    }
    let handed_over = desired
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(TAKE_OVER_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|from| from.trim() == owner);
    (!handed_over).then(|| owner.to_owned())
}

/// What a comparison says of one shared object, for the `SharedResourceWarning` condition.
pub fn describe_shared(key: &ResourceKey, owner: &str) -> String {
    format!(
        "{key} is tracked by Application {owner}, so this application leaves it as it is \
         (to hand it over, annotate it in Git with {TAKE_OVER_ANNOTATION}: {owner})"
    )
}

/// Places a rendered object: its namespace (the destination's, for namespaced kinds that
/// name none) and the tracking annotation.
pub fn place(
    app: &str,
    mut obj: Value,
    ar: &ApiResource,
    namespaced: bool,
    default_ns: &str,
) -> Value {
    let meta = &mut obj["metadata"];
    if namespaced {
        if meta["namespace"].as_str().is_none_or(str::is_empty) {
            meta["namespace"] = json!(default_ns);
        }
    } else if let Some(m) = meta.as_object_mut() {
        m.remove("namespace");
    }
    let ns = meta["namespace"].as_str().unwrap_or_default().to_owned();
    let name = meta["name"].as_str().unwrap_or_default().to_owned();
    if !meta["annotations"].is_object() {
        meta["annotations"] = json!({});
    }
    meta["annotations"][ferry_api::TRACKING_ANNOTATION] =
        json!(ferry_api::tracking_id(app, &ar.group, &ar.kind, &ns, &name));
    obj
}

fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The objects of a render made ready for `cluster`, as application `app` with destination
/// namespace `default_ns`. Any object that cannot go there fails the whole render (nothing is
/// applied of a render that is partly wrong).
pub async fn prepare(
    app: &str,
    objects: &[RenderedObject],
    cluster: &Cluster,
    default_ns: &str,
) -> Result<Prepared, PrepareError> {
    let crds: Vec<&Value> = objects
        .iter()
        .map(|i| &i.object)
        .filter(|o| {
            o["kind"] == "CustomResourceDefinition"
                && o["apiVersion"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"))
        })
        .collect();
    let mut out = Prepared::default();
    for item in objects {
        let invalid = |object: String, reason: String| PrepareError::Invalid {
            object,
            file: item.file.clone(),
            reason,
        };
        let obj = item.object.clone();
        let hook = ferry_sync_plan::hook_of(&obj)
            .map_err(|e| invalid("an object".into(), e.to_string()))?;
        let kind = obj["kind"].as_str().unwrap_or_default();
        if text(&obj, "/metadata/name").is_empty() && hook.is_none() {
            return Err(invalid(
                format!("{kind} {}*", text(&obj, "/metadata/generateName")),
                "metadata.generateName without metadata.name is allowed only for hooks".into(),
            ));
        }
        if hook.as_ref().is_some_and(|h| h.phases.is_empty()) {
            // `Skip`, or a deletion-only hook: never applied by a sync.
            continue;
        }
        let api_version = obj["apiVersion"].as_str().unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let mut pending_kind = false;
        let (ar, caps) = match cluster.resolve(group, version, kind).await {
            Ok(found) => found,
            Err(e @ ClusterError::Discovery { .. }) => return Err(PrepareError::Cluster(e)),
            Err(e) => {
                let defined = matches!(e, ClusterError::UnknownKind { .. })
                    .then(|| crd_defining(&crds, group, version, kind))
                    .flatten();
                let Some(found) = defined else {
                    let shown = format!("{kind} {}", text(&obj, "/metadata/name"));
                    return Err(invalid(shown, e.to_string()));
                };
                pending_kind = true;
                found
            }
        };
        let namespaced = caps.scope == Scope::Namespaced;
        let object = place(app, obj, &ar, namespaced, default_ns);
        if let Some(reason) = refusal(cluster, &object, namespaced) {
            let shown = format!("{} {}", ar.kind, text(&object, "/metadata/name"));
            return Err(invalid(shown, reason));
        }
        let d = Desired {
            key: ResourceKey::of(&object),
            ar,
            namespaced,
            object,
            in_sync: false,
            pending_kind,
            owner: None,
        };
        if hook.is_some() {
            out.hooks.push(d);
        } else {
            out.desired.push(d);
        }
    }
    // Namespaces and CRDs first, as they must exist before what goes in them.
    out.desired
        .sort_by_key(|d| match (d.key.group.as_str(), d.key.kind.as_str()) {
            ("", "Namespace") => 0,
            ("apiextensions.k8s.io", "CustomResourceDefinition") => 1,
            _ => 2,
        });
    Ok(out)
}

/// Why the cluster Secret's `namespaces` and `clusterResources` keep `object` out, if they do.
fn refusal(cluster: &Cluster, object: &Value, namespaced: bool) -> Option<String> {
    let allowed = &cluster.spec.namespaces;
    let ns = text(object, "/metadata/namespace");
    if namespaced && !allowed.is_empty() && !allowed.iter().any(|a| a == ns) {
        Some(format!(
            "namespace {ns:?} is not among the namespaces cluster {} allows ({})",
            cluster.name(),
            allowed.join(", ")
        ))
    } else if !namespaced && !cluster.spec.cluster_resources {
        Some(format!(
            "cluster {} does not allow cluster-scoped resources (clusterResources is not true)",
            cluster.name()
        ))
    } else {
        None
    }
}

/// The API resource of a kind that a CRD among `crds` defines (served version `version`).
fn crd_defining(
    crds: &[&Value],
    group: &str,
    version: &str,
    kind: &str,
) -> Option<(ApiResource, ApiCapabilities)> {
    let crd = crds.iter().find(|c| {
        text(c, "/spec/group") == group
            && text(c, "/spec/names/kind") == kind
            && c.pointer("/spec/versions")
                .and_then(Value::as_array)
                .is_some_and(|vs| vs.iter().any(|v| v["name"] == version))
    })?;
    let plural = crd.pointer("/spec/names/plural")?.as_str()?.to_owned();
    let scope = if text(crd, "/spec/scope") == "Cluster" {
        Scope::Cluster
    } else {
        Scope::Namespaced
    };
    Some((
        ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: format!("{group}/{version}"),
            kind: kind.into(),
            plural,
        },
        ApiCapabilities {
            scope,
            subresources: Vec::new(),
            operations: Vec::new(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_another_application_tracks_is_shared_until_handed_over() {
        let desired = json!({"metadata": {"name": "x", "annotations": {}}});
        let theirs = ferry_api::tracking_id("owner", "", "ConfigMap", "demo", "x");
        let ours = ferry_api::tracking_id("claimer", "", "ConfigMap", "demo", "x");
        assert_eq!(
            shared_owner("claimer", &desired, &theirs).as_deref(),
            Some("owner")
        );
        assert_eq!(shared_owner("claimer", &desired, &ours), None);
        // A tracking id that names no application claims nothing.
        assert_eq!(
            shared_owner("claimer", &desired, ":/ConfigMap:demo/x"),
            None
        );
        let handed = json!({"metadata": {"name": "x",
            "annotations": {TAKE_OVER_ANNOTATION: "owner"}}});
        assert_eq!(shared_owner("claimer", &handed, &theirs), None);
        // Handing over names the application it is taken from, and only that one.
        let elsewhere = json!({"metadata": {"name": "x",
            "annotations": {TAKE_OVER_ANNOTATION: "someone-else"}}});
        assert_eq!(
            shared_owner("claimer", &elsewhere, &theirs).as_deref(),
            Some("owner")
        );
        let key = ResourceKey::new("", "ConfigMap", "demo", "x");
        let text = describe_shared(&key, "owner");
        assert!(
            text.contains("ConfigMap demo/x is tracked by Application owner"),
            "{text}"
        );
    }

    #[test]
    fn placing_sets_the_namespace_and_the_tracking_id() {
        let ar = ferry_cluster::api_resource("", "v1", "ConfigMap", "configmaps");
        let placed = place(
            "web",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            &ar,
            true,
            "prod",
        );
        assert_eq!(placed["metadata"]["namespace"], "prod");
        assert_eq!(
            placed["metadata"]["annotations"][ferry_api::TRACKING_ANNOTATION],
            "web:/ConfigMap:prod/c"
        );
        let ns = ferry_cluster::api_resource("", "v1", "Namespace", "namespaces");
        let placed = place(
            "web",
            json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": "n", "namespace": "stray"}}),
            &ns,
            false,
            "prod",
        );
        assert!(placed["metadata"].get("namespace").is_none(), "{placed}");
    }

    #[test]
    fn a_crd_of_the_same_render_defines_its_kind() {
        let crd = json!({"spec": {"group": "example.com", "scope": "Cluster",
            "names": {"kind": "Gizmo", "plural": "gizmos"},
            "versions": [{"name": "v1"}]}});
        let (ar, caps) = crd_defining(&[&crd], "example.com", "v1", "Gizmo").expect("defined");
        assert_eq!(ar.plural, "gizmos");
        assert_eq!(caps.scope, Scope::Cluster);
        assert!(crd_defining(&[&crd], "example.com", "v2", "Gizmo").is_none());
    }
}
