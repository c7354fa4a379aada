//! Checks every write meets before it is stored: names, identity (apiVersion, kind, name,
//! namespace agree with the URL), and custom resources' schemas.

use serde_json::Value;

use crate::resources::ResourceType;
use crate::status::{ApiError, ApiResult, Cause};

const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

fn is_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_label)
}

/// Kinds whose names must be DNS labels rather than subdomains.
fn label_named(rt: &ResourceType) -> bool {
    rt.group.is_empty()
        && matches!(
            rt.plural.as_str(),
            "namespaces" | "services" | "replicationcontrollers"
        )
}

/// Kinds whose names need only be valid path segments.
fn path_segment_named(rt: &ResourceType) -> bool {
    rt.group == "rbac.authorization.k8s.io"
}

pub fn name_causes(rt: &ResourceType, name: &str) -> Vec<Cause> {
    if name.is_empty() {
        return vec![Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "Required value: name or generateName is required",
        )];
    }
    if path_segment_named(rt) {
        if name == "." || name == ".." {
            return vec![Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": may not be '{name}'"),
            )];
        }
        if name.contains('/') || name.contains('%') {
            return vec![Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": may not contain '/'"),
            )];
        }
        return Vec::new();
    }
    if label_named(rt) {
        if !is_label(name) {
            return vec![Cause::new(
                "FieldValueInvalid",
                "metadata.name",
                format!("Invalid value: \"{name}\": {LABEL_MSG}"),
            )];
        }
    } else if !is_subdomain(name) {
        return vec![Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: \"{name}\": {SUBDOMAIN_MSG}"),
        )];
    }
    Vec::new()
}

/// Labels and annotations must be string maps.
pub fn metadata_causes(obj: &Value) -> Vec<Cause> {
    let mut out = Vec::new();
    for field in ["labels", "annotations"] {
        if let Some(m) = obj.pointer(&format!("/metadata/{field}")) {
            let ok = m.is_null()
                || m.as_object()
                    .is_some_and(|o| o.values().all(Value::is_string));
            if !ok {
                out.push(Cause::new(
                    "FieldValueTypeInvalid",
                    &format!("metadata.{field}"),
                    "Invalid value: must be a map of strings",
                ));
            }
        }
    }
    out
}

/// The body's `apiVersion` and `kind` must match the URL; missing ones are filled in.
pub fn identity(obj: &mut Value, rt: &ResourceType, require_type: bool) -> ApiResult<()> {
    let Some(m) = obj.as_object_mut() else {
        return Err(ApiError::bad_request(
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml",
        ));
    };
    match m.get("apiVersion").and_then(Value::as_str) {
        Some(v) if v != rt.api_version() => {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version ({})",
                rt.api_version()
            )));
        }
        None if require_type => {
            return Err(ApiError::bad_request(format!(
                "Object 'apiVersion' is missing in '{}'",
                Value::Object(m.clone())
            )));
        }
        _ => {}
    }
    match m.get("kind").and_then(Value::as_str) {
        Some(k) if k != rt.kind => {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                rt.kind
            )));
        }
        None if require_type => {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{}'",
                Value::Object(m.clone())
            )));
        }
        _ => {}
    }
    m.insert("apiVersion".into(), Value::String(rt.api_version()));
    m.insert("kind".into(), Value::String(rt.kind.clone()));
    if !m.get("metadata").is_some_and(Value::is_object) {
        m.insert("metadata".into(), Value::Object(serde_json::Map::new()));
    }
    Ok(())
}

/// The body's name and namespace must match the URL's.
pub fn placement(
    obj: &mut Value,
    url_name: Option<&str>,
    url_ns: Option<&str>,
    rt: &ResourceType,
) -> ApiResult<()> {
    let meta = obj
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| ApiError::bad_request("metadata must be an object"))?;
    if let Some(url_name) = url_name {
        match meta.get("name").and_then(Value::as_str) {
            Some(n) if n != url_name => {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({n}) does not match the name on the URL ({url_name})"
                )));
            }
            _ => {
                meta.insert("name".into(), Value::String(url_name.to_owned()));
            }
        }
    }
    if rt.namespaced {
        let ns = url_ns.unwrap_or_default();
        match meta.get("namespace").and_then(Value::as_str) {
            Some(n) if !n.is_empty() && n != ns => {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            _ => {
                meta.insert("namespace".into(), Value::String(ns.to_owned()));
            }
        }
    } else {
        meta.remove("namespace");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::Registry;

    #[test]
    fn names_follow_the_kind_rules() {
        let r = Registry::builtin();
        let cm = r.find("", "v1", "configmaps").expect("cm");
        let ns = r.find("", "v1", "namespaces").expect("ns");
        assert!(name_causes(cm, "a.b-c").is_empty());
        assert_eq!(name_causes(cm, "Bad_Name")[0].field, "metadata.name");
        assert!(!name_causes(ns, "a.b").is_empty());
        assert!(name_causes(ns, "a-b").is_empty());
    }
}
