//! `--server URL`: `ferry app`, `ferry appset` and `ferry cluster list | get` through Ferry's
//! HTTP API (`docs/api.md`) instead of a kubeconfig. The flags, the config file `ferry login`
//! writes, the HTTP client (hyper-util's client over rustls with ring, the system's roots, a
//! private CA with `--server-ca`, no check at all only with `--insecure-skip-tls-verify`), the
//! API's errors in words, and the event stream `/api/v1/stream` that `ferry app sync` follows.
//!
//! The token is a `Sensitive` everywhere in memory, goes only into the `Authorization` header
//! of requests to the server it was given for, and is never printed.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;
use ferry_core::Sensitive;
use serde::{Deserialize, Serialize};

use crate::mgmt::MgmtArgs;

mod client;
mod events;

pub use client::{Remote, Tls, escape};
pub use events::Follow;

fn sensitive(s: &str) -> Result<Sensitive<String>, std::convert::Infallible> {
    Ok(Sensitive::new(s.to_owned()))
}

/// The server's flags where they may also follow the subcommand (`ferry app list --server
/// URL`), each with its environment variable.
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Ferry server (instead of a kubeconfig)")]
pub struct RemoteArgs {
    /// Ferry's URL (what `ferry server` or `ferry all` prints, e.g. http://127.0.0.1:8080):
    /// talk to its API instead of a kubeconfig. Default: the server `ferry login` stored.
    #[arg(long, env = "FERRY_SERVER", value_name = "URL", global = true)]
    pub server: Option<String>,
    /// The server's token (default: the one `ferry login` stored for that server).
    #[arg(long, env = "FERRY_TOKEN", hide_env_values = true, value_parser = sensitive, global = true)]
    pub token: Option<Sensitive<String>>,
    /// Do not check the server's TLS certificate (a test server only).
    #[arg(long, global = true)]
    pub insecure_skip_tls_verify: bool,
    /// The CA (PEM) the server's certificate is signed by, instead of the system's roots.
    #[arg(long, value_name = "FILE", global = true)]
    pub server_ca: Option<PathBuf>,
}

/// The same flags before the subcommand (`ferry --server URL app list`); only what is typed
/// there (their environment variables are read by [`RemoteArgs`]).
#[derive(Debug, Clone, Default, Args)]
#[command(next_help_heading = "Ferry server (app, appset, cluster; before or after them)")]
pub struct TopRemote {
    /// Ferry's URL (`FERRY_SERVER`): `ferry app`, `appset` and `cluster list|get` talk to its
    /// API instead of a kubeconfig.
    #[arg(long, value_name = "URL")]
    pub server: Option<String>,
    /// The server's token (`FERRY_TOKEN`; default: the one `ferry login` stored).
    #[arg(long, value_parser = sensitive)]
    pub token: Option<Sensitive<String>>,
    /// Do not check the server's TLS certificate.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
    /// The CA (PEM) the server's certificate is signed by.
    #[arg(long, value_name = "FILE")]
    pub server_ca: Option<PathBuf>,
}

impl TopRemote {
    pub fn is_given(&self) -> bool {
        self.server.is_some()
            || self.token.is_some()
            || self.insecure_skip_tls_verify
            || self.server_ca.is_some()
    }

    /// What was typed here wins over what follows the subcommand or the environment.
    pub fn hand_down(&self, to: &mut RemoteArgs) {
        if let Some(s) = &self.server {
            to.server = Some(s.clone());
        }
        if let Some(t) = &self.token {
            to.token = Some(t.clone());
        }
        to.insecure_skip_tls_verify |= self.insecure_skip_tls_verify;
        if let Some(c) = &self.server_ca {
            to.server_ca = Some(c.clone());
        }
    }
}

/// What `ferry login` stores: `$FERRY_CONFIG`, else `$XDG_CONFIG_HOME/ferry/config.json`,
/// else `~/.config/ferry/config.json`, mode 0600.
#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<Sensitive<String>>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,
    #[serde(default, rename = "serverCA", skip_serializing_if = "Option::is_none")]
    pub server_ca: Option<PathBuf>,
}

/// Where the config file is.
pub fn config_path() -> anyhow::Result<PathBuf> {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(p) = var("FERRY_CONFIG") {
        return Ok(p);
    }
    if let Some(x) = var("XDG_CONFIG_HOME") {
        return Ok(x.join("ferry").join("config.json"));
    }
    let home = var("HOME").context(
        "neither FERRY_CONFIG, XDG_CONFIG_HOME nor HOME is set: name the config file with \
         FERRY_CONFIG",
    )?;
    Ok(home.join(".config").join("ferry").join("config.json"))
}

