//! Argo CD's `ignoreDifferences`: rules that take fields out of a comparison.
//!
//! A rule ([`IgnoreRule`]) selects objects by `group` and `kind` (glob patterns, so `*` matches
//! every group or kind) and by `name` and `namespace` (exact; empty matches any), and names the
//! fields to ignore three ways:
//!
//! - `jsonPointers`: RFC 6901 pointers (`/spec/replicas`,
//!   `/metadata/annotations/example.com~1hash`); a missing field is fine.
//! - `jqPathExpressions`: jq path expressions; every path the expression selects is removed, as
//!   Argo CD's `del(EXPR)` does (`.spec.template.spec.containers[] | select(.name == "sidecar")`).
//! - `managedFieldsManagers`: the fields these managers own in the *live* object's
//!   `metadata.managedFields`.
//!
//! Rules come from the Application (`spec.ignoreDifferences`) and from controller-wide defaults
//! (Argo CD's `resource.customizations.ignoreDifferences.<group_kind>` and `.all`, read by
//! [`parse_default_rules`]). [`IgnoreRules::new`] compiles them once and refuses invalid pointers,
//! expressions and patterns with an error naming the rule and the entry;
//! [`IgnoreRules::for_object`] picks the rules of one object, and [`Applicable::normalize`]
//! removes their fields. Normalise both the live object and the predicted one (the server-side
//! apply dry run) with the same [`Applicable`] and the live object's `managedFields`, then
//! [`compare`](crate::compare) them: differences in ignored fields are gone.
//!
//! Removal, in this order: managed fields, then each rule's pointers, then its jq expressions
//! (each applied to the result of the previous one, as Argo CD applies its patches one after the
//! other). Maps and lists that lie on a removed path and are empty afterwards are removed too
//! (never the object itself), so that ignoring the only annotation does not leave an
//! `annotations: {}` behind on one side only (Argo CD issue #7513; Argo CD 3 removes every empty
//! map after its ignore normaliser).
//!
//! ```text
//! pub struct IgnoreRule { group, kind, name, namespace, json_pointers, jq_path_expressions,
//!                         managed_fields_managers }          // serde camelCase, Argo's names
//! impl IgnoreRules {
//!     pub fn new(rules: impl IntoIterator<Item = IgnoreRule>) -> Result<Self, IgnoreError>;
//!     pub fn for_object(&self, group, kind, namespace, name) -> Applicable<'_>;
//!     pub fn for_resource(&self, obj: &Value) -> Applicable<'_>;
//!     pub fn fingerprint(&self) -> &str;
//! }
//! impl Applicable<'_> {
//!     pub fn normalize(&self, obj: &mut Value, live_managed_fields: Option<&Value>,
//!                      schema: &dyn Schema) -> Vec<IgnoreWarning>;
//!     pub fn normalize_both(&self, live: Option<&mut Value>, predicted: &mut Value,
//!                           schema: &dyn Schema) -> Vec<IgnoreWarning>;
//! }
//! pub fn parse_default_rule(group_kind: &str, yaml: &str) -> Result<IgnoreRule, IgnoreError>;
//! pub fn parse_default_rules(data) -> Result<Vec<IgnoreRule>, IgnoreError>;
//! ```

mod defaults;
mod jq;
mod remove;

use std::fmt;

use ferry_fieldpath::Schema;
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::pointer::parse_pointer;

pub use defaults::{IGNORE_DIFFERENCES_KEY_PREFIX, parse_default_rule, parse_default_rules};
pub use jq::MAX_JQ_PATHS;

/// One `ignoreDifferences` entry, with Argo CD's field names (`jsonPointers`,
/// `jqPathExpressions`, `managedFieldsManagers`). The controller maps its API type onto it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IgnoreRule {
    /// API group without version (`""` for the core group, `apps`, ...); a glob pattern as in
    /// Argo CD (`*`, `?`, `[abc]`, `{a,b}`), so `*` matches every group.
    #[serde(default)]
    pub group: String,
    /// Kind (`Deployment`); a glob pattern, so `*` matches every kind.
    #[serde(default)]
    pub kind: String,
    /// Object name; empty matches any.
    #[serde(default)]
    pub name: String,
    /// Object namespace; empty matches any.
    #[serde(default)]
    pub namespace: String,
    /// RFC 6901 JSON pointers of fields to ignore.
    #[serde(default)]
    pub json_pointers: Vec<String>,
    /// jq path expressions; every path they select is ignored.
    #[serde(default)]
    pub jq_path_expressions: Vec<String>,
    /// Managers (`metadata.managedFields[].manager`) whose fields in the live object are ignored.
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

