//! One parameter set through the template: the rendered template, `templatePatch`, and the
//! Application that results (namespace, owner reference, finalizer).

use ferry_api::{
    API_VERSION, Application, ApplicationSet, ApplicationSetTemplate, RESOURCES_FINALIZER,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::Value;

use crate::params::{Params, is_zero, object};
use crate::template::{Engine, TemplateError};

/// Why a parameter set could not be rendered into an Application.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("templatePatch: {0}")]
    Patch(String),
    #[error("the rendered template is not a valid Application: {0}")]
    Invalid(String),
}

/// `spec.template` as JSON, with a generator's own `template` merged over it the way Argo CD
/// merges them (maps merged, any other non-empty value replaces).
pub(crate) fn base_template(
    template: &ApplicationSetTemplate,
    own: Option<&Value>,
) -> Result<Params, RenderError> {
    let mut base =
        object(serde_json::to_value(template).map_err(|e| RenderError::Invalid(e.to_string()))?)
            .unwrap_or_default();
    if let Some(Value::Object(own)) = own {
        merge_non_zero(&mut base, own);
    }
    Ok(base)
}

fn merge_non_zero(base: &mut Params, over: &Params) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_non_zero(b, o),
            (_, v) if is_zero(v) => {}
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// A JSON merge of `patch` into `target`: objects merged recursively, `null` removes, any
/// other value (lists included) replaces.
pub(crate) fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// Renders one Application. Its name may be empty; the caller rejects that.
pub(crate) fn application(
    set: &ApplicationSet,
    engine: Engine,
    template: &Params,
    params: &Params,
) -> Result<Application, RenderError> {
    let renderer = engine.with(params);
    let mut rendered = renderer.value(&Value::Object(template.clone()))?;
    if let Some(patch) = set.spec.template_patch.as_deref() {
        let project = rendered.pointer("/spec/project").cloned();
        let text = renderer.string(patch)?;
        let parsed: Value =
            serde_saphyr::from_str(&text).map_err(|e| RenderError::Patch(e.to_string()))?;
        match parsed {
            Value::Object(_) => merge_patch(&mut rendered, &parsed),
            Value::Null => {}
            _ => return Err(RenderError::Patch("not an object".into())),
        }
        // A patch may not move the application to another project.
        if let Some(Value::Object(spec)) = rendered.get_mut("spec") {
            match project {
                Some(p) => spec.insert("project".into(), p),
                None => spec.remove("project"),
            };
        }
    }
    let template: ApplicationSetTemplate =
        serde_json::from_value(rendered).map_err(|e| RenderError::Invalid(e.to_string()))?;

    let meta = template.metadata;
    let mut finalizers = meta.finalizers;
    // FERRY DIFFERS: resources are preserved unless the set explicitly says otherwise.
    let preserve = set
        .spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.preserve_resources_on_deletion)
        .unwrap_or(true);
    if !preserve && finalizers.is_empty() {
        finalizers.push(RESOURCES_FINALIZER.to_owned());
    }
    let non_empty = |m: std::collections::BTreeMap<String, String>| (!m.is_empty()).then_some(m);
    Ok(Application {
        api_version: API_VERSION.to_owned(),
        kind: "Application".to_owned(),
        metadata: ObjectMeta {
            name: Some(meta.name),
            namespace: set.metadata.namespace.clone(),
            labels: non_empty(meta.labels),
            annotations: non_empty(meta.annotations),
            finalizers: (!finalizers.is_empty()).then_some(finalizers),
            owner_references: Some(vec![owner_reference(set)]),
            ..Default::default()
        },
        spec: template.spec,
        operation: None,
        status: None,
    })
}

/// The controller reference of every generated Application.
pub(crate) fn owner_reference(set: &ApplicationSet) -> OwnerReference {
    OwnerReference {
        api_version: API_VERSION.to_owned(),
        kind: "ApplicationSet".to_owned(),
        name: set.metadata.name.clone().unwrap_or_default(),
        uid: set.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_rules() {
        let mut target = json!({"a": {"b": 1, "c": [1, 2]}, "d": "x", "e": "gone"});
        merge_patch(
            &mut target,
            &json!({"a": {"c": [3], "n": {"m": true}}, "d": "y", "e": null}),
        );
        assert_eq!(
            target,
            json!({"a": {"b": 1, "c": [3], "n": {"m": true}}, "d": "y"})
        );
    }

    #[test]
    fn generator_template_merges_non_empty_fields() {
        let base: ApplicationSetTemplate = serde_json::from_value(json!({
            "metadata": {"name": "{{name}}", "labels": {"a": "1"}},
            "spec": {"project": "default", "source": {"repoURL": "https://r", "path": "p"},
                "destination": {"server": "https://s", "namespace": "ns"}}
        }))
        .expect("template");
        let own = json!({"metadata": {"labels": {"b": "2"}, "name": ""},
            "spec": {"source": {"path": "other"}}});
        let merged = base_template(&base, Some(&own)).expect("merges");
        assert_eq!(
            Value::Object(merged),
            json!({"metadata": {"name": "{{name}}", "labels": {"a": "1", "b": "2"}},
                "spec": {"project": "default", "source": {"repoURL": "https://r", "path": "other"},
                    "destination": {"server": "https://s", "namespace": "ns"}}})
        );
    }
}
