//! Controller-wide default rules in Argo CD's `argocd-cm` format:
//!
//! ```yaml
//! resource.customizations.ignoreDifferences.apps_Deployment: |
//!   jsonPointers: [/spec/replicas]
//! resource.customizations.ignoreDifferences.Service: |
//!   jqPathExpressions: ['.spec.ports[]?.nodePort']
//! resource.customizations.ignoreDifferences.all: |
//!   managedFieldsManagers: [kube-controller-manager]
//! ```
//!
//! The key after the prefix is `<group>_<Kind>`, just `<Kind>` for the core group (Argo CD also
//! reads `_<Kind>`), or `all` for every kind; it is split at `_` as Argo CD's
//! `convertToOverrideKey` does, so a key with more than one `_` is refused. The value is YAML with
//! `jsonPointers`, `jqPathExpressions` and `managedFieldsManagers`; unknown fields are ignored, as
//! Argo CD's `yaml.Unmarshal` ignores them.

use serde::Deserialize;

use super::{IgnoreError, IgnoreRule};

/// The `argocd-cm` key prefix of default `ignoreDifferences` entries.
pub const IGNORE_DIFFERENCES_KEY_PREFIX: &str = "resource.customizations.ignoreDifferences.";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OverrideIgnoreDiff {
    #[serde(default)]
    json_pointers: Option<Vec<String>>,
    #[serde(default)]
    jq_path_expressions: Option<Vec<String>>,
    #[serde(default)]
    managed_fields_managers: Option<Vec<String>>,
}

/// The rule of one defaults entry: `group_kind` is the key without
/// [`IGNORE_DIFFERENCES_KEY_PREFIX`] (`apps_Deployment`, `Service`, `all`) and `yaml` its value.
/// The rule matches every object of that group and kind (`all`: group and kind `*`). Only
/// syntax is checked here; [`IgnoreRules::new`](super::IgnoreRules::new) checks the entries.
pub fn parse_default_rule(group_kind: &str, yaml: &str) -> Result<IgnoreRule, IgnoreError> {
    let invalid = |reason: String| IgnoreError::InvalidDefaults {
        key: group_kind.to_owned(),
        reason,
    };
    let (group, kind) = if group_kind == "all" {
        ("*", "*")
    } else {
        let mut parts = group_kind.split('_');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(kind), None, _) => ("", kind),
            (Some(group), Some(kind), None) => (group, kind),
            _ => {
                return Err(invalid(
                    "the key must be <group>_<Kind>, <Kind> (core group) or all".to_owned(),
                ));
            }
        }
    };
    if kind.is_empty() {
        return Err(invalid("the kind is empty".to_owned()));
    }
    let body: OverrideIgnoreDiff = if yaml.trim().is_empty() {
        OverrideIgnoreDiff::default()
    } else {
        serde_saphyr::from_str::<Option<OverrideIgnoreDiff>>(yaml)
            .map_err(|e| invalid(format!("invalid YAML: {e}")))?
            .unwrap_or_default()
    };
    Ok(IgnoreRule {
        group: group.to_owned(),
        kind: kind.to_owned(),
        json_pointers: body.json_pointers.unwrap_or_default(),
        jq_path_expressions: body.jq_path_expressions.unwrap_or_default(),
        managed_fields_managers: body.managed_fields_managers.unwrap_or_default(),
        ..IgnoreRule::default()
    })
}

/// The default rules in a ConfigMap's `data`: every entry whose key starts with
/// [`IGNORE_DIFFERENCES_KEY_PREFIX`], other entries skipped. Rules come out ordered by key with
/// `all` last, so the same data always gives the same rules (and the same fingerprint).
pub fn parse_default_rules<'a>(
    data: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<Vec<IgnoreRule>, IgnoreError> {
    let mut entries: Vec<(&str, &str)> = data
        .into_iter()
        .filter_map(|(key, value)| {
            key.strip_prefix(IGNORE_DIFFERENCES_KEY_PREFIX)
                .map(|gk| (gk, value))
        })
        .collect();
    entries.sort_by(|(a, _), (b, _)| (*a == "all", *a).cmp(&(*b == "all", *b)));
    entries
        .into_iter()
        .map(|(gk, value)| parse_default_rule(gk, value))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_keys_as_argo_does() {
        let r =
            parse_default_rule("apps_Deployment", "jsonPointers: [/spec/replicas]").expect("valid");
        assert_eq!((r.group.as_str(), r.kind.as_str()), ("apps", "Deployment"));
        assert_eq!(r.json_pointers, ["/spec/replicas"]);
        let r = parse_default_rule("Service", "").expect("valid");
        assert_eq!((r.group.as_str(), r.kind.as_str()), ("", "Service"));
        let r = parse_default_rule("_Secret", "").expect("valid");
        assert_eq!((r.group.as_str(), r.kind.as_str()), ("", "Secret"));
        let r = parse_default_rule("all", "managedFieldsManagers: [kube-controller-manager]")
            .expect("valid");
        assert_eq!((r.group.as_str(), r.kind.as_str()), ("*", "*"));
        assert_eq!(r.managed_fields_managers, ["kube-controller-manager"]);
        let r = parse_default_rule(
            "admissionregistration.k8s.io_MutatingWebhookConfiguration",
            "jqPathExpressions:\n- '.webhooks[]?.clientConfig.caBundle'\n",
        )
        .expect("valid");
        assert_eq!(r.group, "admissionregistration.k8s.io");
        assert_eq!(
            r.jq_path_expressions,
            [".webhooks[]?.clientConfig.caBundle"]
        );
    }

    #[test]
    fn refuses_bad_keys_and_values() {
        for key in ["a_b_c", "", "apps_"] {
            let err = parse_default_rule(key, "").expect_err(key);
            assert!(
                err.to_string()
                    .starts_with("resource.customizations.ignoreDifferences."),
                "{err}"
            );
        }
        let err = parse_default_rule("apps_Deployment", "jsonPointers: {a: 1}").expect_err("map");
        assert!(err.to_string().contains("invalid YAML"), "{err}");
    }
}
