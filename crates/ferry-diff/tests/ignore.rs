//! `ignoreDifferences`: rule matching, JSON pointers, jq path expressions, managed fields, the
//! controller-wide defaults format, fingerprints, and comparisons that are in sync only because
//! of a rule.

use ferry_diff::ignore::MAX_JQ_PATHS;
use ferry_diff::{
    IgnoreError, IgnoreRule, IgnoreRules, IgnoreWarning, compare, parse_default_rule,
    parse_default_rules,
};
use ferry_fieldpath::{Schema, Untyped};
use ferry_kube_builtin::BuiltinSchema;
use serde_json::{Value, json};

fn rule(group: &str, kind: &str) -> IgnoreRule {
    IgnoreRule {
        group: group.into(),
        kind: kind.into(),
        ..IgnoreRule::default()
    }
}

fn pointers(mut r: IgnoreRule, p: &[&str]) -> IgnoreRule {
    r.json_pointers = p.iter().map(|s| (*s).to_owned()).collect();
    r
}

fn jq(mut r: IgnoreRule, e: &[&str]) -> IgnoreRule {
    r.jq_path_expressions = e.iter().map(|s| (*s).to_owned()).collect();
    r
}

fn managers(mut r: IgnoreRule, m: &[&str]) -> IgnoreRule {
    r.managed_fields_managers = m.iter().map(|s| (*s).to_owned()).collect();
    r
}

fn rules(list: Vec<IgnoreRule>) -> IgnoreRules {
    IgnoreRules::new(list).expect("valid rules")
}

/// `obj` normalised by the rules that apply to it (read from its own apiVersion, kind and
/// metadata), with its own managedFields and the built-in schema of its kind.
fn normalized(rules: &IgnoreRules, obj: &Value) -> Value {
    let mut out = obj.clone();
    let managed = obj.pointer("/metadata/managedFields").cloned();
    let warnings = rules
        .for_resource(obj)
        .normalize(&mut out, managed.as_ref(), &schema_of(obj));
    assert!(warnings.is_empty(), "{warnings:?}");
    out
}

fn schema_of(obj: &Value) -> BuiltinSchema {
    let api = obj["apiVersion"].as_str().unwrap_or("");
    let group = api.rsplit_once('/').map_or("", |(g, _)| g);
    BuiltinSchema::for_kind(group, obj["kind"].as_str().unwrap_or(""))
}

fn deployment(namespace: &str, name: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace,
                     "annotations": {"example.com/hash": "abc", "keep": "yes"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "main", "image": "app:1"},
            {"name": "sidecar", "image": "proxy:7"},
        ]}}},
    })
}

// === matching ===

#[test]
fn group_and_kind_match_exactly_or_by_glob() {
    let obj = deployment("prod", "web");
    let cases = [
        (rule("apps", "Deployment"), true),
        (rule("*", "Deployment"), true),
        (rule("apps", "*"), true),
        (rule("*", "*"), true),
        (rule("", "Deployment"), false),
        (rule("apps", "StatefulSet"), false),
        (rule("batch", "*"), false),
        (rule("ap*", "Deploy*"), true),
    ];
    for (r, applies) in cases {
        let label = format!("{}/{}", r.group, r.kind);
        let rules = rules(vec![pointers(r, &["/spec/replicas"])]);
        assert_eq!(
            !rules.for_resource(&obj).is_empty(),
            applies,
            "rule {label}"
        );
        assert_eq!(
            normalized(&rules, &obj).pointer("/spec/replicas").is_none(),
            applies,
            "rule {label}"
        );
    }
    // The core group is the empty group.
    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"clusterIP": "10.0.0.1"}});
    let core = rules(vec![pointers(rule("", "Service"), &["/spec/clusterIP"])]);
    assert_eq!(normalized(&core, &service)["spec"], json!(null));
    let apps = rules(vec![pointers(
        rule("apps", "Service"),
        &["/spec/clusterIP"],
    )]);
    assert_eq!(normalized(&apps, &service), service);
}

