//! Golden cases: what a Kubernetes 1.24 API server answers for the Widget CRD and friends.

use ferry_fieldpath::{ListType, Schema};
use ferry_kube_schema::{Cause, CauseReason, StructuralSchema, full_message};
use serde_json::{Value, json};

fn widget() -> StructuralSchema {
    let v = json!({"type": "object", "properties": {
        "spec": {"type": "object", "required": ["size"], "properties": {
            "color": {"type": "string", "default": "blue"},
            "size": {"type": "integer", "minimum": 1}}},
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}}});
    StructuralSchema::from_value(&v).expect("the widget schema parses")
}

fn widget_obj(spec: Value) -> Value {
    json!({"apiVersion": "demo.ferry.test/v1", "kind": "Widget",
           "metadata": {"name": "w2", "namespace": "default"}, "spec": spec})
}

#[test]
fn widget_defaults_color() {
    let mut obj = widget_obj(json!({"size": 2}));
    let causes = widget().admit(&mut obj);
    assert_eq!(causes, Vec::<Cause>::new());
    assert_eq!(obj["spec"], json!({"size": 2, "color": "blue"}));
    assert_eq!(
        obj["metadata"],
        json!({"name": "w2", "namespace": "default"})
    );
    assert_eq!(obj.get("status"), None, "no status object is created");
}

#[test]
fn widget_size_zero_is_below_minimum() {
    let mut obj = widget_obj(json!({"size": 0}));
    let causes = widget().admit(&mut obj);
    assert_eq!(
        causes,
        [Cause {
            reason: CauseReason::Invalid,
            message: "Invalid value: 0: spec.size in body should be greater than or equal to 1"
                .to_owned(),
            field: "spec.size".to_owned(),
        }]
    );
    assert_eq!(
        serde_json::to_value(&causes[0]).expect("serialises"),
        json!({"reason": "FieldValueInvalid",
               "message": "Invalid value: 0: spec.size in body should be greater than or equal to 1",
               "field": "spec.size"})
    );
    assert_eq!(
        full_message("Widget", "demo.ferry.test", "w2", &causes),
        "Widget.demo.ferry.test \"w2\" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"
    );
}

#[test]
fn widget_missing_size_is_required() {
    let mut obj = widget_obj(json!({}));
    let causes = widget().admit(&mut obj);
    assert_eq!(
        causes,
        [Cause {
            reason: CauseReason::Required,
            message: "Required value".to_owned(),
            field: "spec.size".to_owned(),
        }]
    );
    assert_eq!(obj["spec"], json!({"color": "blue"}));
}

#[test]
fn widget_wrong_type() {
    let causes = widget().validate(&widget_obj(json!({"size": "big"})));
    assert_eq!(
        causes,
        [Cause {
            reason: CauseReason::TypeInvalid,
            message:
                r#"Invalid value: "string": spec.size in body must be of type integer: "string""#
                    .to_owned(),
            field: "spec.size".to_owned(),
        }]
    );
}

#[test]
fn widget_several_causes_are_bracketed() {
    let causes = widget().validate(&widget_obj(json!({"color": 3})));
    assert_eq!(
        full_message("Widget", "demo.ferry.test", "w3", &causes),
        "Widget.demo.ferry.test \"w3\" is invalid: [spec.color: Invalid value: \"integer\": spec.color in body \
         must be of type string: \"integer\", spec.size: Required value]"
    );
}

#[test]
fn widget_prunes_unknown_fields() {
    let mut obj = widget_obj(json!({"size": 1, "shape": "round"}));
    obj["extra"] = json!(true);
    obj["status"] = json!({"ready": true, "phase": "x"});
    widget().prune(&mut obj);
    assert_eq!(obj["spec"], json!({"size": 1}));
    assert_eq!(obj["status"], json!({"ready": true}));
    assert_eq!(obj.get("extra"), None);
    assert_eq!(obj["kind"], json!("Widget"));
}

#[test]
fn list_map_schema_reports_list_types() {
    let s = StructuralSchema::from_value(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["name", "protocol"],
                      "items": {"type": "object", "required": ["name"], "properties": {
                          "name": {"type": "string"},
                          "protocol": {"type": "string", "default": "TCP"},
                          "port": {"type": "integer"}}}},
            "args": {"type": "array", "items": {"type": "string"}},
            "finalizers": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "selector": {"type": "object", "x-kubernetes-map-type": "atomic",
                         "additionalProperties": {"type": "string"}}}}}}))
    .expect("parses");
    assert_eq!(
        s.list_type(&["spec", "ports"]),
        Some(ListType::Map {
            keys: vec!["name".to_owned(), "protocol".to_owned()],
            key_defaults: vec![("protocol".to_owned(), json!("TCP"))],
        })
    );
    assert_eq!(s.list_type(&["spec", "args"]), Some(ListType::Atomic));
    assert_eq!(s.list_type(&["spec", "finalizers"]), Some(ListType::Set));
    assert_eq!(s.list_type(&["spec", "ports", "[]", "name"]), None);
    assert_eq!(s.list_type(&["spec", "unknown"]), None);
    assert!(s.is_atomic_map(&["spec", "selector"]));
    assert!(!s.is_atomic_map(&["spec"]));

    // Keys get their defaults before the uniqueness check.
    let mut obj = json!({"spec": {"ports": [{"name": "a", "port": 1}, {"name": "a", "protocol": "TCP", "port": 2}]}});
    let causes = s.admit(&mut obj);
    assert_eq!(
        causes.iter().map(Cause::error_string).collect::<Vec<_>>(),
        [
            r#"spec.ports[1]: Duplicate value: map[string]interface {}{"name":"a", "protocol":"TCP"}"#
        ]
    );
    assert_eq!(causes[0].reason, CauseReason::Duplicate);
}

#[test]
fn preserve_unknown_fields_and_int_or_string() {
    let s = StructuralSchema::from_value(&json!({"type": "object", "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {
            "port": {"x-kubernetes-int-or-string": true},
            "mode": {"type": "string", "enum": ["fast", "slow"]},
            "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
            "items": {"type": "array", "maxItems": 1, "items": {"type": "string"}}}}}}))
    .expect("parses");
    let mut obj =
        json!({"spec": {"anything": {"goes": 1}, "port": "http", "mode": "fast", "name": "abc"}});
    assert_eq!(s.admit(&mut obj), Vec::<Cause>::new());
    assert_eq!(obj["spec"]["anything"], json!({"goes": 1}));

    let causes = s.validate(
        &json!({"spec": {"port": 1.5, "mode": "medium", "name": "toolong", "items": ["a", "b"]}}),
    );
    let rendered: Vec<(String, &str)> = causes
        .iter()
        .map(|c| (c.error_string(), c.reason.as_str()))
        .collect();
    assert_eq!(
        rendered,
        [
            (
                r#"spec.port: Invalid value: "number": spec.port in body must be of type integer,string: "number""#
                    .to_owned(),
                "FieldValueTypeInvalid"
            ),
            (
                r#"spec.mode: Unsupported value: "medium": supported values: "fast", "slow""#.to_owned(),
                "FieldValueNotSupported"
            ),
            ("spec.name: Too long: may not be longer than 5".to_owned(), "FieldValueTooLong"),
            ("spec.items: Too many: 2: must have at most 1 items".to_owned(), "FieldValueTooMany"),
        ]
    );
}
