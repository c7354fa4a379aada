//! A stand-in for GitHub, for the sign-in tests: CI cannot reach github.com, so a loopback
//! server follows GitHub's documented OAuth app flow and REST endpoints in the layout of
//! GitHub Enterprise Server (web at `/login/oauth/...`, REST under `/api/v3`):
//!
//! - `GET /login/oauth/authorize` (`client_id`, `redirect_uri`, `state`, `scope`, optional
//!   PKCE `code_challenge`): a page where the test picks a user with `button#authorize-<login>`
//!   (or `button#deny`); then 302 to `redirect_uri` with `code` and `state`.
//! - `POST /login/oauth/access_token` (form or JSON; `client_id`, `client_secret`, `code`,
//!   `redirect_uri`, `code_verifier`): JSON with `Accept: application/json`, else form-encoded;
//!   errors as GitHub answers them, with status 200 and an `error` field.
//! - `GET /api/v3/user`, `/user/orgs`, `/user/teams`, `/user/emails` with `Authorization: Bearer`
//!   or `token`; 401 `Bad credentials` otherwise. Orgs without the `read:org` (or `user`) scope
//!   are empty (memberships here are private), teams without it are 403, emails without
//!   `user:email` (or `user`) are 404.
//!
//! Codes are single-use and expire after ten minutes (or at once with
//! [`FakeGitHub::expire_codes`]).

use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::http::{form_decode, form_encode};

const CODE_TTL: Duration = Duration::from_secs(600);

// === users ===

/// A team: `(organization login, slug, name)`.
type Team = (&'static str, &'static str, &'static str);

/// A fixed user of the fake GitHub.
pub(crate) struct GitHubUser {
    pub(crate) login: &'static str,
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    /// The public email of `/user`; `None` like a user who keeps it private (then only
    /// `/user/emails` has it).
    pub(crate) public_email: Option<&'static str>,
    pub(crate) orgs: &'static [&'static str],
    pub(crate) teams: &'static [Team],
}

/// alice (acme: teams platform, sre), bob (acme: dev; no public email) and mallory (other).
pub(crate) const USERS: &[GitHubUser] = &[
    GitHubUser {
        login: "alice",
        id: 1001,
        name: "Alice Anders",
        public_email: Some("alice@example.com"),
        orgs: &["acme"],
        teams: &[("acme", "platform", "Platform"), ("acme", "sre", "SRE")],
    },
    GitHubUser {
        login: "bob",
        id: 1002,
        name: "Bob Brown",
        public_email: None,
        orgs: &["acme"],
        teams: &[("acme", "dev", "Dev")],
    },
    GitHubUser {
        login: "mallory",
        id: 1003,
        name: "Mallory Mayer",
        public_email: Some("mallory@example.com"),
        orgs: &["other"],
        teams: &[],
    },
];

const ORGS: &[(&str, u64)] = &[("acme", 2001), ("other", 2002)];

fn org_id(login: &str) -> u64 {
    ORGS.iter()
        .find(|(l, _)| *l == login)
        .map_or(0, |(_, id)| *id)
}

// === the handle ===

/// The OAuth app registered with the fake GitHub.
#[derive(Clone, Debug)]
pub(crate) struct GitHubApp {
    pub(crate) client_id: String,
    pub(crate) client_secret: String,
    /// The registered callback URL. As on GitHub, a `redirect_uri` matches when it has the
    /// same host and port and a path under the callback's; on a loopback callback any port
    /// matches.
    pub(crate) callback_url: String,
}

impl GitHubApp {
    pub(crate) fn new(client_id: &str, client_secret: &str, callback_url: &str) -> GitHubApp {
        GitHubApp {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            callback_url: callback_url.to_owned(),
        }
    }
}

/// What the fake GitHub counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Endpoint {
    Authorize,
    AccessToken,
    User,
    Orgs,
    Teams,
    Emails,
}

