//! The CustomResourceDefinitions of `ferry.dev`, generated from the Rust types: OpenAPI v3
//! schemas from `schemars`, rewritten to Kubernetes' structural-schema rules, printer
//! columns and the status subresource. `deploy/crds.yaml` holds the same for people who
//! install by hand (a test keeps it current).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Value, json};

use crate::application::{ApplicationSpec, ApplicationStatus, Operation};
use crate::applicationset::{ApplicationSetSpec, ApplicationSetStatus};
use crate::project::AppProjectSpec;
use crate::{GROUP, VERSION};

fn schema_of<T: JsonSchema>() -> Value {
    let settings = SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .with_transform(kube_core::schema::OptionalEnum)
        .with_transform(kube_core::schema::StructuralSchemaRewriter);
    let root = settings.into_generator().into_root_schema_for::<T>();
    let mut v = serde_json::to_value(root).unwrap_or(Value::Null);
    if let Some(m) = v.as_object_mut() {
        m.remove("title");
        m.remove("$schema");
        m.remove("definitions");
        m.remove("$defs");
    }
    v
}

fn crd(
    kind: &str,
    plural: &str,
    short: &[&str],
    root: Value,
    columns: Value,
    status: bool,
) -> Value {
    let mut version = json!({
        "name": VERSION, "served": true, "storage": true,
        "schema": {"openAPIV3Schema": root},
        "additionalPrinterColumns": columns,
    });
    if status {
        version["subresources"] = json!({"status": {}});
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.{GROUP}")},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": kind, "listKind": format!("{kind}List"), "plural": plural,
                "singular": kind.to_lowercase(), "shortNames": short},
            "versions": [version],
        },
    })
}

/// The `Application` CRD.
pub fn application_crd() -> Value {
    let root = json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": schema_of::<ApplicationSpec>(),
            "operation": schema_of::<Operation>(),
            "status": schema_of::<ApplicationStatus>(),
        },
    });
    let columns = json!([
        {"name": "Sync", "type": "string", "jsonPath": ".status.sync.status"},
        {"name": "Health", "type": "string", "jsonPath": ".status.health.status"},
        {"name": "Revision", "type": "string", "jsonPath": ".status.sync.revision", "priority": 10},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]);
    crd(
        "Application",
        "applications",
        &["app", "apps"],
        root,
        columns,
        true,
    )
}

/// The `AppProject` CRD.
pub fn app_project_crd() -> Value {
    let root = json!({"type": "object", "properties": {"spec": schema_of::<AppProjectSpec>()}});
    let columns =
        json!([{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]);
    crd(
        "AppProject",
        "appprojects",
        &["appproj", "appprojs"],
        root,
        columns,
        false,
    )
}

/// The `ApplicationSet` CRD.
pub fn application_set_crd() -> Value {
    let root = json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": schema_of::<ApplicationSetSpec>(),
            "status": schema_of::<ApplicationSetStatus>(),
        },
    });
    let columns =
        json!([{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}]);
    crd(
        "ApplicationSet",
        "applicationsets",
        &["appset", "appsets"],
        root,
        columns,
        true,
    )
}

/// Every CRD of `ferry.dev`.
pub fn crds() -> Vec<Value> {
    vec![application_crd(), application_set_crd(), app_project_crd()]
}

/// The CRDs as one multi-document YAML file (JSON documents, which are valid YAML).
pub fn crds_yaml() -> String {
    let mut out = String::from(
        "# Generated from crates/ferry-api by `cargo test -p ferry-api` (see crd.rs). Do not edit.\n",
    );
    for c in crds() {
        out.push_str("---\n");
        out.push_str(&serde_json::to_string_pretty(&c).unwrap_or_default());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_refs(v: &Value) -> bool {
        match v {
            Value::Object(m) => {
                !m.contains_key("$ref") && !m.contains_key("anyOf") && m.values().all(no_refs)
            }
            Value::Array(a) => a.iter().all(no_refs),
            _ => true,
        }
    }

    #[test]
    fn schemas_are_structural() {
        for c in crds() {
            assert!(no_refs(&c), "{c:#}");
        }
        let app = application_crd();
        let spec = &app["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        assert_eq!(
            spec["properties"]["source"]["properties"]["repoURL"]["type"],
            "string"
        );
        assert!(
            spec["required"]
                .as_array()
                .is_some_and(|r| r.contains(&json!("source")))
        );
    }

    #[test]
    fn application_set_crd_keeps_nested_generators() {
        let c = application_set_crd();
        assert_eq!(
            c["spec"]["names"]["shortNames"],
            json!(["appset", "appsets"])
        );
        assert_eq!(
            c["spec"]["versions"][0]["subresources"],
            json!({"status": {}})
        );
        let spec = &c["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let generator = &spec["properties"]["generators"]["items"]["properties"];
        for kind in ["matrix", "merge"] {
            assert_eq!(
                generator[kind]["properties"]["generators"]["items"],
                json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
                "{kind}"
            );
        }
        assert_eq!(
            generator["git"]["properties"]["repoURL"]["type"],
            json!("string")
        );
    }

    #[test]
    fn deploy_crds_are_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds.yaml");
        let want = crds_yaml();
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            if std::env::var_os("FERRY_UPDATE_GOLDEN").is_some() {
                std::fs::write(&path, &want).expect("write deploy/crds.yaml");
            } else {
                panic!(
                    "deploy/crds.yaml is stale: run FERRY_UPDATE_GOLDEN=1 cargo test -p ferry-api"
                );
            }
        }
    }
}
