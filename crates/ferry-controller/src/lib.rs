//! Ferry's application controller (layer 4): keeps every cluster equal to Git.
//!
//! [`run`] watches `Application`s and cluster and repository Secrets in Ferry's namespace,
//! and reconciles each application ([`reconcile::reconcile`]) when it changes, when one of
//! its live objects changes (the watch cache notices drift), and every poll interval. It
//! talks to other controllers only through Kubernetes objects.

pub mod appset;
pub mod compare;
pub mod finalize;
pub mod operation;
pub mod queue;
pub mod reconcile;
pub mod source;
mod watches;
pub mod waves;

pub use watches::ignore_defaults_of;

use ferry_cluster::api_resource as ar;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use ferry_api::{Application, ApplicationStatus};
use ferry_cluster::{Cluster, Limits, LiveCache, Registry, ResourceKey};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use crate::compare::Memo;
use crate::queue::WorkQueue;
use crate::source::Sources;

/// How the controller runs.
#[derive(Debug, Clone)]
pub struct ControllerConfig {
    /// Ferry's namespace on the management cluster (Applications and Secrets live there).
    pub namespace: String,
    /// How often every application is looked at even when nothing told us to (default 3 min,
    /// with up to 10% jitter); also how long a resolved revision is trusted.
    pub poll_interval: Duration,
    /// Applications reconciled at once.
    pub workers: usize,
    /// Where Git caches and checkouts live.
    pub git_root: PathBuf,
    /// Install or upgrade the CRDs and the `default` project at start.
    pub install_crds: bool,
    /// Client-side limits per cluster.
    pub limits: Limits,
    /// Allow `file://` repository URLs (tests only).
    pub allow_file_urls: bool,
    /// Directory of config management plugins (`*.yaml` or `*/plugin.yaml`, Argo CD's
    /// `ConfigManagementPlugin` format); none: plugin sources fail with a clear condition.
    pub plugins_dir: Option<PathBuf>,
    /// How long each plugin command may run.
    pub plugin_timeout: Duration,
    /// Most bytes a plugin command may write to stdout (default 16 MiB).
    pub plugin_max_output_bytes: u64,
    /// How plugin renders are scheduled: the pool, the per-plugin limit, the backoff.
    pub plugin_runs: source::PluginRunConfig,
    /// Where push webhooks are received (`POST /api/webhook`); none: no webhook endpoint.
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// How large, how many at once and how slow webhook bodies may be.
    pub webhook_limits: ferry_webhook::WebhookLimits,
    /// Run the ApplicationSet controller beside the application controller.
    pub applicationsets: bool,
    /// The policy of ApplicationSets that do not name one (default `sync`, as Argo CD).
    pub appset_policy: ferry_appset::Policy,
}

/// The ConfigMap (in Ferry's namespace) with controller-wide settings in Argo CD's
/// `argocd-cm` key format; for now `resource.customizations.ignoreDifferences.<group_Kind>`
/// and `resource.customizations.ignoreDifferences.all`.
pub const SETTINGS_CONFIGMAP_NAME: &str = "ferry-cm";

/// The Secret (in Ferry's namespace) with the webhook secrets, under Argo CD's key names
/// (`webhook.github.secret`, `webhook.gitlab.secret`, `webhook.bitbucket.uuid`,
/// `webhook.bitbucketserver.secret`) and `webhook.generic.secret`.
pub const WEBHOOK_SECRET_NAME: &str = "ferry-secret";

