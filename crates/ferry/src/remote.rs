//! `--server URL`: `ferry app`, `ferry appset` and `ferry cluster list | get` through Ferry's
//! HTTP API (`docs/api.md`) instead of a kubeconfig. The flags, the config file `ferry login`
//! writes, the HTTP client (hyper-util's client over rustls with ring, the system's roots, a
//! private CA with `--server-ca`, no check at all only with `--insecure-skip-tls-verify`), the
//! API's errors in words, and the event stream `/api/v1/stream` that `ferry app sync` follows.
//!
//! The token is a `Sensitive` everywhere in memory, goes only into the `Authorization` header
//! of requests to the server it was given for, and is never printed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Args;
use ferry_core::Sensitive;
use http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mgmt::MgmtArgs;

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
    let (server, from_config) = match (&args.server, &config.server) {
        (Some(s), _) => {
            if kubeconfig_typed(mgmt) {
                anyhow::bail!(
                    "--server and --kubeconfig/--context name two ways to reach Ferry: give one \
                     (--server talks to Ferry's API; --kubeconfig to the management cluster)"
                );
            }
            (normalize_url(s)?, false)
        }
        (None, Some(s)) if !kubeconfig_typed(mgmt) => (normalize_url(s)?, true),
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
    let _ = from_config;
    Remote::new(&server, token, &tls).map(Some)
}

/// How to check the server's certificate.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub insecure: bool,
    pub ca: Option<PathBuf>,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Accepts any certificate (`--insecure-skip-tls-verify`), still checking that the server
/// holds its key.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector(tls: &Tls) -> anyhow::Result<Connector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let config = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")
    };
    let builder = if tls.insecure {
        let config = config()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider.clone())))
            .with_no_client_auth();
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
    } else if let Some(ca) = &tls.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .and_then(|it| it.collect::<Result<_, _>>())
            .with_context(|| {
                format!(
                    "--server-ca {}: not a PEM file of certificates",
                    ca.display()
                )
            })?;
        let mut roots = rustls::RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .with_context(|| format!("--server-ca {}", ca.display()))?;
        }
        if roots.is_empty() {
            anyhow::bail!("--server-ca {}: no CERTIFICATE in it", ca.display());
        }
        let config = config()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
    } else {
        match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(b) => b,
            // No system roots: an https server is then only reached with --server-ca.
            Err(_) => {
                let config = config()?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        }
    };
    Ok(builder.https_or_http().enable_http1().wrap_connector(http))
}

/// A failed request to the server, in words, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "cannot reach the Ferry server at {url}: {cause}. Is it running? (`ferry all` runs the \
         controllers and the server; check --server, FERRY_SERVER or the server `ferry login` \
         stored)"
    )]
    Unreachable { url: String, cause: String },
    #[error(
        "TLS with the Ferry server at {url} failed: {cause} (a private CA: --server-ca FILE; \
         to not check the certificate at all: --insecure-skip-tls-verify)"
    )]
    Tls { url: String, cause: String },
    #[error("the Ferry server at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error(
        "the Ferry server at {url} needs a token: run `ferry login {url} --token TOKEN` (or give \
         --token / FERRY_TOKEN); until sign-in exists it is the admin token (`ferry server \
         --admin-token`, or the Secret ferry-admin-token in Ferry's namespace)"
    )]
    NoToken { url: String },
    #[error(
        "the Ferry server at {url} did not accept the token ({message}): run `ferry login {url} \
         --token TOKEN` with the server's admin token"
    )]
    Unauthenticated { url: String, message: String },
    /// An error the API answered: its message as the server wrote it.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "{url} answered {status} with something that is not Ferry's API ({text}): is --server Ferry's URL?"
    )]
    NotFerry {
        url: String,
        status: u16,
        text: String,
    },
}

impl RemoteError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            RemoteError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `err`'s cause, from the innermost error that says something.
fn classify(url: &str, err: &(dyn std::error::Error + 'static)) -> RemoteError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut last = err.to_string();
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return RemoteError::Tls {
                url: url.to_owned(),
                cause: t.to_string(),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return RemoteError::Tls {
                    url: url.to_owned(),
                    cause: t.to_string(),
                };
            }
            let cause = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                std::io::ErrorKind::TimedOut => "connection timed out".to_owned(),
                _ => io.to_string(),
            };
            return RemoteError::Unreachable {
                url: url.to_owned(),
                cause,
            };
        }
        last = e.to_string();
        cur = e.source();
    }
    RemoteError::Unreachable {
        url: url.to_owned(),
        cause: last,
    }
}

