//! The resource types a cluster serves: the built-in ones of a Kubernetes 1.24 API server
//! (from `data/discovery-1.24.json`, recorded discovery documents), plus one per served
//! version of each CustomResourceDefinition.

use std::collections::BTreeMap;
use std::sync::Arc;

use ferry_kube_schema::StructuralSchema;
use serde::Deserialize;
use serde_json::{Value, json};

const BUILTIN: &str = include_str!("data/discovery-1.24.json");

/// One resource of one group version (`apps/v1 deployments`).
#[derive(Debug, Clone)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub kind: String,
    pub singular: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Subresource names served (`status`, `scale`, `finalize`, ...).
    pub subresources: Vec<String>,
    /// Set for custom resources.
    pub custom: Option<Arc<CustomType>>,
    /// Discovery entries of this resource and its subresources, as served.
    pub discovery: Vec<Value>,
}

/// What a CRD adds to a custom resource type.
#[derive(Debug)]
pub struct CustomType {
    pub crd_name: String,
    pub schema: Option<StructuralSchema>,
    pub list_kind: String,
    pub printer_columns: Vec<Value>,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s == "status")
    }

    pub fn list_kind(&self) -> String {
        match &self.custom {
            Some(c) => c.list_kind.clone(),
            None => format!("{}List", self.kind),
        }
    }

    /// Storage key shared by every version of the same resource.
    pub fn storage_key(&self) -> (String, String) {
        (self.group.clone(), self.plural.clone())
    }
}

#[derive(Deserialize)]
struct BuiltinFile {
    groups: Vec<BuiltinGroup>,
    resources: BTreeMap<String, Vec<Value>>,
}

#[derive(Deserialize)]
struct BuiltinGroup {
    name: String,
    versions: Vec<String>,
}

/// The resource types of one cluster, with discovery documents.
#[derive(Debug, Clone)]
pub struct Registry {
    /// Groups in discovery order with their versions (preferred first). `""` is the core group.
    groups: Vec<(String, Vec<String>)>,
    types: Vec<ResourceType>,
}

impl Registry {
    pub fn builtin() -> Self {
        let file: BuiltinFile = match serde_json::from_str(BUILTIN) {
            Ok(f) => f,
            Err(e) => panic!("embedded discovery data is invalid: {e}"),
        };
        let mut types = Vec::new();
        for (gv, entries) in &file.resources {
            let (group, version) = match gv.split_once('/') {
                Some((g, v)) => (g.to_owned(), v.to_owned()),
                None => (String::new(), gv.clone()),
            };
            for e in entries {
                let name = e["name"].as_str().unwrap_or_default();
                if name.contains('/') {
                    continue;
                }
                let subs: Vec<&Value> = entries
                    .iter()
                    .filter(|s| {
                        s["name"]
                            .as_str()
                            .and_then(|n| n.strip_prefix(name))
                            .is_some_and(|r| r.starts_with('/'))
                    })
                    .collect();
                let strs = |v: &Value| -> Vec<String> {
                    v.as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default()
                };
                let kind = e["kind"].as_str().unwrap_or_default().to_owned();
                let mut discovery = vec![e.clone()];
                discovery.extend(subs.iter().map(|s| (*s).clone()));
                types.push(ResourceType {
                    group: group.clone(),
                    version: version.clone(),
                    plural: name.to_owned(),
                    singular: kind.to_lowercase(),
                    kind,
                    namespaced: e["namespaced"].as_bool().unwrap_or(false),
                    verbs: strs(&e["verbs"]),
                    short_names: strs(&e["shortNames"]),
                    categories: strs(&e["categories"]),
                    subresources: subs
                        .iter()
                        .filter_map(|s| {
                            s["name"]
                                .as_str()?
                                .split_once('/')
                                .map(|(_, r)| r.to_owned())
                        })
                        .collect(),
                    custom: None,
                    discovery,
                });
            }
        }
        let groups = file
            .groups
            .into_iter()
            .map(|g| (g.name, g.versions))
            .collect();
        Self { groups, types }
    }

    pub fn types(&self) -> &[ResourceType] {
        &self.types
    }

