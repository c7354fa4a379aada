//! End to end with `ferry-fieldpath`: the `managedFields` a real 1.24 server recorded for
//! creates and an apply come out of this crate's schema, defaults and zero values.

use ferry_fieldpath::{ManagedFields, Scope, Writer};
use ferry_kube_builtin::{
    BuiltinSchema, apply_scheme_defaults, has_status_subresource, zero_value,
};
use serde_json::Value;

fn fixtures() -> Value {
    serde_json::from_str(include_str!("transcripts.json")).expect("fixture parses")
}

fn scope(group: &str, kind: &str) -> Scope {
    if has_status_subresource(group, kind) {
        Scope::ExceptStatus
    } else {
        Scope::All
    }
}

fn writer(api_version: &str) -> Writer<'_> {
    Writer {
        manager: "Python-urllib",
        api_version,
        subresource: None,
        time: "2026-11-26T08:29:16Z",
    }
}

/// An update-style create: defaults, then the comparison with the zero value.
fn created_fields(group: &str, version: &str, kind: &str, request: &Value) -> Value {
    let mut obj = request.clone();
    apply_scheme_defaults(group, version, kind, &mut obj);
    let zero = zero_value(group, kind).expect("known kind");
    let schema = BuiltinSchema::for_kind(group, kind);
    let api_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let mut mf = ManagedFields::default();
    mf.update(
        None,
        &zero,
        &obj,
        &writer(&api_version),
        scope(group, kind),
        &schema,
    );
    mf.entries
        .first()
        .map(|e| e.set.to_fields_v1())
        .unwrap_or(Value::Null)
}

fn recorded(response: &Value) -> Value {
    response["metadata"]["managedFields"][0]["fieldsV1"].clone()
}

#[test]
fn crd_create_managed_fields() {
    let fx = fixtures();
    let got = created_fields(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        &fx["crd_request"],
    );
    assert_eq!(got, recorded(&fx["crd_response"]));
}

#[test]
fn namespace_create_managed_fields() {
    let fx = fixtures();
    let got = created_fields("", "v1", "Namespace", &fx["namespace_request"]);
    assert_eq!(got, recorded(&fx["namespace_response"]));
}

#[test]
fn rbac_and_access_review_create_managed_fields() {
    let fx = fixtures();
    let got = created_fields(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        &fx["rolebinding_request"],
    );
    assert_eq!(got, recorded(&fx["rolebinding_response"]));
    let got = created_fields(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        &fx["ssar_request"],
    );
    assert_eq!(got, recorded(&fx["ssar_response"]));
}

#[test]
fn deployment_apply_managed_fields() {
    let fx = fixtures();
    let schema = BuiltinSchema::for_kind("apps", "Deployment");
    let w = Writer {
        manager: "ferry",
        api_version: "apps/v1",
        subresource: None,
        time: "t",
    };
    let mut mf = ManagedFields::default();
    let applied = mf
        .apply(
            None,
            &fx["request"],
            &w,
            Scope::ExceptStatus,
            false,
            &schema,
        )
        .expect("no conflicts on create");
    assert_eq!(applied["spec"]["replicas"], Value::Null);
    let got = mf
        .entries
        .first()
        .map(|e| e.set.to_fields_v1())
        .unwrap_or(Value::Null);
    assert_eq!(got, recorded(&fx["response"]));
}

#[test]
fn deployment_create_by_update_marks_only_pointer_structs() {
    let fx = fixtures();
    let got = created_fields("apps", "v1", "Deployment", &fx["request"]);
    let spec = &got["f:spec"];
    assert!(spec["f:strategy"].get(".").is_none());
    assert!(spec["f:strategy"]["f:rollingUpdate"].get(".").is_some());
    assert!(spec["f:template"].get(".").is_none());
    assert!(spec["f:template"]["f:metadata"].get(".").is_none());
    assert!(
        spec["f:template"]["f:metadata"]
            .get("f:creationTimestamp")
            .is_none()
    );
    assert!(spec["f:template"]["f:spec"].get(".").is_none());
    for f in [
        "f:replicas",
        "f:revisionHistoryLimit",
        "f:progressDeadlineSeconds",
        "f:selector",
    ] {
        assert!(spec.get(f).is_some(), "{f}");
    }
    for f in [
        "f:dnsPolicy",
        "f:restartPolicy",
        "f:schedulerName",
        "f:securityContext",
    ] {
        assert!(spec["f:template"]["f:spec"].get(f).is_some(), "{f}");
    }
    assert!(got.get("f:status").is_none());
}

/// The zero value's `containers` is `null` (non-`omitempty` slice); structured-merge-diff
/// compares `null` with a list element by element, without a `"."` for the list itself.
#[test]
fn deployment_create_by_update_owns_container_fields() {
    let fx = fixtures();
    let got = created_fields("apps", "v1", "Deployment", &fx["request"]);
    let containers = &got["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(containers.get(".").is_none());
    let main = &containers["k:{\"name\":\"main\"}"];
    assert!(main.get(".").is_some());
    for f in [
        "f:imagePullPolicy",
        "f:resources",
        "f:terminationMessagePath",
        "f:terminationMessagePolicy",
    ] {
        assert!(main.get(f).is_some(), "{f} in {containers}");
    }
}
