//! Strategic merge patch directives: `$patch`, `$retainKeys`,
//! `$deleteFromPrimitiveList` and `$setElementOrder`.

use ferry_kube_patch::{PatchError, PatchKind, apply_patch};
use serde_json::{Value, json};

fn smp(kind: &str, target: &Value, patch: Value) -> Result<Value, PatchError> {
    let body = serde_json::to_vec(&patch).expect("serialises");
    apply_patch(PatchKind::StrategicMerge, Some(kind), target, &body)
}

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c[key].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn pod(containers: Value) -> Value {
    json!({
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y", "z"]},
        "spec": {"containers": containers}
    })
}

#[test]
fn patch_delete_removes_a_keyed_element() {
    let target = pod(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
    let out = smp(
        "Pod",
        &target,
        json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
    )
    .expect("patch applies");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "b", "image": "y"}])
    );
}

#[test]
fn patch_replace_on_a_map() {
    let target = pod(json!([{"name": "a", "image": "x"}]));
    let out = smp(
        "Pod",
        &target,
        json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}}),
    )
    .expect("patch applies");
    assert_eq!(out["metadata"]["labels"], json!({"c": "3"}));
    assert_eq!(out["metadata"]["name"], "p");
}

#[test]
fn patch_delete_on_a_map_empties_it() {
    let target = pod(json!([{"name": "a", "image": "x"}]));
    let out = smp(
        "Pod",
        &target,
        json!({"metadata": {"labels": {"$patch": "delete"}}}),
    )
    .expect("patch applies");
    assert_eq!(out["metadata"]["labels"], json!({}));
}

#[test]
fn patch_replace_in_a_merging_list() {
    let target = pod(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
    let out = smp(
        "Pod",
        &target,
        json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "c", "image": "z"}]}}),
    )
    .expect("patch applies");
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "c", "image": "z"}])
    );
}

#[test]
fn patch_merge_and_unknown_directives_are_rejected() {
    let target = pod(json!([{"name": "a", "image": "x"}]));
    let err = smp(
        "Pod",
        &target,
        json!({"spec": {"containers": [{"$patch": "merge"}]}}),
    )
    .expect_err("merge directive in a list");
    assert_eq!(
        err.detail(),
        "merging lists cannot yet be specified in the patch"
    );
    let err = smp(
        "Pod",
        &target,
        json!({"metadata": {"labels": {"$patch": "merge"}}}),
    )
    .expect_err("merge directive in a map");
    assert_eq!(
        err.detail(),
        "unknown patch type: merge in map: map[$patch:merge]"
    );
    assert_eq!(err.code(), 500);
}

#[test]
fn retain_keys_clears_unlisted_members() {
    let target = json!({
        "kind": "Deployment",
        "spec": {"strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
        }}
    });
    let out = smp(
        "Deployment",
        &target,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
    )
    .expect("patch applies");
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));

    let err = smp(
        "Deployment",
        &target,
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
    )
    .expect_err("patch sets a member outside the list");
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of retainKeys".to_string())
    );
}

#[test]
fn retain_keys_in_a_volume() {
    let target = json!({"spec": {"containers": [], "volumes": [
        {"name": "data", "emptyDir": {}},
        {"name": "conf", "configMap": {"name": "c"}}
    ]}});
    let out = smp(
        "Pod",
        &target,
        json!({"spec": {"volumes": [
            {"name": "data", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/d"}}
        ]}}),
    )
    .expect("patch applies");
    let volumes = out["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(volumes.contains(&json!({"name": "data", "hostPath": {"path": "/d"}})));
    assert!(volumes.contains(&json!({"name": "conf", "configMap": {"name": "c"}})));
    assert_eq!(volumes.len(), 2);
}

#[test]
fn delete_from_primitive_list_finalizers() {
    let target = pod(json!([]));
    let out = smp(
        "Pod",
        &target,
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["y", "absent"]}}),
    )
    .expect("patch applies");
    assert_eq!(out["metadata"]["finalizers"], json!(["x", "z"]));

    let err = smp(
        "Pod",
        &target,
        json!({"metadata": {"$deleteFromPrimitiveList": ["y"]}}),
    )
    .expect_err("no field name");
    assert_eq!(
        err,
        PatchError::BadRequest("invalid patch format of primitive list".to_string())
    );
}

#[test]
fn set_element_order_orders_a_merging_list() {
    let target = pod(json!([
        {"name": "a", "image": "x"},
        {"name": "b", "image": "y"},
        {"name": "c", "image": "z"}
    ]));
    let out = smp(
        "Pod",
        &target,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "x2"}]
        }}),
    )
    .expect("patch applies");
    assert_eq!(names(&out["spec"]["containers"], "name"), ["c", "a", "b"]);
    assert_eq!(out["spec"]["containers"][1]["image"], "x2");
    assert!(out["spec"].get("$setElementOrder/containers").is_none());
}

#[test]
fn set_element_order_places_new_elements_and_primitives() {
    let target = pod(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
    let out = smp(
        "Pod",
        &target,
        json!({
            "metadata": {"$setElementOrder/finalizers": ["z", "w", "x", "y"], "finalizers": ["w"]},
            "spec": {
                "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}, {"name": "new"}],
                "containers": [{"name": "new", "image": "n"}]
            }
        }),
    )
    .expect("patch applies");
    assert_eq!(names(&out["spec"]["containers"], "name"), ["a", "b", "new"]);
    assert_eq!(out["metadata"]["finalizers"], json!(["z", "w", "x", "y"]));
}

#[test]
fn set_element_order_must_agree_with_the_patch() {
    let target = pod(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
    let err = smp(
        "Pod",
        &target,
        json!({"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "y2"}, {"name": "a", "image": "x2"}]
        }}),
    )
    .expect_err("order mismatch");
    assert_eq!(err.code(), 500);
    assert!(
        err.detail().starts_with("The order in patch list:"),
        "{err}"
    );
}
