//! `ferry login` / `ferry logout`: a server URL and its token in the config file (see
//! [`crate::remote::config_path`]), so that `ferry app`, `appset` and `cluster` need no flags.
//! The token is checked against `GET /api/v1/session` before it is stored; it is never
//! printed.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use ferry_core::Sensitive;

use crate::remote::{Config, Remote, Tls, config_path, normalize_url};

/// Store a Ferry server and its token for later commands.
#[derive(Debug, Args)]
#[command(
    long_about = "Checks TOKEN against the server (GET /api/v1/session) and stores the URL and \
                  the token in the config file ($FERRY_CONFIG, else \
                  $XDG_CONFIG_HOME/ferry/config.json, else ~/.config/ferry/config.json; \
                  readable by you only). Later `ferry app`, `appset` and `cluster list|get` \
                  talk to that server without flags (unless --kubeconfig or --context is \
                  typed).\n\nUntil sign-in exists the token is the server's local admin token \
                  (`ferry server --admin-token`, or the key `token` of the Secret \
                  ferry-admin-token in Ferry's namespace). Signing in with a browser (SSO) is \
                  the next issue; this command takes a token only."
)]
pub struct LoginArgs {
    /// Ferry's URL (what `ferry server` or `ferry all` prints). Default: the server stored
    /// before.
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// The token.
    #[arg(long, env = "FERRY_TOKEN", hide_env_values = true,
          value_parser = |s: &str| Ok::<_, std::convert::Infallible>(Sensitive::new(s.to_owned())))]
    pub token: Option<Sensitive<String>>,
    /// Read the token from standard input (so that it is in no shell history); wins over
    /// --token.
    #[arg(long)]
    pub token_stdin: bool,
    /// Do not check the server's TLS certificate (stored for this server).
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// The CA (PEM) the server's certificate is signed by (its path is stored).
    #[arg(long, value_name = "FILE")]
    pub server_ca: Option<PathBuf>,
}

/// Forget the token `ferry login` stored.
#[derive(Debug, Args)]
pub struct LogoutArgs {}

pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let path = config_path()?;
    let mut config = Config::load(&path)?;
    let url = match args.url.as_deref().or(config.server.as_deref()) {
        Some(u) => normalize_url(u)?,
        None => {
            bail!("which server? `ferry login URL --token TOKEN` (URL: what `ferry all` prints)")
        }
    };
    let token = if args.token_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the token from standard input")?;
        Sensitive::new(text.trim().to_owned())
    } else {
        match args.token {
            Some(t) => Sensitive::new(t.expose().trim().to_owned()),
            None => bail!(
                "give the token: `ferry login {url} --token TOKEN`, or on standard input with \
                 --token-stdin (signing in with a browser is not built yet)"
            ),
        }
    };
    if token.expose().is_empty() {
        bail!("the token is empty");
    }
    let server_ca = match &args.server_ca {
        Some(p) => {
            Some(std::fs::canonicalize(p).with_context(|| format!("--server-ca {}", p.display()))?)
        }
        None => None,
    };
    let tls = Tls {
        insecure: args.insecure_skip_tls_verify,
        ca: server_ca.clone(),
    };
    let remote = Remote::new(&url, Some(token.clone()), &tls)?;
    let session = remote
        .get("session")
        .await
        .with_context(|| format!("logging in to {url}"))?;
    let user = session["user"].as_str().unwrap_or("?").to_owned();
    config.server = Some(url.clone());
    config.token = Some(token);
    config.insecure_skip_tls_verify = args.insecure_skip_tls_verify;
    config.server_ca = server_ca;
    config.save(&path)?;
    println!(
        "logged in to {url} as {user}; stored in {} (`ferry app list` now talks to it; \
         `ferry logout` forgets the token)",
        path.display()
    );
    Ok(())
}

pub async fn logout(_args: LogoutArgs) -> anyhow::Result<()> {
    let path = config_path()?;
    let mut config = Config::load(&path)?;
    let Some(_) = config.token.take() else {
        println!("not logged in (no token in {})", path.display());
        return Ok(());
    };
    config.save(&path)?;
    println!(
        "logged out of {}: the token is removed from {}",
        config.server.as_deref().unwrap_or("the server"),
        path.display()
    );
    Ok(())
}