/// What a path segment may hold unescaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one segment of a path (or a query value).
pub fn escape(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// The most of an answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// A client of one Ferry server.
pub struct Remote {
    url: String,
    token: Option<Sensitive<String>>,
    client: Client<Connector, Full<Bytes>>,
}

impl Remote {
    pub fn new(url: &str, token: Option<Sensitive<String>>, tls: &Tls) -> anyhow::Result<Remote> {
        let url = normalize_url(url)?;
        if url.starts_with("http://") && token.is_some() && !is_loopback(&url) {
            eprintln!(
                "warning: the token goes to {url} over plain HTTP; serve Ferry with TLS (or \
                 behind an ingress that does) and use https://"
            );
        }
        let client = Client::builder(TokioExecutor::new()).build(connector(tls)?);
        Ok(Remote { url, token, client })
    }

    /// The server's URL as given (without a trailing `/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<(&str, Bytes)>,
    ) -> Result<Request<Full<Bytes>>, RemoteError> {
        let uri = format!("{}/api/v1/{path}", self.url);
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::ACCEPT, accept)
            .header(
                header::USER_AGENT,
                concat!("ferry-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = &self.token {
            req = req.header(
                header::AUTHORIZATION,
                format!("Bearer {}", t.expose().trim()),
            );
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        req.body(Full::new(body))
            .map_err(|_| RemoteError::NotFerry {
                url: self.url.clone(),
                status: 0,
                text: format!("{path} does not make a request URL (a token with a line break?)"),
            })
    }

    async fn send(
        &self,
        req: Request<Full<Bytes>>,
        secs: u64,
    ) -> Result<hyper::Response<hyper::body::Incoming>, RemoteError> {
        match tokio::time::timeout(Duration::from_secs(secs), self.client.request(req)).await {
            Err(_) => Err(RemoteError::Timeout {
                url: self.url.clone(),
                secs,
            }),
            Ok(Err(e)) => Err(classify(&self.url, &e)),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// `method path` (under `/api/v1/`) with a JSON or YAML body; the JSON answered (`null`
    /// for none), or the error the API answered in words.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Bytes)>,
    ) -> Result<Value, RemoteError> {
        // A diff or a preview renders from Git and asks clusters: give them time.
        let secs = if method == Method::GET && !path.ends_with("/diff") {
            60
        } else {
            300
        };
        let req = self.request(method, path, "application/json", body)?;
        let resp = self.send(req, secs).await?;
        let status = resp.status().as_u16();
        let bytes = tokio::time::timeout(
            Duration::from_secs(secs),
            Limited::new(resp.into_body(), MAX_ANSWER).collect(),
        )
        .await
        .map_err(|_| RemoteError::Timeout {
            url: self.url.clone(),
            secs,
        })?
        .map_err(|e| RemoteError::Unreachable {
            url: self.url.clone(),
            cause: format!("reading the answer: {e}"),
        })?
        .to_bytes();
        let json: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return json.ok_or_else(|| RemoteError::NotFerry {
                url: self.url.clone(),
                status,
                text: excerpt(&bytes),
            });
        }
        let error = json.as_ref().map(|j| &j["error"]).filter(|e| e.is_object());
        let Some(error) = error else {
            return Err(RemoteError::NotFerry {
                url: self.url.clone(),
                status,
                text: excerpt(&bytes),
            });
        };
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        if status == 401 {
            return Err(if self.token.is_none() {
                RemoteError::NoToken {
                    url: self.url.clone(),
                }
            } else {
                RemoteError::Unauthenticated {
                    url: self.url.clone(),
                    message,
                }
            });
        }
        Err(RemoteError::Api {
            status,
            code: error["code"].as_str().unwrap_or_default().to_owned(),
            message,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, RemoteError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, RemoteError> {
        let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        self.call(Method::POST, path, Some(("application/json", bytes)))
            .await
    }

    /// The event stream (`/api/v1/stream`), or `None` when it cannot be opened (then
    /// [`Follow`] polls).
    pub async fn events(&self) -> Option<Events> {
        let req = self
            .request(Method::GET, "stream", "text/event-stream", None)
            .ok()?;
        let resp = self.send(req, 10).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        Some(Events {
            body: resp.into_body(),
            buf: Vec::new(),
        })
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".into();
    }
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `change` or `resync`.
    pub event: String,
    pub data: Value,
}

/// The server-sent events of `/api/v1/stream`.
pub struct Events {
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl Events {
    /// The next event; `None` once the stream ends or fails.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = take_event(&mut self.buf) {
                return Some(event);
            }
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(data) = frame.into_data() {
                        self.buf.extend_from_slice(&data);
                    }
                }
                Err(_) => return None,
            }
        }
    }
}

