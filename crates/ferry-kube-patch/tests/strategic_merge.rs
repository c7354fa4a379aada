//! Strategic merge patch on built-in kinds: merge keys, replaced lists,
//! nulls, and the refusal for custom resources.

use ferry_kube_patch::{PatchError, PatchKind, apply_patch, strategic_merge_patch};
use serde_json::{Value, json};

fn smp(kind: &str, target: &Value, patch: Value) -> Result<Value, PatchError> {
    let body = serde_json::to_vec(&patch).expect("serialises");
    apply_patch(PatchKind::StrategicMerge, Some(kind), target, &body)
}

fn deployment(containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": containers}
            }
        }
    })
}

fn containers(v: &Value) -> &Value {
    &v["spec"]["template"]["spec"]["containers"]
}

#[test]
fn env_is_added_to_the_container_named_main() {
    let target = deployment(json!([{"name": "main", "image": "nginx"}]));
    let out = smp(
        "Deployment",
        &target,
        json!({"spec":{"template":{"spec":{"containers":[
            {"name":"main","env":[{"name":"A","value":"1"}]}]}}}}),
    )
    .expect("patch applies");
    assert_eq!(
        containers(&out),
        &json!([{"name": "main", "image": "nginx", "env": [{"name": "A", "value": "1"}]}])
    );
    assert_eq!(out["spec"]["replicas"], 1);
    assert_eq!(out["metadata"], target["metadata"]);
}

#[test]
fn json_merge_patch_of_the_same_body_replaces_the_list() {
    // The contrast that makes the strategic test meaningful.
    let target = deployment(json!([{"name": "main", "image": "nginx"}]));
    let body = br#"{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"A","value":"1"}]}]}}}}"#;
    let out = apply_patch(PatchKind::Merge, Some("Deployment"), &target, body).expect("applies");
    assert_eq!(containers(&out)[0].get("image"), None);
}

#[test]
fn env_entries_merge_by_name_and_null_deletes_a_member() {
    let target = deployment(json!([{
        "name": "main",
        "image": "nginx",
        "imagePullPolicy": "Always",
        "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    }]));
    let out = smp(
        "Deployment",
        &target,
        json!({"spec":{"template":{"spec":{"containers":[
            {"name":"main","imagePullPolicy":null,"env":[{"name":"B","value":"20"}]}]}}}}),
    )
    .expect("patch applies");
    assert_eq!(
        containers(&out),
        &json!([{
            "name": "main",
            "image": "nginx",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "20"}]
        }])
    );
}

#[test]
fn list_without_strategy_is_replaced() {
    let target = json!({
        "kind": "Pod",
        "spec": {
            "containers": [{"name": "main", "image": "nginx", "args": ["a", "b"]}],
            "tolerations": [{"key": "k1", "operator": "Exists"}, {"key": "k2", "operator": "Exists"}]
        }
    });
    let out = smp(
        "Pod",
        &target,
        json!({"spec": {
            "tolerations": [{"key": "k3", "operator": "Exists"}],
            "containers": [{"name": "main", "args": ["c"]}]
        }}),
    )
    .expect("patch applies");
    assert_eq!(
        out["spec"]["tolerations"],
        json!([{"key": "k3", "operator": "Exists"}])
    );
    assert_eq!(
        out["spec"]["containers"],
        json!([{"name": "main", "image": "nginx", "args": ["c"]}])
    );
}

#[test]
fn new_elements_come_before_untouched_server_elements() {
    // The API server's order without $setElementOrder: patched elements in
    // patch order, new ones ahead of the server-only elements.
    let target = deployment(json!([{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]));
    let out = smp(
        "Deployment",
        &target,
        json!({"spec":{"template":{"spec":{"containers":[{"name":"c","image":"z"}]}}}}),
    )
    .expect("patch applies");
    let names: Vec<&str> = containers(&out)
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["c", "a", "b"]);
}

#[test]
fn pod_templates_of_every_workload_use_the_table() {
    let container_patch =
        json!({"containers": [{"name": "main", "env": [{"name": "A", "value": "1"}]}]});
    let base = json!({"containers": [{"name": "main", "image": "nginx"}]});
    let cases: Vec<(&str, Value, Value)> = vec![
        (
            "Pod",
            json!({"spec": base}),
            json!({"spec": container_patch}),
        ),
        (
            "PodTemplate",
            json!({"template": {"spec": base}}),
            json!({"template": {"spec": container_patch}}),
        ),
        (
            "CronJob",
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": base}}}}}),
            json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": container_patch}}}}}),
        ),
        (
            "StatefulSet",
            json!({"spec": {"template": {"spec": base}}}),
            json!({"spec": {"template": {"spec": container_patch}}}),
        ),
        (
            "Job",
            json!({"spec": {"template": {"spec": base}}}),
            json!({"spec": {"template": {"spec": container_patch}}}),
        ),
    ];
    for (kind, target, patch) in cases {
        let out = smp(kind, &target, patch).expect(kind);
        let text = out.to_string();
        assert!(text.contains("\"image\":\"nginx\""), "{kind}: {text}");
        assert!(text.contains("\"env\":[{\"name\":\"A\""), "{kind}: {text}");
    }
}

#[test]
fn service_ports_merge_by_port_and_conditions_by_type() {
    let target = json!({
        "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]},
        "status": {"conditions": [{"type": "A", "status": "True"}]}
    });
    let out = smp(
        "Service",
        &target,
        json!({
            "spec": {"ports": [{"port": 443, "targetPort": 8443}]},
            "status": {"conditions": [{"type": "A", "status": "False"}, {"type": "B", "status": "True"}]}
        }),
    )
    .expect("patch applies");
    assert_eq!(
        out["spec"]["ports"],
        json!([{"port": 80, "name": "http"}, {"port": 443, "name": "https", "targetPort": 8443}])
    );
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "A", "status": "False"}, {"type": "B", "status": "True"}])
    );
}

