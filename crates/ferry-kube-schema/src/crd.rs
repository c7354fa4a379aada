//! The most common mistakes in a `CustomResourceDefinition` (`apiextensions.k8s.io/v1`), with
//! the fields and wording of the API server's CRD validation, and the lookup of a version's
//! schema.

use serde_json::Value;

use crate::cause::Cause;
use crate::names::{dns1035_label, dns1123_subdomain};
use crate::schema::{SchemaError, StructuralSchema};

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// Checks a CRD object for the mistakes the API server rejects most often: missing
/// group/names/scope/versions, no or several storage versions, a version without a schema, a
/// schema that is not structural at the top or does not parse. Not exhaustive.
pub fn validate_crd_spec(crd: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    let group = str_at(crd, &["spec", "group"]).unwrap_or("");
    let plural = str_at(crd, &["spec", "names", "plural"]).unwrap_or("");
    let kind = str_at(crd, &["spec", "names", "kind"]).unwrap_or("");

    let name = str_at(crd, &["metadata", "name"]).unwrap_or("");
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        out.push(Cause::invalid(
            "metadata.name",
            &Value::String(name.to_owned()),
            "must be spec.names.plural+\".\"+spec.group",
        ));
    }

    if group.is_empty() {
        out.push(Cause::required("spec.group", ""));
    } else {
        let errs = dns1123_subdomain(group);
        if !errs.is_empty() {
            out.push(Cause::invalid(
                "spec.group",
                &Value::String(group.to_owned()),
                &errs.join(","),
            ));
        } else if !group.contains('.') {
            out.push(Cause::invalid(
                "spec.group",
                &Value::String(group.to_owned()),
                "should be a domain with at least one dot",
            ));
        }
    }

    match str_at(crd, &["spec", "scope"]) {
        None | Some("") => out.push(Cause::required("spec.scope", "")),
        Some("Cluster" | "Namespaced") => {}
        Some(other) => out.push(Cause::not_supported(
            "spec.scope",
            &Value::String(other.to_owned()),
            &["Cluster".to_owned(), "Namespaced".to_owned()],
        )),
    }

    if plural.is_empty() {
        out.push(Cause::required("spec.names.plural", ""));
    } else {
        let errs = dns1035_label(plural);
        if !errs.is_empty() {
            out.push(Cause::invalid(
                "spec.names.plural",
                &Value::String(plural.to_owned()),
                &errs.join(","),
            ));
        }
    }
    if kind.is_empty() {
        out.push(Cause::required("spec.names.kind", ""));
    } else {
        let errs = dns1035_label(&kind.to_lowercase());
        if !errs.is_empty() {
            let msg = format!(
                "may have mixed case, but should otherwise match: {}",
                errs.join(",")
            );
            out.push(Cause::invalid(
                "spec.names.kind",
                &Value::String(kind.to_owned()),
                &msg,
            ));
        }
    }

    versions(crd, &mut out);
    out
}

fn versions(crd: &Value, out: &mut Vec<Cause>) {
    let versions_value = crd.get("spec").and_then(|s| s.get("versions"));
    let versions = match versions_value {
        Some(Value::Array(v)) if !v.is_empty() => v,
        _ => {
            out.push(Cause::required(
                "spec.versions",
                "must have exactly one version marked as storage version",
            ));
            return;
        }
    };
    let mut storage = 0;
    let mut names: Vec<&str> = Vec::new();
    let mut unique = true;
    for (i, version) in versions.iter().enumerate() {
        let base = format!("spec.versions[{i}]");
        let name = version.get("name").and_then(Value::as_str).unwrap_or("");
        if names.contains(&name) {
            unique = false;
        }
        names.push(name);
        let errs = dns1035_label(name);
        if !errs.is_empty() {
            out.push(Cause::invalid(
                format!("{base}.name"),
                &Value::String(name.to_owned()),
                &errs.join(","),
            ));
        }
        if version.get("storage").and_then(Value::as_bool) == Some(true) {
            storage += 1;
        }
        let schema_path = format!("{base}.schema.openAPIV3Schema");
        match version.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
            None | Some(Value::Null) => {
                out.push(Cause::required(schema_path, "schemas are required"))
            }
            Some(schema) => check_schema(schema, &schema_path, out),
        }
    }
    let all = Value::Array(versions.clone());
    if !unique {
        out.push(Cause::invalid(
            "spec.versions",
            &all,
            "must contain unique version names",
        ));
    }
    if storage != 1 {
        out.push(Cause::invalid(
            "spec.versions",
            &all,
            "must have exactly one version marked as storage version",
        ));
    }
}

fn check_schema(schema: &Value, path: &str, out: &mut Vec<Cause>) {
    if let Err(e) = StructuralSchema::from_value(schema) {
        let field = if e.path.is_empty() {
            path.to_owned()
        } else {
            format!("{path}.{}", e.path)
        };
        out.push(Cause::invalid(field, &e.value, &e.message));
        return;
    }
    match schema.get("type").and_then(Value::as_str) {
        None => out.push(Cause::required(
            format!("{path}.type"),
            "must not be empty at the root",
        )),
        Some("object") => {}
        Some(other) => out.push(Cause::invalid(
            format!("{path}.type"),
            &Value::String(other.to_owned()),
            "must be object at the root",
        )),
    }
    missing_types(schema, path, out);
}

