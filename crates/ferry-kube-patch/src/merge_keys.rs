//! Patch strategy table of the built-in kinds (Kubernetes 1.24), as data.
//!
//! The Go types carry `patchStrategy`/`patchMergeKey` struct tags; this module
//! writes down the ones that matter for strategic merge patch as a small type
//! graph: each [`TypeDef`] lists the fields that have a strategy or lead to a
//! type that has one, and [`KINDS`] maps a kind to its root type. Fields not
//! listed patch by default: objects merge recursively, lists are replaced.
//!
//! Query it by (kind, field path) with [`lookup`], or list every strategic
//! field of a kind with [`strategic_fields`]. List elements are transparent in
//! paths: `spec.template.spec.containers.env` is the `env` of any container.

/// A field's `patchStrategy` tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `merge`: list elements merge by the merge key (or by value for lists
    /// of primitives).
    Merge,
    /// `replace`: the patch value replaces the field wholesale.
    Replace,
    /// `retainKeys`: an object that merges; `$retainKeys` lists the members
    /// to keep (honoured on apply wherever it appears).
    RetainKeys,
    /// `merge,retainKeys`: a merging list whose elements are cleared of
    /// members not in their `$retainKeys`.
    MergeRetainKeys,
}

/// What the table knows about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldMeta {
    /// The `patchStrategy` tag; `None` when the field has none.
    pub strategy: Option<Strategy>,
    /// The `patchMergeKey` tag; `None` for lists of primitives and for fields
    /// that do not merge.
    pub merge_key: Option<&'static str>,
}

impl FieldMeta {
    /// Lists with this field's strategy merge their elements.
    pub fn merges_list(&self) -> bool {
        matches!(
            self.strategy,
            Some(Strategy::Merge | Strategy::MergeRetainKeys)
        )
    }

    /// Objects with this field's strategy are replaced rather than merged.
    pub fn replaces_map(&self) -> bool {
        self.strategy == Some(Strategy::Replace)
    }
}

/// One field of a [`TypeDef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// JSON name of the field.
    pub name: &'static str,
    /// Its strategy and merge key.
    pub meta: FieldMeta,
    /// The [`TypeDef`] of the value (of each element, for lists), when it has
    /// strategic fields of its own.
    pub ty: Option<&'static str>,
}

/// A Go struct, reduced to the fields strategic merge patch cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeDef {
    /// Go type name (for reading; the graph is keyed by it).
    pub name: &'static str,
    /// Fields with a strategy, or leading to a type with one.
    pub fields: &'static [Field],
}

const fn meta(strategy: Option<Strategy>, merge_key: Option<&'static str>) -> FieldMeta {
    FieldMeta {
        strategy,
        merge_key,
    }
}

/// A list of objects merged by `key`, elements of type `ty`.
const fn merge_by(name: &'static str, key: &'static str, ty: Option<&'static str>) -> Field {
    Field {
        name,
        meta: meta(Some(Strategy::Merge), Some(key)),
        ty,
    }
}

/// A list of primitives merged as a set.
const fn merge_set(name: &'static str) -> Field {
    Field {
        name,
        meta: meta(Some(Strategy::Merge), None),
        ty: None,
    }
}

/// A field without strategy that is written down to document the choice
/// (lists without strategy are replaced).
const fn atomic(name: &'static str) -> Field {
    Field {
        name,
        meta: meta(None, None),
        ty: None,
    }
}

/// A field without strategy whose value's type has strategic fields.
const fn nested(name: &'static str, ty: &'static str) -> Field {
    Field {
        name,
        meta: meta(None, None),
        ty: Some(ty),
    }
}

const METADATA: Field = nested("metadata", "ObjectMeta");
const CONDITIONS_STATUS: Field = nested("status", "ConditionsStatus");

