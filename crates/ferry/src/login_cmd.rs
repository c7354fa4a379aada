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

/// Sign in to a Ferry server and store the session for later commands.
#[derive(Debug, Args)]
#[command(
    long_about = "Signs in to a Ferry server and stores its URL and the session (or token) in \
                  the config file ($FERRY_CONFIG, else $XDG_CONFIG_HOME/ferry/config.json, else \
                  ~/.config/ferry/config.json; readable by you only). Later `ferry app`, \
                  `appset` and `cluster list|get` talk to that server without flags (unless \
                  --kubeconfig or --context is typed).\n\nThree ways in:\n  --sso: with a \
                  browser, through the server's identity provider (OIDC or GitHub): the command \
                  waits on a loopback port for the browser to come back, then trades the code \
                  it gets (bound to this command by PKCE) for a session.\n  --username admin: \
                  the local admin's password (--password, $FERRY_PASSWORD or \
                  --password-stdin).\n  --token: an API token (a project role's, from `POST \
                  /api/v1/projects/P/roles/R/token`), or the admin token.\nEach is checked \
                  against the server before it is stored; none is ever printed."
)]
pub struct LoginArgs {
    /// Ferry's URL (what `ferry server` or `ferry all` prints). Default: the server stored
    /// before.
    #[arg(value_name = "URL")]
    pub url: Option<String>,
    /// Sign in with a browser through the server's single sign-on.
    #[arg(long, conflicts_with_all = ["token", "token_stdin", "username"])]
    pub sso: bool,
    /// With --sso: which provider (`oidc`, or a GitHub connector's id); default the first.
    #[arg(long, requires = "sso")]
    pub provider: Option<String>,
    /// With --sso: the loopback port to wait on (default: any free one).
    #[arg(long, requires = "sso", default_value_t = 0)]
    pub sso_port: u16,
    /// With --sso: print the URL only, do not try to open a browser.
    #[arg(long, requires = "sso")]
    pub no_browser: bool,
    /// Sign in as this local user (`admin`) with a password.
    #[arg(long, conflicts_with_all = ["token", "token_stdin"])]
    pub username: Option<String>,
    /// The password (else $FERRY_PASSWORD, else --password-stdin).
    #[arg(long, env = "FERRY_PASSWORD", hide_env_values = true, requires = "username",
          value_parser = |s: &str| Ok::<_, std::convert::Infallible>(Sensitive::new(s.to_owned())))]
    pub password: Option<Sensitive<String>>,
    /// Read the password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
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

fn read_stdin(what: &str) -> anyhow::Result<Sensitive<String>> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .with_context(|| format!("reading the {what} from standard input"))?;
    Ok(Sensitive::new(
        text.trim_end_matches(['\n', '\r']).to_owned(),
    ))
}

pub async fn login(args: LoginArgs) -> anyhow::Result<()> {
    let path = config_path()?;
    let mut config = Config::load(&path)?;
    let url = match args.url.as_deref().or(config.server.as_deref()) {
        Some(u) => normalize_url(u)?,
        None => bail!(
            "which server? `ferry login URL --sso` (or --username admin, or --token TOKEN; \
             URL: what `ferry all` prints)"
        ),
    };
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
    let token = if args.sso {
        crate::sso::sign_in(
            &url,
            &tls,
            args.provider.as_deref(),
            args.sso_port,
            !args.no_browser,
        )
        .await?
    } else if let Some(user) = &args.username {
        let password = match (&args.password, args.password_stdin) {
            (_, true) => read_stdin("password")?,
            (Some(p), false) => p.clone(),
            (None, false) => bail!(
                "give the password: --password-stdin (or $FERRY_PASSWORD); it is never stored"
            ),
        };
        let anonymous = Remote::new(&url, None, &tls)?;
        let answer = anonymous
            .post_json(
                "session",
                &serde_json::json!({"username": user, "password": password.expose()}),
            )
            .await
            .with_context(|| format!("signing in to {url} as {user}"))?;
        match answer["token"].as_str() {
            Some(t) if !t.is_empty() => Sensitive::new(t.to_owned()),
            _ => bail!("{url} signed {user} in but answered no session token"),
        }
    } else if args.token_stdin {
        Sensitive::new(read_stdin("token")?.expose().trim().to_owned())
    } else {
        match args.token {
            Some(t) => Sensitive::new(t.expose().trim().to_owned()),
            None => bail!(
                "how? `ferry login {url} --sso` (a browser), `--username admin \
                 --password-stdin`, or `--token TOKEN` / --token-stdin"
            ),
        }
    };
    if token.expose().is_empty() {
        bail!("the token is empty");
    }
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
         `ferry logout` forgets the session)",
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
