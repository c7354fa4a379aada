//! Object storage of one cluster: objects by resource, a resourceVersion counter, a bounded
//! history of watch events, and the broadcast that feeds open watches.
//!
//! One writer at a time (the cluster's mutex); watches read the history and then the broadcast.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::broadcast;

/// `(group, plural)`: objects are stored once per resource, whatever the version.
pub type ResKey = (String, String);
/// `(namespace, name)`; the namespace is empty for cluster-scoped objects.
pub type ObjKey = (String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches see it.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub res: ResKey,
    pub kind: EventType,
    pub object: Arc<Value>,
    /// The object before a modification (lets selector watches turn MODIFIED into ADDED or
    /// DELETED as the object enters or leaves the selection).
    pub previous: Option<Arc<Value>>,
}

/// The objects and history of one cluster.
#[derive(Debug)]
pub struct Store {
    rv: u64,
    objects: HashMap<ResKey, BTreeMap<ObjKey, Arc<Value>>>,
    history: VecDeque<Arc<Event>>,
    history_limit: usize,
    /// Watches from a resourceVersion below this are answered `410 Gone`.
    compacted_below: u64,
    events: broadcast::Sender<Arc<Event>>,
    /// owner uid -> dependents.
    dependents: HashMap<String, HashSet<(ResKey, ObjKey)>>,
    /// uid -> where the object lives.
    by_uid: HashMap<String, (ResKey, ObjKey)>,
}

pub fn obj_key(obj: &Value) -> ObjKey {
    let m = &obj["metadata"];
    (
        m["namespace"].as_str().unwrap_or_default().to_owned(),
        m["name"].as_str().unwrap_or_default().to_owned(),
    )
}

