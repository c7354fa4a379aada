//! JSON merge patch and JSON patch: results and the API server's error
//! classes.

use ferry_kube_patch::{PatchError, PatchKind, apply_patch};
use serde_json::{Value, json};

fn merge(target: &Value, body: &str) -> Result<Value, PatchError> {
    apply_patch(PatchKind::Merge, None, target, body.as_bytes())
}

fn json_patch(target: &Value, body: &str) -> Result<Value, PatchError> {
    apply_patch(PatchKind::Json, None, target, body.as_bytes())
}

fn config_map() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {"app": "web", "tier": "front"}},
        "data": {"a": "1", "b": "2"}
    })
}

#[test]
fn content_types_map_to_kinds() {
    assert_eq!(
        PatchKind::from_content_type("application/merge-patch+json"),
        Some(PatchKind::Merge)
    );
    assert_eq!(
        PatchKind::from_content_type("Application/JSON-Patch+json; charset=utf-8"),
        Some(PatchKind::Json)
    );
    assert_eq!(
        PatchKind::from_content_type("application/strategic-merge-patch+json"),
        Some(PatchKind::StrategicMerge)
    );
    assert_eq!(
        PatchKind::from_content_type("application/apply-patch+yaml"),
        None
    );
    assert_eq!(PatchKind::from_content_type("application/json"), None);
    assert_eq!(
        PatchKind::StrategicMerge.content_type(),
        "application/strategic-merge-patch+json"
    );
}

#[test]
fn merge_patch_adds_a_key_and_deletes_with_null() {
    let out = merge(
        &config_map(),
        r#"{"metadata":{"labels":{"tier":null,"env":"prod"}},"data":{"c":"3"}}"#,
    )
    .expect("merge applies");
    assert_eq!(
        out["metadata"]["labels"],
        json!({"app": "web", "env": "prod"})
    );
    assert_eq!(out["data"], json!({"a": "1", "b": "2", "c": "3"}));
    assert_eq!(out["metadata"]["name"], "cm");
}

#[test]
fn merge_patch_replaces_lists_and_prunes_nulls_in_new_values() {
    let target = json!({"spec": {"ports": [{"port": 80}, {"port": 443}]}});
    let out = merge(
        &target,
        r#"{"spec":{"ports":[{"port":8080,"name":null}],"extra":{"x":null,"y":1}}}"#,
    )
    .expect("merge applies");
    assert_eq!(
        out,
        json!({"spec": {"ports": [{"port": 8080}], "extra": {"y": 1}}})
    );
}

#[test]
fn merge_patch_rejects_non_objects() {
    let err = merge(&config_map(), "not json").expect_err("syntax error");
    assert_eq!(
        err,
        PatchError::BadRequest("Invalid JSON Patch".to_string())
    );
    assert_eq!(err.code(), 400);
    let err = merge(&config_map(), "null").expect_err("null patch");
    assert_eq!(err.code(), 400);
    let err = merge(&config_map(), "[1]").expect_err("array patch");
    assert_eq!(err.code(), 422);
}

#[test]
fn json_patch_replaces_and_tests() {
    let target = json!({"spec": {"replicas": 1, "paused": false}});
    let out = json_patch(
        &target,
        r#"[{"op":"test","path":"/spec/replicas","value":1},
            {"op":"replace","path":"/spec/replicas","value":3}]"#,
    )
    .expect("patch applies");
    assert_eq!(out, json!({"spec": {"replicas": 3, "paused": false}}));
}

#[test]
fn json_patch_failed_test_is_invalid() {
    let target = json!({"spec": {"replicas": 1}});
    let err = json_patch(
        &target,
        r#"[{"op":"test","path":"/spec/replicas","value":2},
            {"op":"replace","path":"/spec/replicas","value":3}]"#,
    )
    .expect_err("test fails");
    assert_eq!(
        err,
        PatchError::Invalid("testing value /spec/replicas failed: test failed".to_string())
    );
    assert_eq!(err.code(), 422);
    assert_eq!(err.reason(), "Invalid");
    assert_eq!(
        err.status_message(),
        "the server rejected our request due to an error in our request"
    );
}

#[test]
fn json_patch_bad_paths_are_invalid() {
    let target = json!({"spec": {"replicas": 1, "list": [1, 2]}});
    let cases = [
        (
            r#"[{"op":"add","path":"/status/x","value":1}]"#,
            "add operation does not apply: doc is missing path: \"/status/x\": missing value",
        ),
        (
            r#"[{"op":"remove","path":"/spec/nope"}]"#,
            "error in remove for path: '/spec/nope': Unable to remove nonexistent key: nope: missing value",
        ),
        (
            r#"[{"op":"replace","path":"/spec/list/5","value":1}]"#,
            "replace operation does not apply: doc is missing key: /spec/list/5: missing value",
        ),
        (
            r#"[{"op":"test","path":"/nope/x","value":1}]"#,
            "test operation does not apply: is missing path: /nope/x: missing value",
        ),
        (
            r#"[{"op":"frobnicate","path":"/spec"}]"#,
            "Unexpected kind: frobnicate",
        ),
    ];
    for (body, message) in cases {
        let err = json_patch(&target, body).expect_err(body);
        assert_eq!(err, PatchError::Invalid(message.to_string()), "{body}");
    }
}

#[test]
fn json_patch_document_must_be_a_list() {
    let err = json_patch(&config_map(), r#"{"op":"add","path":"/a","value":1}"#)
        .expect_err("object body");
    assert_eq!(
        err,
        PatchError::BadRequest(
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch".to_string()
        )
    );
    let err = json_patch(&config_map(), r#"["add"]"#).expect_err("string element");
    assert_eq!(
        err.detail(),
        "json: cannot unmarshal string into Go value of type jsonpatch.Operation"
    );
    assert_eq!(err.code(), 400);
    assert_eq!(json_patch(&config_map(), "null"), Ok(config_map()));
}

#[test]
fn json_patch_works_on_arrays_and_escaped_keys() {
    let target = json!({"metadata": {"annotations": {}}, "items": ["a", "c"]});
    let out = json_patch(
        &target,
        r#"[{"op":"add","path":"/items/1","value":"b"},
            {"op":"add","path":"/items/-","value":"d"},
            {"op":"remove","path":"/items/-1"},
            {"op":"add","path":"/metadata/annotations/example.com~1key","value":"v"},
            {"op":"copy","from":"/items/0","path":"/first"},
            {"op":"move","from":"/first","path":"/moved"}]"#,
    )
    .expect("patch applies");
    assert_eq!(
        out,
        json!({
            "metadata": {"annotations": {"example.com/key": "v"}},
            "items": ["a", "b", "c"],
            "moved": "a"
        })
    );
    let err = json_patch(&target, r#"[{"op":"add","path":"/items/9","value":1}]"#)
        .expect_err("index out of range");
    assert_eq!(
        err.detail(),
        "error in add for path: '/items/9': Unable to access invalid index: 9: invalid index referenced"
    );
}

#[test]
fn json_patch_limits_operation_count() {
    let ops: Vec<Value> = (0..10_001)
        .map(|_| json!({"op": "test", "path": "/kind", "value": "ConfigMap"}))
        .collect();
    let body = serde_json::to_string(&ops).expect("serialises");
    let err = json_patch(&config_map(), &body).expect_err("too many");
    assert_eq!(err.code(), 413);
}