impl Config {
    /// The config file, or an empty one when there is none.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the config file {} is not what `ferry login` writes (remove it and log in again)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the file, readable by its owner only (its directory made if missing).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory {}", dir.display()))?;
        }
        let text = serde_json::to_string_pretty(self)? + "\n";
        let tmp = path.with_extension("json.tmp");
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .with_context(|| format!("writing {}", tmp.display()))?;
        f.write_all(text.as_bytes())
            .and_then(|()| f.sync_all())
            .with_context(|| format!("writing {}", tmp.display()))?;
        drop(f);
        // An existing file keeps its name but gets the new mode too.
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }
}

/// `http://host:port/root` without a trailing `/`; refuses what is not an http(s) URL.
pub fn normalize_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let uri: http::Uri = url
        .parse()
        .with_context(|| format!("--server {url:?} is not a URL (e.g. http://127.0.0.1:8080)"))?;
    match uri.scheme_str() {
        Some("http" | "https") if uri.host().is_some() => Ok(url.to_owned()),
        _ => anyhow::bail!(
            "--server {url:?}: give Ferry's URL with http:// or https:// (e.g. http://127.0.0.1:8080)"
        ),
    }
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim().trim_end_matches('/') == b.trim().trim_end_matches('/')
}

/// Whether the management cluster's flags were typed (not only the environment's
/// `KUBECONFIG` / `FERRY_CONTEXT`).
fn kubeconfig_typed(mgmt: &MgmtArgs) -> bool {
    let from_env = |v: &str| std::env::var_os(v).filter(|v| !v.is_empty());
    let kubeconfig = mgmt.kubeconfig.is_some()
        && mgmt.kubeconfig.as_deref().map(|p| p.as_os_str()) != from_env("KUBECONFIG").as_deref();
    let context = mgmt.context.is_some()
        && mgmt.context.as_deref().map(std::ffi::OsStr::new)
            != from_env("FERRY_CONTEXT").as_deref();
    kubeconfig || context
}

/// The server to talk to, if any: `--server`/`FERRY_SERVER`, else the one `ferry login`
/// stored unless the management cluster's flags were typed; `None`: the kubeconfig.
pub fn resolve(args: &RemoteArgs, mgmt: &MgmtArgs) -> anyhow::Result<Option<Remote>> {
    let path = config_path()?;
    let config = Config::load(&path)?;
    let server = match (&args.server, &config.server) {
        (Some(s), _) => {
            if kubeconfig_typed(mgmt) {
                anyhow::bail!(
                    "--server and --kubeconfig/--context name two ways to reach Ferry: give one \
                     (--server talks to Ferry's API; --kubeconfig to the management cluster)"
                );
            }
            normalize_url(s)?
        }
        (None, Some(s)) if !kubeconfig_typed(mgmt) => normalize_url(s)?,
        _ => {
            if args.token.is_some() || args.insecure_skip_tls_verify || args.server_ca.is_some() {
                anyhow::bail!(
                    "--token, --server-ca and --insecure-skip-tls-verify go with --server URL \
                     (or FERRY_SERVER, or `ferry login URL`)"
                );
            }
            return Ok(None);
        }
    };
    // The stored token and TLS settings are for the stored server only.
    let stored = config
        .server
        .as_deref()
        .is_some_and(|s| same_server(s, &server));
    let token = args
        .token
        .clone()
        .filter(|t| !t.expose().trim().is_empty())
        .or_else(|| config.token.clone().filter(|_| stored));
    let tls = Tls {
        insecure: args.insecure_skip_tls_verify || (stored && config.insecure_skip_tls_verify),
        ca: args
            .server_ca
            .clone()
            .or_else(|| config.server_ca.clone().filter(|_| stored)),
    };
    Remote::new(&server, token, &tls).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_config_file_is_the_owners_only() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub").join("config.json");
        let c = Config {
            server: Some("http://127.0.0.1:1".into()),
            token: Some(Sensitive::new("t0ken".into())),
            ..Config::default()
        };
        c.save(&path).expect("saved");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = Config::load(&path).expect("loaded");
        assert_eq!(back.server.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(
            back.token.map(Sensitive::into_inner).as_deref(),
            Some("t0ken")
        );
        assert!(
            Config::load(&dir.path().join("none"))
                .expect("empty")
                .server
                .is_none()
        );
    }
}
