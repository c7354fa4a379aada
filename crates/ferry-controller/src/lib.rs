//! Ferry's application controller (layer 4): keeps every cluster equal to Git.
//!
//! [`spawn`] watches `Application`s and cluster and repository Secrets in Ferry's namespace,
//! and reconciles each application ([`reconcile::reconcile`]) when it changes, when one of
//! its live objects changes (the watch cache notices drift), and every poll interval. It
//! talks to other controllers only through Kubernetes objects; the ApplicationSet
//! controller (module [`appset`]) follows the same Application watch as an
//! [`ApplicationObserver`], as informer handlers share one informer. `ferry-runtime` starts
//! both.

pub mod appset;
pub mod clusters;
pub mod compare;
mod decide;
pub mod diff;
pub mod finalize;
pub mod operation;
mod projects;
pub mod queue;
pub mod reconcile;
mod watches;

pub use watches::{ignore_defaults_of, watch_named};

use ferry_cluster::api_resource as ar;
use ferry_core::locks::{lock, read};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_api::{Application, ApplicationStatus};
use ferry_cluster::{Cluster, Limits, LiveCache, Registry, ResourceKey};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::compare::Memo;
use crate::queue::WorkQueue;
use ferry_source::Sources;

/// How the application controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Ferry's namespace on the management cluster (Applications and Secrets live there).
    pub namespace: String,
    /// How often every application is looked at even when nothing told us to (default 3 min,
    /// with up to 10% jitter); also how long a resolved revision is trusted.
    pub poll_interval: Duration,
    /// Applications reconciled at once.
    pub workers: usize,
    /// Client-side limits per cluster.
    pub limits: Limits,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            namespace: ferry_api::NAMESPACE.into(),
            poll_interval: Duration::from_secs(180),
            workers: 8,
            limits: Limits::default(),
        }
    }
}

/// What else follows the Application watch, as handlers of one informer do: the
/// ApplicationSet controller. It is told what the watch delivers and never handed the
/// application controller's state.
pub trait ApplicationObserver: Send + Sync {
    /// An Application as the watch delivered it (added or changed).
    fn applied(&self, app: &Application);
    /// An Application is gone (deleted, or not listed again after a re-list).
    fn deleted(&self, name: &str);
    /// The watch's (re-)list is complete: every Application is known.
    fn listed(&self);
}

/// The ConfigMap (in Ferry's namespace) with controller-wide settings in Argo CD's
/// `argocd-cm` key format; for now `resource.customizations.ignoreDifferences.<group_Kind>`
/// and `resource.customizations.ignoreDifferences.all`.
pub const SETTINGS_CONFIGMAP_NAME: &str = "ferry-cm";

pub fn applications_resource() -> ApiResource {
    ar(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "Application",
        "applications",
    )
}

/// Shared state of the controller.
pub struct ControllerCtx {
    pub config: ControllerConfig,
    pub apps_api: Api<DynamicObject>,
    pub registry: Registry,
    pub sources: Sources,
    /// Boxed: an `Application` is over 2 KiB inline, and a map's spare slots would hold that
    /// much each.
    apps: RwLock<HashMap<String, Box<Application>>>,
    caches: Mutex<HashMap<String, (LiveCache, watch::Sender<bool>)>>,
    memo: Mutex<HashMap<(String, ResourceKey), Memo>>,
    failures: Mutex<HashMap<String, u32>>,
    /// When each application's next sync retry is due (a wake-up before then waits).
    retry_at: Mutex<HashMap<String, tokio::time::Instant>>,
    /// Controller-wide `ignoreDifferences` per kind, from the ConfigMap `ferry-cm`.
    ignore_defaults: RwLock<Vec<ferry_diff::IgnoreRule>>,
    /// Every AppProject of Ferry's namespace, by name, as the project watch last saw it.
    projects: RwLock<HashMap<String, Arc<ferry_api::AppProject>>>,
    /// The project watch has listed them once (before, no application is judged).
    projects_listed: std::sync::atomic::AtomicBool,
    changed: mpsc::UnboundedSender<String>,
    stop: watch::Receiver<bool>,
    pub queue: WorkQueue,
    /// What else follows the Application watch (the ApplicationSet controller).
    observers: std::sync::OnceLock<Vec<Arc<dyn ApplicationObserver>>>,
    /// Live caches' change notices, until [`spawn`] takes them.
    changed_rx: Mutex<Option<mpsc::UnboundedReceiver<String>>>,
}