impl IgnoreRule {
    /// How errors and warnings name the rule: `[0] apps/Deployment default/web`, with the core
    /// group shown as just the kind (`[1] Service`).
    fn describe(&self, index: usize) -> String {
        let mut out = format!("[{index}] ");
        if !self.group.is_empty() {
            out.push_str(&self.group);
            out.push('/');
        }
        out.push_str(&self.kind);
        if !self.namespace.is_empty() || !self.name.is_empty() {
            out.push(' ');
            if !self.namespace.is_empty() {
                out.push_str(&self.namespace);
                out.push('/');
            }
            out.push_str(if self.name.is_empty() {
                "*"
            } else {
                &self.name
            });
        }
        out
    }
}

/// A rule, a pointer, an expression, a pattern or a defaults entry that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IgnoreError {
    /// A JSON pointer RFC 6901 does not allow (write `/` in a key as `~1`, `~` as `~0`).
    #[error("ignoreDifferences rule {rule}: invalid JSON pointer {pointer:?}: {reason}")]
    InvalidPointer {
        rule: String,
        pointer: String,
        reason: String,
    },
    /// A jq expression that does not parse or compile, or uses what path expressions may not.
    #[error("ignoreDifferences rule {rule}: invalid jq path expression {expression:?}: {reason}")]
    InvalidJq {
        rule: String,
        expression: String,
        reason: String,
    },
    /// A `group` or `kind` glob pattern that does not compile.
    #[error("ignoreDifferences rule {rule}: invalid {field} pattern {pattern:?}: {reason}")]
    InvalidPattern {
        rule: String,
        field: &'static str,
        pattern: String,
        reason: String,
    },
    /// A controller-wide defaults entry with a bad key or value.
    #[error("{IGNORE_DIFFERENCES_KEY_PREFIX}{key}: {reason}")]
    InvalidDefaults { key: String, reason: String },
}

/// Something a normalisation skipped; the rest of the normalisation still happened. Argo CD
/// logs such cases and goes on the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreWarning {
    /// A jq expression failed on this object (for example it indexes a string); nothing of that
    /// expression was removed.
    JqFailed {
        rule: String,
        expression: String,
        message: String,
    },
    /// A jq expression selected more than [`MAX_JQ_PATHS`] paths; nothing of it was removed.
    JqTooManyPaths { rule: String, expression: String },
    /// `managedFields` (or one manager's entry in it) could not be read; that part was skipped.
    ManagedFields { manager: String, message: String },
}

impl fmt::Display for IgnoreWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IgnoreWarning::JqFailed {
                rule,
                expression,
                message,
            } => write!(
                f,
                "ignoreDifferences rule {rule}: jq path expression {expression:?} failed: {message}"
            ),
            IgnoreWarning::JqTooManyPaths { rule, expression } => write!(
                f,
                "ignoreDifferences rule {rule}: jq path expression {expression:?} selected more \
                 than {MAX_JQ_PATHS} paths; skipped"
            ),
            IgnoreWarning::ManagedFields { manager, message } => {
                if manager.is_empty() {
                    write!(f, "managedFields unreadable: {message}")
                } else {
                    write!(
                        f,
                        "managedFields of manager {manager:?} unreadable: {message}"
                    )
                }
            }
        }
    }
}

/// A `group` or `kind` pattern, as Argo CD's `glob.Match`.
#[derive(Debug, Clone)]
enum Pattern {
    Any,
    Exact(String),
    Glob(GlobMatcher),
}

impl Pattern {
    fn new(pattern: &str) -> Result<Pattern, globset::Error> {
        if pattern == "*" {
            return Ok(Pattern::Any);
        }
        if !pattern.contains(['*', '?', '[', ']', '{', '}', '\\']) {
            return Ok(Pattern::Exact(pattern.to_owned()));
        }
        let glob = GlobBuilder::new(pattern)
            .literal_separator(false)
            .backslash_escape(true)
            .build()?;
        Ok(Pattern::Glob(glob.compile_matcher()))
    }

    fn matches(&self, text: &str) -> bool {
        match self {
            Pattern::Any => true,
            Pattern::Exact(p) => p == text,
            Pattern::Glob(g) => g.is_match(text),
        }
    }
}

/// One rule, compiled.
#[derive(Debug)]
struct CompiledRule {
    label: String,
    group: Pattern,
    kind: Pattern,
    name: String,
    namespace: String,
    pointers: Vec<Vec<String>>,
    jq: Vec<jq::JqPath>,
    managers: Vec<String>,
}

