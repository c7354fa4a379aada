//! The live state of one cluster as Ferry needs it: a watch per resource type in use, keeping
//! only the objects that carry a tracking annotation, each as compact JSON without
//! `managedFields` (about its own size, where a parsed `serde_json::Value` costs 6–11×). A
//! reconcile reads this cache and issues no LIST; a change to a managed object notifies the
//! application that owns it.

use ferry_core::locks;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::Value;
use tokio::sync::{mpsc, watch};

use crate::registry::Cluster;

/// Identity of a live object.
pub use ferry_core::ResourceKey;

#[derive(Debug)]
struct Cached {
    tracking: String,
    resource_version: String,
    json: Box<[u8]>,
}

/// A managed object seen in the cluster.
#[derive(Debug, Clone)]
pub struct LiveObject {
    pub key: ResourceKey,
    pub tracking: String,
    pub resource_version: String,
    pub object: Value,
}

impl LiveObject {
    /// The group and version of its `apiVersion` (`("", "v1")` for the core group).
    pub fn group_version(&self) -> (&str, &str) {
        let api_version = self.object["apiVersion"].as_str().unwrap_or_default();
        api_version.rsplit_once('/').unwrap_or(("", api_version))
    }
}

#[derive(Default)]
struct Shared {
    objects: RwLock<HashMap<ResourceKey, Cached>>,
    /// Resource types watched, by `group/version/kind`, with whether their first list is done.
    watches: Mutex<HashMap<String, watch::Receiver<bool>>>,
    /// The last watch error, cleared by the next successful event.
    error: Mutex<Option<String>>,
    /// Versions Ferry itself just wrote: their watch events are echoes, not news.
    expected: Mutex<HashMap<ResourceKey, String>>,
    /// Watch failures so far (a recovery probe that saw none during its wait trusts its
    /// answer).
    failures: AtomicU64,
    /// A recovery probe is running.
    probing: AtomicBool,
}

/// The managed objects of one cluster. Cheap to clone.
#[derive(Clone)]
pub struct LiveCache {
    cluster: Cluster,
    shared: Arc<Shared>,
    changed: mpsc::UnboundedSender<String>,
    stop: watch::Receiver<bool>,
}

impl std::fmt::Debug for LiveCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCache")
            .field("cluster", &self.cluster.spec.name)
            .finish()
    }
}

/// The items of a LIST carry no `apiVersion` and `kind` (a real API server leaves them
/// out): they are those of the resource watched.
fn typed(mut obj: Value, ar: &ApiResource) -> Value {
    if let Some(m) = obj.as_object_mut() {
        if m.get("apiVersion")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            m.insert("apiVersion".into(), Value::String(ar.api_version.clone()));
        }
        if m.get("kind")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            m.insert("kind".into(), Value::String(ar.kind.clone()));
        }
    }
    obj
}

/// A managed object as the cache keeps it: tracking id, resourceVersion, compact JSON.
type Compacted = (String, String, Box<[u8]>);

/// The key of a watched object and, when Ferry manages it, its compact form: straight from
/// the typed object to bytes, without an intermediate JSON tree.
fn compact_typed(mut obj: DynamicObject, ar: &ApiResource) -> (ResourceKey, Option<Compacted>) {
    let types = obj.types.get_or_insert_with(Default::default);
    if types.api_version.is_empty() {
        types.api_version = ar.api_version.clone();
    }
    if types.kind.is_empty() {
        types.kind = ar.kind.clone();
    }
    let group = types
        .api_version
        .rsplit_once('/')
        .map(|(g, _)| g.to_owned())
        .unwrap_or_default();
    let key = ResourceKey {
        group,
        kind: types.kind.clone(),
        namespace: obj.metadata.namespace.clone().unwrap_or_default(),
        name: obj.metadata.name.clone().unwrap_or_default(),
    };
    let tracking = obj
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ferry_api::TRACKING_ANNOTATION))
        .cloned();
    let Some(tracking) = tracking else {
        return (key, None);
    };
    obj.metadata.managed_fields = None;
    let rv = obj.metadata.resource_version.clone().unwrap_or_default();
    let compacted = serde_json::to_vec(&obj)
        .ok()
        .map(|json| (tracking, rv, json.into_boxed_slice()));
    (key, compacted)
}

