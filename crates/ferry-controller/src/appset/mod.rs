//! The ApplicationSet controller: keeps the Applications an `ApplicationSet` generates equal
//! to what its generators and template say, within its policy. It talks to the application
//! controller only through Kubernetes objects (it writes Applications; the other syncs them);
//! in one process the two share the Application watch (as informers are shared), the
//! work-queue type and the Git cache, never each other's state.
//!
//! Safety rules, each tested end to end:
//! - Nothing is generated until the cluster Secrets and Applications have been listed once
//!   (an empty cache must not read as "no clusters, delete everything").
//! - A generator or template error changes nothing: the set's `ErrorOccurred` condition says
//!   which generator failed and why, and every Application stays as it is.
//! - An Application of the same name that the set does not own is never adopted.
//! - Deleting a set deletes its Applications (Kubernetes' garbage collection, through their
//!   owner reference) but, unless `preserveResourcesOnDeletion: false`, never their resources;
//!   under a policy that does not allow deletion, the Applications are released and stay
//!   (with background cascading, as in Argo CD: a foreground delete lets the garbage
//!   collector take them first).

pub mod fetched;
mod reconcile;

pub use reconcile::{Preview, preview};

use ferry_core::locks::{lock, read, write};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ferry_api::{Application, ApplicationSet, HealthStatus};
use ferry_appset::{ClusterInfo, Policy};
use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::Value;
use tokio::sync::watch;

use crate::queue::WorkQueue;
use crate::watches::spawn_watch;
use ferry_source::Sources;

/// Annotation that makes a set fetch its Git revisions again (Argo CD's name, removed after
/// the reconcile).
pub const REFRESH_ANNOTATION: &str = "argocd.argoproj.io/application-set-refresh";

pub fn applicationsets_resource() -> ApiResource {
    ar(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "ApplicationSet",
        "applicationsets",
    )
}

/// How the ApplicationSet controller runs.
#[derive(Debug, Clone)]
pub struct AppSetConfig {
    pub namespace: String,
    /// The policy of sets that do not name one (`syncPolicy.applicationsSync`).
    pub default_policy: Policy,
    /// How often a set with git generators looks at Git again, unless it says
    /// (`requeueAfterSeconds`); a push webhook does it at once.
    pub git_poll: Duration,
}

/// An Application as the set controller keeps it: without its status, but with the two
/// words of it the set's status shows.
#[derive(Debug)]
struct Known {
    /// Without its status; only for Applications that have owners (the others are known by
    /// name, for name collisions). Boxed: an `Application` is over 2 KiB inline.
    app: Option<Box<Application>>,
    /// uid of the ApplicationSet that controls it.
    owner: Option<String>,
    sync: Option<ferry_api::SyncCode>,
    health: Option<HealthStatus>,
}

/// Shared state of the ApplicationSet controller.
pub struct AppSetCtx {
    config: AppSetConfig,
    sets_api: Api<DynamicObject>,
    apps_api: Api<DynamicObject>,
    sources: Sources,
    sets: RwLock<HashMap<String, ApplicationSet>>,
    apps: RwLock<HashMap<String, Known>>,
    /// By Secret name.
    clusters: RwLock<BTreeMap<String, ClusterInfo>>,
    clusters_listed: AtomicBool,
    /// When each set last resolved its Git revisions.
    git_fetched: std::sync::Mutex<HashMap<String, std::time::Instant>>,
    apps_listed: AtomicBool,
    queue: WorkQueue,
}

impl std::fmt::Debug for AppSetCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSetCtx").finish_non_exhaustive()
    }
}

use ferry_core::timestamp::now;

/// The uid of the ApplicationSet that controls `app`, if one does.
fn controlling_set(app: &Application) -> Option<String> {
    app.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|r| {
            r.controller == Some(true)
                && r.kind == "ApplicationSet"
                && r.api_version.starts_with(&format!("{}/", ferry_api::GROUP))
        })
        .map(|r| r.uid.clone())
}

/// What the set controller keeps of an Application: for one a set controls, all but its
/// status; for another with owners, its name and owners (for conflict messages); else
/// nothing (its name is the key).
fn kept_copy(app: &Application, controlled: bool) -> Option<Box<Application>> {
    if controlled {
        return Some(Box::new(Application {
            api_version: app.api_version.clone(),
            kind: app.kind.clone(),
            metadata: app.metadata.clone(),
            spec: app.spec.clone(),
            operation: app.operation.clone(),
            status: None,
        }));
    }
    let owners = app.metadata.owner_references.clone()?;
    let mut slim = Application::default();
    slim.metadata.name = app.metadata.name.clone();
    slim.metadata.owner_references = Some(owners);
    Some(Box::new(slim))
}

