//! Deletes: preconditions, finalizers, propagation policies (Background, Foreground, Orphan),
//! namespace termination and CRD cleanup, and `deletecollection`.

use serde_json::{Value, json};

use crate::cluster::ClusterInner;
use crate::hooks;
use crate::read::{Filter, present};
use crate::resources::ResourceType;
use crate::route::Params;
use crate::status::{ApiError, ApiResult, delete_success};
use crate::write::{commit, now};

/// `DeleteOptions` from the body and the query.
#[derive(Debug, Default, Clone)]
pub struct DeleteOptions {
    pub propagation: Option<String>,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn parse(body: &[u8], params: &Params) -> ApiResult<Self> {
        let mut o = DeleteOptions {
            propagation: params.get("propagationPolicy").map(str::to_owned),
            dry_run: params.dry_run(),
            ..Default::default()
        };
        if params.get("orphanDependents") == Some("true") {
            o.propagation = Some("Orphan".into());
        }
        if !body.iter().all(u8::is_ascii_whitespace) {
            let v: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?;
            if let Some(p) = v["propagationPolicy"].as_str() {
                o.propagation = Some(p.to_owned());
            }
            if v["orphanDependents"] == json!(true) {
                o.propagation = Some("Orphan".into());
            }
            o.uid = v
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(str::to_owned);
            o.resource_version = v
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if v["dryRun"]
                .as_array()
                .is_some_and(|d| d.iter().any(|x| x == "All"))
            {
                o.dry_run = true;
            }
        }
        if let Some(p) = &o.propagation
            && !matches!(p.as_str(), "Background" | "Foreground" | "Orphan")
        {
            return Err(ApiError::new(
                422,
                Some("Invalid"),
                format!(
                    "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                ),
            ));
        }
        Ok(o)
    }
}

fn add_finalizer(obj: &mut Value, f: &str) {
    let list = obj["metadata"]["finalizers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !list.iter().any(|x| x == f) {
        let mut list = list;
        list.push(json!(f));
        obj["metadata"]["finalizers"] = Value::Array(list);
    }
}

/// Deletes one object. Answers the object when it lingers (finalizers, termination), or a
/// `Status` when it is gone.
pub fn delete(
    cluster: &ClusterInner,
    rt: &ResourceType,
    ns: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> ApiResult<(u16, Value)> {
    let res = rt.storage_key();
    let key = (ns.unwrap_or_default().to_owned(), name.to_owned());
    let mut state = cluster.lock();
    let Some(old) = state.store.get(&res, &key).cloned() else {
        return Err(ApiError::not_found(&rt.plural, &rt.group, name));
    };
    let uid = old
        .pointer("/metadata/uid")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(want) = &opts.uid
        && *want != uid
    {
        return Err(ApiError::conflict(
            &rt.kind,
            "",
            name,
            &format!(
                "the UID in the precondition ({want}) does not match the UID in record ({uid}). The object might have been deleted and then recreated"
            ),
        ));
    }
    let rv = old
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(want) = &opts.resource_version
        && want != rv
    {
        return Err(ApiError::conflict(
            &rt.kind,
            "",
            name,
            &format!(
                "the ResourceVersion in the precondition ({want}) does not match the ResourceVersion in record ({rv}). The object might have been modified"
            ),
        ));
    }
    let mut obj = (*old).clone();
    let already = obj.pointer("/metadata/deletionTimestamp").is_some();
    let is_namespace = rt.group.is_empty() && rt.plural == "namespaces";
    let is_crd = rt.group == "apiextensions.k8s.io" && rt.plural == "customresourcedefinitions";
    if already && !matches!(opts.propagation.as_deref(), Some("Foreground" | "Orphan")) {
        return Ok((200, present(&obj, rt)));
    }
    if !already {
        obj["metadata"]["deletionTimestamp"] = json!(now());
        if !is_namespace {
            obj["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
    }
    if is_namespace {
        obj["status"]["phase"] = json!("Terminating");
    }
    if is_crd {
        add_finalizer(&mut obj, "customresourcecleanup.apiextensions.k8s.io");
    }
    match opts.propagation.as_deref() {
        Some("Foreground") => add_finalizer(&mut obj, "foregroundDeletion"),
        Some("Orphan") => add_finalizer(&mut obj, "orphan"),
        _ => {}
    }
    let lingers = is_namespace
        || obj["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
    if opts.dry_run {
        return Ok(if lingers {
            (200, present(&obj, rt))
        } else {
            (200, delete_success(&rt.plural, &rt.group, name, &uid))
        });
    }
    if lingers {
        let stored = commit(cluster, &mut state, rt, Some(&old), obj);
        return Ok((200, present(&stored, rt)));
    }
    if let Some(gone) = state.store.remove(&res, &key) {
        hooks::after_remove(cluster, &mut state, rt, &gone);
    }
    cluster.wake.notify_one();
    Ok((200, delete_success(&rt.plural, &rt.group, name, &uid)))
}

/// `DELETE` of a collection: every selected object, as single deletes.
pub fn delete_collection(
    cluster: &ClusterInner,
    rt: &ResourceType,
    ns: Option<&str>,
    params: &Params,
    opts: &DeleteOptions,
) -> ApiResult<(u16, Value)> {
    let filter = Filter::new(params, rt, ns)?;
    let names: Vec<(Option<String>, String)> = {
        let state = cluster.lock();
        state
            .store
            .list(&rt.storage_key(), ns)
            .filter(|o| filter.matches(o))
            .map(|o| {
                let m = &o["metadata"];
                (
                    m["namespace"].as_str().map(str::to_owned),
                    m["name"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    for (ns, name) in names {
        // An object deleted meanwhile is not an error for a collection delete.
        match delete(cluster, rt, ns.as_deref(), &name, opts) {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    Ok((
        200,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    ))
}