    pub fn groups(&self) -> &[(String, Vec<String>)] {
        &self.groups
    }

    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types
            .iter()
            .find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.groups
            .iter()
            .any(|(g, vs)| g == group && vs.iter().any(|v| v == version))
    }

    /// The types of a group version, in discovery order.
    pub fn of_group_version(
        &self,
        group: &str,
        version: &str,
    ) -> impl Iterator<Item = &ResourceType> {
        self.types
            .iter()
            .filter(move |t| t.group == group && t.version == version)
    }

    /// Replaces the types a CRD serves (none when `crd` is `None`, i.e. it was removed).
    pub fn set_crd(&mut self, crd_name: &str, types: Vec<ResourceType>) {
        self.types
            .retain(|t| t.custom.as_ref().is_none_or(|c| c.crd_name != crd_name));
        let group = types.first().map(|t| t.group.clone());
        self.types.extend(types);
        // Rebuild the custom groups: every group that has a custom type, versions sorted the
        // way the server prefers them (as listed in the CRD).
        self.groups.retain(|(g, _)| {
            Registry::builtin_group(g) || self.types.iter().any(|t| &t.group == g)
        });
        if let Some(group) = group {
            let versions: Vec<String> = {
                let mut v: Vec<String> = Vec::new();
                for t in self.types.iter().filter(|t| t.group == group) {
                    if !v.contains(&t.version) {
                        v.push(t.version.clone());
                    }
                }
                v
            };
            match self.groups.iter_mut().find(|(g, _)| *g == group) {
                Some(entry) => entry.1 = versions,
                None => self.groups.push((group, versions)),
            }
        }
    }

    fn builtin_group(group: &str) -> bool {
        static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        NAMES
            .get_or_init(|| {
                Registry::builtin()
                    .groups
                    .into_iter()
                    .map(|(g, _)| g)
                    .collect()
            })
            .iter()
            .any(|g| g == group)
    }
}

/// The resource types a CRD object serves, or why it serves none.
pub fn types_of_crd(crd: &Value) -> Vec<ResourceType> {
    let name = crd
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let spec = &crd["spec"];
    let group = spec["group"].as_str().unwrap_or_default().to_owned();
    let names = &spec["names"];
    let s = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let kind = s(&names["kind"]);
    let plural = s(&names["plural"]);
    let singular = match names["singular"].as_str() {
        Some(x) if !x.is_empty() => x.to_owned(),
        _ => kind.to_lowercase(),
    };
    let list_kind = match names["listKind"].as_str() {
        Some(x) if !x.is_empty() => x.to_owned(),
        _ => format!("{kind}List"),
    };
    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let namespaced = spec["scope"].as_str() != Some("Cluster");
    let mut out = Vec::new();
    for ver in spec["versions"].as_array().into_iter().flatten() {
        if ver["served"].as_bool() != Some(true) {
            continue;
        }
        let version = s(&ver["name"]);
        let schema = ver
            .pointer("/schema/openAPIV3Schema")
            .and_then(|v| StructuralSchema::from_value(v).ok());
        let has_status = ver.pointer("/subresources/status").is_some();
        let has_scale = ver.pointer("/subresources/scale").is_some();
        let verbs: Vec<String> = [
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "create",
            "update",
            "watch",
        ]
        .iter()
        .map(|v| (*v).to_owned())
        .collect();
        let mut main = json!({
            "name": plural, "singularName": singular, "namespaced": namespaced, "kind": kind,
            "verbs": verbs,
        });
        if !strs(&names["shortNames"]).is_empty() {
            main["shortNames"] = names["shortNames"].clone();
        }
        if !strs(&names["categories"]).is_empty() {
            main["categories"] = names["categories"].clone();
        }
        let mut discovery = vec![main];
        let mut subresources = Vec::new();
        if has_status {
            subresources.push("status".to_owned());
            discovery.push(json!({"name": format!("{plural}/status"), "singularName": "", "namespaced": namespaced,
                "kind": kind, "verbs": ["get", "patch", "update"]}));
        }
        if has_scale {
            subresources.push("scale".to_owned());
            discovery.push(json!({"name": format!("{plural}/scale"), "singularName": "", "namespaced": namespaced,
                "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]}));
        }
        out.push(ResourceType {
            group: group.clone(),
            version,
            plural: plural.clone(),
            kind: kind.clone(),
            singular: singular.clone(),
            namespaced,
            verbs,
            short_names: strs(&names["shortNames"]),
            categories: strs(&names["categories"]),
            subresources,
            custom: Some(Arc::new(CustomType {
                crd_name: name.to_owned(),
                schema,
                list_kind: list_kind.clone(),
                printer_columns: ver["additionalPrinterColumns"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
            })),
            discovery,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_registry_serves_the_recorded_groups() {
        let r = Registry::builtin();
        let d = r.find("apps", "v1", "deployments").expect("deployments");
        assert_eq!(d.kind, "Deployment");
        assert!(d.namespaced && d.has_status());
        assert!(
            r.find("", "v1", "namespaces")
                .is_some_and(|n| !n.namespaced)
        );
        assert!(r.serves("batch", "v1"));
        assert!(!r.serves("nosuch.example.com", "v1"));
    }

    #[test]
    fn crds_come_and_go() {
        let mut r = Registry::builtin();
        let crd = json!({"metadata": {"name": "widgets.demo.test"}, "spec": {"group": "demo.test", "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets"},
            "versions": [{"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}}]}});
        r.set_crd("widgets.demo.test", types_of_crd(&crd));
        assert!(r.serves("demo.test", "v1"));
        assert!(
            r.find("demo.test", "v1", "widgets")
                .is_some_and(ResourceType::has_status)
        );
        r.set_crd("widgets.demo.test", Vec::new());
        assert!(!r.serves("demo.test", "v1"));
    }
}
