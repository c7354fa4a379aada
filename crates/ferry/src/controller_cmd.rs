//! `ferry controller`: runs the application controller against the management cluster.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ferry_cluster::Limits;
use ferry_runtime::Config;
use ferry_source::PluginRunConfig;
use ferry_webhook::WebhookLimits;

use crate::mgmt::MgmtArgs;

/// Run the application controller until interrupted.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    /// Seconds between two looks at every application when nothing changed.
    #[arg(long, env = "FERRY_POLL_SECONDS", default_value_t = 180)]
    pub poll_seconds: u64,
    /// Applications reconciled at once.
    #[arg(long, env = "FERRY_WORKERS", default_value_t = 8)]
    pub workers: usize,
    /// Directory of Git caches and checkouts.
    #[arg(long, env = "FERRY_GIT_CACHE", default_value = "/var/tmp/ferry-git")]
    pub git_cache: PathBuf,
    /// Do not install or upgrade the CRDs at start (for installs that manage them).
    #[arg(long)]
    pub no_install_crds: bool,
    /// Requests per second to each cluster.
    #[arg(long, env = "FERRY_CLUSTER_QPS", default_value_t = Limits::default().qps)]
    pub qps: f64,
    /// Burst above `--qps`.
    #[arg(long, env = "FERRY_CLUSTER_BURST", default_value_t = Limits::default().burst)]
    pub burst: u32,
    /// Requests in flight to each cluster.
    #[arg(long, env = "FERRY_CLUSTER_CONCURRENCY", default_value_t = Limits::default().concurrency)]
    pub concurrency: usize,
    /// Allow `file://` repository URLs (for local experiments only).
    #[arg(long)]
    pub allow_file_urls: bool,
    /// Directory of config management plugins: Argo CD `plugin.yaml` files, as `*.yaml` or
    /// `<name>/plugin.yaml`. Their commands run on this host, each in a scratch copy of the
    /// checkout with a clean environment.
    #[arg(long, env = "FERRY_PLUGINS_DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Seconds each plugin command may run before it is killed.
    #[arg(long, env = "FERRY_PLUGIN_TIMEOUT_SECONDS", default_value_t = 90)]
    pub plugin_timeout_seconds: u64,
    /// Plugin renders running at once, all plugins together. They run in their own pool, so
    /// a hung plugin holds a slot of it, not a reconcile worker.
    #[arg(long, env = "FERRY_PLUGIN_PARALLELISM", default_value_t = PluginRunConfig::default().parallelism)]
    pub plugin_parallelism: usize,
    /// Renders of one plugin running at once (the others queue, and their applications
    /// say so in their `ComparisonError` condition).
    #[arg(long, env = "FERRY_PLUGIN_PARALLELISM_PER_PLUGIN", default_value_t = PluginRunConfig::default().per_plugin)]
    pub plugin_parallelism_per_plugin: usize,
    /// MiB a plugin command may write to stdout; more kills it and fails the render.
    #[arg(long, env = "FERRY_PLUGIN_MAX_OUTPUT_MIB", default_value_t = 16)]
    pub plugin_max_output_mib: u64,
    /// Address for push webhooks (`POST /api/webhook` for GitHub, GitLab and Bitbucket,
    /// `POST /api/webhook/generic`), e.g. `0.0.0.0:8080`. Secrets come from the Secret
    /// `ferry-secret` in Ferry's namespace; a provider without one is refused.
    #[arg(long, env = "FERRY_WEBHOOK_LISTEN")]
    pub webhook_listen: Option<std::net::SocketAddr>,
    /// Largest webhook body accepted, in MiB: a larger one is answered 413, before it is read
    /// when its `Content-Length` says so, as soon as it passes the limit otherwise.
    #[arg(
        long,
        env = "FERRY_WEBHOOK_MAX_PAYLOAD_MIB",
        default_value_t = WebhookLimits::DEFAULT_MAX_PAYLOAD_MIB
    )]
    pub webhook_max_payload_mib: usize,
    /// Webhook bodies read at once: a request beyond them is answered 503 with
    /// `Retry-After: 1` at once, without reading its body.
    #[arg(
        long,
        env = "FERRY_WEBHOOK_MAX_CONCURRENT_BODIES",
        default_value_t = WebhookLimits::DEFAULT_MAX_CONCURRENT_BODIES
    )]
    pub webhook_max_concurrent_bodies: usize,
    /// What the ApplicationSet controller may do to generated Applications when a set does
    /// not say (`syncPolicy.applicationsSync`): `sync` (create, update, delete),
    /// `create-update`, `create-delete` or `create-only`.
    #[arg(long, env = "FERRY_APPSET_POLICY", default_value = "sync")]
    pub appset_policy: ferry_appset::Policy,
    /// Do not run the ApplicationSet controller.
    #[arg(long)]
    pub no_applicationsets: bool,
    /// Seconds after which an EKS token is replaced by a new one (tokens are accepted for 15
    /// minutes after they are signed). AWS credentials, endpoints and the region come from
    /// the AWS SDK's standard chain (`AWS_REGION`, `AWS_ENDPOINT_URL[_STS]`, profiles, web
    /// identity, EKS Pod Identity, instance metadata).
    #[arg(long, env = "FERRY_AWS_TOKEN_RENEW_SECONDS", default_value_t = 600)]
    pub aws_token_renew_seconds: u64,
    /// Seconds before their expiry that assumed-role credentials are renewed (or after two
    /// thirds of their life, when that is sooner). While a renewal fails (STS throttled, a
    /// trust policy changed), the credentials held are used until they expire, and the
    /// cluster's last error says why.
    #[arg(
        long,
        env = "FERRY_AWS_CREDENTIAL_REFRESH_SECONDS",
        default_value_t = 300
    )]
    pub aws_credential_refresh_seconds: u64,
}