/// Whether `app` is the same as the kept copy in all that matters to its set (a status
/// write is not).
fn unchanged_for_sets(kept: Option<&Application>, app: &Application) -> bool {
    let (m, k) = match kept {
        None => return app.metadata.owner_references.is_none(),
        Some(k) => (&app.metadata, &k.metadata),
    };
    if m.owner_references != k.owner_references {
        return false;
    }
    if controlling_set(app).is_none() {
        return true;
    }
    kept.is_some_and(|k| k.spec == app.spec)
        && m.labels == k.labels
        && m.annotations == k.annotations
        && m.finalizers == k.finalizers
        && m.deletion_timestamp.is_some() == k.deletion_timestamp.is_some()
}

impl AppSetCtx {
    /// Every set, queued now.
    pub fn resync_all(&self) {
        for name in read(&self.sets).keys() {
            self.queue.add(name, Duration::ZERO);
        }
    }

    /// A push: sets with a git generator on a repository and revision it `matches` fetch
    /// again now. Answers how many.
    pub fn refresh_repo(&self, matches: impl Fn(&str, &str) -> bool) -> usize {
        let hit: Vec<(String, Vec<String>)> = read(&self.sets)
            .iter()
            .filter_map(|(name, set)| {
                let urls: Vec<String> = ferry_appset::git_sources(set)
                    .into_iter()
                    .filter(|(url, rev)| matches(url, rev))
                    .map(|(url, _)| url)
                    .collect();
                (!urls.is_empty()).then(|| (name.clone(), urls))
            })
            .collect();
        for (name, urls) in &hit {
            for url in urls {
                self.sources.invalidate(url);
            }
            self.queue.add(name, Duration::ZERO);
        }
        hit.len()
    }

    /// Whether set `name`'s Git revisions are due to be resolved again (`every` after the
    /// last time); marks them resolved now when they are.
    fn git_due(&self, name: &str, every: Duration) -> bool {
        let mut at = lock(&self.git_fetched);
        let now = std::time::Instant::now();
        match at.get(name) {
            Some(t) if now.duration_since(*t) < every => false,
            _ => {
                at.insert(name.to_owned(), now);
                true
            }
        }
    }

    /// Whether any set's reconcile is running or due now.
    pub fn busy(&self) -> bool {
        self.queue.busy()
    }

    /// An Application as the application controller's watch saw it (the two controllers
    /// share that watch, as controllers in one process share informers). Owned ones trigger
    /// their set when anything but their status changes (a hand edit is put back), and their
    /// sync and health appear in the set's status. Of the others only the name and owners
    /// are kept (for name collisions).
    pub fn observe_app(&self, app: &Application) {
        let owner = controlling_set(app);
        let name = app.metadata.name.clone().unwrap_or_default();
        let status = app.status.as_ref();
        let sync = status.map(|s| s.sync.status);
        let health = status.map(|s| s.health.clone());
        // Decided under the lock, queued after it (queueing reads the sets). A status
        // change copies nothing.
        let wake: Vec<(Option<String>, Duration)> = {
            let mut apps = write(&self.apps);
            let same = apps
                .get(&name)
                .is_some_and(|k| k.owner == owner && unchanged_for_sets(k.app.as_deref(), app));
            match apps.get_mut(&name) {
                Some(k) if same => {
                    let moved = k.sync != sync || k.health != health;
                    k.sync = sync;
                    k.health = health;
                    if moved {
                        vec![(owner, Duration::from_secs(2))]
                    } else {
                        Vec::new()
                    }
                }
                _ => {
                    let before = apps.insert(
                        name,
                        Known {
                            app: kept_copy(app, owner.is_some()),
                            owner: owner.clone(),
                            sync,
                            health,
                        },
                    );
                    [before.and_then(|b| b.owner), owner]
                        .into_iter()
                        .map(|o| (o, Duration::from_millis(100)))
                        .collect()
                }
            }
        };
        for (owner, delay) in wake {
            self.queue_owner(owner.as_deref(), delay);
        }
    }

    /// An Application was deleted.
    pub fn forget_app(&self, name: &str) {
        let gone = write(&self.apps).remove(name);
        if let Some(gone) = gone {
            self.queue_owner(gone.owner.as_deref(), Duration::from_millis(100));
        }
    }

