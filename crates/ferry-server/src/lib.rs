//! Ferry's one URL: the HTTP API under `/api/v1` (described by `openapi.json`, documented in
//! `docs/api.md`), the server-sent event stream, the embedded web UI, `/healthz` and
//! `/readyz`, and, when the controllers run in the same process, the push webhooks — all on
//! one listener, plain HTTP behind an ingress or TLS with a given certificate, under an
//! optional root path.
//!
//! Reads come from [`state::Fleet`], the server's own watch caches of the management
//! cluster; actions are small patches of the Application that the controller carries out.
//! Every API handler goes through the one authorization point ([`auth`]: who the request is,
//! and, by RBAC, what it may do to which object; `authorized` maps each route to what it
//! needs, and lists keep only what the user may `get`).
//!
//! Layout: `state` (the caches), `auth`, `error`, `api/` (one module per resource),
//! `stream` (SSE), `ui` (the embedded files), `openapi.json`.

#![forbid(unsafe_code)]

pub mod api;
pub mod audit;
pub mod auth;
pub mod error;
pub mod state;
pub mod stored;
mod stream;
mod tls;
mod ui;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use ferry_core::Sensitive;
use kube::api::{Api, DynamicObject, PostParams};
use serde_json::json;
use tokio::sync::watch;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::state::Fleet;

/// The Secret (in Ferry's namespace) whose key `token` is the admin token when none is given.
pub const ADMIN_TOKEN_SECRET: &str = "ferry-admin-token";

/// The OpenAPI document the server serves.
pub const OPENAPI: &str = include_str!("openapi.json");

/// A certificate and key (PEM files) to serve TLS with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What the server is told.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Where it is served: `/` or `/ferry/` (always starts and ends with `/`).
    pub root_path: String,
    pub tls: Option<TlsFiles>,
    /// The admin token; `None`: the Secret [`ADMIN_TOKEN_SECRET`]'s, made if missing.
    pub admin_token: Option<Sensitive<String>>,
    pub namespace: String,
    /// Where previews and diffs keep their Git checkouts.
    pub git_root: PathBuf,
    pub allow_file_urls: bool,
    /// The ApplicationSet controller's default policy, for previews.
    pub appset_policy: ferry_appset::Policy,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, git_root: PathBuf) -> Self {
        Self {
            listen,
            root_path: "/".into(),
            tls: None,
            admin_token: None,
            namespace: "ferry".into(),
            git_root,
            allow_file_urls: false,
            appset_policy: ferry_appset::Policy::Sync,
        }
    }
}

/// `/ferry`, `ferry/`, `/ferry/` → `/ferry/`; `` or `/` → `/`.
pub fn normalize_root(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        format!("/{trimmed}/")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("listening on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("the admin token Secret {namespace}/{ADMIN_TOKEN_SECRET}: {cause}")]
    AdminToken { namespace: String, cause: String },
    #[error(transparent)]
    Local(#[from] auth::local::LocalError),
}

/// What previews and diffs need.
#[derive(Debug, Clone)]
pub struct PreviewConfig {
    pub git_root: PathBuf,
    pub allow_file_urls: bool,
    pub default_policy: ferry_appset::Policy,
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub fleet: Arc<Fleet>,
    pub client: kube::Client,
    pub kube_config: kube::Config,
    pub auth: Auth,
    pub root: String,
    pub preview: PreviewConfig,
    pub stop: watch::Receiver<bool>,
}

/// A running server.
#[derive(Debug)]
pub struct Running {
    pub addr: SocketAddr,
    pub fleet: Arc<Fleet>,
    /// `http` or `https`.
    pub scheme: &'static str,
}

impl Running {
    /// The UI's URL (with `host` in place of an unspecified listen address).
    pub fn url(&self, root: &str) -> String {
        let host = if self.addr.ip().is_unspecified() {
            format!("127.0.0.1:{}", self.addr.port())
        } else {
            self.addr.to_string()
        };
        format!("{}://{host}{root}", self.scheme)
    }
}

/// The admin token: the configured one, else the Secret's, made with a random token if
/// there is none.
pub async fn admin_token(
    client: &kube::Client,
    namespace: &str,
    configured: Option<Sensitive<String>>,
) -> Result<Sensitive<String>, ServerError> {
    if let Some(t) = configured.filter(|t| !t.expose().trim().is_empty()) {
        return Ok(t);
    }
    let err = |cause: String| ServerError::AdminToken {
        namespace: namespace.to_owned(),
        cause,
    };
    let api: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &ferry_cluster::api_resource("", "v1", "Secret", "secrets"),
    );
    let read = |o: &DynamicObject| -> Option<String> {
        use base64::Engine as _;
        let b64 = o.data["data"]["token"].as_str()?;
        let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
        String::from_utf8(bytes)
            .ok()
            .filter(|t| !t.trim().is_empty())
    };
    if let Some(o) = api
        .get_opt(ADMIN_TOKEN_SECRET)
        .await
        .map_err(|e| err(ferry_cluster::cause(&e)))?
    {
        return read(&o)
            .map(|t| Sensitive::new(t.trim().to_owned()))
            .ok_or_else(|| err("it has no key `token`".into()));
    }
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let secret: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": ADMIN_TOKEN_SECRET, "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "ferry"}},
        "type": "Opaque", "stringData": {"token": token}}))
    .map_err(|e| err(e.to_string()))?;
    match api.create(&PostParams::default(), &secret).await {
        Ok(_) => Ok(Sensitive::new(token)),
        // Another replica made it first: use theirs.
        Err(kube::Error::Api(s)) if s.code == 409 => {
            let o = api
                .get(ADMIN_TOKEN_SECRET)
                .await
                .map_err(|e| err(ferry_cluster::cause(&e)))?;
            read(&o)
                .map(Sensitive::new)
                .ok_or_else(|| err("it has no key `token`".into()))
        }
        Err(e) => Err(err(ferry_cluster::cause(&e))),
    }
}

