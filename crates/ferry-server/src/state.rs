//! The server's view of the management cluster: one watch per kind (Applications,
//! ApplicationSets, cluster Secrets, the controller's cluster status ConfigMap), each kept
//! as typed objects parsed once per change, so that a request reads memory and never LISTs.
//! Every change is also sent to the event stream.
//!
//! Cluster Secrets are kept as [`ClusterEntry`]: name, server, labels and auth kind. Their
//! credentials are dropped as they are read and never reach an answer.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use ferry_api::ApplicationSet;
use ferry_cluster::api_resource as ar;
use ferry_core::locks;
use futures::StreamExt as _;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::stored::StoredApp;

/// One change the caches saw, as the event stream sends it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Change {
    pub kind: &'static str,
    pub name: String,
    #[serde(rename = "type")]
    pub kind_of_change: &'static str,
}

/// A registered cluster as the API shows it (no credential).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterEntry {
    pub name: String,
    pub server: String,
    pub labels: BTreeMap<String, String>,
    /// The Secret it comes from (`ferry/cluster-prod`).
    pub source: String,
}

/// A map of parsed objects by name, filled by one watch.
#[derive(Debug)]
pub struct Cache<T> {
    items: RwLock<BTreeMap<String, Arc<T>>>,
    synced: watch::Sender<bool>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self {
            items: RwLock::new(BTreeMap::new()),
            synced: watch::channel(false).0,
        }
    }
}

impl<T> Cache<T> {
    pub fn get(&self, name: &str) -> Option<Arc<T>> {
        locks::read(&self.items).get(name).cloned()
    }

    /// Every object, by name.
    pub fn all(&self) -> Vec<Arc<T>> {
        locks::read(&self.items).values().cloned().collect()
    }

