//! What to create, update and delete so that the Applications a set owns match what it
//! generates, under a policy.

use std::collections::{BTreeMap, BTreeSet};

use ferry_api::{Application, ApplicationSet};
use serde_json::{Map, Value, json};

use crate::{Generated, InvalidApp, Policy};

/// Annotations the controller never overwrites or removes, whatever the template says:
/// they are set by people and other controllers on generated Applications.
pub const ALWAYS_PRESERVED_ANNOTATIONS: &[&str] = &[
    "argocd.argoproj.io/refresh",
    "ferry.dev/refresh",
    "notified.notifications.argoproj.io",
];

/// The changes that make the set's Applications match what it generates. Every list is
/// sorted by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Generated Applications that do not exist yet.
    pub create: Vec<Application>,
    /// Owned Applications that differ from what is generated (only if the policy allows
    /// updates).
    pub update: Vec<Update>,
    /// Owned Applications that are no longer generated (only if the policy allows deletes).
    pub delete: Vec<String>,
    /// Owned Applications left as they are: equal to what is generated, or different or no
    /// longer generated but the policy forbids the change, or generated invalid (an invalid
    /// Application is neither updated nor deleted), or being deleted already.
    pub unchanged: Vec<String>,
    /// Generated names taken by an Application this set does not own. FERRY DIFFERS: Argo CD
    /// adopts and overwrites such an Application; Ferry leaves it alone and reports it.
    pub conflicts: Vec<InvalidApp>,
}

/// One owned Application to patch.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub name: String,
    /// A JSON merge patch (RFC 7396) that makes the existing Application match.
    pub patch: Value,
    /// What differs, for people: `spec`, `labels`, `annotations`, `finalizers`.
    pub changed: Vec<String>,
}

/// Compares what `set` generated with the Applications it owns (`owned`) and the other
/// Applications of its namespace (`existing_unowned`, checked for name collisions).
pub fn plan(
    set: &ApplicationSet,
    policy: Policy,
    generated: &Generated,
    owned: &[Application],
    existing_unowned: &[Application],
) -> Plan {
    let name_of = |a: &Application| a.metadata.name.clone().unwrap_or_default();
    let owned: BTreeMap<String, &Application> = owned.iter().map(|a| (name_of(a), a)).collect();
    let unowned: BTreeMap<String, &Application> =
        existing_unowned.iter().map(|a| (name_of(a), a)).collect();
    let invalid: BTreeSet<&str> = generated.invalid.iter().map(|i| i.name.as_str()).collect();
    let preserved = Preserved::of(set);

    let mut plan = Plan::default();
    let mut wanted = BTreeSet::new();
    let mut apps: Vec<&Application> = generated.apps.iter().collect();
    apps.sort_by_key(|a| name_of(a));
    for app in apps {
        let name = name_of(app);
        // A duplicate name is also listed as invalid: the first one generated still counts.
        if name.is_empty() || !wanted.insert(name.clone()) {
            continue;
        }
        match (owned.get(&name), unowned.get(&name)) {
            (Some(existing), _) => {
                if existing.metadata.deletion_timestamp.is_some() || !policy.allows_update() {
                    plan.unchanged.push(name);
                    continue;
                }
                match update(existing, app, &preserved) {
                    Some(u) => plan.update.push(u),
                    None => plan.unchanged.push(name),
                }
            }
            (None, Some(other)) => plan.conflicts.push(InvalidApp {
                message: conflict_message(&name, other),
                name,
            }),
            (None, None) => plan.create.push(app.clone()),
        }
    }
    for (name, existing) in owned {
        if wanted.contains(&name) {
            continue;
        }
        let keep = invalid.contains(name.as_str())
            || !policy.allows_delete()
            || existing.metadata.deletion_timestamp.is_some();
        if keep {
            plan.unchanged.push(name);
        } else {
            plan.delete.push(name);
        }
    }
    plan.unchanged.sort();
    plan
}

fn conflict_message(name: &str, other: &Application) -> String {
    let controller = other
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    match controller {
        Some(r) => format!(
            "Application {name:?} already exists and is controlled by {} {:?}; not adopted",
            r.kind, r.name
        ),
        None => format!(
            "Application {name:?} already exists and is not owned by this ApplicationSet; \
             Ferry does not adopt it (delete it, or rename the generated Application)"
        ),
    }
}