/// Every type of the graph.
pub static TYPES: &[TypeDef] = &[
    TypeDef {
        name: "ObjectMeta",
        fields: &[
            merge_set("finalizers"),
            merge_by("ownerReferences", "uid", None),
            atomic("managedFields"),
        ],
    },
    // Any built-in kind without strategic fields outside its metadata.
    TypeDef {
        name: "Object",
        fields: &[METADATA],
    },
    TypeDef {
        name: "ConditionsStatus",
        fields: &[merge_by("conditions", "type", None)],
    },
    // core/v1
    TypeDef {
        name: "Pod",
        fields: &[
            METADATA,
            nested("spec", "PodSpec"),
            nested("status", "PodStatus"),
        ],
    },
    TypeDef {
        name: "PodSpec",
        fields: &[
            Field {
                name: "volumes",
                meta: meta(Some(Strategy::MergeRetainKeys), Some("name")),
                ty: None,
            },
            merge_by("initContainers", "name", Some("Container")),
            merge_by("containers", "name", Some("Container")),
            merge_by("ephemeralContainers", "name", Some("Container")),
            merge_by("imagePullSecrets", "name", None),
            merge_by("hostAliases", "ip", None),
            merge_by("topologySpreadConstraints", "topologyKey", None),
            atomic("tolerations"),
            atomic("readinessGates"),
        ],
    },
    // Also EphemeralContainer, whose inlined EphemeralContainerCommon has the
    // same tags.
    TypeDef {
        name: "Container",
        fields: &[
            merge_by("ports", "containerPort", None),
            merge_by("env", "name", None),
            merge_by("volumeMounts", "mountPath", None),
            merge_by("volumeDevices", "devicePath", None),
            atomic("envFrom"),
            atomic("args"),
            atomic("command"),
        ],
    },
    TypeDef {
        name: "PodStatus",
        fields: &[
            merge_by("conditions", "type", None),
            merge_by("podIPs", "ip", None),
        ],
    },
    TypeDef {
        name: "PodTemplate",
        fields: &[METADATA, nested("template", "PodTemplateSpec")],
    },
    TypeDef {
        name: "PodTemplateSpec",
        fields: &[METADATA, nested("spec", "PodSpec")],
    },
    TypeDef {
        name: "Service",
        fields: &[METADATA, nested("spec", "ServiceSpec"), CONDITIONS_STATUS],
    },
    TypeDef {
        name: "ServiceSpec",
        fields: &[merge_by("ports", "port", None)],
    },
    TypeDef {
        name: "Node",
        fields: &[
            METADATA,
            nested("spec", "NodeSpec"),
            nested("status", "NodeStatus"),
        ],
    },
    TypeDef {
        name: "NodeSpec",
        fields: &[merge_set("podCIDRs"), atomic("taints")],
    },
    TypeDef {
        name: "NodeStatus",
        fields: &[
            merge_by("conditions", "type", None),
            merge_by("addresses", "type", None),
        ],
    },
    TypeDef {
        name: "ServiceAccount",
        fields: &[METADATA, merge_by("secrets", "name", None)],
    },
    TypeDef {
        name: "ComponentStatus",
        fields: &[METADATA, merge_by("conditions", "type", None)],
    },
    // Namespace, PersistentVolumeClaim, HorizontalPodAutoscaler (v2),
    // PodDisruptionBudget, APIService.
    TypeDef {
        name: "ObjectWithConditions",
        fields: &[METADATA, CONDITIONS_STATUS],
    },
    // apps/v1, batch/v1
    TypeDef {
        name: "Deployment",
        fields: &[
            METADATA,
            nested("spec", "DeploymentSpec"),
            CONDITIONS_STATUS,
        ],
    },
    TypeDef {
        name: "DeploymentSpec",
        fields: &[
            nested("template", "PodTemplateSpec"),
            Field {
                name: "strategy",
                meta: meta(Some(Strategy::RetainKeys), None),
                ty: None,
            },
        ],
    },
    // ReplicaSet, DaemonSet, ReplicationController, Job.
    TypeDef {
        name: "Workload",
        fields: &[METADATA, nested("spec", "WorkloadSpec"), CONDITIONS_STATUS],
    },
    TypeDef {
        name: "WorkloadSpec",
        fields: &[nested("template", "PodTemplateSpec")],
    },
    TypeDef {
        name: "StatefulSet",
        fields: &[
            METADATA,
            nested("spec", "StatefulSetSpec"),
            CONDITIONS_STATUS,
        ],
    },
    TypeDef {
        name: "StatefulSetSpec",
        fields: &[
            nested("template", "PodTemplateSpec"),
            atomic("volumeClaimTemplates"),
        ],
    },
    TypeDef {
        name: "CronJob",
        fields: &[METADATA, nested("spec", "CronJobSpec")],
    },
    TypeDef {
        name: "CronJobSpec",
        fields: &[nested("jobTemplate", "JobTemplateSpec")],
    },
    TypeDef {
        name: "JobTemplateSpec",
        fields: &[METADATA, nested("spec", "WorkloadSpec")],
    },
    // admissionregistration/v1
    TypeDef {
        name: "WebhookConfiguration",
        fields: &[METADATA, merge_by("webhooks", "name", None)],
    },
    // storage/v1
    TypeDef {
        name: "CSINode",
        fields: &[METADATA, nested("spec", "CSINodeSpec")],
    },
    TypeDef {
        name: "CSINodeSpec",
        fields: &[merge_by("drivers", "name", None)],
    },
];

