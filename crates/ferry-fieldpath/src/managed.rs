//! `metadata.managedFields`: which manager owns which fields, and how an update or an apply
//! changes that, with the conflicts server-side apply reports.

use serde_json::{Map, Value, json};

use crate::schema::Schema;
use crate::set::{DecodeError, Set, render_path};
use crate::walk::{applied_set, compare, remove_items, try_merge, validate_config};

/// How a manager last wrote its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Operation {
    Apply,
    Update,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Apply => "Apply",
            Operation::Update => "Update",
        }
    }
}

/// One `managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    pub operation: Operation,
    pub api_version: String,
    pub subresource: Option<String>,
    pub time: String,
    pub set: Set,
}

impl Entry {
    /// Whether this entry belongs to the writer `w`. Appliers are one entry whatever the
    /// version; updaters are one entry per API version, as on the API server.
    fn is(&self, w: &Writer<'_>, op: Operation) -> bool {
        self.manager == w.manager
            && self.operation == op
            && self.subresource.as_deref() == w.subresource
            && (op == Operation::Apply || self.api_version == w.api_version)
    }

    fn describe(&self) -> String {
        match self.operation {
            Operation::Apply => format!("conflict with \"{}\"", self.manager),
            Operation::Update => {
                format!(
                    "conflict with \"{}\" using {}",
                    self.manager, self.api_version
                )
            }
        }
    }
}

/// Who is writing, and when.
#[derive(Debug, Clone, Copy)]
pub struct Writer<'a> {
    pub manager: &'a str,
    pub api_version: &'a str,
    pub subresource: Option<&'a str>,
    /// RFC 3339 timestamp, seconds precision.
    pub time: &'a str,
}

/// The managers of one object.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ManagedFields {
    pub entries: Vec<Entry>,
}

/// An apply touched fields another manager owns.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// `conflict with "ferry"` or `conflict with "kubectl" using apps/v1`.
    pub message: String,
    /// `.spec.replicas`.
    pub field: String,
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// Another manager owns fields whose value the apply would change (without `force`).
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<Conflict>),
    /// The configuration (or the live object) cannot be merged: an associative-list item
    /// without its keys, a key given twice.
    #[error("{0}")]
    Invalid(String),
}