/// Starts the watches and the listener; serves until `stop` changes. `extra` is merged at
/// the root path (the push webhooks, when the controllers run in this process).
pub async fn start(
    kube_config: kube::Config,
    config: ServerConfig,
    token: Sensitive<String>,
    extra: Option<Router>,
    stop: watch::Receiver<bool>,
) -> Result<Running, ServerError> {
    let client =
        kube::Client::try_from(kube_config.clone()).map_err(|e| ServerError::AdminToken {
            namespace: config.namespace.clone(),
            cause: e.to_string(),
        })?;
    let root = normalize_root(&config.root_path);
    let fleet = Fleet::new(&config.namespace);
    fleet.watch(&client, &stop);
    // The signing key and the admin password first, then the settings that hold them.
    auth::local::bootstrap(&client, &config.namespace).await?;
    let auth = Auth::new(token, config.tls.is_some());
    auth::watch(&auth, &client, &config.namespace, &stop).await;
    let state = AppState {
        fleet: fleet.clone(),
        client,
        kube_config,
        auth,
        root: root.clone(),
        preview: PreviewConfig {
            git_root: config.git_root.clone(),
            allow_file_urls: config.allow_file_urls,
            default_policy: config.appset_policy,
        },
        stop: stop.clone(),
    };
    let app = router(state, extra);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ServerError::Listen {
            addr: config.listen,
            source,
        })?;
    let scheme = match &config.tls {
        Some(files) => {
            let acceptor = tls::acceptor(files)?;
            tls::serve(listener, acceptor, app, stop);
            "https"
        }
        None => {
            let mut stop = stop;
            tokio::spawn(async move {
                let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                    let _ = stop.changed().await;
                });
                if let Err(e) = serve.await {
                    tracing::warn!(error = %e, "the server stopped");
                }
            });
            "http"
        }
    };
    tracing::info!(%addr, root = %root, "serving the API and the UI");
    Ok(Running {
        addr,
        fleet,
        scheme,
    })
}