impl ControllerCtx {
    pub fn app(&self, name: &str) -> Option<Application> {
        read(&self.apps).get(name).map(|a| Application::clone(a))
    }

    /// Whether the application exists (without copying it).
    pub fn has_app(&self, name: &str) -> bool {
        read(&self.apps).contains_key(name)
    }

    /// How many applications satisfy `f`, looked at under the lock without copying them
    /// (as the controller's watch last saw them).
    pub fn count_apps(&self, f: impl Fn(&str, &Application) -> bool) -> usize {
        read(&self.apps).iter().filter(|(n, a)| f(n, a)).count()
    }

    pub fn app_names(&self) -> Vec<String> {
        read(&self.apps).keys().cloned().collect()
    }

    /// The live cache of a cluster, made (or remade, when the cluster changed) on first use.
    pub fn cache_for(&self, cluster: &Cluster) -> LiveCache {
        let mut caches = lock(&self.caches);
        if let Some((c, _)) = caches.get(cluster.name())
            && c.cluster().spec == cluster.spec
        {
            return c.clone();
        }
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut parent = self.stop.clone();
        let child = stop_tx.clone();
        tokio::spawn(async move {
            let _ = parent.changed().await;
            child.send_replace(true);
        });
        let cache = LiveCache::new(cluster.clone(), self.changed.clone(), stop_rx);
        if let Some((_, old_stop)) =
            caches.insert(cluster.name().to_owned(), (cache.clone(), stop_tx))
        {
            old_stop.send_replace(true);
        }
        cache
    }

    /// The AWS role project `project` reads secrets as, if it names one.
    pub fn project_aws(&self, project: &str) -> Option<ferry_api::ProjectAws> {
        self.project(project).and_then(|p| p.spec.aws.clone())
    }

    /// AppProject `name` (`""` is `default`), if it exists.
    pub fn project(&self, name: &str) -> Option<Arc<ferry_api::AppProject>> {
        read(&self.projects)
            .get(ferry_project::project_name(name))
            .cloned()
    }

