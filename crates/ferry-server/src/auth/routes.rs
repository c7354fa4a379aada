//! The sign-in endpoints: `/api/v1/session` (who am I; sign in with the admin password or a
//! token; sign out), `/api/v1/session/exchange` (what `ferry login --sso` trades its code
//! for), `/api/v1/settings` (which sign-ins exist, for the login page), and the browser's
//! `/auth/login` → provider → `/auth/callback`.
//!
//! The sign-in in progress lives in a short-lived signed cookie (`SameSite=Lax`, so that it
//! comes back with the provider's redirect; path `/auth/`): the state the callback must
//! match, the OIDC nonce, the PKCE verifier, and where to go after — a path of this site
//! only, never a URL elsewhere. A CLI waiting on a loopback port gets a one-minute code
//! bound to its own PKCE challenge, sent to `http://127.0.0.1:PORT/callback` and nowhere else.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;
use subtle::ConstantTimeEq as _;

use super::settings::OIDC_ID;
use super::tokens::{Claims, CliWait, FlowState, Purpose};
use super::{FLOW_COOKIE, User, cookie, github};
use crate::AppState;
use crate::error::ApiError;

/// How long a sign-in may take at the provider.
const FLOW_LIFE_SECS: i64 = 10 * 60;
/// How long a CLI has to exchange its code.
const CLI_CODE_LIFE_SECS: i64 = 60;