/// The routes, nested under the root path.
pub fn router(state: AppState, extra: Option<Router>) -> Router {
    let guarded = Router::new()
        .route("/applications", get(api::apps::list))
        .route(
            "/applications/{name}",
            get(api::apps::get).delete(api::apps::delete),
        )
        .route("/applications/{name}/diff", get(api::diff::diff))
        .route("/applications/{name}/events", get(api::apps::events))
        .route("/applications/{name}/sync", post(api::apps::sync))
        .route("/applications/{name}/rollback", post(api::apps::rollback))
        .route("/applications/{name}/terminate", post(api::apps::terminate))
        .route("/applications/{name}/refresh", post(api::apps::refresh))
        .route("/applicationsets", get(api::sets::list))
        .route("/applicationsets/preview", post(api::sets::preview))
        .route("/applicationsets/{name}", get(api::sets::get))
        .route("/clusters", get(api::clusters::list))
        .route("/migration", get(api::migration::view))
        .route("/projects", get(api::projects::list))
        .route(
            "/projects/{name}/roles/{role}/token",
            post(api::projects::create_token),
        )
        .route(
            "/projects/{name}/roles/{role}/token/{id}",
            delete(api::projects::delete_token),
        )
        .route(
            "/account/can-i/{resource}/{action}/{*object}",
            get(api::projects::can_i),
        )
        .route("/stream", get(stream::stream))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authorized,
        ));
    let open = Router::new()
        .route(
            "/session",
            get(session_get)
                .post(auth::routes::session_post)
                .delete(session_delete),
        )
        .route("/session/exchange", post(auth::routes::exchange))
        .route("/settings", get(auth::routes::settings))
        .route("/openapi.json", get(openapi));
    let api_v1 = guarded
        .merge(open)
        .fallback(api_not_found)
        .layer(DefaultBodyLimit::max(
            api::sets::PREVIEW_MAX_BYTES + 64 * 1024,
        ));
    let site = Router::new()
        .nest("/api/v1", api_v1)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/auth/login", get(auth::routes::login))
        .route("/auth/callback", get(auth::routes::callback))
        .route("/", get(index))
        .route("/ui/app.js", get(|| async { ui::app_js() }))
        .route("/ui/app.css", get(|| async { ui::app_css() }));
    let mut site = site.with_state(state.clone());
    if let Some(extra) = extra {
        site = site.merge(extra);
    }
    if state.root == "/" {
        site
    } else {
        // `/ferry` and `/ferry/` both serve the page; its `<base href>` is `/ferry/`.
        Router::new()
            .route(&state.root, get(index))
            .with_state(state.clone())
            .nest(state.root.trim_end_matches('/'), site)
    }
}