    /// Whether the project watch has listed every AppProject once.
    pub fn projects_listed(&self) -> bool {
        self.projects_listed
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Queues every application of project `name` now.
    pub fn resync_project(&self, name: &str) {
        let names: Vec<String> = read(&self.apps)
            .iter()
            .filter(|(_, a)| ferry_project::project_name(&a.spec.project) == name)
            .map(|(n, _)| n.clone())
            .collect();
        for n in names {
            self.queue.add(&n, Duration::ZERO);
        }
    }

    /// Queues every application now (a full resync).
    pub fn resync_all(&self) {
        for name in self.app_names() {
            self.queue.add(&name, Duration::ZERO);
        }
    }

    /// Whether any reconcile is running or due now.
    pub fn busy(&self) -> bool {
        self.queue.busy()
    }

    /// What else follows the Application watch.
    pub(crate) fn observers(&self) -> &[Arc<dyn ApplicationObserver>] {
        self.observers.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// Objects held by the live caches of every cluster, and their bytes.
    pub fn cache_footprint(&self) -> (usize, usize) {
        lock(&self.caches)
            .values()
            .map(|(c, _)| c.footprint())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    }

    /// The controller-wide `ignoreDifferences` rules.
    pub fn ignore_defaults(&self) -> Vec<ferry_diff::IgnoreRule> {
        read(&self.ignore_defaults).clone()
    }

    pub fn memo(&self, key: &(String, ResourceKey)) -> Option<Memo> {
        lock(&self.memo).get(key).cloned()
    }

    pub fn remember(&self, key: (String, ResourceKey), memo: Memo) {
        lock(&self.memo).insert(key, memo);
    }

    /// The next poll, with up to 10% jitter.
    pub fn poll_delay(&self) -> Duration {
        let jitter = (uuid::Uuid::new_v4().as_u128() % 1000) as f64 / 10_000.0;
        self.config.poll_interval.mul_f64(1.0 + jitter)
    }

    /// Exponential backoff after failures: 2 s doubling, at most the poll interval.
    pub fn failure_delay(&self, name: &str) -> Duration {
        let mut f = lock(&self.failures);
        let n = f.entry(name.to_owned()).or_insert(0);
        *n = (*n + 1).min(16);
        Duration::from_secs(
            2u64.saturating_pow(*n)
                .min(self.config.poll_interval.as_secs().max(2)),
        )
    }

    /// Holds the next retry of `name`'s sync for `delay`.
    pub fn retry_after(&self, name: &str, delay: Duration) {
        lock(&self.retry_at).insert(name.to_owned(), tokio::time::Instant::now() + delay);
    }

    /// How long `name`'s retry must still wait (zero when due, or when none is held).
    pub fn retry_wait(&self, name: &str) -> Duration {
        let mut at = lock(&self.retry_at);
        match at.get(name) {
            Some(t) if *t > tokio::time::Instant::now() => {
                t.saturating_duration_since(tokio::time::Instant::now())
            }
            Some(_) => {
                at.remove(name);
                Duration::ZERO
            }
            None => Duration::ZERO,
        }
    }

    pub fn succeeded(&self, name: &str) {
        lock(&self.failures).remove(name);
    }

    /// One status write, skipped when nothing but the reconcile time changed. It is made
    /// against the version of the application the reconcile read: a newer version (an
    /// operation asked for, or a status written meanwhile) makes it fail with a conflict, and
    /// `false` asks the caller to reconcile again rather than overwrite what it did not see.
    pub async fn write_status(
        &self,
        app: &Application,
        old: &ApplicationStatus,
        new: ApplicationStatus,
    ) -> bool {
        if !reconcile::changed(old, &new) {
            return true;
        }
        let name = app.metadata.name.clone().unwrap_or_default();
        let mut body = reconcile::status_patch(old, &new);
        if let Some(rv) = &app.metadata.resource_version {
            body["metadata"] = json!({"resourceVersion": rv});
        }
        match self
            .apps_api
            .patch_status(&name, &PatchParams::default(), &Patch::Merge(body))
            .await
        {
            Ok(_) => true,
            Err(kube::Error::Api(s)) if s.code == 409 => {
                tracing::debug!(app = %name, "application changed while reconciling; again");
                false
            }
            Err(e) => {
                tracing::warn!(app = %name, error = %e, "status write failed");
                true
            }
        }
    }

    /// A push webhook: every application whose source the push touched resolves its
    /// revision again and is reconciled now. Answers how many (the ApplicationSet
    /// controller is told by the listener itself).
    pub fn refresh_matching(&self, event: &ferry_webhook::PushEvent) -> usize {
        // Matched under the lock, without copying every application.
        let matched: Vec<(String, String)> = read(&self.apps)
            .iter()
            .filter(|(_, app)| {
                let src = &app.spec.source;
                event.matches(&src.repo_url, &src.target_revision)
            })
            .map(|(name, app)| (name.clone(), app.spec.source.repo_url.clone()))
            .collect();
        let n = matched.len();
        for (name, repo_url) in matched {
            self.sources.invalidate(&repo_url);
            tracing::info!(app = %name, provider = %event.provider, "refreshed by a push webhook");
            self.queue.add(&name, Duration::ZERO);
        }
        n
    }

    pub async fn clear_operation(&self, app: &Application) {
        let name = app.metadata.name.clone().unwrap_or_default();
        if let Err(e) = self
            .apps_api
            .patch(
                &name,
                &PatchParams::default(),
                &reconcile::clear_operation_patch(),
            )
            .await
        {
            tracing::warn!(app = %name, error = %e, "clearing the operation failed");
        }
    }

    pub async fn clear_refresh(&self, app: &Application) {
        if !app
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.contains_key(reconcile::REFRESH_ANNOTATION))
        {
            return;
        }
        let name = app.metadata.name.clone().unwrap_or_default();
        let patch = Patch::Merge(
            json!({"metadata": {"annotations": {reconcile::REFRESH_ANNOTATION: null}}}),
        );
        if let Err(e) = self
            .apps_api
            .patch(&name, &PatchParams::default(), &patch)
            .await
        {
            tracing::warn!(app = %name, error = %e, "clearing the refresh annotation failed");
        }
    }
}

impl ControllerCtx {
    /// The controller's shared state, before anything runs.
    pub fn new(
        client: &kube::Client,
        mgmt: kube::Config,
        config: ControllerConfig,
        sources: Sources,
        aws: ferry_aws::Aws,
        stop: &watch::Receiver<bool>,
    ) -> Arc<ControllerCtx> {
        let (changed_tx, changed_rx) = mpsc::unbounded_channel();
        Arc::new(ControllerCtx {
            apps_api: Api::namespaced_with(
                client.clone(),
                &config.namespace,
                &applications_resource(),
            ),
            registry: Registry::new(mgmt, config.limits).with_aws(aws),
            sources,
            apps: RwLock::new(HashMap::new()),
            caches: Mutex::new(HashMap::new()),
            memo: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
            retry_at: Mutex::new(HashMap::new()),
            ignore_defaults: RwLock::new(Vec::new()),
            projects: RwLock::new(HashMap::new()),
            projects_listed: std::sync::atomic::AtomicBool::new(false),
            changed: changed_tx,
            stop: stop.clone(),
            queue: WorkQueue::default(),
            observers: std::sync::OnceLock::new(),
            changed_rx: Mutex::new(Some(changed_rx)),
            config,
        })
    }
}

/// Starts the controller's watches and workers (they stop when `stop` changes); the
/// Application watch is shared with `observers`. Once per controller.
pub fn spawn(
    ctx: &Arc<ControllerCtx>,
    client: &kube::Client,
    observers: Vec<Arc<dyn ApplicationObserver>>,
    stop: &watch::Receiver<bool>,
) {
    let _ = ctx.observers.set(observers);
    // A plugin render that ended, or whose backoff is over, brings its application back.
    let woken = Arc::downgrade(ctx);
    ctx.sources.on_plugin_settled(move |app| {
        if let Some(ctx) = woken.upgrade()
            && ctx.has_app(app)
        {
            ctx.queue.add(app, Duration::ZERO);
        }
    });

    // Cluster and repository Secrets, Applications, the settings ConfigMap.
    watches::secrets(ctx, client, stop);
    watches::applications(ctx, stop);
    watches::settings(ctx, client, stop);
    watches::projects(ctx, client, stop);
    // What is known of each cluster, for `ferry cluster list|get`.
    clusters::spawn(ctx, client, stop);

    // Live objects that changed re-trigger their application.
    if let Some(mut changed_rx) = lock(&ctx.changed_rx).take() {
        let ctx = ctx.clone();
        tokio::spawn(async move {
            while let Some(app) = changed_rx.recv().await {
                if ctx.has_app(&app) {
                    ctx.queue.add(&app, Duration::from_millis(50));
                }
            }
        });
    }

    queue::spawn_workers(
        ctx,
        ctx.config.workers,
        stop,
        |c: &ControllerCtx| &c.queue,
        |ctx, name| async move {
            tracing::debug!(app = %name, "reconcile");
            let again = reconcile::reconcile(&ctx, &name).await;
            tracing::debug!(app = %name, ?again, "reconciled");
            (again != Duration::MAX && ctx.has_app(&name)).then_some(again)
        },
    );
}