impl CompiledRule {
    fn compile(index: usize, rule: &IgnoreRule) -> Result<CompiledRule, IgnoreError> {
        let label = rule.describe(index);
        let pattern = |field: &'static str, pattern: &str| {
            Pattern::new(pattern).map_err(|e| IgnoreError::InvalidPattern {
                rule: label.clone(),
                field,
                pattern: pattern.to_owned(),
                reason: e.kind().to_string(),
            })
        };
        let group = pattern("group", &rule.group)?;
        let kind = pattern("kind", &rule.kind)?;
        let pointers = rule
            .json_pointers
            .iter()
            .map(|p| {
                parse_pointer(p).map_err(|e| IgnoreError::InvalidPointer {
                    rule: label.clone(),
                    pointer: p.clone(),
                    reason: match e {
                        crate::DiffError::InvalidPointer { reason, .. } => reason.to_owned(),
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let jq = rule
            .jq_path_expressions
            .iter()
            .map(|e| {
                jq::JqPath::compile(e).map_err(|reason| IgnoreError::InvalidJq {
                    rule: label.clone(),
                    expression: e.clone(),
                    reason,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CompiledRule {
            group,
            kind,
            name: rule.name.clone(),
            namespace: rule.namespace.clone(),
            pointers,
            jq,
            managers: rule.managed_fields_managers.clone(),
            label,
        })
    }

    fn matches(&self, group: &str, kind: &str, namespace: &str, name: &str) -> bool {
        self.group.matches(group)
            && self.kind.matches(kind)
            && (self.name.is_empty() || self.name == name)
            && (self.namespace.is_empty() || self.namespace == namespace)
    }
}

/// Every `ignoreDifferences` rule of one comparison (an Application's and the controller's
/// defaults), compiled once.
#[derive(Debug)]
pub struct IgnoreRules {
    rules: Vec<IgnoreRule>,
    compiled: Vec<CompiledRule>,
    fingerprint: String,
}

impl Default for IgnoreRules {
    /// No rules (with the fingerprint of an empty list).
    fn default() -> Self {
        IgnoreRules {
            rules: Vec::new(),
            compiled: Vec::new(),
            fingerprint: fingerprint(&[]),
        }
    }
}

/// Bumped whenever what a rule removes changes, so that memoised comparisons keyed by
/// [`IgnoreRules::fingerprint`] are not reused across such a change.
const SEMANTICS_VERSION: &str = "ferry-ignore-differences/1";

impl IgnoreRules {
    /// Compiles `rules` (in order; the order is the order of removal). JSON pointers are parsed,
    /// jq expressions compiled and `group`/`kind` patterns built here, once; the first invalid
    /// one is refused with an error naming its rule (`[index] group/kind namespace/name`) and
    /// the entry.
    pub fn new(rules: impl IntoIterator<Item = IgnoreRule>) -> Result<IgnoreRules, IgnoreError> {
        let rules: Vec<IgnoreRule> = rules.into_iter().collect();
        let compiled = rules
            .iter()
            .enumerate()
            .map(|(i, r)| CompiledRule::compile(i, r))
            .collect::<Result<Vec<_>, _>>()?;
        let fingerprint = fingerprint(&rules);
        Ok(IgnoreRules {
            rules,
            compiled,
            fingerprint,
        })
    }

    /// The rules as given.
    pub fn rules(&self) -> &[IgnoreRule] {
        &self.rules
    }

    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// A stable hash of the rules (and of this implementation's semantics version): equal rule
    /// lists in equal order give equal fingerprints across processes and versions of Ferry that
    /// remove the same fields. A memoised comparison keyed by it is invalidated when the rules
    /// change. 64 lowercase hex digits (SHA-256).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The rules that apply to the object `namespace/name` of `kind` in `group` (`""` for the
    /// core group; `namespace` empty for cluster-scoped objects), as Argo CD matches them:
    /// `group` and `kind` as glob patterns, `name` and `namespace` exactly when set.
    pub fn for_object(
        &self,
        group: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Applicable<'_> {
        let rules: Vec<&CompiledRule> = self
            .compiled
            .iter()
            .filter(|r| r.matches(group, kind, namespace, name))
            .collect();
        let mut managers: Vec<&str> = Vec::new();
        for m in rules.iter().flat_map(|r| &r.managers) {
            if !managers.contains(&m.as_str()) {
                managers.push(m);
            }
        }
        Applicable { rules, managers }
    }

    /// [`for_object`](Self::for_object) with group, kind, namespace and name read from `obj`
    /// (`apiVersion` `apps/v1` is group `apps`, `v1` the core group).
    pub fn for_resource(&self, obj: &Value) -> Applicable<'_> {
        let s = |p: &str| obj.pointer(p).and_then(Value::as_str).unwrap_or("");
        let group = s("/apiVersion").rsplit_once('/').map_or("", |(g, _)| g);
        self.for_object(
            group,
            s("/kind"),
            s("/metadata/namespace"),
            s("/metadata/name"),
        )
    }
}

fn fingerprint(rules: &[IgnoreRule]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(SEMANTICS_VERSION.as_bytes());
    hasher.update([0]);
    // Serialising plain strings and lists cannot fail; an empty fallback would still differ
    // from any real list because of the count below.
    hasher.update(rules.len().to_string().as_bytes());
    hasher.update([0]);
    hasher.update(serde_json::to_vec(rules).unwrap_or_default());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The rules that apply to one object. Normalise both sides of a comparison with the same one.
#[derive(Debug)]
pub struct Applicable<'a> {
    rules: Vec<&'a CompiledRule>,
    managers: Vec<&'a str>,
}

impl Applicable<'_> {
    /// Whether no rule applies (normalising changes nothing).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The managers whose fields are ignored, from every applicable rule, without repeats.
    pub fn managed_fields_managers(&self) -> &[&str] {
        &self.managers
    }

    /// Removes the ignored fields from `obj`.
    ///
    /// `live_managed_fields` is the *live* object's `metadata.managedFields` list (take it from
    /// live before normalising live, and pass the same for the predicted object); without it,
    /// `managedFieldsManagers` remove nothing. `schema` is the object's type knowledge
    /// (`ferry_kube_builtin::BuiltinSchema::for_kind(group, kind)` for built-in kinds), used to
    /// find the list items `managedFields` names by key.
    ///
    /// Returns what was skipped (a jq expression failing on this object, unreadable
    /// `managedFields`); everything else was removed.
    pub fn normalize(
        &self,
        obj: &mut Value,
        live_managed_fields: Option<&Value>,
        schema: &dyn Schema,
    ) -> Vec<IgnoreWarning> {
        let mut warnings = Vec::new();
        if self.rules.is_empty() {
            return warnings;
        }
        if !self.managers.is_empty()
            && let Some(managed) = live_managed_fields
        {
            remove::managed_fields(obj, managed, &self.managers, schema, &mut warnings);
        }
        for rule in &self.rules {
            for tokens in &rule.pointers {
                remove::pointer(obj, tokens);
            }
            for expr in &rule.jq {
                match expr.paths(obj) {
                    Ok(paths) => remove::paths(obj, &paths),
                    Err(jq::JqRunError::Failed(message)) => {
                        warnings.push(IgnoreWarning::JqFailed {
                            rule: rule.label.clone(),
                            expression: expr.expression().to_owned(),
                            message,
                        });
                    }
                    Err(jq::JqRunError::TooManyPaths) => {
                        warnings.push(IgnoreWarning::JqTooManyPaths {
                            rule: rule.label.clone(),
                            expression: expr.expression().to_owned(),
                        });
                    }
                }
            }
        }
        warnings
    }

    /// Normalises `live` (when the object exists) and `predicted` alike, with `live`'s own
    /// `metadata.managedFields` (read before `live` is changed).
    pub fn normalize_both(
        &self,
        live: Option<&mut Value>,
        predicted: &mut Value,
        schema: &dyn Schema,
    ) -> Vec<IgnoreWarning> {
        if self.rules.is_empty() {
            return Vec::new();
        }
        let managed = live
            .as_deref()
            .and_then(|l| l.pointer("/metadata/managedFields"))
            .cloned();
        let mut warnings = Vec::new();
        if let Some(live) = live {
            warnings.extend(self.normalize(live, managed.as_ref(), schema));
        }
        warnings.extend(self.normalize(predicted, managed.as_ref(), schema));
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<IgnoreRules>();
    }

    #[test]
    fn describes_rules_for_messages() {
        let rule = |group: &str, kind: &str, namespace: &str, name: &str| IgnoreRule {
            group: group.into(),
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..IgnoreRule::default()
        };
        assert_eq!(
            rule("apps", "Deployment", "", "").describe(0),
            "[0] apps/Deployment"
        );
        assert_eq!(rule("", "Service", "", "").describe(3), "[3] Service");
        assert_eq!(
            rule("apps", "Deployment", "prod", "web").describe(1),
            "[1] apps/Deployment prod/web"
        );
        assert_eq!(rule("*", "*", "prod", "").describe(2), "[2] */* prod/*");
    }

    #[test]
    fn patterns_match_like_globs() {
        let p = |s: &str| Pattern::new(s).expect("valid pattern");
        assert!(p("*").matches(""));
        assert!(p("*").matches("apps"));
        assert!(p("").matches(""));
        assert!(!p("").matches("apps"));
        assert!(p("apps").matches("apps"));
        assert!(!p("apps").matches("apps2"));
        assert!(p("*.example.com").matches("foo.example.com"));
        assert!(!p("*.example.com").matches("example.org"));
        assert!(p("Cluster*").matches("ClusterRole"));
        assert!(p("{Role,ClusterRole}").matches("Role"));
        assert!(Pattern::new("[").is_err());
    }
}
