//! Checks against recorded answers of a real 1.24 API server (fixtures extracted from
//! `/work/shared/k8s-transcripts`) and against the 1.24 Go type tags.

use ferry_fieldpath::{ListType, Schema};
use ferry_kube_builtin::{
    BuiltinSchema, apply_scheme_defaults, has_generation, has_status_subresource, needs_cluster_ip,
    prepare_for_create, prepare_for_update, type_check, zero_value_paths,
};
use serde_json::{Value, json};

fn fixtures() -> Value {
    serde_json::from_str(include_str!("transcripts.json")).expect("fixture parses")
}

fn create(group: &str, version: &str, kind: &str, mut obj: Value) -> Value {
    type_check(group, kind, &obj).expect("request type checks");
    apply_scheme_defaults(group, version, kind, &mut obj);
    prepare_for_create(group, kind, &mut obj);
    obj
}

#[test]
fn deployment_from_apply_request_matches_recorded_response() {
    let fx = fixtures();
    let obj = create("apps", "v1", "Deployment", fx["request"].clone());
    assert_eq!(obj["spec"], fx["response"]["spec"]);
    assert_eq!(obj["status"], fx["response"]["status"]);
    assert_eq!(obj["metadata"]["generation"], json!(1));
}

#[test]
fn defaults_are_idempotent() {
    let fx = fixtures();
    let mut once = fx["request"].clone();
    apply_scheme_defaults("apps", "v1", "Deployment", &mut once);
    let mut twice = once.clone();
    apply_scheme_defaults("apps", "v1", "Deployment", &mut twice);
    assert_eq!(once, twice);
}

#[test]
fn namespace_create() {
    let fx = fixtures();
    let obj = create("", "v1", "Namespace", fx["namespace_request"].clone());
    let want = &fx["namespace_response"];
    assert_eq!(obj["spec"], want["spec"]);
    assert_eq!(obj["status"], want["status"]);
    assert_eq!(obj["metadata"]["labels"], want["metadata"]["labels"]);
    assert!(obj["metadata"].get("generation").is_none());
}

#[test]
fn crd_create() {
    let fx = fixtures();
    let obj = create(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        fx["crd_request"].clone(),
    );
    let want = &fx["crd_response"];
    assert_eq!(obj["spec"], want["spec"]);
    assert_eq!(obj["status"], want["status"]);
    assert_eq!(obj["metadata"]["generation"], json!(1));
    let paths = zero_value_paths("apiextensions.k8s.io", "CustomResourceDefinition");
    assert!(paths.contains(&&["spec"][..]) && paths.contains(&&["spec", "names"][..]));
    assert!(!paths.contains(&&["spec", "conversion"][..]));
}

#[test]
fn rolebinding_and_self_subject_access_review() {
    let fx = fixtures();
    let obj = create(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        fx["rolebinding_request"].clone(),
    );
    assert_eq!(obj["roleRef"], fx["rolebinding_response"]["roleRef"]);
    assert_eq!(obj["subjects"], fx["rolebinding_response"]["subjects"]);
    let mut ssar = fx["ssar_request"].clone();
    apply_scheme_defaults(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        &mut ssar,
    );
    assert_eq!(ssar["spec"], fx["ssar_response"]["spec"]);
    assert_eq!(ssar["status"], json!({"allowed": false}));
    assert_eq!(ssar["metadata"]["creationTimestamp"], Value::Null);
    assert!(
        zero_value_paths("authorization.k8s.io", "SelfSubjectAccessReview")
            .contains(&&["spec"][..])
    );
    assert!(
        zero_value_paths("rbac.authorization.k8s.io", "RoleBinding").contains(&&["roleRef"][..])
    );
}

fn keyed(keys: &[&str]) -> Option<ListType> {
    Some(ListType::map(keys))
}