struct Grant {
    login: &'static str,
    redirect_uri: Option<String>,
    scope: String,
    code_challenge: Option<String>,
    expires: Instant,
}

struct State {
    app: GitHubApp,
    base_url: String,
    codes: Mutex<HashMap<String, Grant>>,
    /// token → (login, scopes as granted, comma-separated)
    tokens: Mutex<HashMap<String, (&'static str, String)>>,
    calls: Mutex<HashMap<Endpoint, usize>>,
}

impl State {
    fn count(&self, e: Endpoint) {
        *self.calls.lock().expect("calls").entry(e).or_default() += 1;
    }
}

/// The fake GitHub on 127.0.0.1, stopped on drop.
pub(crate) struct FakeGitHub {
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeGitHub {
    pub(crate) async fn start(app: GitHubApp) -> FakeGitHub {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the fake GitHub's port");
        let port = listener.local_addr().expect("its address").port();
        let state = Arc::new(State {
            app,
            base_url: format!("http://127.0.0.1:{port}"),
            codes: Mutex::default(),
            tokens: Mutex::default(),
            calls: Mutex::default(),
        });
        let s = state.clone();
        let router = axum::Router::new().fallback(
            move |method: http::Method, uri: Uri, headers: HeaderMap, body: String| {
                let s = s.clone();
                async move { route(&s, &method, &uri, &headers, &body) }
            },
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeGitHub { state, task }
    }

    /// `http://127.0.0.1:<port>`: GitHub Enterprise's host (`/login/oauth/...`).
    pub(crate) fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// `<base_url>/api/v3`, the REST API's root.
    pub(crate) fn api_url(&self) -> String {
        format!("{}/api/v3", self.state.base_url)
    }

    /// How many requests `e` has had.
    pub(crate) fn calls(&self, e: Endpoint) -> usize {
        self.state
            .calls
            .lock()
            .expect("calls")
            .get(&e)
            .copied()
            .unwrap_or(0)
    }

    /// Every code handed out so far expires now.
    pub(crate) fn expire_codes(&self) {
        let past = Instant::now() - Duration::from_secs(1);
        for g in self.state.codes.lock().expect("codes").values_mut() {
            g.expires = past;
        }
    }

    /// Every access token handed out so far stops working (the user revoked the app).
    pub(crate) fn revoke_tokens(&self) {
        self.state.tokens.lock().expect("tokens").clear();
    }
}

// === routes ===

fn route(s: &State, method: &http::Method, uri: &Uri, headers: &HeaderMap, body: &str) -> Response {
    let query = form_decode(uri.query().unwrap_or_default());
    match (method.as_str(), uri.path()) {
        ("GET", "/login/oauth/authorize") => {
            s.count(Endpoint::Authorize);
            authorize_page(s, &query)
        }
        ("POST", "/login/oauth/authorize") => authorize_decision(s, &form_decode(body)),
        ("POST", "/login/oauth/access_token") => {
            s.count(Endpoint::AccessToken);
            access_token(s, headers, &query, body)
        }
        ("GET", path) if path.starts_with("/api/v3/") => {
            api(s, path.trim_start_matches("/api/v3"), headers)
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(not_found())).into_response(),
    }
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Whether `redirect_uri` matches the registered callback as GitHub's rule says.
fn redirect_allowed(callback: &str, redirect_uri: &str) -> bool {
    let (Ok(cb), Ok(ru)) = (callback.parse::<Uri>(), redirect_uri.parse::<Uri>()) else {
        return false;
    };
    let loopback = |u: &Uri| matches!(u.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    let same_authority = if loopback(&cb) {
        cb.host() == ru.host()
    } else {
        cb.authority() == ru.authority()
    };
    let cb_path = cb.path().trim_end_matches('/');
    cb.scheme() == ru.scheme()
        && same_authority
        && (ru.path() == cb.path() || ru.path().starts_with(&format!("{cb_path}/")))
}

/// `url` with `pairs` added to its query.
fn with_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", form_encode(pairs))
}

fn authorize_page(s: &State, q: &[(String, String)]) -> Response {
    if get(q, "client_id") != Some(s.app.client_id.as_str()) {
        return (
            StatusCode::NOT_FOUND,
            Html("<main id=\"main\"><h1 id=\"error\">No OAuth app with that client_id</h1></main>"),
        )
            .into_response();
    }
    if let Some(ru) = get(q, "redirect_uri")
        && !redirect_allowed(&s.app.callback_url, ru)
    {
        let mut err = vec![
            ("error", "redirect_uri_mismatch"),
            (
                "error_description",
                "The redirect_uri MUST match the registered callback URL for this application.",
            ),
            (
                "error_uri",
                "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#redirect-uri-mismatch",
            ),
        ];
        if let Some(st) = get(q, "state") {
            err.push(("state", st));
        }
        return found(&with_query(&s.app.callback_url, &err));
    }
    let hidden: String = [
        "client_id",
        "redirect_uri",
        "state",
        "scope",
        "code_challenge",
        "code_challenge_method",
    ]
    .iter()
    .filter_map(|k| {
        get(q, k).map(|v| {
            format!(
                "<input type=\"hidden\" name=\"{k}\" value=\"{}\">",
                html_escape(v)
            )
        })
    })
    .collect();
    let buttons: String = USERS
        .iter()
        .map(|u| format!("<button type=\"submit\" id=\"authorize-{0}\" name=\"login\" value=\"{0}\">Authorize as {0}</button>", u.login))
        .collect();
    Html(format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Authorize application</title></head><body><main id=\"main\">\
         <h1>Authorize {app}</h1><p id=\"scope\">{scope}</p>\
         <form id=\"authorize\" method=\"post\" action=\"/login/oauth/authorize\">{hidden}{buttons}\
         <button type=\"submit\" id=\"deny\" name=\"deny\" value=\"1\">Cancel</button></form></main></body></html>",
        app = html_escape(&s.app.client_id),
        scope = html_escape(get(q, "scope").unwrap_or("(no scope)")),
    ))
    .into_response()
}

fn authorize_decision(s: &State, f: &[(String, String)]) -> Response {
    let redirect = get(f, "redirect_uri")
        .unwrap_or(&s.app.callback_url)
        .to_owned();
    let mut back: Vec<(&str, &str)> = Vec::new();
    let code = uuid::Uuid::new_v4().simple().to_string()[..20].to_owned();
    let user = get(f, "login").and_then(|l| USERS.iter().find(|u| u.login == l));
    match (get(f, "deny"), user) {
        (None, Some(u)) => {
            s.codes.lock().expect("codes").insert(
                code.clone(),
                Grant {
                    login: u.login,
                    redirect_uri: get(f, "redirect_uri").map(str::to_owned),
                    // GitHub answers the granted scopes comma-separated.
                    scope: get(f, "scope")
                        .unwrap_or_default()
                        .split([' ', ','])
                        .filter(|p| !p.is_empty())
                        .collect::<Vec<_>>()
                        .join(","),
                    code_challenge: get(f, "code_challenge").map(str::to_owned),
                    expires: Instant::now() + CODE_TTL,
                },
            );
            back.push(("code", &code));
        }
        _ => {
            back.push(("error", "access_denied"));
            back.push((
                "error_description",
                "The user has denied your application access.",
            ));
        }
    }
    if let Some(st) = get(f, "state") {
        back.push(("state", st));
    }
    found(&with_query(&redirect, &back))
}

/// 302 to `url`, as GitHub answers.
fn found(url: &str) -> Response {
    (
        StatusCode::FOUND,
        [(http::header::LOCATION, url.to_owned())],
    )
        .into_response()
}

fn access_token(
    s: &State,
    headers: &HeaderMap,
    query: &[(String, String)],
    body: &str,
) -> Response {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    // The parameters: a JSON body, a form body, or the query string.
    let mut p: Vec<(String, String)> = if header("content-type").starts_with("application/json") {
        serde_json::from_str::<HashMap<String, Value>>(body)
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect()
    } else {
        form_decode(body)
    };
    p.extend(query.iter().cloned());
    let json_answer = header("accept").contains("application/json");
    let answer = |pairs: Vec<(&str, String)>| -> Response {
        if json_answer {
            axum::Json(Value::Object(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), json!(v)))
                    .collect(),
            ))
            .into_response()
        } else {
            let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
            (
                [(
                    http::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded; charset=utf-8",
                )],
                form_encode(&pairs),
            )
                .into_response()
        }
    };
    let error = |code: &str, description: &str, uri: &str| {
        answer(vec![
            ("error", code.to_owned()),
            ("error_description", description.to_owned()),
            (
                "error_uri",
                format!(
                    "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#{uri}"
                ),
            ),
        ])
    };
    if get(&p, "client_id") != Some(s.app.client_id.as_str())
        || get(&p, "client_secret") != Some(s.app.client_secret.as_str())
    {
        return error(
            "incorrect_client_credentials",
            "The client_id and/or client_secret passed are incorrect.",
            "incorrect-client-credentials",
        );
    }
    let bad_code = || {
        error(
            "bad_verification_code",
            "The code passed is incorrect or expired.",
            "bad-verification-code",
        )
    };
    let Some(code) = get(&p, "code") else {
        return bad_code();
    };
    // Single use: gone from the map whatever happens next.
    let Some(grant) = s.codes.lock().expect("codes").remove(code) else {
        return bad_code();
    };
    if grant.expires < Instant::now() {
        return bad_code();
    }
    if let Some(ru) = get(&p, "redirect_uri")
        && grant
            .redirect_uri
            .as_deref()
            .is_some_and(|granted| granted != ru)
    {
        return error(
            "redirect_uri_mismatch",
            "The redirect_uri MUST match the registered callback URL for this application.",
            "redirect-uri-mismatch",
        );
    }
    if let Some(challenge) = &grant.code_challenge {
        let verifier = get(&p, "code_verifier").unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        use base64::Engine as _;
        if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref()) != *challenge {
            return bad_code();
        }
    }
    let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
    s.tokens
        .lock()
        .expect("tokens")
        .insert(token.clone(), (grant.login, grant.scope.clone()));
    answer(vec![
        ("access_token", token),
        ("token_type", "bearer".to_owned()),
        ("scope", grant.scope),
    ])
}

