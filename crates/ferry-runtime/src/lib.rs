//! Ferry's composition root (layer 6, as a library): the one crate that knows every other
//! one. It installs the CRDs, builds the Git cache and the source service (with the config
//! management plugins and their pool), starts the application controller and the
//! ApplicationSet controller (which share the Application watch as informer handlers, the
//! source service and nothing else), and the push webhook listener; later the HTTP server
//! and leader election. The binary's `main.rs` only reads flags into a [`Config`] and calls
//! [`run`].

#![forbid(unsafe_code)]

mod install;
mod webhooks;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferry_cluster::Limits;
use ferry_controller::appset::AppSetCtx;
use ferry_controller::{ApplicationObserver, ControllerConfig, ControllerCtx};
use tokio::sync::watch;

pub use install::install;
pub use webhooks::{WEBHOOK_SECRET_NAME, router as webhook_router};

/// Everything Ferry runs with; the binary fills it from flags and environment variables.
#[derive(Debug, Clone)]
pub struct Config {
    /// Ferry's namespace on the management cluster (Applications and Secrets live there).
    pub namespace: String,
    /// How often every application is looked at even when nothing told us to (default 3 min,
    /// with up to 10% jitter); also how long a resolved revision is trusted.
    pub poll_interval: Duration,
    /// Applications reconciled at once.
    pub workers: usize,
    /// Client-side limits per cluster.
    pub limits: Limits,
    /// Where Git caches and checkouts live.
    pub git_root: PathBuf,
    /// Install or upgrade the CRDs and the `default` project at start.
    pub install_crds: bool,
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
    pub plugin_runs: ferry_source::PluginRunConfig,
    /// Where push webhooks are received (`POST /api/webhook`); none: no webhook endpoint.
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// How large, how many at once and how slow webhook bodies may be.
    pub webhook_limits: ferry_webhook::WebhookLimits,
    /// Run the ApplicationSet controller beside the application controller.
    pub applicationsets: bool,
    /// The policy of ApplicationSets that do not name one (default `sync`, as Argo CD).
    pub appset_policy: ferry_appset::Policy,
    /// AWS (EKS clusters, and secrets while rendering): the rest comes from the SDK's
    /// standard chain.
    pub aws: ferry_aws::AwsOptions,
}

impl Config {
    /// The defaults, with Git caches under `git_root`.
    pub fn new(git_root: PathBuf) -> Self {
        let controller = ControllerConfig::default();
        Self {
            namespace: controller.namespace,
            poll_interval: controller.poll_interval,
            workers: controller.workers,
            limits: controller.limits,
            git_root,
            install_crds: true,
            allow_file_urls: false,
            plugins_dir: None,
            plugin_timeout: Duration::from_secs(90),
            plugin_max_output_bytes: ferry_render::PluginLimits::default().max_output_bytes,
            plugin_runs: ferry_source::PluginRunConfig::default(),
            webhook_listen: None,
            webhook_limits: ferry_webhook::WebhookLimits::default(),
            applicationsets: true,
            appset_policy: ferry_appset::Policy::Sync,
            aws: ferry_aws::AwsOptions::default(),
        }
    }

    /// What the application controller itself is configured with.
    pub fn controller(&self) -> ControllerConfig {
        ControllerConfig {
            namespace: self.namespace.clone(),
            poll_interval: self.poll_interval,
            workers: self.workers,
            limits: self.limits,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("management cluster: {0}")]
    Kube(#[from] kube::Error),
    #[error("git cache: {0}")]
    Git(#[from] ferry_git::GitError),
    #[error("installing CRDs: {0}")]
    Crds(String),
    #[error("config management plugins: {0}")]
    Plugins(#[from] ferry_render::PluginError),
    #[error("plugin scratch directory {dir}: {source}")]
    Scratch {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("webhook endpoint {addr}: {source}")]
    Webhook {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// What runs, for callers that look inside (the benchmark).
#[derive(Clone)]
pub struct Running {
    pub apps: Arc<ControllerCtx>,
    pub sets: Option<Arc<AppSetCtx>>,
    /// The management cluster's client the controllers use.
    pub client: kube::Client,
}

impl Running {
    /// Whether any reconcile (of an application or a set) is running or due now.
    pub fn busy(&self) -> bool {
        self.apps.busy() || self.sets.as_ref().is_some_and(|s| s.busy())
    }
}

/// Runs everything until `stop` changes.
pub async fn run(
    mgmt: kube::Config,
    config: Config,
    stop: watch::Receiver<bool>,
) -> Result<(), RuntimeError> {
    let _running = start(mgmt, config, stop.clone()).await?;
    let mut stop = stop;
    let _ = stop.changed().await;
    Ok(())
}

/// Starts everything (it stops when `stop` changes).
pub async fn start(
    mgmt: kube::Config,
    config: Config,
    stop: watch::Receiver<bool>,
) -> Result<Running, RuntimeError> {
    let client = kube::Client::try_from(mgmt.clone())?;
    if config.install_crds {
        install(&client, &config.namespace).await?;
    }
    // One AWS adapter: clusters' tokens, renders' secret references and plugins'
    // credentials share its credential cache.
    let aws = ferry_aws::Aws::new(config.aws.clone());
    let sources = sources(&config)?.with_aws(aws.clone());
    let apps = ControllerCtx::new(
        &client,
        mgmt,
        config.controller(),
        sources.clone(),
        aws,
        &stop,
    );
    let sets = config.applicationsets.then(|| {
        ferry_controller::appset::start(
            client.clone(),
            ferry_controller::appset::AppSetConfig {
                namespace: config.namespace.clone(),
                default_policy: config.appset_policy,
                git_poll: config.poll_interval,
            },
            sources,
            stop.clone(),
        )
    });
    let observers: Vec<Arc<dyn ApplicationObserver>> = sets
        .iter()
        .map(|s| s.clone() as Arc<dyn ApplicationObserver>)
        .collect();
    ferry_controller::spawn(&apps, &client, observers, &stop);
    if let Some(addr) = config.webhook_listen {
        webhooks::listen(
            addr,
            config.webhook_limits,
            &apps,
            sets.clone(),
            &client,
            &stop,
        )
        .await?;
    }
    Ok(Running { apps, sets, client })
}

/// The source service: the Git cache, the render cache and the config management plugins.
fn sources(config: &Config) -> Result<ferry_source::Sources, RuntimeError> {
    let mut git_config = ferry_git::GitConfig::new(config.git_root.clone());
    git_config.allow_file_urls = config.allow_file_urls;
    let git = ferry_git::GitCache::new(git_config)?;
    let mut plugins = ferry_source::Plugins {
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
    std::fs::create_dir_all(&plugins.scratch).map_err(|source| RuntimeError::Scratch {
        dir: plugins.scratch.clone(),
        source,
    })?;
    Ok(ferry_source::Sources::new(
        git,
        ferry_render::RenderCache::new(256),
        config.poll_interval,
    )
    .with_plugins(plugins))
}