#[test]
fn list_and_map_types() {
    let d = BuiltinSchema::for_kind("apps", "Deployment");
    let pod = ["spec", "template", "spec"];
    let at = |rest: &[&'static str]| -> Vec<&'static str> {
        pod.iter().copied().chain(rest.iter().copied()).collect()
    };
    assert_eq!(d.list_type(&at(&["containers"])), keyed(&["name"]));
    assert_eq!(d.list_type(&at(&["initContainers"])), keyed(&["name"]));
    assert_eq!(
        d.list_type(&at(&["containers", "[]", "ports"])),
        Some(ListType::Map {
            keys: vec!["containerPort".into(), "protocol".into()],
            key_defaults: vec![("protocol".into(), json!("TCP"))],
        })
    );
    assert_eq!(
        d.list_type(&at(&["containers", "[]", "env"])),
        keyed(&["name"])
    );
    assert_eq!(
        d.list_type(&at(&["containers", "[]", "volumeMounts"])),
        keyed(&["mountPath"])
    );
    assert_eq!(
        d.list_type(&at(&["containers", "[]", "args"])),
        Some(ListType::Atomic)
    );
    assert_eq!(d.list_type(&at(&["tolerations"])), Some(ListType::Atomic));
    assert_eq!(d.list_type(&at(&["volumes"])), keyed(&["name"]));
    assert_eq!(
        d.list_type(&at(&["topologySpreadConstraints"])),
        keyed(&["topologyKey", "whenUnsatisfiable"])
    );
    assert_eq!(d.list_type(&at(&["imagePullSecrets"])), keyed(&["name"]));
    assert!(d.is_atomic_map(&at(&["imagePullSecrets", "[]"])));
    assert!(d.is_atomic_map(&at(&["nodeSelector"])));
    assert!(d.is_atomic_map(&["spec", "selector"]));
    assert!(!d.is_atomic_map(&["spec", "template", "metadata", "labels"]));
    assert!(!d.is_atomic_map(&at(&["containers", "[]", "resources", "limits"])));
    assert_eq!(
        d.list_type(&["metadata", "finalizers"]),
        Some(ListType::Set)
    );
    assert_eq!(
        d.list_type(&["metadata", "ownerReferences"]),
        keyed(&["uid"])
    );
    assert!(d.is_atomic_map(&["metadata", "ownerReferences", "[]"]));
    assert_eq!(
        d.list_type(&["metadata", "managedFields"]),
        Some(ListType::Atomic)
    );
    assert_eq!(d.list_type(&["status", "conditions"]), keyed(&["type"]));
    assert_eq!(d.list_type(&["spec", "replicas"]), None);

    let cron = BuiltinSchema::for_kind("batch", "CronJob");
    let path = [
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
    ];
    assert_eq!(cron.list_type(&path), keyed(&["name"]));
    assert!(cron.is_atomic_map(&["spec", "jobTemplate", "spec", "selector"]));
    let job = BuiltinSchema::for_kind("batch", "Job");
    assert_eq!(
        job.list_type(&["status", "conditions"]),
        Some(ListType::Atomic)
    );
    let tpl = BuiltinSchema::for_kind("", "PodTemplate");
    assert_eq!(
        tpl.list_type(&["template", "spec", "containers"]),
        keyed(&["name"])
    );

    let svc = BuiltinSchema::for_kind("", "Service");
    assert_eq!(
        svc.list_type(&["spec", "ports"]),
        Some(ListType::Map {
            keys: vec!["port".into(), "protocol".into()],
            key_defaults: vec![("protocol".into(), json!("TCP"))],
        })
    );
    assert_eq!(
        svc.list_type(&["spec", "clusterIPs"]),
        Some(ListType::Atomic)
    );
    assert_eq!(
        svc.list_type(&["spec", "ipFamilies"]),
        Some(ListType::Atomic)
    );
    assert!(svc.is_atomic_map(&["spec", "selector"]));

    let role = BuiltinSchema::for_kind("rbac.authorization.k8s.io", "Role");
    assert_eq!(role.list_type(&["rules"]), Some(ListType::Atomic));
    let rb = BuiltinSchema::for_kind("rbac.authorization.k8s.io", "ClusterRoleBinding");
    assert_eq!(rb.list_type(&["subjects"]), Some(ListType::Atomic));
    assert!(rb.is_atomic_map(&["roleRef"]));

    let crd = BuiltinSchema::for_kind("apiextensions.k8s.io", "CustomResourceDefinition");
    assert_eq!(crd.list_type(&["spec", "versions"]), Some(ListType::Atomic));
    assert_eq!(
        crd.list_type(&["spec", "names", "shortNames"]),
        Some(ListType::Atomic)
    );
    assert_eq!(crd.list_type(&["status", "conditions"]), keyed(&["type"]));

    let cm = BuiltinSchema::for_kind("core", "ConfigMap");
    assert!(cm.is_known() && !cm.is_atomic_map(&["data"]));
    let unknown = BuiltinSchema::for_kind("demo.ferry.test", "Widget");
    assert!(!unknown.is_known());
    assert_eq!(unknown.list_type(&["spec", "items"]), None);
}

#[test]
fn type_check_catches_wrong_types() {
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad"},
        "spec": {"replicas": "many"}});
    let err = type_check("apps", "Deployment", &bad).expect_err("replicas is not numeric");
    assert_eq!(
        err.to_string(),
        ".spec.replicas: expected numeric (int or float), got string"
    );
    assert_eq!(
        (err.path.as_str(), err.expected, err.got),
        (".spec.replicas", "numeric (int or float)", "string")
    );

    let labels = json!({"metadata": {"name": "x", "labels": {"a": 1}}});
    let err = type_check("", "ConfigMap", &labels).expect_err("label values are strings");
    assert_eq!(
        err.to_string(),
        ".metadata.labels.a: expected string, got int64"
    );
    let data = json!({"data": ["a"]});
    assert_eq!(
        type_check("", "ConfigMap", &data)
            .expect_err("data is a map")
            .expected,
        "map"
    );

    let image =
        json!({"spec": {"template": {"spec": {"containers": [{"name": "main", "image": 5}]}}}});
    let err = type_check("apps", "Deployment", &image).expect_err("image is a string");
    assert_eq!(
        err.path,
        ".spec.template.spec.containers[name=\"main\"].image"
    );
    let containers = json!({"spec": {"containers": {"name": "main"}}});
    assert_eq!(
        type_check("", "Pod", &containers)
            .expect_err("containers is a list")
            .expected,
        "list"
    );
    let port = json!({"spec": {"ports": [{"port": "http"}]}});
    assert!(type_check("", "Service", &port).is_err());
    let ok = json!({"spec": {"ports": [{"port": 80, "targetPort": "http"}], "selector": null}});
    assert!(type_check("", "Service", &ok).is_ok());
    assert!(type_check("demo.ferry.test", "Widget", &json!({"spec": 1})).is_ok());
}