    /// The shared watch has listed every Application once.
    pub fn apps_listed(&self) {
        self.apps_listed.store(true, Ordering::SeqCst);
    }

    /// Queues the set whose uid is `uid`.
    fn queue_owner(&self, uid: Option<&str>, delay: Duration) {
        let Some(uid) = uid else { return };
        let owner = read(&self.sets)
            .iter()
            .find(|(_, s)| s.metadata.uid.as_deref() == Some(uid))
            .map(|(n, _)| n.clone());
        if let Some(name) = owner {
            self.queue.add(&name, delay);
        }
    }
}

// === impl ApplicationObserver for AppSetCtx ===

impl crate::ApplicationObserver for AppSetCtx {
    fn applied(&self, app: &Application) {
        self.observe_app(app);
    }

    fn deleted(&self, name: &str) {
        self.forget_app(name);
    }

    fn listed(&self) {
        self.apps_listed();
    }
}

/// Starts the ApplicationSet controller's watches and workers (they stop when `stop`
/// changes). Applications reach it through [`AppSetCtx::observe_app`] and
/// [`AppSetCtx::forget_app`] from the application controller's watch.
pub fn start(
    client: kube::Client,
    config: AppSetConfig,
    sources: Sources,
    stop: watch::Receiver<bool>,
) -> Arc<AppSetCtx> {
    let ctx = Arc::new(AppSetCtx {
        sets_api: Api::namespaced_with(
            client.clone(),
            &config.namespace,
            &applicationsets_resource(),
        ),
        apps_api: Api::namespaced_with(
            client.clone(),
            &config.namespace,
            &crate::applications_resource(),
        ),
        sources,
        sets: RwLock::new(HashMap::new()),
        apps: RwLock::new(HashMap::new()),
        clusters: RwLock::new(BTreeMap::new()),
        clusters_listed: AtomicBool::new(false),
        git_fetched: std::sync::Mutex::new(HashMap::new()),
        apps_listed: AtomicBool::new(false),
        queue: WorkQueue::default(),
        config,
    });

    // ApplicationSets.
    let c = ctx.clone();
    let mut relist = Relist::default();
    spawn_watch(
        watcher(ctx.sets_api.clone(), watcher::Config::default()),
        stop.clone(),
        move |ev| {
            if let Some(listed) = relist.follow(&ev) {
                write(&c.sets).retain(|n, _| listed.contains(n));
            }
            match ev {
                watcher::Event::Apply(mut o) | watcher::Event::InitApply(mut o) => {
                    let shown = o.metadata.name.clone().unwrap_or_default();
                    // Items of a list may come without their type.
                    o.types.get_or_insert_with(|| kube::api::TypeMeta {
                        api_version: ferry_api::API_VERSION.into(),
                        kind: "ApplicationSet".into(),
                    });
                    match serde_json::to_value(&o)
                        .and_then(serde_json::from_value::<ApplicationSet>)
                    {
                        Ok(set) => {
                            let before = write(&c.sets).insert(shown.clone(), set.clone());
                            let same = before.is_some_and(|b| {
                                b.spec == set.spec
                                    && b.metadata.annotations == set.metadata.annotations
                                    && b.metadata.deletion_timestamp
                                        == set.metadata.deletion_timestamp
                                    && b.metadata.finalizers == set.metadata.finalizers
                            });
                            if !same {
                                c.queue.add(&shown, Duration::ZERO);
                            }
                        }
                        Err(e) => {
                            tracing::warn!(applicationset = %shown, error = %e, "not a valid ApplicationSet");
                            write(&c.sets).remove(&shown);
                        }
                    }
                }
                watcher::Event::Delete(o) => {
                    if let Some(n) = o.metadata.name {
                        write(&c.sets).remove(&n);
                    }
                }
                _ => {}
            }
        },
    );

    // Cluster Secrets: registering, relabelling or removing a cluster reaches every set.
    let secrets: Api<DynamicObject> = Api::namespaced_with(
        client,
        &ctx.config.namespace,
        &ar("", "v1", "Secret", "secrets"),
    );
    let selector = format!("{}=cluster", ferry_api::SECRET_TYPE_LABEL);
    let c = ctx.clone();
    let mut relist = Relist::default();
    spawn_watch(
        watcher(secrets, watcher::Config::default().labels(&selector)),
        stop.clone(),
        move |ev| {
            if let Some(listed) = relist.follow(&ev) {
                write(&c.clusters).retain(|n, _| listed.contains(n));
            }
            match ev {
                watcher::Event::Apply(o) | watcher::Event::InitApply(o) => {
                    let name = o.metadata.name.clone().unwrap_or_default();
                    let v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    let info = fetched::cluster_info(&v);
                    let mut clusters = write(&c.clusters);
                    if clusters.get(&name) == info.as_ref() {
                        return;
                    }
                    match info {
                        Some(i) => clusters.insert(name, i),
                        None => {
                            tracing::warn!(secret = %name, "cluster Secret without a server: not a cluster to generators");
                            clusters.remove(&name)
                        }
                    };
                }
                watcher::Event::Delete(o) => {
                    if let Some(n) = o.metadata.name {
                        write(&c.clusters).remove(&n);
                    }
                }
                watcher::Event::InitDone => c.clusters_listed.store(true, Ordering::SeqCst),
                watcher::Event::Init => return,
            }
            for name in read(&c.sets).keys() {
                c.queue.add(name, Duration::from_millis(100));
            }
        },
    );

    crate::queue::spawn_workers(
        &ctx,
        2,
        &stop,
        |c: &AppSetCtx| &c.queue,
        |ctx, name| async move {
            let again = reconcile::reconcile(&ctx, &name).await;
            again.filter(|_| read(&ctx.sets).contains_key(&name))
        },
    );
    ctx
}