async fn authorized(
    State(state): State<AppState>,
    matched: Option<MatchedPath>,
    params: Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>,
    mut req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let user = state.auth.authenticate(req.method(), req.headers())?;
    let params: Vec<(String, String)> = params
        .map(|p| {
            p.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let route = matched
        .as_ref()
        .map(MatchedPath::as_str)
        .unwrap_or_default();
    if let Some(need) = need(&state, req.method(), route, &params) {
        state
            .auth
            .require(&user, need.resource, need.action, &need.object)?;
    }
    req.extensions_mut().insert(user);
    Ok(next.run(req).await)
}

/// What a route needs of RBAC (Argo CD's resource, action and object). `None`: the handler
/// filters item by item (lists, the stream) or checks what only the body tells (preview).
struct Need {
    resource: &'static str,
    action: &'static str,
    object: String,
}

fn need(
    state: &AppState,
    method: &axum::http::Method,
    route: &str,
    params: &[(String, String)],
) -> Option<Need> {
    use axum::http::Method;
    let param = |k: &str| {
        params
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let route = route.rsplit_once("/api/v1").map_or(route, |(_, r)| r);
    let app = |action| {
        let name = param("name");
        Need {
            resource: "applications",
            action,
            object: api::apps::rbac_object(state, &name),
        }
    };
    Some(match (method, route) {
        (&Method::GET, "/applications/{name}")
        | (&Method::GET, "/applications/{name}/diff")
        | (&Method::GET, "/applications/{name}/events")
        | (&Method::POST, "/applications/{name}/refresh") => app("get"),
        (&Method::DELETE, "/applications/{name}") => app("delete"),
        (&Method::POST, "/applications/{name}/sync")
        | (&Method::POST, "/applications/{name}/rollback")
        | (&Method::POST, "/applications/{name}/terminate") => app("sync"),
        (&Method::GET, "/applicationsets/{name}") => Need {
            resource: "applicationsets",
            action: "get",
            object: api::sets::rbac_object(state, &param("name")),
        },
        (&Method::POST, "/projects/{name}/roles/{role}/token")
        | (&Method::DELETE, "/projects/{name}/roles/{role}/token/{id}") => Need {
            resource: "projects",
            action: "update",
            object: param("name"),
        },
        _ => return None,
    })
}

async fn api_not_found(
    axum::extract::OriginalUri(uri): axum::extract::OriginalUri,
    req: Request,
) -> ApiError {
    ApiError::NotFound(format!(
        "no such API path: {} {} (see api/v1/openapi.json)",
        req.method(),
        uri.path()
    ))
}

async fn index(State(state): State<AppState>) -> Response {
    ui::index(&state.root)
}

async fn ready(State(state): State<AppState>) -> Response {
    if state.fleet.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the watches of the management cluster have not read their first list",
        )
            .into_response()
    }
}

async fn openapi() -> Response {
    let mut r = OPENAPI.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn session_get(
    State(state): State<AppState>,
    req: Request,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let user = state.auth.authenticate(req.method(), req.headers())?;
    Ok(axum::Json(json!({
        "user": user.name,
        "subject": user.subject,
        "groups": user.groups,
        "via": user.via,
    })))
}

async fn session_delete(State(state): State<AppState>) -> Response {
    // Where the browser goes to end the provider's session too, if configured.
    let logout = state
        .auth
        .oidc()
        .and_then(|p| p.logout_url().map(str::to_owned));
    let mut r = axum::Json(json!({"logoutURL": logout})).into_response();
    if let Ok(v) = HeaderValue::from_str(&state.auth.cleared_cookie(&state.root)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_root_path_is_normalized() {
        assert_eq!(normalize_root(""), "/");
        assert_eq!(normalize_root("/"), "/");
        assert_eq!(normalize_root("ferry"), "/ferry/");
        assert_eq!(normalize_root("/ferry/"), "/ferry/");
        assert_eq!(normalize_root("/a/b"), "/a/b/");
    }

    fn state() -> AppState {
        let config = kube::Config::new("https://127.0.0.1:9".parse().expect("a URL"));
        AppState {
            fleet: Fleet::new("ferry"),
            client: kube::Client::try_from(config.clone()).expect("a client"),
            kube_config: config,
            auth: Auth::new(Sensitive::new("t".into()), false),
            root: "/".into(),
            preview: PreviewConfig {
                git_root: std::env::temp_dir(),
                allow_file_urls: false,
                default_policy: ferry_appset::Policy::Sync,
            },
            stop: watch::channel(false).1,
        }
    }

    async fn status(app: &Router, method: &str, path: &str) -> (u16, String) {
        use tower::ServiceExt as _;
        let req = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .body(axum::body::Body::empty())
            .expect("a request");
        let resp = app.clone().oneshot(req).await.expect("an answer");
        let code = resp.status().as_u16();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        (code, body)
    }

    #[tokio::test]
    async fn every_documented_operation_is_routed_and_guarded_and_unknown_paths_say_so() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        let app = router(state(), None);
        let open = [
            "/api/v1/session",
            "/api/v1/session/exchange",
            "/api/v1/settings",
            "/api/v1/openapi.json",
        ];
        for (path, ops) in doc["paths"].as_object().expect("paths") {
            for method in ops.as_object().expect("operations").keys() {
                let concrete = path
                    .replace("{name}", "web")
                    .replace("{role}", "ci")
                    .replace("{id}", "t1")
                    .replace("{resource}", "applications")
                    .replace("{action}", "get")
                    .replace("{object}", "default/web");
                let (code, body) = status(&app, &method.to_uppercase(), &concrete).await;
                assert_ne!(code, 405, "{method} {path} is not routed");
                assert!(
                    !body.contains("no such API path"),
                    "{method} {path}: {body}"
                );
                if !open.contains(&path.as_str()) {
                    assert_eq!(code, 401, "{method} {path} is guarded: {body}");
                    assert!(body.contains("unauthenticated"), "{body}");
                }
            }
        }
        let (code, body) = status(&app, "GET", "/api/v1/nothing").await;
        assert_eq!(code, 404);
        assert!(
            body.contains("no such API path: GET /api/v1/nothing"),
            "{body}"
        );
        let (code, _) = status(&app, "GET", "/healthz").await;
        assert_eq!(code, 200);
        let (code, body) = status(&app, "GET", "/readyz").await;
        assert_eq!(code, 503, "{body}");
    }

    #[tokio::test]
    async fn under_a_root_path_everything_moves_there() {
        let mut s = state();
        s.root = "/ferry/".into();
        let app = router(s, None);
        let (code, _) = status(&app, "GET", "/ferry/healthz").await;
        assert_eq!(code, 200);
        let (code, _) = status(&app, "GET", "/ferry/api/v1/applications").await;
        assert_eq!(code, 401);
        let (code, _) = status(&app, "GET", "/ferry").await;
        assert_eq!(code, 200);
        let (code, body) = status(&app, "GET", "/ferry/").await;
        assert_eq!(code, 200);
        assert!(
            body.contains("/ferry/"),
            "the page's base is the root path: {body}"
        );
        let (code, _) = status(&app, "GET", "/api/v1/applications").await;
        assert_eq!(code, 404);
    }
}
