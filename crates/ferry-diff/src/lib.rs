//! Whether a live Kubernetes object matches the desired one, in the style of Argo CD's
//! server-side diff, with Secret values masked in everything it returns.
//!
//! Pure: no IO, no tokio. The caller does the IO and hands over objects as `serde_json::Value`:
//!
//! - [`compare`] takes `predicted`, the answer of a server-side-apply dry run of the desired
//!   object. That answer already holds the fields other managers own and the server's defaults,
//!   so after [`normalize`] the two sides must be equal to be in sync.
//! - [`compare_desired`] is the fallback when no dry run is possible (the kind is not served
//!   yet, the cluster is unreachable for writes): every field the desired object sets must equal
//!   live's at the same path; fields only live has are ignored.
//! - [`ignore_pointers`] removes `ignoreDifferences.jsonPointers` from an object; apply it to
//!   both sides before comparing.
//! - [`ignore`]: Argo CD's whole `ignoreDifferences` (JSON pointers, jq path expressions,
//!   `managedFieldsManagers`, controller-wide defaults), compiled once into [`IgnoreRules`];
//!   normalise both sides with the [`Applicable`] rules of the object before comparing.
//!
//! Secrets (core `v1` `Secret`): the values under `data` and `stringData` are masked in
//! `live_yaml`, `predicted_yaml` and `unified` (same value, same mask; different values,
//! different masks, per key, as Argo CD's `HideSecretData`), while `in_sync` is decided on the
//! real values. The `kubectl.kubernetes.io/last-applied-configuration` annotation, which copies
//! the whole object, is always dropped.
//!
//! ```text
//! pub struct ResourceDiff { pub in_sync: bool, pub live_yaml: String,
//!                           pub predicted_yaml: String, pub unified: String }
//! pub fn compare(live: Option<&Value>, predicted: &Value) -> ResourceDiff;
//! pub fn compare_desired(live: Option<&Value>, desired: &Value) -> ResourceDiff;
//! pub fn normalize(obj: &Value) -> Value;
//! pub fn ignore_pointers(obj: &mut Value, pointers: &[String]);
//! pub fn parse_pointer(pointer: &str) -> Result<Vec<String>, DiffError>;
//! pub fn to_yaml(value: &Value) -> String;
//! ```

pub mod ignore;
mod normalize;
mod pointer;
mod secret;
mod yaml;

use serde_json::Value;
use similar::TextDiff;

pub use ignore::{
    Applicable, IGNORE_DIFFERENCES_KEY_PREFIX, IgnoreError, IgnoreRule, IgnoreRules, IgnoreWarning,
    parse_default_rule, parse_default_rules,
};
pub use normalize::{DROPPED_METADATA, LAST_APPLIED_ANNOTATION, is_secret, normalize};
pub use pointer::{DiffError, ignore_pointers, parse_pointer};
pub use secret::SECRET_FIELDS;
pub use yaml::to_yaml;

/// The comparison of one resource, ready to show. No string in it holds a Secret value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceDiff {
    /// Whether live matches what applying the desired object would produce.
    pub in_sync: bool,
    /// The normalised live object as YAML; empty when the object is missing.
    pub live_yaml: String,
    /// The normalised predicted object (what live would become) as YAML.
    pub predicted_yaml: String,
    /// A unified diff from `live_yaml` to `predicted_yaml` (headers `live` and `predicted`);
    /// empty when in sync.
    pub unified: String,
}

/// Compares `live` (`None` = not in the cluster) with `predicted`, the server-side-apply dry
/// run of the desired object. Both are normalised; they are in sync when equal.
pub fn compare(live: Option<&Value>, predicted: &Value) -> ResourceDiff {
    render(live.map(normalize), normalize(predicted))
}

/// Compares `live` with `desired` itself when no dry run is possible: in sync when every field
/// `desired` sets equals live's at the same path (see [`normalize::overlay`] for objects, lists
/// and empty values). The predicted side shown is live with the desired fields laid over it, so
/// the unified diff shows exactly the fields that would change.
pub fn compare_desired(live: Option<&Value>, desired: &Value) -> ResourceDiff {
    let desired = normalize(desired);
    match live {
        None => render(None, desired),
        Some(live) => {
            let live = normalize(live);
            let predicted = normalize::overlay(&live, &desired);
            render(Some(live), predicted)
        }
    }
}

/// Decides sync on the real values, then masks Secrets and renders.
fn render(mut live: Option<Value>, mut predicted: Value) -> ResourceDiff {
    let in_sync = live.as_ref() == Some(&predicted);
    if is_secret(&predicted) || live.as_ref().is_some_and(is_secret) {
        secret::mask(&mut predicted, live.as_mut());
    }
    let live_yaml = live.as_ref().map(to_yaml).unwrap_or_default();
    let predicted_yaml = to_yaml(&predicted);
    let unified = if in_sync {
        String::new()
    } else {
        TextDiff::from_lines(&live_yaml, &predicted_yaml)
            .unified_diff()
            .context_radius(3)
            .header("live", "predicted")
            .to_string()
    };
    ResourceDiff {
        in_sync,
        live_yaml,
        predicted_yaml,
        unified,
    }
}