fn not_found() -> Value {
    json!({"message": "Not Found", "documentation_url": "https://docs.github.com/rest", "status": "404"})
}

fn api(s: &State, path: &str, headers: &HeaderMap) -> Response {
    let endpoint = match path {
        "/user" => Endpoint::User,
        "/user/orgs" => Endpoint::Orgs,
        "/user/teams" => Endpoint::Teams,
        "/user/emails" => Endpoint::Emails,
        _ => return (StatusCode::NOT_FOUND, axum::Json(not_found())).into_response(),
    };
    s.count(endpoint);
    let auth = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let token = auth
        .split_once(' ')
        .filter(|(scheme, _)| {
            scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token")
        })
        .map(|(_, t)| t.trim());
    let granted = token.and_then(|t| s.tokens.lock().expect("tokens").get(t).cloned());
    let Some((login, scope)) = granted else {
        let message = if auth.is_empty() {
            "Requires authentication"
        } else {
            "Bad credentials"
        };
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": "401"}))).into_response();
    };
    let user = USERS
        .iter()
        .find(|u| u.login == login)
        .expect("a fixed user");
    let scopes: Vec<&str> = scope.split(',').filter(|p| !p.is_empty()).collect();
    let has = |wanted: &[&str]| scopes.iter().any(|s| wanted.contains(s));
    let base = &s.base_url;
    let body = match endpoint {
        Endpoint::User => user_json(base, user),
        Endpoint::Orgs if has(&["read:org", "write:org", "admin:org", "user"]) => json!(
            user.orgs
                .iter()
                .map(|o| org_json(base, o))
                .collect::<Vec<_>>()
        ),
        Endpoint::Orgs => json!([]),
        Endpoint::Teams if has(&["read:org", "write:org", "admin:org", "user", "repo"]) => json!(
            user.teams
                .iter()
                .map(|t| team_json(base, t))
                .collect::<Vec<_>>()
        ),
        Endpoint::Teams => {
            return (StatusCode::FORBIDDEN, axum::Json(json!({"message": "Resource not accessible by integration: the token needs the read:org scope", "documentation_url": "https://docs.github.com/rest/teams/teams#list-teams-for-the-authenticated-user", "status": "403"}))).into_response();
        }
        Endpoint::Emails if has(&["user:email", "user"]) => json!([
            {"email": format!("{login}@example.com"), "verified": true, "primary": true, "visibility": if user.public_email.is_some() { json!("public") } else { json!("private") }},
            {"email": format!("{login}@old.example.com"), "verified": false, "primary": false, "visibility": null},
        ]),
        Endpoint::Emails => {
            return (StatusCode::NOT_FOUND, axum::Json(not_found())).into_response();
        }
        Endpoint::Authorize | Endpoint::AccessToken => unreachable!("not an API endpoint"),
    };
    let mut res = axum::Json(body).into_response();
    if let Ok(v) = http::HeaderValue::from_str(&scopes.join(", ")) {
        res.headers_mut().insert("x-oauth-scopes", v);
    }
    res
}