#[test]
fn name_and_namespace_narrow_a_rule() {
    let mut by_name = pointers(rule("apps", "Deployment"), &["/spec/replicas"]);
    by_name.name = "web".into();
    let mut by_namespace = pointers(rule("apps", "Deployment"), &["/metadata/annotations/keep"]);
    by_namespace.namespace = "prod".into();
    let rules = rules(vec![by_name, by_namespace]);

    let web_prod = normalized(&rules, &deployment("prod", "web"));
    assert!(web_prod.pointer("/spec/replicas").is_none());
    assert!(web_prod.pointer("/metadata/annotations/keep").is_none());

    let api_prod = normalized(&rules, &deployment("prod", "api"));
    assert_eq!(api_prod.pointer("/spec/replicas"), Some(&json!(3)));
    assert!(api_prod.pointer("/metadata/annotations/keep").is_none());

    let web_dev = normalized(&rules, &deployment("dev", "web"));
    assert!(web_dev.pointer("/spec/replicas").is_none());
    assert_eq!(
        web_dev.pointer("/metadata/annotations/keep"),
        Some(&json!("yes"))
    );

    assert!(
        rules
            .for_object("apps", "Deployment", "dev", "api")
            .is_empty()
    );
}

// === JSON pointers ===

#[test]
fn json_pointers_remove_fields_with_escaped_keys_and_list_items() {
    let rules = rules(vec![pointers(
        rule("apps", "Deployment"),
        &[
            "/metadata/annotations/example.com~1hash",
            "/spec/template/spec/containers/1",
            "/spec/missing/field",
        ],
    )]);
    let out = normalized(&rules, &deployment("prod", "web"));
    assert_eq!(
        out["metadata"]["annotations"],
        json!({"keep": "yes"}),
        "the ~1 escape names the key example.com/hash"
    );
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "main", "image": "app:1"}])
    );
}

#[test]
fn ignoring_the_only_annotation_leaves_no_empty_map() {
    let rules = rules(vec![pointers(
        rule("apps", "Deployment"),
        &["/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"],
    )]);
    let mut live = deployment("prod", "web");
    live["spec"]["template"]["metadata"] =
        json!({"annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}});
    let predicted = deployment("prod", "web");
    assert!(!compare(Some(&live), &predicted).in_sync);
    let (live, predicted) = (normalized(&rules, &live), normalized(&rules, &predicted));
    assert!(live.pointer("/spec/template/metadata").is_none(), "{live}");
    assert!(compare(Some(&live), &predicted).in_sync);
}

#[test]
fn invalid_pointers_are_refused_naming_the_rule() {
    let mut bad = pointers(rule("apps", "Deployment"), &["/ok", "spec/replicas"]);
    bad.name = "web".into();
    let err = IgnoreRules::new(vec![rule("", "Service"), bad]).expect_err("invalid pointer");
    assert!(
        matches!(&err, IgnoreError::InvalidPointer { pointer, .. } if pointer == "spec/replicas"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("[1] apps/Deployment"), "{message}");
    assert!(message.contains("\"spec/replicas\""), "{message}");
    assert!(message.contains("must start with '/'"), "{message}");
    let err = IgnoreRules::new(vec![pointers(rule("", "ConfigMap"), &["/data/a~2b"])])
        .expect_err("bad escape");
    assert!(err.to_string().contains("'~' must be followed by"), "{err}");
}

// === jq path expressions ===

#[test]
fn jq_expressions_remove_every_selected_path() {
    let rules = rules(vec![jq(
        rule("apps", "Deployment"),
        &[
            r#".spec.template.spec.containers[] | select(.name == "sidecar") | .image"#,
            r#".metadata.annotations["example.com/hash"]"#,
            ".status?",
        ],
    )]);
    let out = normalized(&rules, &deployment("prod", "web"));
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "main", "image": "app:1"}, {"name": "sidecar"}])
    );
    assert_eq!(out["metadata"]["annotations"], json!({"keep": "yes"}));
}