#[test]
fn metadata_lists_merge_for_any_built_in_kind() {
    let target = json!({
        "metadata": {
            "finalizers": ["a", "b"],
            "ownerReferences": [{"uid": "1", "name": "x"}]
        },
        "data": {"k": "v"}
    });
    let out = smp(
        "ConfigMap",
        &target,
        json!({"metadata": {
            "finalizers": ["c", "a"],
            "ownerReferences": [{"uid": "2", "name": "y"}]
        }, "data": {"k2": "v2"}}),
    )
    .expect("patch applies");
    let mut finalizers: Vec<&str> = out["metadata"]["finalizers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    finalizers.sort_unstable();
    assert_eq!(finalizers, ["a", "b", "c"]);
    assert_eq!(
        out["metadata"]["ownerReferences"].as_array().map(Vec::len),
        Some(2)
    );
    assert_eq!(out["data"], json!({"k": "v", "k2": "v2"}));
}

#[test]
fn custom_resources_do_not_accept_strategic_merge_patch() {
    let err = apply_patch(PatchKind::StrategicMerge, None, &json!({}), b"{}")
        .expect_err("custom resource");
    assert_eq!(err.code(), 415);
    assert_eq!(err.reason(), "UnsupportedMediaType");
    assert_eq!(
        err.detail(),
        "the body of the request was in an unknown format - accepted media types include: \
         application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    );
}

#[test]
fn bad_bodies_and_missing_merge_keys() {
    let target = deployment(json!([{"name": "main", "image": "nginx"}]));
    let err = apply_patch(
        PatchKind::StrategicMerge,
        Some("Deployment"),
        &target,
        b"[1]",
    )
    .expect_err("array body");
    assert_eq!(
        err,
        PatchError::BadRequest(
            "json: cannot unmarshal array into Go value of type map[string]interface {}"
                .to_string()
        )
    );
    let err = smp(
        "Deployment",
        &target,
        json!({"spec":{"template":{"spec":{"containers":[{"image":"busybox"}]}}}}),
    )
    .expect_err("no merge key");
    assert_eq!(err.code(), 500);
    assert_eq!(
        err.detail(),
        "map: map[image:busybox] does not contain declared merge key: name"
    );
    // Mixed element kinds are a plain error (500); a list of lists is 422.
    let err = smp(
        "Deployment",
        &target,
        json!({"spec":{"template":{"spec":{"containers":[["x"]]}}}}),
    )
    .expect_err("mixed kinds");
    assert_eq!(err.code(), 500);
    let empty = deployment(json!([]));
    let err = smp(
        "Deployment",
        &empty,
        json!({"spec":{"template":{"spec":{"containers":[["x"]]}}}}),
    )
    .expect_err("list of lists");
    assert_eq!(
        err,
        PatchError::Invalid("lists of lists are not supported".to_string())
    );
}

#[test]
fn decoded_patch_entry_point_matches_bytes() {
    let target = deployment(json!([{"name": "main", "image": "nginx"}]));
    let patch = json!({"spec": {"replicas": 3}});
    assert_eq!(
        strategic_merge_patch(&target, &patch, "Deployment"),
        smp("Deployment", &target, patch)
    );
}