fn user_json(base: &str, u: &GitHubUser) -> Value {
    let api = format!("{base}/api/v3/users/{}", u.login);
    json!({
        "login": u.login, "id": u.id, "node_id": format!("U_{}", u.id),
        "avatar_url": format!("{base}/avatars/u/{}", u.id), "gravatar_id": "",
        "url": api, "html_url": format!("{base}/{}", u.login),
        "organizations_url": format!("{api}/orgs"), "repos_url": format!("{api}/repos"),
        "type": "User", "site_admin": false,
        "name": u.name, "company": null, "blog": "", "location": null,
        "email": u.public_email, "hireable": null, "bio": null,
        "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
        "created_at": "2020-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
    })
}

fn org_json(base: &str, login: &str) -> Value {
    let api = format!("{base}/api/v3/orgs/{login}");
    json!({
        "login": login, "id": org_id(login), "node_id": format!("O_{}", org_id(login)),
        "url": api, "repos_url": format!("{api}/repos"), "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"), "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("{base}/avatars/u/{}", org_id(login)), "description": null,
    })
}

fn team_json(base: &str, (org, slug, name): &Team) -> Value {
    let id = org_id(org) * 10 + u64::from(slug.as_bytes()[0]);
    let api = format!("{base}/api/v3/organizations/{}/team/{id}", org_id(org));
    let mut organization = org_json(base, org);
    organization["name"] = json!(org);
    organization["html_url"] = json!(format!("{base}/{org}"));
    organization["type"] = json!("Organization");
    json!({
        "id": id, "node_id": format!("T_{id}"), "url": api,
        "html_url": format!("{base}/orgs/{org}/teams/{slug}"),
        "name": name, "slug": slug, "description": null,
        "privacy": "closed", "notification_setting": "notifications_enabled",
        "permission": "pull", "members_url": format!("{api}/members{{/member}}"),
        "repositories_url": format!("{api}/repos"), "parent": null,
        "members_count": 1, "repos_count": 0,
        "created_at": "2020-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
        "organization": organization,
    })
}

#[cfg(test)]
mod tests;
