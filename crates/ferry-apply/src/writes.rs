//! The requests Ferry makes to write one object, each through the cluster's limiter: a
//! server-side apply as field manager `ferry` with `force` (or its dry run), a replace for
//! `Replace=true`, a delete with a propagation policy, the destination namespace for
//! `CreateNamespace=true`; and the one-object diff made from a dry run.

use ferry_api::{Propagation, SyncOptions};
use ferry_cluster::Cluster;
use ferry_diff::{IgnoreRules, ResourceDiff};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

use crate::Desired;

/// Server-side apply (or its dry run) of one object.
pub async fn apply(cluster: &Cluster, d: &Desired, dry_run: bool) -> Result<Value, kube::Error> {
    let api = cluster.api(&d.ar, d.namespaced, &d.key.namespace);
    let mut pp = PatchParams::apply(ferry_api::FIELD_MANAGER).force();
    pp.dry_run = dry_run;
    let _permit = cluster.limiter.acquire().await;
    let out = api
        .patch(&d.key.name, &pp, &Patch::Apply(&d.object))
        .await?;
    serde_json::to_value(out).map_err(kube::Error::SerdeError)
}

/// Writes `obj` (the object of `d`, or a hook made from it, named `name` in `namespace`) as
/// its sync options say: replaced or created with `Replace=true`, else applied; with
/// `Validate=false` unknown fields are ignored instead of refused.
pub async fn apply_with_options(
    cluster: &Cluster,
    d: &Desired,
    obj: &Value,
    name: &str,
    namespace: &str,
    opts: &SyncOptions,
) -> Result<Value, kube::Error> {
    let api = cluster.api(&d.ar, d.namespaced, namespace);
    let _permit = cluster.limiter.acquire().await;
    let out = if opts.replace {
        let mut body = obj.clone();
        match api.get_opt(name).await? {
            Some(live) => {
                body["metadata"]["resourceVersion"] = json!(live.metadata.resource_version);
                let body: DynamicObject =
                    serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
                api.replace(name, &PostParams::default(), &body).await?
            }
            None => {
                let body: DynamicObject =
                    serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
                api.create(&PostParams::default(), &body).await?
            }
        }
    } else {
        let mut pp = PatchParams::apply(ferry_api::FIELD_MANAGER).force();
        if opts.skip_validation {
            pp.field_validation = Some(kube::api::ValidationDirective::Ignore);
        }
        api.patch(name, &pp, &Patch::Apply(obj)).await?
    };
    serde_json::to_value(out).map_err(kube::Error::SerdeError)
}

/// Deletes `name` (gone already is fine).
pub async fn delete(
    cluster: &Cluster,
    api: &Api<DynamicObject>,
    name: &str,
    propagation: Propagation,
) -> Result<(), kube::Error> {
    let dp = match propagation {
        Propagation::Foreground => DeleteParams::foreground(),
        Propagation::Background => DeleteParams::background(),
        Propagation::Orphan => DeleteParams::orphan(),
    };
    let _permit = cluster.limiter.acquire().await;
    match api.delete(name, &dp).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates (or keeps) the destination namespace, for `CreateNamespace=true`.
pub async fn create_namespace(cluster: &Cluster, ns: &str) -> Result<(), kube::Error> {
    let ar = ferry_cluster::api_resource("", "v1", "Namespace", "namespaces");
    let api = cluster.api(&ar, false, "");
    let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let _permit = cluster.limiter.acquire().await;
    api.patch(
        ns,
        &PatchParams::apply(ferry_api::FIELD_MANAGER),
        &Patch::Apply(&obj),
    )
    .await
    .map(|_| ())
}

/// An application's `ignoreDifferences` entry as the diff engine takes it.
pub fn ignore_rule(r: &ferry_api::ResourceIgnoreDifferences) -> ferry_diff::IgnoreRule {
    ferry_diff::IgnoreRule {
        group: r.group.clone(),
        kind: r.kind.clone(),
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        json_pointers: r.json_pointers.clone(),
        jq_path_expressions: r.jq_path_expressions.clone(),
        managed_fields_managers: r.managed_fields_managers.clone(),
    }
}

/// Whether diffing `d` under `rules` needs the live object's `managedFields` (a rule names
/// managers whose fields are ignored), which a watch cache may not keep.
pub fn needs_managed_fields(rules: &IgnoreRules, d: &Desired) -> bool {
    !rules
        .for_resource(&d.object)
        .managed_fields_managers()
        .is_empty()
}

/// What applying `d` would change in `live`: a server-side-apply dry run, with the rules of
/// `ignoreDifferences` that apply to it taken out of both sides (warnings are logged). `live`
/// must carry `managedFields` when [`needs_managed_fields`] says so.
pub async fn dry_run_diff(
    cluster: &Cluster,
    d: &Desired,
    live: Option<&Value>,
    rules: &IgnoreRules,
) -> Result<ResourceDiff, kube::Error> {
    let mut predicted = apply(cluster, d, true).await?;
    let applicable = rules.for_resource(&d.object);
    if applicable.is_empty() {
        return Ok(ferry_diff::compare(live, &predicted));
    }
    let mut live = live.cloned();
    let schema = ferry_kube_builtin::BuiltinSchema::for_kind(&d.key.group, &d.key.kind);
    for w in applicable.normalize_both(live.as_mut(), &mut predicted, &schema) {
        tracing::warn!(object = %d.key, "ignoreDifferences: {w}");
    }
    Ok(ferry_diff::compare(live.as_ref(), &predicted))
}