/// Labels and annotations kept as they are on existing Applications.
struct Preserved {
    labels: BTreeSet<String>,
    annotations: BTreeSet<String>,
}

impl Preserved {
    fn of(set: &ApplicationSet) -> Preserved {
        let fields = set.spec.preserved_fields.clone().unwrap_or_default();
        let mut annotations: BTreeSet<String> = fields.annotations.into_iter().collect();
        annotations.extend(ALWAYS_PRESERVED_ANNOTATIONS.iter().map(|a| (*a).to_owned()));
        Preserved {
            labels: fields.labels.into_iter().collect(),
            annotations,
        }
    }
}

/// The patch that makes `existing` match `desired`, if anything differs.
fn update(existing: &Application, desired: &Application, preserved: &Preserved) -> Option<Update> {
    let mut metadata = Map::new();
    let mut changed = Vec::new();
    let maps = [
        (
            "labels",
            &existing.metadata.labels,
            &desired.metadata.labels,
            &preserved.labels,
        ),
        (
            "annotations",
            &existing.metadata.annotations,
            &desired.metadata.annotations,
            &preserved.annotations,
        ),
    ];
    for (field, have, want, keep) in maps {
        let empty = BTreeMap::new();
        if let Some(patch) = map_patch(
            have.as_ref().unwrap_or(&empty),
            want.as_ref().unwrap_or(&empty),
            keep,
        ) {
            metadata.insert(field.to_owned(), patch);
            changed.push(field.to_owned());
        }
    }
    let have_finalizers: BTreeSet<&String> =
        existing.metadata.finalizers.iter().flatten().collect();
    let want_finalizers: BTreeSet<&String> = desired.metadata.finalizers.iter().flatten().collect();
    if have_finalizers != want_finalizers {
        let value = match &desired.metadata.finalizers {
            Some(f) if !f.is_empty() => json!(f),
            _ => Value::Null,
        };
        metadata.insert("finalizers".to_owned(), value);
        changed.push("finalizers".to_owned());
    }
    let mut patch = Map::new();
    if existing.spec != desired.spec {
        let have = serde_json::to_value(&existing.spec).unwrap_or(Value::Null);
        let want = serde_json::to_value(&desired.spec).unwrap_or(Value::Null);
        if let Some(diff) = diff(&have, &want) {
            patch.insert("spec".to_owned(), diff);
            changed.insert(0, "spec".to_owned());
        }
    }
    if !metadata.is_empty() {
        patch.insert("metadata".to_owned(), Value::Object(metadata));
    }
    (!patch.is_empty()).then(|| Update {
        name: existing.metadata.name.clone().unwrap_or_default(),
        patch: Value::Object(patch),
        changed,
    })
}

/// The merge patch of a string map: changed and new keys set, removed keys `null`; the
/// `keep` keys are left alone where they exist (and set from `want` where they do not).
fn map_patch(
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    keep: &BTreeSet<String>,
) -> Option<Value> {
    let mut patch = Map::new();
    for (k, v) in want {
        let kept = keep.contains(k) && have.contains_key(k);
        if !kept && have.get(k) != Some(v) {
            patch.insert(k.clone(), Value::String(v.clone()));
        }
    }
    for k in have.keys() {
        if !want.contains_key(k) && !keep.contains(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    (!patch.is_empty()).then_some(Value::Object(patch))
}

/// The JSON merge patch from `from` to `to` (`None` when equal). Objects are diffed key by
/// key; anything else (lists too) is replaced whole.
pub(crate) fn diff(from: &Value, to: &Value) -> Option<Value> {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut patch = Map::new();
            for (k, v) in b {
                match a.get(k) {
                    Some(old) => {
                        if let Some(d) = diff(old, v) {
                            patch.insert(k.clone(), d);
                        }
                    }
                    None => {
                        patch.insert(k.clone(), v.clone());
                    }
                }
            }
            for k in a.keys() {
                if !b.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            (!patch.is_empty()).then_some(Value::Object(patch))
        }
        (a, b) if a == b => None,
        (_, b) => Some(b.clone()),
    }
}