pub fn uid_of(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/uid").and_then(Value::as_str)
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r["uid"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

// === impl Store ===

impl Store {
    pub fn new(history_limit: usize) -> Self {
        let (events, _) = broadcast::channel(8192);
        Self {
            rv: 0,
            objects: HashMap::new(),
            history: VecDeque::new(),
            history_limit: history_limit.max(16),
            compacted_below: 0,
            events,
            dependents: HashMap::new(),
            by_uid: HashMap::new(),
        }
    }

    pub fn current_rv(&self) -> u64 {
        self.rv
    }

    /// Forgets all history up to now, as a server that has been running for a while has.
    pub fn compact_history(&mut self) {
        self.history.clear();
        self.compacted_below = self.rv + 1;
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.events.subscribe()
    }

    pub fn get(&self, res: &ResKey, key: &ObjKey) -> Option<&Arc<Value>> {
        self.objects.get(res)?.get(key)
    }

    /// Objects of a resource, in key order, optionally within one namespace.
    pub fn list<'a>(
        &'a self,
        res: &ResKey,
        namespace: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<Value>> + 'a {
        self.list_from(res, namespace, None).map(|(_, v)| v)
    }

    /// Objects of a resource in key order from `start` (inclusive), optionally within one
    /// namespace.
    pub fn list_from<'a>(
        &'a self,
        res: &ResKey,
        namespace: Option<&'a str>,
        start: Option<ObjKey>,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Arc<Value>)> + 'a {
        let map = self.objects.get(res);
        map.into_iter().flat_map(move |m| {
            let from = match (&start, namespace) {
                (Some(s), Some(ns)) if s.0.as_str() < ns => (ns.to_owned(), String::new()),
                (Some(s), _) => s.clone(),
                (None, Some(ns)) => (ns.to_owned(), String::new()),
                (None, None) => (String::new(), String::new()),
            };
            m.range(from..)
                .take_while(move |((n, _), _)| namespace.is_none_or(|ns| n == ns))
        })
    }

    pub fn count(&self, res: &ResKey) -> usize {
        self.objects.get(res).map_or(0, BTreeMap::len)
    }

    pub fn resources(&self) -> Vec<ResKey> {
        self.objects
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn locate_uid(&self, uid: &str) -> Option<&(ResKey, ObjKey)> {
        self.by_uid.get(uid)
    }

    pub fn dependents_of(&self, uid: &str) -> Vec<(ResKey, ObjKey)> {
        self.dependents
            .get(uid)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    /// Stores `obj` (created or changed) under a new resourceVersion and tells the watches.
    pub fn put(&mut self, res: &ResKey, mut obj: Value) -> Arc<Value> {
        let rv = self.next_rv();
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let key = obj_key(&obj);
        let obj = Arc::new(obj);
        let previous = self
            .objects
            .entry(res.clone())
            .or_default()
            .insert(key.clone(), obj.clone());
        if let Some(prev) = &previous {
            self.unindex(res, &key, prev);
        }
        self.index(res, &key, &obj);
        let kind = if previous.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.emit(Event {
            rv,
            res: res.clone(),
            kind,
            object: obj.clone(),
            previous,
        });
        obj
    }

    /// Removes an object; the DELETED event carries a new resourceVersion.
    pub fn remove(&mut self, res: &ResKey, key: &ObjKey) -> Option<Arc<Value>> {
        let old = self.objects.get_mut(res)?.remove(key)?;
        self.unindex(res, key, &old);
        let rv = self.next_rv();
        let mut last = (*old).clone();
        if let Some(meta) = last.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        }
        let last = Arc::new(last);
        self.emit(Event {
            rv,
            res: res.clone(),
            kind: EventType::Deleted,
            object: last.clone(),
            previous: None,
        });
        Some(last)
    }

    fn index(&mut self, res: &ResKey, key: &ObjKey, obj: &Value) {
        if let Some(uid) = uid_of(obj) {
            self.by_uid
                .insert(uid.to_owned(), (res.clone(), key.clone()));
        }
        for owner in owner_uids(obj) {
            self.dependents
                .entry(owner)
                .or_default()
                .insert((res.clone(), key.clone()));
        }
    }

    fn unindex(&mut self, res: &ResKey, key: &ObjKey, obj: &Value) {
        if let Some(uid) = uid_of(obj) {
            self.by_uid.remove(uid);
        }
        for owner in owner_uids(obj) {
            if let Some(set) = self.dependents.get_mut(&owner) {
                set.remove(&(res.clone(), key.clone()));
                if set.is_empty() {
                    self.dependents.remove(&owner);
                }
            }
        }
    }

    fn emit(&mut self, event: Event) {
        let event = Arc::new(event);
        self.history.push_back(event.clone());
        while self.history.len() > self.history_limit {
            if let Some(old) = self.history.pop_front() {
                self.compacted_below = old.rv + 1;
            }
        }
        // No receiver is fine: nobody watches.
        let _ = self.events.send(event);
    }

    /// Events after `rv` for one resource, or `Err(oldest)` when `rv` is older than the
    /// history kept.
    pub fn events_since(&self, res: &ResKey, rv: u64) -> Result<Vec<Arc<Event>>, u64> {
        if rv + 1 < self.compacted_below {
            return Err(self.compacted_below.saturating_sub(1));
        }
        Ok(self
            .history
            .iter()
            .filter(|e| e.rv > rv && &e.res == res)
            .cloned()
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cm(ns: &str, name: &str) -> Value {
        json!({"metadata": {"namespace": ns, "name": name, "uid": format!("u-{name}")}})
    }

    #[test]
    fn put_remove_and_history() {
        let mut s = Store::new(100);
        let res: ResKey = (String::new(), "configmaps".into());
        s.put(&res, cm("a", "x"));
        let start = s.current_rv();
        s.put(&res, cm("a", "y"));
        s.put(&res, cm("b", "z"));
        s.remove(&res, &("a".into(), "y".into()));
        let names: Vec<_> = s
            .list(&res, Some("a"))
            .map(|o| o["metadata"]["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("x")]);
        let ev = s.events_since(&res, start).expect("fresh");
        let kinds: Vec<_> = ev.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            vec![EventType::Added, EventType::Added, EventType::Deleted]
        );
        s.compact_history();
        assert!(s.events_since(&res, start).is_err());
    }

    #[test]
    fn list_from_pages_in_key_order_across_namespaces() {
        let mut s = Store::new(100);
        let res: ResKey = (String::new(), "configmaps".into());
        for (ns, name) in [("a-b", "y"), ("a", "x"), ("a", "z"), ("b", "w")] {
            s.put(&res, cm(ns, name));
        }
        let keys: Vec<ObjKey> = s
            .list_from(&res, None, Some(("a".into(), "z".into())))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(
            keys,
            vec![
                ("a".into(), "z".into()),
                ("a-b".into(), "y".into()),
                ("b".into(), "w".into())
            ]
        );
        let in_ns: Vec<ObjKey> = s
            .list_from(&res, Some("a"), Some(("a".into(), "y".into())))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(in_ns, vec![("a".into(), "z".into())]);
    }

    #[test]
    fn history_is_bounded() {
        let mut s = Store::new(16);
        let res: ResKey = (String::new(), "configmaps".into());
        for i in 0..40 {
            s.put(&res, cm("a", &format!("o{i}")));
        }
        assert!(s.events_since(&res, 1).is_err());
        assert!(s.events_since(&res, 30).is_ok());
    }

    #[test]
    fn tracks_dependents() {
        let mut s = Store::new(100);
        let res: ResKey = (String::new(), "configmaps".into());
        let mut child = cm("a", "child");
        child["metadata"]["ownerReferences"] = json!([{"uid": "u-owner"}]);
        s.put(&res, child);
        assert_eq!(s.dependents_of("u-owner").len(), 1);
        s.remove(&res, &("a".into(), "child".into()));
        assert!(s.dependents_of("u-owner").is_empty());
    }
}