/// A structural schema gives every specified field a type, unless it preserves unknown fields
/// or is an int-or-string.
fn missing_types(schema: &Value, path: &str, out: &mut Vec<Cause>) {
    let exempt = |s: &Value| {
        s.get("type").is_some()
            || s.get("x-kubernetes-int-or-string").and_then(Value::as_bool) == Some(true)
            || s.get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                == Some(true)
    };
    if let Some(Value::Object(props)) = schema.get("properties") {
        for (k, s) in props {
            let p = format!("{path}.properties[{k}]");
            if !exempt(s) {
                out.push(Cause::required(
                    format!("{p}.type"),
                    "must not be empty for specified object fields",
                ));
            }
            missing_types(s, &p, out);
        }
    }
    if let Some(items) = schema.get("items") {
        let p = format!("{path}.items");
        if !exempt(items) {
            out.push(Cause::required(
                format!("{p}.type"),
                "must not be empty for specified array items",
            ));
        }
        missing_types(items, &p, out);
    }
    if let Some(extra @ Value::Object(_)) = schema.get("additionalProperties") {
        let p = format!("{path}.additionalProperties");
        if !exempt(extra) {
            out.push(Cause::required(
                format!("{p}.type"),
                "must not be empty for specified object fields",
            ));
        }
        missing_types(extra, &p, out);
    }
}

/// The parsed `openAPIV3Schema` of a CRD's version `version`; `Ok(None)` when the CRD has no
/// such version or the version has no schema.
pub fn crd_version_schema(
    crd: &Value,
    version: &str,
) -> Result<Option<StructuralSchema>, SchemaError> {
    let Some(Value::Array(versions)) = crd.get("spec").and_then(|s| s.get("versions")) else {
        return Ok(None);
    };
    let Some(v) = versions
        .iter()
        .find(|v| v.get("name").and_then(Value::as_str) == Some(version))
    else {
        return Ok(None);
    };
    match v.get("schema").and_then(|s| s.get("openAPIV3Schema")) {
        None | Some(Value::Null) => Ok(None),
        Some(schema) => StructuralSchema::from_value(schema).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn good() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.demo.ferry.test"},
            "spec": {
                "group": "demo.ferry.test",
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                              "schema": {"openAPIV3Schema": {"type": "object",
                                  "properties": {"spec": {"type": "object"}}}}}]
            }
        })
    }

    fn msgs(crd: &Value) -> Vec<String> {
        validate_crd_spec(crd)
            .iter()
            .map(Cause::error_string)
            .collect()
    }

    #[test]
    fn accepts_a_good_crd() {
        assert_eq!(msgs(&good()), Vec::<String>::new());
        assert!(crd_version_schema(&good(), "v1").is_ok_and(|s| s.is_some()));
        assert!(crd_version_schema(&good(), "v2").is_ok_and(|s| s.is_none()));
    }

    #[test]
    fn reports_missing_pieces() {
        let crd = json!({"metadata": {"name": "x"}, "spec": {"names": {}}});
        assert_eq!(
            msgs(&crd),
            [
                "spec.group: Required value",
                "spec.scope: Required value",
                "spec.names.plural: Required value",
                "spec.names.kind: Required value",
                "spec.versions: Required value: must have exactly one version marked as storage version",
            ]
        );
    }

    #[test]
    fn storage_versions_and_schemas() {
        let mut crd = good();
        crd["spec"]["versions"] = json!([
            {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}}},
            {"name": "v2", "served": true, "storage": true}
        ]);
        let m = msgs(&crd);
        assert_eq!(m.len(), 2);
        assert_eq!(
            m[0],
            "spec.versions[1].schema.openAPIV3Schema: Required value: schemas are required"
        );
        assert!(m[1].starts_with("spec.versions: Invalid value: "));
        assert!(m[1].ends_with(": must have exactly one version marked as storage version"));

        let mut crd = good();
        crd["spec"]["versions"][0]["storage"] = json!(false);
        assert_eq!(msgs(&crd).len(), 1);
    }

    #[test]
    fn structural_basics() {
        let mut crd = good();
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
            json!({"properties": {"spec": {"properties": {"size": {"minimum": 1}}}}});
        assert_eq!(
            msgs(&crd),
            [
                "spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[size].type: Required value: must not be empty for specified object fields",
            ]
        );
        crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] =
            json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": -1}}});
        assert_eq!(
            msgs(&crd),
            [
                "spec.versions[0].schema.openAPIV3Schema.properties[a].maxLength: Invalid value: -1: must be a non-negative integer"
            ]
        );
    }

    #[test]
    fn name_and_group_shape() {
        let mut crd = good();
        crd["metadata"]["name"] = json!("widget.demo.ferry.test");
        crd["spec"]["scope"] = json!("Global");
        assert_eq!(
            msgs(&crd),
            [
                r#"metadata.name: Invalid value: "widget.demo.ferry.test": must be spec.names.plural+"."+spec.group"#,
                r#"spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced""#,
            ]
        );
        let mut crd = good();
        crd["spec"]["group"] = json!("demo");
        crd["metadata"]["name"] = json!("widgets.demo");
        assert_eq!(
            msgs(&crd),
            [r#"spec.group: Invalid value: "demo": should be a domain with at least one dot"#]
        );
    }
}