    /// Every object with its name.
    pub fn entries(&self) -> Vec<(String, Arc<T>)> {
        locks::read(&self.items)
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn names(&self) -> Vec<String> {
        locks::read(&self.items).keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        locks::read(&self.items).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the first list has been read.
    pub fn is_synced(&self) -> bool {
        *self.synced.borrow()
    }

    fn replace(&self, items: BTreeMap<String, Arc<T>>) {
        *locks::write(&self.items) = items;
        self.synced.send_replace(true);
    }

    fn insert(&self, name: String, item: Arc<T>) {
        locks::write(&self.items).insert(name, item);
    }

    fn remove(&self, name: &str) -> bool {
        locks::write(&self.items).remove(name).is_some()
    }
}

/// Applications per page of the first list (and of each re-list).
const APP_PAGE: u32 = 100;

/// Everything the server reads.
#[derive(Debug)]
pub struct Fleet {
    pub namespace: String,
    /// Applications as compact JSON ([`StoredApp`]): most of the server's memory.
    pub apps: Cache<StoredApp>,
    pub sets: Cache<ApplicationSet>,
    pub clusters: Cache<ClusterEntry>,
    /// What the controller published of each cluster (`ferry cluster get`'s status).
    pub cluster_status: RwLock<BTreeMap<String, Value>>,
    pub changes: broadcast::Sender<Change>,
}

impl Fleet {
    pub fn new(namespace: &str) -> Arc<Fleet> {
        Arc::new(Fleet {
            namespace: namespace.to_owned(),
            apps: Cache::default(),
            sets: Cache::default(),
            clusters: Cache::default(),
            cluster_status: RwLock::new(BTreeMap::new()),
            changes: broadcast::channel(1024).0,
        })
    }

    /// Whether every watch has read its first list.
    pub fn is_ready(&self) -> bool {
        self.apps.is_synced() && self.sets.is_synced() && self.clusters.is_synced()
    }

    fn changed(&self, kind: &'static str, name: &str, deleted: bool) {
        let _ = self.changes.send(Change {
            kind,
            name: name.to_owned(),
            kind_of_change: if deleted { "deleted" } else { "applied" },
        });
    }

    /// Starts the watches; they run until `stop` changes.
    pub fn watch(self: &Arc<Self>, client: &kube::Client, stop: &watch::Receiver<bool>) {
        let ns = self.namespace.clone();
        let api = |r| Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &r);
        let apps = api(ferry_controller::applications_resource());
        let sets = api(ar(
            ferry_api::GROUP,
            ferry_api::VERSION,
            "ApplicationSet",
            "applicationsets",
        ));
        let secrets = api(ar("", "v1", "Secret", "secrets"));
        let configmaps = api(ar("", "v1", "ConfigMap", "configmaps"));

        let fleet = self.clone();
        follow(
            apps,
            // Smaller pages than the default 500: a page is held parsed while it is read, and
            // the allocator keeps what the largest page took (`ferry bench --server`).
            watcher::Config::default().page_size(APP_PAGE),
            stop.clone(),
            parse_app,
            |f| &f.apps,
            fleet,
            "Application",
        );
        let fleet = self.clone();
        follow(
            sets,
            watcher::Config::default(),
            stop.clone(),
            parse::<ApplicationSet>,
            |f| &f.sets,
            fleet,
            "ApplicationSet",
        );
        let fleet = self.clone();
        follow(
            secrets,
            watcher::Config::default().labels(&format!("{}=cluster", ferry_api::SECRET_TYPE_LABEL)),
            stop.clone(),
            move |o| cluster_entry(o, &ns_of(o)),
            |f| &f.clusters,
            fleet,
            "Cluster",
        );
        let fleet = self.clone();
        let mut stop = stop.clone();
        let stream = watcher(
            configmaps,
            watcher::Config::default().fields(&format!(
                "metadata.name={}",
                ferry_controller::clusters::CLUSTERS_CONFIGMAP_NAME
            )),
        );
        tokio::spawn(async move {
            let mut stream = stream.boxed();
            loop {
                let ev = tokio::select! { e = stream.next() => e, _ = stop.changed() => return };
                match ev {
                    None => return,
                    Some(Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) => {
                        fleet.published(Some(&o));
                    }
                    Some(Ok(watcher::Event::Delete(_))) => fleet.published(None),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => {
                        tracing::debug!(error = %e, "cluster status watch failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }

    /// The controller published new cluster status.
    fn published(&self, cm: Option<&DynamicObject>) {
        let parsed: BTreeMap<String, Value> = cm
            .and_then(|o| o.data.get("data"))
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(name, text)| {
                Some((name.clone(), serde_json::from_str(text.as_str()?).ok()?))
            })
            .collect();
        let changed: Vec<String> = {
            let mut current = locks::write(&self.cluster_status);
            let mut names: Vec<String> = current
                .keys()
                .chain(parsed.keys())
                .filter(|n| current.get(*n) != parsed.get(*n))
                .cloned()
                .collect();
            names.dedup();
            *current = parsed;
            names
        };
        for name in changed {
            self.changed("Cluster", &name, false);
        }
    }
}

fn ns_of(o: &DynamicObject) -> String {
    o.metadata.namespace.clone().unwrap_or_default()
}

/// `o` as a [`StoredApp`]; an object that is not an Application is left out, in words.
fn parse_app(o: &DynamicObject) -> Option<(String, StoredApp)> {
    match serde_json::to_value(o).and_then(StoredApp::new) {
        Ok(stored) => Some(stored),
        Err(e) => {
            tracing::warn!(name = ?o.metadata.name, error = %e, "not a valid Application; left out of the API's answers");
            None
        }
    }
}

/// `o` as a `T`, without its `managedFields` (no answer shows them, and they can be most of a
/// stored object's size).
fn parse<T: serde::de::DeserializeOwned>(o: &DynamicObject) -> Option<(String, T)> {
    let value = serde_json::to_value(o).map(|mut v| {
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
        }
        v
    });
    match value.and_then(serde_json::from_value) {
        Ok(t) => Some((o.metadata.name.clone().unwrap_or_default(), t)),
        Err(e) => {
            tracing::warn!(name = ?o.metadata.name, error = %e, "not a valid object; left out of the API's answers");
            None
        }
    }
}

/// The name, server and labels of a cluster Secret; nothing else of it is kept.
fn cluster_entry(o: &DynamicObject, namespace: &str) -> Option<(String, ClusterEntry)> {
    let v = serde_json::to_value(o).ok()?;
    let info = ferry_controller::appset::fetched::cluster_info(&v)?;
    Some((
        info.name.clone(),
        ClusterEntry {
            name: info.name,
            server: info.server,
            labels: info.labels,
            source: format!(
                "{namespace}/{}",
                o.metadata.name.clone().unwrap_or_default()
            ),
        },
    ))
}

/// Follows one watch into one cache of `fleet`, parsing each object once into its key
/// (the object's name; for a cluster, the name its Secret gives) and its value.
fn follow<T: Send + Sync + 'static>(
    api: Api<DynamicObject>,
    config: watcher::Config,
    mut stop: watch::Receiver<bool>,
    parse: impl Fn(&DynamicObject) -> Option<(String, T)> + Send + 'static,
    cache: fn(&Fleet) -> &Cache<T>,
    fleet: Arc<Fleet>,
    kind: &'static str,
) {
    tokio::spawn(async move {
        let mut stream = watcher(api, config).boxed();
        // A (re-)list fills this, then replaces the cache at once.
        let mut listing: Option<BTreeMap<String, Arc<T>>> = None;
        loop {
            let ev = tokio::select! { e = stream.next() => e, _ = stop.changed() => return };
            let ev = match ev {
                None => return,
                Some(Ok(ev)) => ev,
                Some(Err(e)) => {
                    tracing::debug!(kind, error = %e, "watch failed; the watcher retries");
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    continue;
                }
            };
            match ev {
                watcher::Event::Init => listing = Some(BTreeMap::new()),
                watcher::Event::InitApply(o) => {
                    if let (Some(list), Some((name, item))) = (listing.as_mut(), parse(&o)) {
                        list.insert(name, Arc::new(item));
                    }
                }
                watcher::Event::InitDone => {
                    let list = listing.take().unwrap_or_default();
                    let before = cache(&fleet).names();
                    for name in before.iter().filter(|n| !list.contains_key(*n)) {
                        fleet.changed(kind, name, true);
                    }
                    let names: Vec<String> = list.keys().cloned().collect();
                    cache(&fleet).replace(list);
                    for name in names {
                        fleet.changed(kind, &name, false);
                    }
                }
                watcher::Event::Apply(o) => {
                    if let Some((name, item)) = parse(&o) {
                        cache(&fleet).insert(name.clone(), Arc::new(item));
                        fleet.changed(kind, &name, false);
                    }
                }
                watcher::Event::Delete(o) => {
                    if let Some((name, _)) = parse(&o)
                        && cache(&fleet).remove(&name)
                    {
                        fleet.changed(kind, &name, true);
                    }
                }
            }
        }
    });
}
