//! Access reviews: `SelfSubjectAccessReview` answers whether the caller may do something,
//! by the same RBAC rules that guard every request.

use ferry_fieldpath::{ManagedFields, Scope, Writer};
use serde_json::{Value, json};

use crate::auth::{Attributes, User, authorize};
use crate::cluster::ClusterInner;
use crate::kinds;
use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult};
use crate::write::now;

pub fn self_subject_access_review(
    cluster: &ClusterInner,
    user: &User,
    rt: &ResourceType,
    mut obj: Value,
    manager: &str,
) -> ApiResult<Value> {
    crate::validate::identity(&mut obj, rt, true)?;
    if rt.kind != "SelfSubjectAccessReview" {
        return Err(ApiError::method_not_allowed(format!(
            "{} is not supported by this emulator",
            rt.kind
        )));
    }
    let ra = obj
        .pointer("/spec/resourceAttributes")
        .cloned()
        .unwrap_or(Value::Null);
    let s = |k: &str| ra[k].as_str().unwrap_or_default().to_owned();
    let (verb, group, resource, sub, namespace, name) = (
        s("verb"),
        s("group"),
        s("resource"),
        s("subresource"),
        s("namespace"),
        s("name"),
    );
    let resource = if sub.is_empty() {
        resource
    } else {
        format!("{resource}/{sub}")
    };
    let allowed = if ra.is_null() {
        // Non-resource requests (discovery) are open to every authenticated user.
        true
    } else {
        let attrs = Attributes {
            verb: &verb,
            group: &group,
            resource: &resource,
            namespace: &namespace,
            name: &name,
        };
        authorize(&cluster.lock().store, user, &attrs)
    };
    let time = now();
    let api_version = rt.api_version();
    let writer = Writer {
        manager,
        api_version: &api_version,
        subresource: None,
        time: &time,
    };
    let mut managed = ManagedFields::default();
    managed.update(
        None,
        &kinds::zero(rt),
        &obj,
        &writer,
        Scope::All,
        &kinds::schema(rt),
    );
    obj["metadata"] = json!({"creationTimestamp": null});
    managed.write_to(&mut obj);
    obj["status"] = json!({"allowed": allowed});
    if allowed && user.is_master() {
        obj["status"]["reason"] = json!("");
    }
    Ok(obj)
}