impl ApplyError {
    /// The conflicts, if that is why.
    pub fn conflicts(&self) -> &[Conflict] {
        match self {
            ApplyError::Conflicts(c) => c,
            ApplyError::Invalid(_) => &[],
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManagedFieldsError {
    #[error("metadata.managedFields must be a list of entries: {0}")]
    Shape(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// Paths the API server never tracks: identity and bookkeeping metadata.
const STRIPPED: &[&[&str]] = &[
    &["f:apiVersion"],
    &["f:kind"],
    &["f:metadata", "f:name"],
    &["f:metadata", "f:namespace"],
    &["f:metadata", "f:creationTimestamp"],
    &["f:metadata", "f:selfLink"],
    &["f:metadata", "f:uid"],
    &["f:metadata", "f:clusterName"],
    &["f:metadata", "f:generation"],
    &["f:metadata", "f:managedFields"],
    &["f:metadata", "f:resourceVersion"],
    &["f:metadata", "f:deletionTimestamp"],
    &["f:metadata", "f:deletionGracePeriodSeconds"],
];

/// Which part of an object a write may own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything (kinds without a status subresource).
    All,
    /// Everything but `status` (the main resource of a kind with a status subresource).
    ExceptStatus,
    /// Only `status` (the status subresource).
    OnlyStatus,
}

fn strip(mut set: Set, scope: Scope) -> Set {
    for p in STRIPPED {
        set.remove_subtree(p);
    }
    set.remove(&["f:metadata"]);
    in_scope(set, scope)
}

/// The part of a set a write of this scope may touch (the fields the API server resets for
/// it are ignored: `status` for the main resource, all else for the status subresource).
fn in_scope(mut set: Set, scope: Scope) -> Set {
    match scope {
        Scope::All => set,
        Scope::ExceptStatus => {
            set.remove_subtree(&["f:status"]);
            set
        }
        Scope::OnlyStatus => set.retain_subtree(&["f:status"]),
    }
}

// === impl ManagedFields ===

impl ManagedFields {
    /// Reads `metadata.managedFields` of an object (absent means none).
    pub fn from_object(obj: &Value) -> Result<Self, ManagedFieldsError> {
        let Some(list) = obj.pointer("/metadata/managedFields") else {
            return Ok(Self::default());
        };
        if list.is_null() {
            return Ok(Self::default());
        }
        let Value::Array(items) = list else {
            return Err(ManagedFieldsError::Shape("not a list".into()));
        };
        let mut entries = Vec::with_capacity(items.len());
        for item in items {
            let s = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
            let operation = match s("operation").as_deref() {
                Some("Apply") => Operation::Apply,
                Some("Update") => Operation::Update,
                other => {
                    return Err(ManagedFieldsError::Shape(format!(
                        "operation must be Apply or Update, got {other:?}"
                    )));
                }
            };
            let set = match item.get("fieldsV1") {
                Some(v) => Set::from_fields_v1(v)?,
                None => Set::new(),
            };
            entries.push(Entry {
                manager: s("manager").unwrap_or_default(),
                operation,
                api_version: s("apiVersion").unwrap_or_default(),
                subresource: s("subresource"),
                time: s("time").unwrap_or_default(),
                set,
            });
        }
        Ok(Self { entries })
    }

    /// Writes the entries into `metadata.managedFields`, in the API server's order.
    pub fn write_to(&self, obj: &mut Value) {
        let mut entries: Vec<&Entry> = self.entries.iter().filter(|e| !e.set.is_empty()).collect();
        entries.sort_by(|a, b| {
            (a.operation, &a.time, &a.manager, &a.subresource).cmp(&(
                b.operation,
                &b.time,
                &b.manager,
                &b.subresource,
            ))
        });
        let list: Vec<Value> = entries
            .into_iter()
            .map(|e| {
                let mut m = Map::new();
                m.insert("apiVersion".into(), json!(e.api_version));
                m.insert("fieldsType".into(), json!("FieldsV1"));
                m.insert("fieldsV1".into(), e.set.to_fields_v1());
                m.insert("manager".into(), json!(e.manager));
                m.insert("operation".into(), json!(e.operation.as_str()));
                if let Some(s) = &e.subresource {
                    m.insert("subresource".into(), json!(s));
                }
                m.insert("time".into(), json!(e.time));
                Value::Object(m)
            })
            .collect();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            if list.is_empty() {
                meta.remove("managedFields");
            } else {
                meta.insert("managedFields".into(), Value::Array(list));
            }
        }
    }

    /// Union of every manager's fields except `except`'s.
    pub fn owned_by_others(&self, w: &Writer<'_>, op: Operation) -> Set {
        self.entries
            .iter()
            .filter(|e| !e.is(w, op))
            .fold(Set::new(), |acc, e| acc.union(&e.set))
    }

    fn take_entry(&mut self, w: &Writer<'_>, op: Operation) -> Option<Entry> {
        let i = self.entries.iter().position(|e| e.is(w, op))?;
        Some(self.entries.remove(i))
    }

    fn put_entry(&mut self, w: &Writer<'_>, op: Operation, previous: Option<Entry>, set: Set) {
        if set.is_empty() {
            return;
        }
        let time = match &previous {
            Some(p) if p.set == set => p.time.clone(),
            _ => w.time.to_owned(),
        };
        self.entries.push(Entry {
            manager: w.manager.to_owned(),
            operation: op,
            api_version: w.api_version.to_owned(),
            subresource: w.subresource.map(str::to_owned),
            time,
            set,
        });
    }

    /// Takes conflicting fields away from other managers (`changed`) and forgets `removed`
    /// paths everywhere. Returns the conflicts (which a non-forced apply reports instead).
    fn settle_others(
        &mut self,
        w: &Writer<'_>,
        op: Operation,
        changed: &Set,
        removed: &Set,
        force: bool,
    ) -> Vec<Conflict> {
        let mut conflicts = Vec::new();
        for e in self.entries.iter_mut().filter(|e| !e.is(w, op)) {
            let clash = e.set.intersection(changed);
            for p in clash.paths() {
                conflicts.push(Conflict {
                    manager: e.manager.clone(),
                    message: e.describe(),
                    field: render_path(&p),
                });
            }
            if force || op == Operation::Update {
                e.set = e.set.difference(&clash);
            }
            e.set = e.set.difference(removed);
        }
        self.entries.retain(|e| !e.set.is_empty());
        conflicts
    }

    /// An update (create, replace, or a non-apply patch) from `old` to `new`: the writer owns
    /// what it added or changed, other managers lose what changed under them, and removed
    /// paths are forgotten. `old = None` is a create, compared against `zero` (the empty
    /// object of the type, whose structs do not count as added).
    pub fn update(
        &mut self,
        old: Option<&Value>,
        zero: &Value,
        new: &Value,
        w: &Writer<'_>,
        scope: Scope,
        schema: &dyn Schema,
    ) {
        let c = compare(Some(old.unwrap_or(zero)), new, schema);
        let changed = strip(c.modified.union(&c.added), scope);
        let removed = strip(c.removed, scope);
        self.settle_others(w, Operation::Update, &changed, &removed, true);
        let previous = self.take_entry(w, Operation::Update);
        let mine = previous
            .as_ref()
            .map(|p| p.set.difference(&removed))
            .unwrap_or_default()
            .union(&changed);
        self.put_entry(w, Operation::Update, previous, mine);
    }

    /// A server-side apply of `config` onto `live` (`None` when the object does not exist
    /// yet), as structured-merge-diff's `Updater.Apply`: merge, then prune what this manager
    /// applied last time and no longer applies unless another manager owns it, then settle
    /// ownership against the other managers. Returns the new object, or the conflicts when
    /// another manager owns a field whose value would change and `force` is not set.
    pub fn apply(
        &mut self,
        live: Option<&Value>,
        config: &Value,
        w: &Writer<'_>,
        scope: Scope,
        force: bool,
        schema: &dyn Schema,
    ) -> Result<Value, ApplyError> {
        validate_config(config, schema).map_err(ApplyError::Invalid)?;
        let empty = Value::Object(Map::new());
        let live = live.unwrap_or(&empty);
        let merged = try_merge(live, config, schema).map_err(ApplyError::Invalid)?;
        let applied = in_scope(applied_set(config, schema), scope);
        let previous = self.take_entry(w, Operation::Apply);
        let new = match &previous {
            Some(prev) if !prev.set.is_empty() => {
                let managed = self
                    .entries
                    .iter()
                    .fold(applied.clone(), |acc, e| acc.union(&e.set));
                prune(&merged, &managed, &prev.set, schema)
            }
            _ => merged,
        };

        let c = compare(Some(live), &new, schema);
        let changed = strip(c.modified.union(&c.added), scope);
        let removed = strip(c.removed, scope);
        let mut trial = self.clone();
        let conflicts = trial.settle_others(w, Operation::Apply, &changed, &removed, force);
        if !conflicts.is_empty() && !force {
            if let Some(p) = previous {
                self.entries.push(p);
            }
            return Err(ApplyError::Conflicts(conflicts));
        }
        *self = trial;
        self.put_entry(w, Operation::Apply, previous, strip(applied, scope));
        Ok(new)
    }
}

/// Structured-merge-diff's `prune`: removes from `merged` the fields, list items and map keys
/// this manager applied last time (`last`), then adds back whatever any manager owns now
/// (`managed`, this apply's fields included) and whatever the removal took that the manager
/// did not own (items of other managers' or nobody's under a removed field).
fn prune(merged: &Value, managed: &Set, last: &Set, schema: &dyn Schema) -> Value {
    let last = last.with_named_fields(schema);
    let pruned = remove_items(merged, &last, schema);
    let merged_set = applied_set(merged, schema).with_named_fields(schema);
    // Add back what is owned.
    let pruned_set = applied_set(&pruned, schema).with_named_fields(schema);
    let keep = pruned_set.union(&managed.with_named_fields(schema));
    let pruned = remove_items(merged, &merged_set.difference(&keep), schema);
    // Add back what the manager did not own.
    let pruned_set = applied_set(&pruned, schema).with_named_fields(schema);
    let drop = merged_set.difference(&pruned_set).intersection(&last);
    remove_items(merged, &drop, schema)
}

/// The API server's message for a failed apply.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [only] = conflicts {
        return format!(
            "Apply failed with 1 conflict: {}: {}",
            only.message, only.field
        );
    }
    let mut by_manager: Vec<(&str, Vec<&str>)> = Vec::new();
    for c in conflicts {
        match by_manager.iter_mut().find(|(m, _)| *m == c.message) {
            Some((_, fields)) => fields.push(&c.field),
            None => by_manager.push((&c.message, vec![&c.field])),
        }
    }
    let parts: Vec<String> = by_manager
        .iter()
        .map(|(m, fields)| {
            let plural = m.replacen("conflict with", "conflicts with", 1);
            let list: Vec<String> = fields.iter().map(|f| format!("- {f}")).collect();
            format!("{plural}:\n{}", list.join("\n"))
        })
        .collect();
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        parts.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::TypePath;

    /// A ConfigMap's type: named fields, `data` a map.
    struct Untyped;
    impl Schema for Untyped {
        fn list_type(&self, _path: TypePath<'_>) -> Option<crate::ListType> {
            None
        }
        fn is_atomic_map(&self, _path: TypePath<'_>) -> bool {
            false
        }
        fn is_named_field(&self, path: TypePath<'_>, _name: &str) -> bool {
            path != ["data"]
        }
    }

    fn w<'a>(m: &'a str) -> Writer<'a> {
        Writer {
            manager: m,
            api_version: "v1",
            subresource: None,
            time: "2026-01-01T00:00:00Z",
        }
    }

    fn cm(data: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": data})
    }

    #[test]
    fn apply_conflict_force_and_release_like_the_transcript() {
        let mut mf = ManagedFields::default();
        let o1 = mf
            .apply(
                None,
                &cm(json!({"a": "1", "b": "2"})),
                &w("ferry"),
                Scope::All,
                false,
                &Untyped,
            )
            .expect("create");
        assert_eq!(
            mf.entries[0].set.to_fields_v1(),
            json!({"f:data": {"f:a": {}, "f:b": {}}})
        );

        let err = mf
            .clone()
            .apply(
                Some(&o1),
                &cm(json!({"a": "changed"})),
                &w("other"),
                Scope::All,
                false,
                &Untyped,
            )
            .expect_err("conflict");
        assert_eq!(
            err.conflicts(),
            &[Conflict {
                manager: "ferry".into(),
                message: "conflict with \"ferry\"".into(),
                field: ".data.a".into()
            }]
        );

        let o2 = mf
            .apply(
                Some(&o1),
                &cm(json!({"a": "changed"})),
                &w("other"),
                Scope::All,
                true,
                &Untyped,
            )
            .expect("forced");
        let o3 = mf
            .apply(
                Some(&o2),
                &cm(json!({})),
                &w("ferry"),
                Scope::All,
                false,
                &Untyped,
            )
            .expect("release");
        assert_eq!(o3["data"], json!({"a": "changed"}));
        let mut out = o3.clone();
        mf.write_to(&mut out);
        let sets: Vec<Value> = out["metadata"]["managedFields"]
            .as_array()
            .expect("list")
            .iter()
            .map(|e| e["fieldsV1"].clone())
            .collect();
        assert_eq!(
            sets,
            vec![json!({"f:data": {}}), json!({"f:data": {"f:a": {}}})]
        );
    }

    #[test]
    fn update_takes_fields_from_others() {
        let mut mf = ManagedFields::default();
        let zero = json!({});
        let o1 = cm(json!({"k": "v"}));
        mf.update(None, &zero, &o1, &w("creator"), Scope::All, &Untyped);
        assert_eq!(
            mf.entries[0].set.to_fields_v1(),
            json!({"f:data": {".": {}, "f:k": {}}})
        );
        let o2 = cm(json!({"k": "v2"}));
        mf.update(Some(&o1), &zero, &o2, &w("editor"), Scope::All, &Untyped);
        assert_eq!(mf.entries.len(), 2);
        assert_eq!(mf.entries[0].set.to_fields_v1(), json!({"f:data": {}}));
        assert_eq!(
            mf.entries[1].set.to_fields_v1(),
            json!({"f:data": {"f:k": {}}})
        );
    }

    #[test]
    fn multiple_conflicts_message() {
        let c = vec![
            Conflict {
                manager: "a".into(),
                message: "conflict with \"a\"".into(),
                field: ".x".into(),
            },
            Conflict {
                manager: "a".into(),
                message: "conflict with \"a\"".into(),
                field: ".y".into(),
            },
        ];
        assert_eq!(
            conflict_message(&c),
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .x\n- .y"
        );
    }
}