/// Kind → root type. Kinds not listed use `Object` (metadata only).
pub static KINDS: &[(&str, &str)] = &[
    ("Pod", "Pod"),
    ("PodTemplate", "PodTemplate"),
    ("ReplicationController", "Workload"),
    ("Service", "Service"),
    ("Node", "Node"),
    ("Namespace", "ObjectWithConditions"),
    ("PersistentVolumeClaim", "ObjectWithConditions"),
    ("ServiceAccount", "ServiceAccount"),
    ("ComponentStatus", "ComponentStatus"),
    ("Deployment", "Deployment"),
    ("ReplicaSet", "Workload"),
    ("DaemonSet", "Workload"),
    ("StatefulSet", "StatefulSet"),
    ("Job", "Workload"),
    ("CronJob", "CronJob"),
    ("HorizontalPodAutoscaler", "ObjectWithConditions"),
    ("PodDisruptionBudget", "ObjectWithConditions"),
    ("APIService", "ObjectWithConditions"),
    ("ValidatingWebhookConfiguration", "WebhookConfiguration"),
    ("MutatingWebhookConfiguration", "WebhookConfiguration"),
    ("CSINode", "CSINode"),
];

fn type_def(name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|t| t.name == name)
}

/// The root type of a built-in kind.
pub fn root_type(kind: &str) -> &'static TypeDef {
    let name = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("Object", |(_, t)| *t);
    // Every name in KINDS is in TYPES; fall back to the first entry otherwise.
    type_def(name).unwrap_or(&TYPES[1])
}

/// A position in the type graph while walking a document.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Schema(Option<&'static TypeDef>);

impl Schema {
    pub(crate) fn for_kind(kind: &str) -> Schema {
        Schema(Some(root_type(kind)))
    }

    /// The field's metadata and the schema of its value (or elements).
    pub(crate) fn field(self, name: &str) -> (Schema, FieldMeta) {
        let Some(def) = self.0 else {
            return (Schema(None), FieldMeta::default());
        };
        match def.fields.iter().find(|f| f.name == name) {
            Some(f) => (Schema(f.ty.and_then(type_def)), f.meta),
            None => (Schema(None), FieldMeta::default()),
        }
    }
}

/// The metadata of the field at `path` (dotted names, list elements
/// transparent) in `kind`, when the table lists it.
pub fn lookup(kind: &str, path: &str) -> Option<FieldMeta> {
    let mut def = root_type(kind);
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let field = def.fields.iter().find(|f| f.name == part)?;
        if parts.peek().is_none() {
            return Some(field.meta);
        }
        def = type_def(field.ty?)?;
    }
    None
}

/// Every field of `kind` with a strategy, as (dotted path, metadata).
pub fn strategic_fields(kind: &str) -> Vec<(String, FieldMeta)> {
    let mut out = Vec::new();
    collect(root_type(kind), "", &mut out);
    out
}

fn collect(def: &'static TypeDef, prefix: &str, out: &mut Vec<(String, FieldMeta)>) {
    for f in def.fields {
        let path = if prefix.is_empty() {
            f.name.to_string()
        } else {
            format!("{prefix}.{}", f.name)
        };
        if f.meta.strategy.is_some() {
            out.push((path.clone(), f.meta));
        }
        if let Some(child) = f.ty.and_then(type_def) {
            collect(child, &path, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_referenced_type_exists() {
        for def in TYPES {
            for f in def.fields {
                if let Some(t) = f.ty {
                    assert!(type_def(t).is_some(), "{}.{} -> {t}", def.name, f.name);
                }
            }
        }
        for (kind, t) in KINDS {
            assert!(type_def(t).is_some(), "{kind} -> {t}");
        }
        assert_eq!(TYPES[1].name, "Object");
    }

    #[test]
    fn looks_up_pod_template_paths() {
        let env = lookup("Deployment", "spec.template.spec.containers.env");
        assert_eq!(env.and_then(|m| m.merge_key), Some("name"));
        let c = lookup("CronJob", "spec.jobTemplate.spec.template.spec.containers");
        assert_eq!(c.and_then(|m| m.merge_key), Some("name"));
        let c = lookup("PodTemplate", "template.spec.volumes");
        assert_eq!(c.and_then(|m| m.strategy), Some(Strategy::MergeRetainKeys));
        let t = lookup("Pod", "spec.tolerations");
        assert_eq!(t.map(|m| m.merges_list()), Some(false));
        let f = lookup("ConfigMap", "metadata.finalizers");
        assert_eq!(
            f.map(|m| (m.merges_list(), m.merge_key)),
            Some((true, None))
        );
        assert_eq!(lookup("Deployment", "spec.replicas"), None);
    }

    #[test]
    fn lists_strategic_fields() {
        let fields = strategic_fields("StatefulSet");
        let paths: Vec<&str> = fields.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"spec.template.spec.containers.ports"));
        assert!(paths.contains(&"status.conditions"));
        assert!(!paths.contains(&"spec.volumeClaimTemplates"));
    }
}
