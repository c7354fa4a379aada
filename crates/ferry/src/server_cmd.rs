//! `ferry server`: the API, the web UI and the event stream at one URL; `ferry all`: the
//! controllers and the server in one process, the push webhooks on the server's listener
//! (the same paths, `/api/webhook` and `/api/webhook/generic`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use ferry_core::Sensitive;
use ferry_server::{ServerConfig, TlsFiles};

use crate::controller_cmd::ControllerArgs;
use crate::mgmt::MgmtArgs;

/// How the server listens.
#[derive(Debug, Clone, Args)]
pub struct ServeFlags {
    /// Address to serve the API, the UI and the webhooks at (`0.0.0.0:8080` in a pod).
    #[arg(long, env = "FERRY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Path the server is reached under, behind a proxy (`/ferry` serves
    /// `https://host/ferry/`).
    #[arg(long, env = "FERRY_ROOT_PATH", default_value = "/")]
    pub root_path: String,
    /// Certificate (PEM) to serve TLS with; without it, plain HTTP (behind an ingress).
    #[arg(long, env = "FERRY_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, env = "FERRY_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The local admin token (until sign-in exists). Default: the Secret
    /// `ferry-admin-token` in Ferry's namespace, made with a random token if missing.
    #[arg(long, env = "FERRY_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
}

/// Serve the API and the web UI until interrupted.
#[derive(Debug, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    #[command(flatten)]
    pub serve: ServeFlags,
    /// Directory of the Git checkouts previews and diffs render from.
    #[arg(
        long,
        env = "FERRY_GIT_CACHE",
        default_value = "/var/tmp/ferry-server-git"
    )]
    pub git_cache: PathBuf,
    /// Allow `file://` repository URLs (for local experiments only).
    #[arg(long)]
    pub allow_file_urls: bool,
    /// The ApplicationSet controller's default policy, for previews of sets that give none.
    #[arg(long, env = "FERRY_APPSET_POLICY", default_value = "sync")]
    pub appset_policy: ferry_appset::Policy,
}

/// Run the controllers and the server in one process until interrupted.
#[derive(Debug, Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub controller: ControllerArgs,
    #[command(flatten)]
    pub serve: ServeFlags,
}

fn server_config(
    serve: &ServeFlags,
    namespace: &str,
    git_root: PathBuf,
    allow_file_urls: bool,
    policy: ferry_appset::Policy,
) -> ServerConfig {
    let mut c = ServerConfig::new(serve.listen, git_root);
    c.root_path = ferry_server::normalize_root(&serve.root_path);
    c.tls = match (&serve.tls_cert, &serve.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    };
    c.admin_token = serve.admin_token.clone().map(Sensitive::new);
    c.namespace = namespace.to_owned();
    c.allow_file_urls = allow_file_urls;
    c.appset_policy = policy;
    c
}

async fn serve_until_interrupted(
    kube_config: kube::Config,
    config: ServerConfig,
    extra: Option<axum::Router>,
    stop_tx: tokio::sync::watch::Sender<bool>,
) -> anyhow::Result<()> {
    let client = kube::Client::try_from(kube_config.clone())?;
    let token = ferry_server::admin_token(&client, &config.namespace, config.admin_token.clone())
        .await
        .context("the admin token")?;
    let root = config.root_path.clone();
    let running = ferry_server::start(kube_config, config, token, extra, stop_tx.subscribe())
        .await
        .context("starting the server")?;
    eprintln!(
        "ferry: serving the UI and the API at {}",
        running.url(&root)
    );
    crate::emulator_cmd::wait_for_interrupt().await;
    stop_tx.send_replace(true);
    Ok(())
}

pub async fn run_server(args: ServerArgs) -> anyhow::Result<()> {
    let kube_config = args.mgmt.config().await?;
    let config = server_config(
        &args.serve,
        &args.mgmt.namespace,
        args.git_cache.clone(),
        args.allow_file_urls,
        args.appset_policy,
    );
    let (stop_tx, _) = tokio::sync::watch::channel(false);
    serve_until_interrupted(kube_config, config, None, stop_tx).await
}

pub async fn run_all(args: AllArgs) -> anyhow::Result<()> {
    let kube_config = args.controller.mgmt.config().await?;
    let mut runtime_config = args.controller.controller_config();
    // The webhooks move to the server's listener.
    let webhook_limits = runtime_config.webhook_limits;
    runtime_config.webhook_listen = None;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let running = ferry_runtime::start(kube_config.clone(), runtime_config, stop_rx.clone())
        .await
        .context("starting the controllers")?;
    tracing::info!(namespace = %args.controller.mgmt.namespace, "controllers started");
    let webhooks = ferry_runtime::webhook_router(
        webhook_limits,
        &running.apps,
        running.sets.clone(),
        &running.client,
        &stop_rx,
    );
    let config = server_config(
        &args.serve,
        &args.controller.mgmt.namespace,
        args.controller.git_cache.join("server"),
        args.controller.allow_file_urls,
        args.controller.appset_policy,
    );
    serve_until_interrupted(kube_config, config, Some(webhooks), stop_tx).await
}