impl ControllerArgs {
    pub fn controller_config(&self) -> Config {
        let mut c = Config::new(self.git_cache.clone());
        c.namespace = self.mgmt.namespace.clone();
        c.poll_interval = Duration::from_secs(self.poll_seconds.max(1));
        c.workers = self.workers;
        c.install_crds = !self.no_install_crds;
        c.limits = Limits {
            qps: self.qps,
            burst: self.burst,
            concurrency: self.concurrency,
        };
        c.allow_file_urls = self.allow_file_urls;
        c.plugins_dir = self.plugins_dir.clone();
        c.plugin_timeout = Duration::from_secs(self.plugin_timeout_seconds.max(1));
        c.plugin_max_output_bytes = self.plugin_max_output_mib.max(1).saturating_mul(1 << 20);
        c.plugin_runs.parallelism = self.plugin_parallelism.max(1);
        c.plugin_runs.per_plugin = self.plugin_parallelism_per_plugin.max(1);
        c.webhook_listen = self.webhook_listen;
        c.webhook_limits = WebhookLimits::default()
            .with_max_payload_mib(self.webhook_max_payload_mib.max(1))
            .with_max_concurrent_bodies(self.webhook_max_concurrent_bodies.max(1));
        c.appset_policy = self.appset_policy;
        c.applicationsets = !self.no_applicationsets;
        c.aws.lifetimes.token_renew_after =
            Duration::from_secs(self.aws_token_renew_seconds.max(1));
        c.aws.lifetimes.credential_refresh_before_expiry =
            Duration::from_secs(self.aws_credential_refresh_seconds);
        c
    }
}

pub async fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let config = args.mgmt.config().await?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let controller = tokio::spawn(ferry_runtime::run(
        config,
        args.controller_config(),
        stop_rx,
    ));
    tracing::info!(namespace = %args.mgmt.namespace, "controller started");
    tokio::select! {
        r = controller => return Ok(r??),
        _ = crate::emulator_cmd::wait_for_interrupt() => {}
    }
    stop_tx.send_replace(true);
    Ok(())
}