fn with_cookies(mut r: Response, cookies: &[String]) -> Response {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small page for the browser when sign-in cannot go on (never a secret in it).
fn failure(status: StatusCode, root: &str, message: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign-in failed · Ferry</title>\
         <link rel=\"stylesheet\" href=\"{root}ui/app.css\"></head><body class=\"signin-failed\">\
         <main class=\"login\"><h1>Sign-in failed</h1><p id=\"signin-error\">{}</p>\
         <p><a href=\"{root}\">Back to Ferry</a></p></main></body></html>",
        escape(message)
    );
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// Where to go after sign-in: a path under `root`, else `root`. Anything that could leave
/// the site (a scheme, `//host`, a backslash, control characters) is refused.
pub fn safe_return(wanted: Option<&str>, root: &str) -> String {
    let Some(w) = wanted.map(str::trim).filter(|w| !w.is_empty()) else {
        return root.to_owned();
    };
    let leaves = !w.starts_with('/')
        || w.starts_with("//")
        || w.contains('\\')
        || w.contains("/..")
        || w.chars().any(|c| c.is_control() || c == '@')
        || w.contains("://")
        || !w.starts_with(root.trim_end_matches('/'));
    if leaves {
        root.to_owned()
    } else {
        w.to_owned()
    }
}

/// The callback URL the providers are told: from `url` in `ferry-cm`, else from the
/// address the browser used.
fn redirect_uri(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(u) = state.auth.settings().url.as_deref() {
        return format!("{}/auth/callback", u.trim_end_matches('/'));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = if state.auth.inner.tls {
        "https"
    } else {
        headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .filter(|p| *p == "https")
            .unwrap_or("http")
    };
    format!("{scheme}://{host}{}auth/callback", state.root)
}

fn flow_cookie(state: &AppState, value: &str, max_age: i64) -> String {
    format!(
        "{FLOW_COOKIE}={value}; Path={}auth/; HttpOnly; SameSite=Lax; Max-Age={max_age}{}",
        state.root,
        if state.auth.secure_cookies() {
            "; Secure"
        } else {
            ""
        }
    )
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    provider: Option<String>,
    #[serde(rename = "return")]
    return_to: Option<String>,
    cli_port: Option<u16>,
    cli_challenge: Option<String>,
    cli_state: Option<String>,
}

fn token_like(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b'~')
}

/// `GET /auth/login`: off to the provider.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let settings = state.auth.settings();
    let provider = q.provider.unwrap_or_else(|| {
        if settings.oidc.is_some() {
            OIDC_ID.to_owned()
        } else {
            settings
                .github
                .first()
                .map(|g| g.id.clone())
                .unwrap_or_default()
        }
    });
    let cli = match (q.cli_port, q.cli_challenge, q.cli_state) {
        (None, None, None) => None,
        (Some(port), Some(challenge), Some(cli_state))
            if port >= 1024 && token_like(&challenge, 128) && token_like(&cli_state, 128) =>
        {
            Some(CliWait {
                port,
                challenge,
                state: cli_state,
            })
        }
        _ => {
            return failure(
                StatusCode::BAD_REQUEST,
                &state.root,
                "the CLI's sign-in request is incomplete (cli_port ≥ 1024, cli_challenge and cli_state are all needed)",
            );
        }
    };
    let redirect_to = redirect_uri(&state, &headers);
    let return_to = safe_return(q.return_to.as_deref(), &state.root);
    let (url, flow) = if provider == OIDC_ID {
        let Some(p) = state.auth.oidc() else {
            return failure(
                StatusCode::NOT_FOUND,
                &state.root,
                "no OIDC provider is configured (oidc.config in ferry-cm)",
            );
        };
        match p.start(&redirect_to).await {
            Ok(s) => (
                s.url,
                FlowState {
                    provider: OIDC_ID.into(),
                    state: s.state,
                    nonce: s.nonce,
                    pkce_verifier: s.pkce_verifier,
                    return_to,
                    cli,
                },
            ),
            Err(e) => {
                tracing::warn!(error = %e, "OIDC sign-in cannot start");
                return failure(StatusCode::BAD_GATEWAY, &state.root, &e.to_string());
            }
        }
    } else if let Some(g) = settings.github.iter().find(|g| g.id == provider) {
        let st = super::tokens::random(24);
        (
            github::authorize_url(g, &redirect_to, &st),
            FlowState {
                provider: g.id.clone(),
                state: st,
                return_to,
                cli,
                ..Default::default()
            },
        )
    } else {
        return failure(
            StatusCode::NOT_FOUND,
            &state.root,
            &format!("no sign-in provider `{provider}` is configured"),
        );
    };
    let now = super::tokens::now();
    let claims = Claims {
        sub: "signin".into(),
        iat: now,
        exp: Some(now + FLOW_LIFE_SECS),
        flow: Some(flow),
        ..Default::default()
    };
    match settings.keys.sign(Purpose::Flow, claims) {
        Ok(t) => with_cookies(redirect(&url), &[flow_cookie(&state, &t, FLOW_LIFE_SECS)]),
        Err(e) => failure(StatusCode::SERVICE_UNAVAILABLE, &state.root, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /auth/callback`: back from the provider.
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let clear = flow_cookie(&state, "", 0);
    let fail = |status, msg: &str| {
        with_cookies(
            failure(status, &state.root, msg),
            std::slice::from_ref(&clear),
        )
    };
    let settings = state.auth.settings();
    let Some(raw) = cookie(&headers, FLOW_COOKIE).filter(|c| !c.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "no sign-in is in progress in this browser (it expired after 10 minutes, or the link was opened elsewhere): start again",
        );
    };
    let flow = match settings.keys.verify(Purpose::Flow, raw) {
        Ok(Claims { flow: Some(f), .. }) => f,
        Ok(_) | Err(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "the sign-in in progress is not valid any more: start again",
            );
        }
    };
    let Some(got_state) = q.state.as_deref() else {
        return fail(
            StatusCode::BAD_REQUEST,
            "the provider's answer has no state",
        );
    };
    if !bool::from(got_state.as_bytes().ct_eq(flow.state.as_bytes())) {
        return fail(
            StatusCode::BAD_REQUEST,
            "the provider's answer is not for this sign-in (state does not match)",
        );
    }
    if let Some(e) = q.error.as_deref() {
        let msg = format!(
            "the provider said: {e}{}",
            q.error_description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        return fail(StatusCode::UNAUTHORIZED, &msg);
    }
    let Some(code) = q.code.as_deref().filter(|c| !c.is_empty()) else {
        return fail(StatusCode::BAD_REQUEST, "the provider's answer has no code");
    };
    let redirect_to = redirect_uri(&state, &headers);
    let identity = if flow.provider == OIDC_ID {
        let Some(p) = state.auth.oidc() else {
            return fail(
                StatusCode::NOT_FOUND,
                "the OIDC provider is not configured any more",
            );
        };
        p.finish(&redirect_to, code, &flow.nonce, &flow.pkce_verifier)
            .await
            .map_err(|e| e.to_string())
    } else if let Some(g) = settings.github.iter().find(|g| g.id == flow.provider) {
        github::finish(g, &redirect_to, code)
            .await
            .map_err(|e| e.to_string())
    } else {
        Err(format!(
            "the provider `{}` is not configured any more",
            flow.provider
        ))
    };
    let identity = match identity {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(provider = %flow.provider, error = %e, "sign-in refused");
            return fail(StatusCode::UNAUTHORIZED, &e);
        }
    };
    let user = User {
        name: identity.name,
        subject: identity.subject,
        groups: identity.groups,
        via: if flow.provider == OIDC_ID {
            "oidc".into()
        } else {
            "github".into()
        },
        extra: identity.extra,
    };
    tracing::info!(user = %user.name, via = %user.via, groups = user.groups.len(), "signed in");
    if let Some(cli) = &flow.cli {
        let mut claims = user.session_claims(CLI_CODE_LIFE_SECS);
        claims.flow = Some(FlowState {
            cli: Some(cli.clone()),
            ..Default::default()
        });
        return match settings.keys.sign(Purpose::CliCode, claims) {
            Ok(code) => {
                let to = format!(
                    "http://127.0.0.1:{}/callback?code={code}&state={}",
                    cli.port, cli.state
                );
                with_cookies(redirect(&to), &[clear])
            }
            Err(e) => fail(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        };
    }
    match state.auth.session_cookie(&user, &state.root) {
        Ok(session) => with_cookies(redirect(&flow.return_to), &[clear, session]),
        Err(e) => fail(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
    }
}

/// What the login page offers.
pub async fn settings(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let s = state.auth.settings();
    let mut providers = Vec::new();
    if let Some(o) = &s.oidc {
        providers.push(json!({"id": OIDC_ID, "name": o.name, "kind": "oidc"}));
    }
    for g in &s.github {
        providers.push(json!({"id": g.id, "name": g.name, "kind": "github"}));
    }
    axum::Json(json!({
        "adminEnabled": s.admin_enabled,
        "anonymous": s.anonymous_enabled,
        "providers": providers,
        "url": s.url,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionRequest {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    token: Option<String>,
}

/// `POST /api/v1/session`: the admin password, or a token, for a session cookie (and, for
/// the CLI, the session as a bearer token).
pub async fn session_post(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: SessionRequest = crate::api::body_required(&body)?;
    let user = match (&req.username, &req.password, &req.token) {
        (Some(u), Some(p), None) => state.auth.check_password(u.trim(), p)?,
        (None, None, Some(t)) => state.auth.bearer_user(t)?,
        _ => {
            return Err(ApiError::BadRequest(
                "send {\"username\", \"password\"} or {\"token\"}".into(),
            ));
        }
    };
    tracing::info!(user = %user.name, via = %user.via, "signed in");
    let cookie = state.auth.session_cookie(&user, &state.root)?;
    let token = if req.token.is_some() {
        None
    } else {
        Some(state.auth.session_token(&user)?)
    };
    let mut r = axum::Json(json!({"user": user.name, "token": token})).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie)
            .map_err(|e| ApiError::BadRequest(format!("the session cookie: {e}")))?,
    );
    Ok(r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    code: String,
    verifier: String,
}

/// `POST /api/v1/session/exchange`: a waiting CLI's code and PKCE verifier for a session.
pub async fn exchange(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let req: ExchangeRequest = crate::api::body_required(&body)?;
    let s = state.auth.settings();
    let claims = s
        .keys
        .verify(Purpose::CliCode, req.code.trim())
        .map_err(|e| super::token_error("the sign-in code", &e))?;
    let challenge = claims
        .flow
        .as_ref()
        .and_then(|f| f.cli.as_ref())
        .map(|c| c.challenge.clone())
        .unwrap_or_default();
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(req.verifier.trim().as_bytes()));
    if challenge.is_empty() || !bool::from(computed.as_bytes().ct_eq(challenge.as_bytes())) {
        return Err(ApiError::Unauthenticated(
            "the sign-in code was made for another `ferry login` (PKCE verifier does not match)"
                .into(),
        ));
    }
    let mut c = claims;
    c.flow = None;
    let user = User::from_claims(c);
    let token = state.auth.session_token(&user)?;
    Ok(axum::Json(json!({"token": token, "user": user.name})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_return_url_stays_on_the_site() {
        assert_eq!(
            safe_return(Some("/applications/web"), "/"),
            "/applications/web"
        );
        assert_eq!(safe_return(Some("/ferry/x?y=1"), "/ferry/"), "/ferry/x?y=1");
        for evil in [
            "https://evil.example/",
            "//evil.example/",
            "/\\evil.example",
            "javascript:alert(1)",
            "/x/../../etc",
            "/@evil.example",
            "evil",
            "/ok\r\nSet-Cookie: x=1",
        ] {
            assert_eq!(safe_return(Some(evil), "/"), "/", "{evil}");
        }
        // Under a root path, a path outside it goes to the root.
        assert_eq!(safe_return(Some("/other"), "/ferry/"), "/ferry/");
        assert_eq!(safe_return(None, "/ferry/"), "/ferry/");
    }
}