#[test]
fn jq_removes_list_items_as_one_set_like_jq_del() {
    // jq: `[0,1,2,3] | del(.[0], .[1])` is `[2,3]`; deleting one after the other would give
    // `[1,3]`.
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
                     "data": {"list": "x"}, "items": [0, 1, 2, 3]});
    let rules = rules(vec![jq(rule("", "ConfigMap"), &[".items[0], .items[1]"])]);
    assert_eq!(normalized(&rules, &obj)["items"], json!([2, 3]));
    // Removing whole items selected by content, as in Argo CD's documentation.
    let rules = rules_for_init_containers();
    let mut d = deployment("prod", "web");
    d["spec"]["template"]["spec"]["initContainers"] = json!([
        {"name": "injected-init-container", "image": "i:1"},
        {"name": "migrate", "image": "m:1"},
    ]);
    assert_eq!(
        normalized(&rules, &d)["spec"]["template"]["spec"]["initContainers"],
        json!([{"name": "migrate", "image": "m:1"}])
    );
}

fn rules_for_init_containers() -> IgnoreRules {
    rules(vec![jq(
        rule("apps", "Deployment"),
        &[r#".spec.template.spec.initContainers[] | select(.name == "injected-init-container")"#],
    )])
}

#[test]
fn invalid_jq_is_refused_with_a_clear_message() {
    let err = IgnoreRules::new(vec![jq(
        rule("apps", "Deployment"),
        &[".spec.template.spec.containers[] | select(.name == "],
    )])
    .expect_err("syntax error");
    assert!(matches!(err, IgnoreError::InvalidJq { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(
            "ignoreDifferences rule [0] apps/Deployment: invalid jq path expression \
             \".spec.template.spec.containers[] | select(.name == \": "
        ),
        "{message}"
    );
    assert!(message.contains("expected"), "{message}");

    let err = IgnoreRules::new(vec![jq(rule("*", "*"), &[".spec | frobnicate"])])
        .expect_err("unknown filter");
    assert!(
        err.to_string().contains("undefined filter `frobnicate/0`"),
        "{err}"
    );

    let err = IgnoreRules::new(vec![jq(rule("*", "*"), &["def f: f; f"])]).expect_err("def");
    assert!(err.to_string().contains("`def`"), "{err}");
    let err =
        IgnoreRules::new(vec![jq(rule("*", "*"), &["last(range(1e18))"])]).expect_err("range");
    assert!(err.to_string().contains("`range`"), "{err}");
}

#[test]
fn a_jq_expression_failing_on_one_object_is_a_warning() {
    let rules = rules(vec![
        jq(
            rule("apps", "Deployment"),
            &[".metadata.name.first", ".spec.replicas"],
        ),
        pointers(rule("apps", "Deployment"), &["/metadata/annotations/keep"]),
    ]);
    let mut obj = deployment("prod", "web");
    let warnings = rules.for_resource(&obj).normalize(&mut obj, None, &Untyped);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        matches!(&warnings[0], IgnoreWarning::JqFailed { expression, .. } if expression == ".metadata.name.first")
    );
    assert!(warnings[0].to_string().contains(".metadata.name.first"));
    // The other expression and the other rule still applied.
    assert!(obj.pointer("/spec/replicas").is_none());
    assert!(obj.pointer("/metadata/annotations/keep").is_none());
}

#[test]
fn a_jq_expression_selecting_too_many_paths_is_skipped() {
    let rules = rules(vec![jq(rule("", "ConfigMap"), &[".data[]"])]);
    let data: serde_json::Map<String, Value> = (0..=MAX_JQ_PATHS)
        .map(|i| (format!("k{i}"), json!("v")))
        .collect();
    let mut obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
                         "data": data});
    let before = obj.clone();
    let warnings = rules.for_resource(&obj).normalize(&mut obj, None, &Untyped);
    assert!(matches!(
        warnings.as_slice(),
        [IgnoreWarning::JqTooManyPaths { .. }]
    ));
    assert_eq!(obj, before);
}

// === managedFieldsManagers ===

