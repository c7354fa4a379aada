//! A smart-HTTP git server on loopback, for end-to-end tests and `ferry quickstart` (cargo
//! feature `test-server`). Every request runs `git http-backend` as a CGI program, so clients
//! talk to real git (protocol v2, gzip request bodies, push when enabled); when credentials are
//! configured, requests without the right HTTP Basic username and token get
//! `401 Unauthorized` with `WWW-Authenticate`, as hosted git servers answer.
//!
//! Responses are buffered in memory: this serves test repositories, not large ones.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use ferry_core::Sensitive;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest request body accepted (a push of test repositories).
const MAX_BODY: usize = 256 * 1024 * 1024;

/// What the server serves and to whom.
#[derive(Debug, Clone)]
pub struct GitHttpServerConfig {
    /// Directory holding the repositories; `http://addr/<name>` serves `<root>/<name>`.
    pub project_root: PathBuf,
    /// Username and token every request must carry (HTTP Basic); `None` serves anyone.
    pub credentials: Option<(String, Sensitive<String>)>,
    /// Accept pushes (`git-receive-pack`).
    pub enable_push: bool,
    pub git_binary: PathBuf,
}

impl GitHttpServerConfig {
    /// Serves `project_root` to anyone, read-only, with `git` from `PATH`.
    pub fn new(project_root: impl Into<PathBuf>) -> Self {
        GitHttpServerConfig {
            project_root: project_root.into(),
            credentials: None,
            enable_push: false,
            git_binary: PathBuf::from("git"),
        }
    }

    /// Requires HTTP Basic `username`/`token` on every request.
    pub fn with_credentials(mut self, username: &str, token: &str) -> Self {
        self.credentials = Some((username.to_owned(), Sensitive::new(token.to_owned())));
        self
    }

    pub fn with_push(mut self) -> Self {
        self.enable_push = true;
        self
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum GitHttpServerError {
    #[error("git test server cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// A running server; stops when dropped or on [`GitHttpServer::stop`].
pub struct GitHttpServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

struct ServerState {
    config: GitHttpServerConfig,
    requests: Arc<AtomicU64>,
}

// === impl GitHttpServer ===

impl GitHttpServer {
    /// Starts on a free loopback port.
    pub async fn start(config: GitHttpServerConfig) -> Result<Self, GitHttpServerError> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts on `addr` (port 0 picks a free one).
    pub async fn start_on(
        config: GitHttpServerConfig,
        addr: SocketAddr,
    ) -> Result<Self, GitHttpServerError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| GitHttpServerError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| GitHttpServerError::Bind { addr, source })?;
        let requests = Arc::new(AtomicU64::new(0));
        let state = Arc::new(ServerState {
            config,
            requests: requests.clone(),
        });
        let app = axum::Router::new().fallback(handle).with_state(state);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "git test server stopped");
            }
        });
        Ok(GitHttpServer {
            addr,
            requests,
            stop: Some(stop),
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The clone URL of `repo` (a path under the project root, e.g. `app.git`).
    pub fn url(&self, repo: &str) -> String {
        format!("http://{}/{}", self.addr, repo.trim_start_matches('/'))
    }

    /// HTTP requests answered so far (including refused ones).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Stops accepting connections and waits for the server task.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(State(state): State<Arc<ServerState>>, req: Request) -> Response {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let user = match &state.config.credentials {
        Some((user, token)) => {
            if !authorized(req.headers(), user, token.expose()) {
                return (
                    StatusCode::UNAUTHORIZED,
                    [(header::WWW_AUTHENTICATE, "Basic realm=\"ferry-git\"")],
                    "authentication required\n",
                )
                    .into_response();
            }
            Some(user.clone())
        }
        None => None,
    };
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, format!("cannot read body: {e}\n")).into_response();
        }
    };
    match run_backend(&state.config, &parts, user.as_deref(), &body).await {
        Ok(response) => response,
        Err(e) => {
            tracing::warn!(error = %e, path = parts.uri.path(), "git http-backend failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("git http-backend: {e}\n"),
            )
                .into_response()
        }
    }
}

fn authorized(headers: &HeaderMap, user: &str, token: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{user}:{token}");
    // constant-time enough for a test server: compare every byte
    decoded.len() == expected.len()
        && decoded
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// Runs `git http-backend` with the CGI environment of this request and turns its output
/// (CGI headers, a blank line, the body) into a response.
async fn run_backend(
    config: &GitHttpServerConfig,
    parts: &axum::http::request::Parts,
    user: Option<&str>,
    body: &[u8],
) -> std::io::Result<Response> {
    let header = |name: HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let path_info = percent_encoding::percent_decode_str(parts.uri.path())
        .decode_utf8_lossy()
        .into_owned();
    let mut cmd = tokio::process::Command::new(&config.git_binary);
    cmd.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", &config.project_root)
        .env("GIT_PROJECT_ROOT", &config.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", path_info)
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header(header::CONTENT_TYPE))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("GIT_CONFIG_COUNT", "1")
        .env("GIT_CONFIG_KEY_0", "http.receivepack")
        .env(
            "GIT_CONFIG_VALUE_0",
            if config.enable_push { "true" } else { "false" },
        );
    let encoding = header(header::CONTENT_ENCODING);
    if !encoding.is_empty() {
        cmd.env("HTTP_CONTENT_ENCODING", encoding);
    }
    let protocol = header(HeaderName::from_static("git-protocol"));
    if !protocol.is_empty() {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    if let Some(user) = user {
        cmd.env("REMOTE_USER", user);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let stdin = child.stdin.take();
    let input = body.to_vec();
    let writer = tokio::spawn(async move {
        if let Some(mut stdin) = stdin {
            // http-backend may stop reading early (an error answer); that is not our error
            let _ = stdin.write_all(&input).await;
        }
    });
    let output = child.wait_with_output().await?;
    let _ = writer.await;
    if !output.stderr.is_empty() {
        tracing::debug!(stderr = %String::from_utf8_lossy(&output.stderr).trim(), "git http-backend");
    }
    Ok(cgi_response(&output.stdout))
}

/// Parses a CGI response: header lines up to a blank line, `Status:` giving the code.
fn cgi_response(stdout: &[u8]) -> Response {
    let (head, body) = split_head(stdout);
    let mut status = StatusCode::OK;
    let mut builder = Response::builder();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u16>().ok());
            status = code
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        } else if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    builder
        .status(status)
        .body(Body::from(body.to_vec()))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

fn split_head(stdout: &[u8]) -> (&[u8], &[u8]) {
    let crlf = stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    let lf = stdout.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    match (crlf, lf) {
        (Some(a), Some(b)) => {
            let (i, n) = if a.0 <= b.0 { a } else { b };
            (&stdout[..i], &stdout[i + n..])
        }
        (Some((i, n)), None) | (None, Some((i, n))) => (&stdout[..i], &stdout[i + n..]),
        (None, None) => (stdout, &[]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgi_output() {
        let r = cgi_response(b"Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            r.headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("text/plain")
        );
        let r = cgi_response(b"Content-Type: application/x-git-upload-pack-advertisement\n\n0000");
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn basic_auth() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "u", "t"));
        let good = base64::engine::general_purpose::STANDARD.encode("u:t");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {good}")).unwrap_or(HeaderValue::from_static("")),
        );
        assert!(authorized(&h, "u", "t"));
        assert!(!authorized(&h, "u", "x"));
    }
}