impl ControllerConfig {
    pub fn new(git_root: PathBuf) -> Self {
        Self {
            namespace: ferry_api::NAMESPACE.into(),
            poll_interval: Duration::from_secs(180),
            workers: 8,
            git_root,
            install_crds: true,
            limits: Limits::default(),
            allow_file_urls: false,
            plugins_dir: None,
            plugin_timeout: Duration::from_secs(90),
            plugin_max_output_bytes: ferry_render::PluginLimits::default().max_output_bytes,
            plugin_runs: source::PluginRunConfig::default(),
            webhook_listen: None,
            webhook_limits: ferry_webhook::WebhookLimits::default(),
            applicationsets: true,
            appset_policy: ferry_appset::Policy::Sync,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    #[error("management cluster: {0}")]
    Kube(#[from] kube::Error),
    #[error("git cache: {0}")]
    Git(#[from] ferry_git::GitError),
    #[error("installing CRDs: {0}")]
    Crds(String),
    #[error("config management plugins: {0}")]
    Plugins(#[from] ferry_render::PluginError),
    #[error("webhook endpoint {addr}: {source}")]
    Webhook {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

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
    changed: mpsc::UnboundedSender<String>,
    stop: watch::Receiver<bool>,
    pub queue: WorkQueue,
    /// The ApplicationSet controller, when it runs.
    pub appsets: std::sync::OnceLock<Arc<appset::AppSetCtx>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ControllerCtx {
    pub fn app(&self, name: &str) -> Option<Application> {
        self.apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .map(|a| Application::clone(a))
    }

    /// Whether the application exists (without copying it).
    pub fn has_app(&self, name: &str) -> bool {
        self.apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains_key(name)
    }

    /// How many applications satisfy `f`, looked at under the lock without copying them
    /// (as the controller's watch last saw them).
    pub fn count_apps(&self, f: impl Fn(&str, &Application) -> bool) -> usize {
        self.apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(n, a)| f(n, a))
            .count()
    }

    pub fn app_names(&self) -> Vec<String> {
        self.apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
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

    /// Queues every application now (a full resync).
    pub fn resync_all(&self) {
        for name in self.app_names() {
            self.queue.add(&name, Duration::ZERO);
        }
    }

    /// Whether any reconcile (of an application or a set) is running or due now.
    pub fn busy(&self) -> bool {
        self.queue.busy() || self.appsets.get().is_some_and(|s| s.busy())
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
        self.ignore_defaults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
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
    /// revision again and is reconciled now. Answers how many.
    pub fn refresh_matching(&self, event: &ferry_webhook::PushEvent) -> usize {
        // Matched under the lock, without copying every application.
        let matched: Vec<(String, String)> = self
            .apps
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .filter(|(_, app)| {
                let src = &app.spec.source;
                event.matches(&src.repo_url, &src.target_revision)
            })
            .map(|(name, app)| (name.clone(), app.spec.source.repo_url.clone()))
            .collect();
        let mut n = matched.len();
        if let Some(sets) = self.appsets.get() {
            n += sets.refresh_repo(|url, rev| event.matches(url, rev));
        }
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

async fn ensure(
    client: &kube::Client,
    ar: &ApiResource,
    namespace: Option<&str>,
    obj: &Value,
) -> Result<(), kube::Error> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    api.patch(
        name,
        &PatchParams::apply(ferry_api::FIELD_MANAGER).force(),
        &Patch::Apply(obj),
    )
    .await
    .map(|_| ())
}

/// Installs or upgrades the CRDs, Ferry's namespace and the `default` project.
pub async fn install(client: &kube::Client, namespace: &str) -> Result<(), ControllerError> {
    let crd_ar = ar(
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
        "customresourcedefinitions",
    );
    for crd in ferry_api::crd::crds() {
        ensure(client, &crd_ar, None, &crd).await?;
    }
    let crds: Api<DynamicObject> = Api::all_with(client.clone(), &crd_ar);
    for crd in ferry_api::crd::crds() {
        let name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut established = false;
        for _ in 0..100 {
            let c = crds.get(&name).await?;
            let v = serde_json::to_value(&c).unwrap_or(Value::Null);
            established = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|cs| {
                    cs.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            if established {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !established {
            return Err(ControllerError::Crds(format!(
                "{name} did not become Established within 10 s"
            )));
        }
    }
    ensure(
        client,
        &ar("", "v1", "Namespace", "namespaces"),
        None,
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
    )
    .await?;
    let project =
        serde_json::to_value(ferry_api::default_project(namespace)).unwrap_or(Value::Null);
    let projects = ar(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "AppProject",
        "appprojects",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &projects);
    if api.get_opt("default").await?.is_none() {
        let obj: DynamicObject =
            serde_json::from_value(project).map_err(|e| ControllerError::Crds(e.to_string()))?;
        api.create(&PostParams::default(), &obj).await?;
    }
    Ok(())
}

/// Runs the controller until `stop` changes.
pub async fn run(
    mgmt: kube::Config,
    config: ControllerConfig,
    stop: watch::Receiver<bool>,
) -> Result<(), ControllerError> {
    let _ctx = start(mgmt, config, stop.clone()).await?;
    let mut stop = stop;
    let _ = stop.changed().await;
    Ok(())
}

/// Starts the controller's watches and workers (they stop when `stop` changes) and answers
/// its shared state, for callers that look inside (the benchmark).
pub async fn start(
    mgmt: kube::Config,
    config: ControllerConfig,
    stop: watch::Receiver<bool>,
) -> Result<Arc<ControllerCtx>, ControllerError> {
    let client = kube::Client::try_from(mgmt.clone())?;
    if config.install_crds {
        install(&client, &config.namespace).await?;
    }
    let mut git_config = ferry_git::GitConfig::new(config.git_root.clone());
    git_config.allow_file_urls = config.allow_file_urls;
    let git = ferry_git::GitCache::new(git_config)?;
    let mut plugins = source::Plugins {
        scratch: config.git_root.join("plugin-scratch"),
        ..Default::default()
    };
    plugins.limits.timeout = config.plugin_timeout;
    plugins.limits.max_output_bytes = config.plugin_max_output_bytes;
    plugins.runs = config.plugin_runs.clone();
    if let Some(dir) = &config.plugins_dir {
        plugins.specs = ferry_render::load_plugins(dir)?;
        tracing::info!(
            plugins = %plugins.specs.iter().map(|p| p.full_name()).collect::<Vec<_>>().join(", "),
            "config management plugins loaded"
        );
    }
    std::fs::create_dir_all(&plugins.scratch).map_err(|e| {
        ControllerError::Crds(format!("creating {}: {e}", plugins.scratch.display()))
    })?;
    let sources = Sources::new(
        git,
        ferry_render::RenderCache::new(256),
        config.poll_interval,
    )
    .with_plugins(plugins);
    let (changed_tx, mut changed_rx) = mpsc::unbounded_channel();
    let ctx = Arc::new(ControllerCtx {
        apps_api: Api::namespaced_with(client.clone(), &config.namespace, &applications_resource()),
        registry: Registry::new(mgmt, config.limits),
        sources,
        apps: RwLock::new(HashMap::new()),
        caches: Mutex::new(HashMap::new()),
        memo: Mutex::new(HashMap::new()),
        failures: Mutex::new(HashMap::new()),
        retry_at: Mutex::new(HashMap::new()),
        ignore_defaults: RwLock::new(Vec::new()),
        changed: changed_tx,
        stop: stop.clone(),
        queue: WorkQueue::default(),
        appsets: std::sync::OnceLock::new(),
        config,
    });
    // A plugin render that ended, or whose backoff is over, brings its application back.
    let woken = Arc::downgrade(&ctx);
    ctx.sources.on_plugin_settled(move |app| {
        if let Some(ctx) = woken.upgrade()
            && ctx.has_app(app)
        {
            ctx.queue.add(app, Duration::ZERO);
        }
    });
    if ctx.config.applicationsets {
        let appsets = appset::start(
            client.clone(),
            appset::AppSetConfig {
                namespace: ctx.config.namespace.clone(),
                default_policy: ctx.config.appset_policy,
                git_poll: ctx.config.poll_interval,
            },
            ctx.sources.clone(),
            stop.clone(),
        );
        let _ = ctx.appsets.set(appsets);
    }

    // Cluster and repository Secrets, Applications, the settings ConfigMap, push webhooks.
    watches::secrets(&ctx, &client, &stop);
    watches::applications(&ctx, &stop);
    watches::settings(&ctx, &client, &stop);
    watches::webhooks(&ctx, &client, &stop).await?;

    // Live objects that changed re-trigger their application.
    let ctx4 = ctx.clone();
    tokio::spawn(async move {
        while let Some(app) = changed_rx.recv().await {
            if ctx4.has_app(&app) {
                ctx4.queue.add(&app, Duration::from_millis(50));
            }
        }
    });

    for _ in 0..ctx.config.workers.max(1) {
        let ctx = ctx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            loop {
                let name =
                    tokio::select! { n = ctx.queue.next() => n, _ = stop.changed() => return };
                tracing::debug!(app = %name, "reconcile");
                let again = reconcile::reconcile(&ctx, &name).await;
                tracing::debug!(app = %name, ?again, "reconciled");
                ctx.queue.done(&name);
                if again != Duration::MAX && ctx.has_app(&name) {
                    ctx.queue.add(&name, again);
                }
            }
        });
    }
    Ok(ctx)
}