/// A Deployment as the API server returns it: applied by `ferry`, scaled by the horizontal pod
/// autoscaler (`kube-controller-manager` through the `scale` subresource), a sidecar injected by
/// a webhook's manager, and the deployment controller's revision annotation and status.
fn scaled_live() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": "web", "namespace": "prod", "generation": 4,
            "annotations": {"deployment.kubernetes.io/revision": "2", "team": "a"},
            "managedFields": [
                {"manager": "ferry", "operation": "Apply", "apiVersion": "apps/v1",
                 "time": "2024-05-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:metadata": {"f:annotations": {"f:team": {}}},
                    "f:spec": {"f:selector": {}, "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"main\"}": {
                            ".": {}, "f:image": {}, "f:name": {}}}}}}}},
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                 "subresource": "scale", "time": "2024-05-01T10:05:00Z", "fieldsType": "FieldsV1",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
                 "time": "2024-05-01T10:05:00Z", "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:metadata": {"f:annotations": {".": {}, "f:deployment.kubernetes.io/revision": {}}}}},
                {"manager": "istio-sidecar-injector", "operation": "Update", "apiVersion": "apps/v1",
                 "time": "2024-05-01T10:01:00Z", "fieldsType": "FieldsV1", "fieldsV1": {
                    "f:spec": {"f:template": {"f:spec": {"f:containers": {
                        "k:{\"name\":\"istio-proxy\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
            ],
        },
        "spec": {
            "replicas": 7,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "main", "image": "web:1"},
                    {"name": "istio-proxy", "image": "proxy:1.20"},
                ]},
            },
        },
        "status": {"replicas": 7},
    })
}

/// What a server-side-apply dry run of the Git version (2 replicas, image web:1) answers: Ferry's
/// fields as in Git, other managers' fields kept.
fn scaled_predicted() -> Value {
    let mut p = scaled_live();
    p["spec"]["replicas"] = json!(2);
    p
}

#[test]
fn managed_fields_managers_remove_what_those_managers_own() {
    let rules = rules(vec![managers(
        rule("apps", "Deployment"),
        &["kube-controller-manager", "istio-sidecar-injector"],
    )]);
    let live = scaled_live();
    let out = normalized(&rules, &live);
    // The autoscaler's replicas and the controller's annotation are gone; the annotations map
    // stays for Ferry's annotation although kube-controller-manager created it ("." entry).
    assert!(out.pointer("/spec/replicas").is_none());
    assert_eq!(out["metadata"]["annotations"], json!({"team": "a"}));
    // The injected container is gone as a whole; Ferry's container stays.
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"],
        json!([{"name": "main", "image": "web:1"}])
    );
    assert_eq!(out["spec"]["selector"], live["spec"]["selector"]);
}

#[test]
fn managed_fields_come_from_the_live_object_for_both_sides() {
    let rules = rules(vec![managers(rule("*", "*"), &["kube-controller-manager"])]);
    let mut live = scaled_live();
    // The dry run answer carries its own managedFields (Ferry now owns replicas there); the
    // live object's list is the one that counts.
    let mut predicted = scaled_predicted();
    predicted["metadata"]["managedFields"] = json!([]);
    let schema = BuiltinSchema::for_kind("apps", "Deployment");
    let applicable = rules.for_resource(&live);
    let warnings = applicable.normalize_both(Some(&mut live), &mut predicted, &schema);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert!(live.pointer("/spec/replicas").is_none());
    assert!(predicted.pointer("/spec/replicas").is_none());
    assert!(compare(Some(&live), &predicted).in_sync);
}

#[test]
fn managed_fields_need_the_schema_to_find_keyed_list_items() {
    let rules = rules(vec![managers(
        rule("apps", "Deployment"),
        &["istio-sidecar-injector"],
    )]);
    let live = scaled_live();
    let managed = live.pointer("/metadata/managedFields").cloned();
    let applicable = rules.for_resource(&live);
    let mut untyped = live.clone();
    let _ = applicable.normalize(&mut untyped, managed.as_ref(), &Untyped);
    // Without the list's key the item cannot be found: nothing is removed.
    assert_eq!(untyped["spec"]["template"], live["spec"]["template"]);
    let mut typed = live.clone();
    let schema: &dyn Schema = &BuiltinSchema::for_kind("apps", "Deployment");
    let _ = applicable.normalize(&mut typed, managed.as_ref(), schema);
    assert_eq!(
        typed["spec"]["template"]["spec"]["containers"],
        json!([{"name": "main", "image": "web:1"}])
    );
}