#[cfg(test)]
fn compact(mut obj: Value) -> Option<Compacted> {
    let meta = obj.get_mut("metadata")?.as_object_mut()?;
    meta.remove("managedFields");
    let tracking = meta
        .get("annotations")?
        .get(ferry_api::TRACKING_ANNOTATION)?
        .as_str()?
        .to_owned();
    let rv = meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((
        tracking,
        rv,
        serde_json::to_vec(&obj).ok()?.into_boxed_slice(),
    ))
}

impl LiveCache {
    /// A cache for `cluster` that sends the name of an application whenever one of its
    /// objects changes, until `stop` changes.
    pub fn new(
        cluster: Cluster,
        changed: mpsc::UnboundedSender<String>,
        stop: watch::Receiver<bool>,
    ) -> Self {
        Self {
            cluster,
            shared: Arc::new(Shared::default()),
            changed,
            stop,
        }
    }

    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The last watch error, while the cluster cannot be watched.
    pub fn error(&self) -> Option<String> {
        locks::lock(&self.shared.error).clone()
    }

    /// Watches a resource type (once), and waits up to `wait` for its first list.
    pub async fn ensure_watch(&self, ar: &ApiResource, wait: Duration) -> bool {
        let id = format!("{}/{}/{}", ar.group, ar.version, ar.kind);
        let mut ready = {
            let mut watches = locks::lock(&self.shared.watches);
            match watches.get(&id) {
                Some(r) => r.clone(),
                None => {
                    let (tx, rx) = watch::channel(false);
                    watches.insert(id.clone(), rx.clone());
                    tokio::spawn(self.clone().run_watch(ar.clone(), tx));
                    rx
                }
            }
        };
        if *ready.borrow() {
            return true;
        }
        // Wait for the first list, but not for the whole `wait` when the watch already failed
        // (a refusal such as 403 will not go away by waiting).
        let deadline = tokio::time::Instant::now() + wait;
        let mut failing_since: Option<tokio::time::Instant> = None;
        loop {
            if *ready.borrow() {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            match (self.error().is_some(), failing_since) {
                (true, None) => failing_since = Some(now),
                (true, Some(since)) if now.duration_since(since) > Duration::from_secs(1) => {
                    return false;
                }
                (false, _) => failing_since = None,
                _ => {}
            }
            let _ = tokio::time::timeout(Duration::from_millis(100), ready.changed()).await;
        }
    }

    /// Forgets the last watch error (after the caller saw the cluster answer again: a
    /// resumed watch has nothing to say until something changes).
    /// Ferry wrote `key` and the cluster answered with `resource_version`: the watch event
    /// of that version is an echo of Ferry's own write and does not wake its application.
    /// A later version (another writer, a controller's status) does.
    pub fn expect(&self, key: &ResourceKey, resource_version: &str) {
        let mut expected = locks::lock(&self.shared.expected);
        // Bounded: an echo that never comes (the object changed again first) is forgotten.
        if expected.len() > 100_000 {
            expected.clear();
        }
        expected.insert(key.clone(), resource_version.to_owned());
    }

    pub fn clear_error(&self) {
        self.set_error(None);
    }

    /// Sets or clears the error; answers whether there was one before.
    fn set_error(&self, e: Option<String>) -> bool {
        std::mem::replace(&mut *locks::lock(&self.shared.error), e).is_some()
    }

    /// A watch failed: the error is kept until the cluster answers again, which a probe
    /// finds out (a resumed watch says nothing until something changes, so its silence
    /// cannot tell).
    fn watch_failed(&self, error: String) {
        self.set_error(Some(error));
        self.shared.failures.fetch_add(1, Ordering::SeqCst);
        if !self.shared.probing.swap(true, Ordering::SeqCst) {
            tokio::spawn(self.clone().probe_until_recovered());
        }
    }

    /// Asks the cluster for its version, 1 s after the last failure and then less and less
    /// often (at most every 10 s), until it answers while no watch failed meanwhile; then
    /// the error is cleared and every application of this cluster is woken (a deletion or
    /// comparison held by the outage goes on at once instead of after its backoff).
    async fn probe_until_recovered(self) {
        let mut period = Duration::from_secs(1);
        let mut stop = self.stop.clone();
        loop {
            let seen = self.shared.failures.load(Ordering::SeqCst);
            tokio::select! {
                _ = tokio::time::sleep(period) => {}
                _ = stop.changed() => break,
            }
            period = (period * 2).min(Duration::from_secs(10));
            if self.error().is_none() {
                break;
            }
            if self.shared.failures.load(Ordering::SeqCst) != seen {
                continue;
            }
            let answered = {
                let _permit = self.cluster.limiter.acquire().await;
                tokio::time::timeout(
                    Duration::from_secs(5),
                    self.cluster.client.apiserver_version(),
                )
                .await
                .is_ok_and(|r| r.is_ok())
            };
            if answered && self.shared.failures.load(Ordering::SeqCst) == seen {
                tracing::debug!(cluster = %self.cluster.spec.name, "cluster answers again");
                if self.set_error(None) {
                    self.notify_all();
                }
                break;
            }
        }
        self.shared.probing.store(false, Ordering::SeqCst);
    }

    /// Wakes every application with an object in this cache, once each.
    fn notify_all(&self) {
        let apps: HashSet<String> = locks::read(&self.shared.objects)
            .values()
            .filter_map(|c| ferry_api::app_of_tracking_id(&c.tracking).map(str::to_owned))
            .collect();
        for app in apps {
            let _ = self.changed.send(app);
        }
    }

    fn notify(&self, tracking: &str) {
        if let Some(app) = ferry_api::app_of_tracking_id(tracking) {
            let _ = self.changed.send(app.to_owned());
        }
    }

    async fn run_watch(self, ar: ApiResource, ready: watch::Sender<bool>) {
        let api: Api<DynamicObject> = Api::all_with(self.cluster.client.clone(), &ar);
        let mut stream = watcher(api, watcher::Config::default()).boxed();
        let mut stop = self.stop.clone();
        let mut relisted: HashSet<ResourceKey> = HashSet::new();
        loop {
            let event = tokio::select! {
                e = stream.next() => e,
                _ = stop.changed() => return,
            };
            let Some(event) = event else { return };
            let event = match event {
                Ok(e) => e,
                Err(e) => {
                    tracing::debug!(cluster = %self.cluster.spec.name, kind = %ar.kind, error = %e, "watch failed; retrying");
                    self.watch_failed(format!(
                        "watching {}: {}",
                        ar.plural,
                        self.cluster.watch_cause(&e)
                    ));
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            if self.set_error(None) {
                // The cluster answers again: its applications need not wait out a backoff
                // (a deletion held by the outage, a comparison that failed).
                self.notify_all();
            }
            match event {
                watcher::Event::Init => relisted.clear(),
                watcher::Event::InitApply(obj) => {
                    if let Some(k) = self.store(obj, &ar) {
                        relisted.insert(k);
                    }
                }
                watcher::Event::InitDone => {
                    let gone: Vec<(ResourceKey, String)> = {
                        let objects = locks::read(&self.shared.objects);
                        objects
                            .iter()
                            .filter(|(k, _)| {
                                k.group == ar.group && k.kind == ar.kind && !relisted.contains(k)
                            })
                            .map(|(k, c)| (k.clone(), c.tracking.clone()))
                            .collect()
                    };
                    for (k, tracking) in gone {
                        locks::write(&self.shared.objects).remove(&k);
                        self.notify(&tracking);
                    }
                    relisted.clear();
                    ready.send_replace(true);
                }
                watcher::Event::Apply(obj) => {
                    self.store(obj, &ar);
                }
                watcher::Event::Delete(obj) => {
                    if let Ok(v) = serde_json::to_value(&obj) {
                        self.forget(&ResourceKey::of(&typed(v, &ar)));
                    }
                }
            }
        }
    }

    fn store(&self, obj: DynamicObject, ar: &ApiResource) -> Option<ResourceKey> {
        let (key, compacted) = compact_typed(obj, ar);
        match compacted {
            Some((tracking, rv, json)) => {
                let mut objects = locks::write(&self.shared.objects);
                let changed = objects.get(&key).is_none_or(|c| c.resource_version != rv);
                let echo = changed && {
                    let mut expected = locks::lock(&self.shared.expected);
                    match expected.get(&key) {
                        Some(e) if *e == rv => expected.remove(&key).is_some(),
                        _ => false,
                    }
                };
                objects.insert(
                    key.clone(),
                    Cached {
                        tracking: tracking.clone(),
                        resource_version: rv,
                        json,
                    },
                );
                drop(objects);
                if changed && !echo {
                    self.notify(&tracking);
                }
                Some(key)
            }
            None => {
                // No longer (or never) managed: forget it.
                self.forget(&key);
                None
            }
        }
    }

    /// Drops an object from the cache and tells its application.
    fn forget(&self, key: &ResourceKey) {
        let removed = locks::write(&self.shared.objects).remove(key);
        if let Some(c) = removed {
            self.notify(&c.tracking);
        }
    }

    fn live(key: &ResourceKey, c: &Cached) -> Option<LiveObject> {
        Some(LiveObject {
            key: key.clone(),
            tracking: c.tracking.clone(),
            resource_version: c.resource_version.clone(),
            object: serde_json::from_slice(&c.json).ok()?,
        })
    }

    /// A managed object, parsed.
    pub fn get(&self, key: &ResourceKey) -> Option<LiveObject> {
        let objects = locks::read(&self.shared.objects);
        objects.get(key).and_then(|c| Self::live(key, c))
    }

    /// The resourceVersion of a managed object, without parsing it.
    pub fn resource_version(&self, key: &ResourceKey) -> Option<String> {
        let objects = locks::read(&self.shared.objects);
        objects.get(key).map(|c| c.resource_version.clone())
    }

    /// Every object whose tracking id names `app`.
    pub fn managed_by(&self, app: &str) -> Vec<LiveObject> {
        let prefix = format!("{app}:");
        let objects = locks::read(&self.shared.objects);
        let mut out: Vec<LiveObject> = objects
            .iter()
            .filter(|(_, c)| c.tracking.starts_with(&prefix))
            .filter_map(|(k, c)| Self::live(k, c))
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    /// Number of cached objects and their bytes (for benchmarks).
    pub fn footprint(&self) -> (usize, usize) {
        let objects = locks::read(&self.shared.objects);
        (
            objects.len(),
            objects
                .values()
                .map(|c| c.json.len() + c.tracking.len() + c.resource_version.len())
                .sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn typed_compaction_matches_the_json_one() {
        let ar = crate::api_resource("", "v1", "ConfigMap", "configmaps");
        let item = json!({"metadata": {"name": "a", "namespace": "ns", "resourceVersion": "7",
            "annotations": {"ferry.dev/tracking-id": "web:/ConfigMap:ns/a"},
            "managedFields": [{"manager": "x"}]}, "data": {"k": "v"}});
        let obj: DynamicObject = serde_json::from_value(item.clone()).expect("object");
        let (key, typed_form) = compact_typed(obj, &ar);
        assert_eq!(key, ResourceKey::of(&typed(item.clone(), &ar)));
        let (tracking, rv, bytes) = typed_form.expect("tracked");
        let (t2, rv2, bytes2) = compact(typed(item, &ar)).expect("tracked");
        assert_eq!((tracking, rv), (t2, rv2));
        let a: Value = serde_json::from_slice(&bytes).expect("json");
        let b: Value = serde_json::from_slice(&bytes2).expect("json");
        assert_eq!(a, b);
        let untracked: DynamicObject =
            serde_json::from_value(json!({"metadata": {"name": "b"}})).expect("object");
        assert!(compact_typed(untracked, &ar).1.is_none());
    }

    #[test]
    fn list_items_get_the_type_of_the_watched_resource() {
        let ar = crate::api_resource("apps", "v1", "Deployment", "deployments");
        let item = json!({"metadata": {"name": "web", "namespace": "demo"}});
        let key = ResourceKey::of(&typed(item, &ar));
        assert_eq!(
            (key.group.as_str(), key.kind.as_str()),
            ("apps", "Deployment")
        );
        let own = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}});
        assert_eq!(ResourceKey::of(&typed(own, &ar)).kind, "ConfigMap");
    }

    #[test]
    fn compaction_keeps_tracked_objects_without_managed_fields() {
        let obj = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "resourceVersion": "7",
            "annotations": {"ferry.dev/tracking-id": "web:/ConfigMap:ns/a"}, "managedFields": [{"manager": "x"}]}});
        let (tracking, rv, json) = compact(obj).expect("tracked");
        assert_eq!(
            (tracking.as_str(), rv.as_str()),
            ("web:/ConfigMap:ns/a", "7")
        );
        assert!(!String::from_utf8_lossy(&json).contains("managedFields"));
        assert!(compact(json!({"metadata": {"name": "untracked"}})).is_none());
    }

    #[test]
    fn keys_name_group_kind_namespace_and_name() {
        let k = ResourceKey::of(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": "prod"}}),
        );
        assert_eq!(k.to_string(), "Deployment.apps prod/api");
        let k = ResourceKey::of(
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}}),
        );
        assert_eq!(k.to_string(), "Namespace/prod");
    }
}