/// What a watch listed between `Init` and `InitDone`: after a re-list (a watch that fell
/// too far behind), objects deleted meanwhile are not announced, they are just not listed.
#[derive(Debug, Default)]
pub struct Relist {
    seen: Option<std::collections::HashSet<String>>,
}

impl Relist {
    /// Follows one event; at `InitDone`, answers the names listed (the caller forgets the
    /// others).
    pub fn follow(
        &mut self,
        ev: &watcher::Event<DynamicObject>,
    ) -> Option<std::collections::HashSet<String>> {
        match ev {
            watcher::Event::Init => self.seen = Some(Default::default()),
            watcher::Event::InitApply(o) => {
                if let (Some(seen), Some(n)) = (self.seen.as_mut(), &o.metadata.name) {
                    seen.insert(n.clone());
                }
            }
            watcher::Event::InitDone => return self.seen.take(),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str) -> DynamicObject {
        let mut o = DynamicObject::new(name, &applicationsets_resource());
        o.metadata.name = Some(name.into());
        o
    }

    #[test]
    fn a_relist_answers_what_it_listed_and_only_then() {
        let mut r = Relist::default();
        assert!(r.follow(&watcher::Event::Apply(obj("a"))).is_none());
        assert!(r.follow(&watcher::Event::Init).is_none());
        assert!(r.follow(&watcher::Event::InitApply(obj("b"))).is_none());
        assert!(r.follow(&watcher::Event::InitApply(obj("c"))).is_none());
        let listed = r
            .follow(&watcher::Event::InitDone)
            .expect("the listed names");
        assert_eq!(listed.len(), 2);
        assert!(listed.contains("b") && listed.contains("c") && !listed.contains("a"));
        // Outside a listing nothing is answered.
        assert!(r.follow(&watcher::Event::InitDone).is_none());
    }

    #[test]
    fn the_set_controller_keeps_only_what_it_needs_of_an_application() {
        let mut app = Application::default();
        app.metadata.name = Some("web".into());
        assert!(
            kept_copy(&app, false).is_none(),
            "no owners: the name is enough"
        );
        assert!(unchanged_for_sets(None, &app));
        app.metadata.owner_references = Some(vec![
            k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                api_version: "ferry.dev/v1alpha1".into(),
                kind: "ApplicationSet".into(),
                name: "set".into(),
                uid: "u1".into(),
                controller: Some(true),
                block_owner_deletion: Some(true),
            },
        ]);
        app.status = Some(Default::default());
        let kept = kept_copy(&app, true).expect("a copy");
        assert!(kept.status.is_none(), "without its status");
        assert!(unchanged_for_sets(Some(&kept), &app));
        let mut edited = app.clone();
        edited.spec.source.path = "elsewhere".into();
        assert!(
            !unchanged_for_sets(Some(&kept), &edited),
            "a hand edit matters"
        );
        let mut status_only = app.clone();
        status_only.status = None;
        assert!(unchanged_for_sets(Some(&kept), &status_only));
    }
}