// === comparisons in sync because of a rule ===

#[test]
fn autoscaled_replicas_are_in_sync_only_with_the_rule() {
    let live = scaled_live();
    let predicted = scaled_predicted();
    assert!(!compare(Some(&live), &predicted).in_sync);

    for (name, rule, in_sync) in [
        (
            "managers",
            managers(rule("apps", "Deployment"), &["kube-controller-manager"]),
            true,
        ),
        (
            "pointer",
            pointers(rule("apps", "Deployment"), &["/spec/replicas"]),
            true,
        ),
        (
            "jq",
            jq(rule("apps", "Deployment"), &[".spec.replicas"]),
            true,
        ),
        (
            "other manager",
            managers(rule("apps", "Deployment"), &["istio-sidecar-injector"]),
            false,
        ),
        (
            "other kind",
            pointers(rule("apps", "StatefulSet"), &["/spec/replicas"]),
            false,
        ),
        (
            "other name",
            IgnoreRule {
                name: "api".into(),
                ..pointers(rule("apps", "Deployment"), &["/spec/replicas"])
            },
            false,
        ),
    ] {
        let rules = rules(vec![rule]);
        let mut live = scaled_live();
        let mut predicted = scaled_predicted();
        let schema = BuiltinSchema::for_kind("apps", "Deployment");
        let warnings =
            rules
                .for_resource(&live)
                .normalize_both(Some(&mut live), &mut predicted, &schema);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        let diff = compare(Some(&live), &predicted);
        assert_eq!(diff.in_sync, in_sync, "{name}:\n{}", diff.unified);
    }
}