/// The first complete event in `buf` (removed from it); comments and empty blocks are
/// skipped.
fn take_event(buf: &mut Vec<u8>) -> Option<Event> {
    loop {
        let text = String::from_utf8_lossy(buf).replace("\r\n", "\n");
        let (block, rest) = text.split_once("\n\n")?;
        let (block, rest) = (block.to_owned(), rest.to_owned());
        *buf = rest.into_bytes();
        let mut event = String::new();
        let mut data = Vec::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_owned();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
            }
        }
        if event.is_empty() && data.is_empty() {
            continue;
        }
        let data = serde_json::from_str(&data.join("\n")).unwrap_or(Value::Null);
        return Some(Event {
            event: if event.is_empty() {
                "message".into()
            } else {
                event
            },
            data,
        });
    }
}

/// Waits for the next change of one object: an event of the stream naming it (or telling
/// to re-read everything), or, without a stream, a short poll.
pub struct Follow {
    events: Option<Events>,
}

impl Follow {
    pub async fn open(remote: &Remote) -> Follow {
        Follow {
            events: remote.events().await,
        }
    }

    /// Until `kind` `name` changed, or at most `max`.
    pub async fn wait(&mut self, kind: &str, name: &str, max: Duration) {
        let Some(events) = self.events.as_mut() else {
            tokio::time::sleep(max.min(Duration::from_millis(500))).await;
            return;
        };
        let matching = async {
            loop {
                match events.next().await {
                    Some(e) if e.event == "resync" => return true,
                    Some(e) if e.data["kind"] == kind && e.data["name"] == name => return true,
                    Some(_) => continue,
                    None => return false,
                }
            }
        };
        match tokio::time::timeout(max, matching).await {
            Ok(true) | Err(_) => {}
            // The stream ended (the server restarts?): poll from now on.
            Ok(false) => self.events = None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_across_frames_and_comments_are_skipped() {
        let mut buf = b": keep-alive\n\nevent: change\ndata: {\"kind\": \"Application\",".to_vec();
        assert_eq!(take_event(&mut buf), None, "not complete yet");
        buf.extend_from_slice(
            b" \"name\": \"web\", \"type\": \"applied\"}\r\n\r\nevent: resync\ndata: {}\n\n",
        );
        let e = take_event(&mut buf).expect("a change");
        assert_eq!(e.event, "change");
        assert_eq!(e.data["name"], "web");
        assert_eq!(
            take_event(&mut buf).map(|e| e.event).as_deref(),
            Some("resync")
        );
        assert_eq!(take_event(&mut buf), None);
        assert!(buf.is_empty());
    }

    #[test]
    fn urls_are_checked_and_names_escaped() {
        assert_eq!(
            normalize_url("http://127.0.0.1:8080/").ok().as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            normalize_url("https://ferry.example.com/ferry/")
                .ok()
                .as_deref(),
            Some("https://ferry.example.com/ferry")
        );
        for bad in ["127.0.0.1:8080", "ftp://x", "not a url", ""] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
        assert_eq!(escape("web-1.a_b"), "web-1.a_b");
        assert_eq!(escape("a/b?c"), "a%2Fb%3Fc");
        assert!(is_loopback("http://127.0.0.1:1") && is_loopback("http://localhost:1"));
        assert!(!is_loopback("http://ferry.example.com"));
    }

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