#[test]
fn update_keeps_status_and_bumps_generation_on_spec_change() {
    let fx = fixtures();
    let old = create("apps", "v1", "Deployment", fx["request"].clone());
    let mut old_with_status = old.clone();
    old_with_status["status"] = json!({"observedGeneration": 1});

    let mut same = fx["request"].clone();
    same["metadata"]["labels"] = json!({"x": "y"});
    same["status"] = json!({"replicas": 99});
    apply_scheme_defaults("apps", "v1", "Deployment", &mut same);
    prepare_for_update("apps", "Deployment", &old_with_status, &mut same);
    assert_eq!(same["status"], json!({"observedGeneration": 1}));
    assert_eq!(same["metadata"]["generation"], json!(1));

    let mut scaled = fx["request"].clone();
    scaled["spec"]["replicas"] = json!(3);
    apply_scheme_defaults("apps", "v1", "Deployment", &mut scaled);
    prepare_for_update("apps", "Deployment", &old_with_status, &mut scaled);
    assert_eq!(scaled["metadata"]["generation"], json!(2));

    let ns_old = json!({"metadata": {"name": "n"}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
    let mut ns_new = json!({"metadata": {"name": "n"}, "spec": {}});
    prepare_for_update("", "Namespace", &ns_old, &mut ns_new);
    assert_eq!(ns_new["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns_new["status"], json!({"phase": "Active"}));
}

#[test]
fn pods_services_and_workloads() {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox",
            "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]}});
    let pod = create("", "v1", "Pod", pod);
    let c = &pod["spec"]["containers"][0];
    assert_eq!(c["imagePullPolicy"], json!("Always"));
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "500m", "memory": "64Mi"})
    );
    assert_eq!(pod["spec"]["enableServiceLinks"], json!(true));
    assert_eq!(pod["spec"]["serviceAccountName"], json!("default"));
    assert_eq!(pod["spec"]["tolerations"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        pod["status"],
        json!({"phase": "Pending", "qosClass": "Guaranteed"})
    );

    let svc = json!({"spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}});
    let svc = create("", "v1", "Service", svc);
    assert_eq!(
        svc["spec"]["ports"][0],
        json!({"port": 80, "protocol": "TCP", "targetPort": 80})
    );
    assert_eq!(svc["spec"]["type"], json!("ClusterIP"));
    assert_eq!(svc["spec"]["sessionAffinity"], json!("None"));
    assert_eq!(svc["spec"]["ipFamilyPolicy"], json!("SingleStack"));
    assert_eq!(svc["spec"]["ipFamilies"], json!(["IPv4"]));
    assert_eq!(svc["spec"]["internalTrafficPolicy"], json!("Cluster"));
    assert_eq!(svc["status"], json!({"loadBalancer": {}}));
    assert!(needs_cluster_ip(&svc));

    let sts = create(
        "apps",
        "v1",
        "StatefulSet",
        json!({"spec": {"template": {"spec": {"containers": []}}}}),
    );
    assert_eq!(
        sts["spec"]["updateStrategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
    );
    assert_eq!(sts["spec"]["podManagementPolicy"], json!("OrderedReady"));
    let ds = create("apps", "v1", "DaemonSet", json!({"spec": {}}));
    assert_eq!(
        ds["spec"]["updateStrategy"]["rollingUpdate"],
        json!({"maxUnavailable": 1, "maxSurge": 0})
    );
    let job = json!({"metadata": {"name": "j", "uid": "u-1"}, "spec": {"template": {"metadata": {"labels": {"a": "b"}}}}});
    let job = create("batch", "v1", "Job", job);
    assert_eq!(job["spec"]["completions"], json!(1));
    assert_eq!(job["spec"]["backoffLimit"], json!(6));
    assert_eq!(job["metadata"]["labels"], json!({"a": "b"}));
    assert_eq!(
        job["spec"]["selector"]["matchLabels"],
        json!({"controller-uid": "u-1"})
    );
    let cron = create(
        "batch",
        "v1",
        "CronJob",
        json!({"spec": {"schedule": "* * * * *"}}),
    );
    assert_eq!(cron["spec"]["concurrencyPolicy"], json!("Allow"));
    assert_eq!(
        cron["spec"]["jobTemplate"]["spec"]["template"]["metadata"],
        json!({"creationTimestamp": null})
    );
    let secret = create("", "v1", "Secret", json!({"metadata": {"name": "s"}}));
    assert_eq!(secret["type"], json!("Opaque"));

    assert!(
        has_generation("apps", "Deployment")
            && has_generation("apiextensions.k8s.io", "CustomResourceDefinition")
    );
    assert!(
        !has_generation("", "ConfigMap")
            && !has_generation("", "Pod")
            && !has_generation("", "Service")
    );
    assert!(
        has_status_subresource("apps", "Deployment") && !has_status_subresource("", "ConfigMap")
    );
}