#[test]
fn a_mutated_sidecar_image_is_in_sync_only_with_the_jq_rule() {
    let mut live = deployment("prod", "web");
    live["spec"]["template"]["spec"]["containers"][1]["image"] = json!("proxy:8");
    let predicted = deployment("prod", "web");
    let diff = compare(Some(&live), &predicted);
    assert!(!diff.in_sync);
    assert!(diff.unified.contains("proxy:8"), "{}", diff.unified);

    let rules = rules(vec![jq(
        rule("apps", "Deployment"),
        &[r#".spec.template.spec.containers[] | select(.name == "sidecar") | .image"#],
    )]);
    let diff = compare(
        Some(&normalized(&rules, &live)),
        &normalized(&rules, &predicted),
    );
    assert!(diff.in_sync, "{}", diff.unified);

    // A change elsewhere still shows.
    let mut changed = predicted.clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
    let diff = compare(
        Some(&normalized(&rules, &live)),
        &normalized(&rules, &changed),
    );
    assert!(!diff.in_sync);
    assert!(diff.unified.contains("app:2"), "{}", diff.unified);
    assert!(!diff.unified.contains("proxy"), "{}", diff.unified);
}

// === controller-wide defaults ===

#[test]
fn defaults_config_is_read_as_argo_cd_reads_argocd_cm() {
    let data = [
        (
            "resource.customizations.ignoreDifferences.all",
            "managedFieldsManagers:\n- kube-controller-manager\njsonPointers:\n- /spec/replicas\n",
        ),
        (
            "resource.customizations.ignoreDifferences.apps_Deployment",
            "jqPathExpressions:\n- '.spec.template.spec.containers[] | select(.name == \"sidecar\") | .image'\n",
        ),
        (
            "resource.customizations.ignoreDifferences.Service",
            "jsonPointers: [/spec/clusterIP]\nunknownField: ignored\n",
        ),
        (
            "resource.customizations.health.apps_Deployment",
            "not: ours",
        ),
        ("url", "https://ferry.example.com"),
    ];
    let defaults = parse_default_rules(data).expect("valid defaults");
    let keys: Vec<(&str, &str)> = defaults
        .iter()
        .map(|r| (r.group.as_str(), r.kind.as_str()))
        .collect();
    assert_eq!(keys, [("", "Service"), ("apps", "Deployment"), ("*", "*")]);
    assert_eq!(defaults[0].json_pointers, ["/spec/clusterIP"]);
    assert_eq!(
        defaults[1].jq_path_expressions,
        [r#".spec.template.spec.containers[] | select(.name == "sidecar") | .image"#]
    );
    assert_eq!(
        defaults[2].managed_fields_managers,
        ["kube-controller-manager"]
    );
    assert_eq!(defaults[2].json_pointers, ["/spec/replicas"]);

    // Application rules first, then the defaults: all of them apply to a Deployment.
    let mut app = pointers(rule("apps", "Deployment"), &["/metadata/annotations/keep"]);
    app.name = "web".into();
    let rules = rules(std::iter::once(app).chain(defaults).collect());
    let applicable = rules.for_object("apps", "Deployment", "prod", "web");
    assert_eq!(
        applicable.managed_fields_managers(),
        ["kube-controller-manager"]
    );
    let out = normalized(&rules, &deployment("prod", "web"));
    assert!(out.pointer("/spec/replicas").is_none());
    assert!(out.pointer("/metadata/annotations/keep").is_none());
    assert_eq!(
        out["spec"]["template"]["spec"]["containers"][1],
        json!({"name": "sidecar"})
    );

    let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                         "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80}]}});
    assert_eq!(
        normalized(&rules, &service)["spec"],
        json!({"ports": [{"port": 80}]})
    );
}

#[test]
fn defaults_entries_are_checked() {
    let rule =
        parse_default_rule("apps_Deployment", "jsonPointers: [/spec/replicas]").expect("valid");
    assert_eq!(
        rule,
        pointers(self::rule("apps", "Deployment"), &["/spec/replicas"])
    );
    let err = parse_default_rules([(
        "resource.customizations.ignoreDifferences.a_b_C",
        "jsonPointers: []",
    )])
    .expect_err("two underscores");
    assert!(
        err.to_string()
            .starts_with("resource.customizations.ignoreDifferences.a_b_C: "),
        "{err}"
    );
    let err = parse_default_rules([(
        "resource.customizations.ignoreDifferences.Service",
        "jsonPointers: [",
    )])
    .expect_err("bad yaml");
    assert!(
        matches!(err, IgnoreError::InvalidDefaults { .. }),
        "{err:?}"
    );
}

// === rule format and fingerprint ===

#[test]
fn rules_read_argo_cd_field_names() {
    let rule: IgnoreRule = serde_json::from_value(json!({
        "group": "apps", "kind": "Deployment", "name": "web", "namespace": "prod",
        "jsonPointers": ["/spec/replicas"],
        "jqPathExpressions": [".spec.template.spec.initContainers[]"],
        "managedFieldsManagers": ["kube-controller-manager"],
    }))
    .expect("Argo CD's ResourceIgnoreDifferences");
    assert_eq!(rule.json_pointers, ["/spec/replicas"]);
    assert_eq!(rule.jq_path_expressions.len(), 1);
    assert_eq!(rule.managed_fields_managers, ["kube-controller-manager"]);
    assert_eq!(
        serde_json::to_value(&rule).expect("serialises")["managedFieldsManagers"],
        json!(["kube-controller-manager"])
    );
}

#[test]
fn fingerprint_is_stable_and_changes_with_the_rules() {
    let a = || {
        vec![
            pointers(rule("apps", "Deployment"), &["/spec/replicas"]),
            managers(rule("*", "*"), &["kube-controller-manager"]),
        ]
    };
    let first = rules(a());
    assert_eq!(first.fingerprint(), rules(a()).fingerprint());
    assert_eq!(first.fingerprint().len(), 64);
    assert!(first.fingerprint().bytes().all(|b| b.is_ascii_hexdigit()));

    let mut changed = a();
    changed[0].json_pointers.push("/spec/paused".into());
    assert_ne!(first.fingerprint(), rules(changed).fingerprint());
    let mut reordered = a();
    reordered.reverse();
    assert_ne!(first.fingerprint(), rules(reordered).fingerprint());
    let empty = rules(Vec::new());
    assert!(empty.is_empty());
    assert_ne!(first.fingerprint(), empty.fingerprint());
    assert_eq!(
        empty.fingerprint(),
        IgnoreRules::new([]).expect("empty").fingerprint()
    );
}
