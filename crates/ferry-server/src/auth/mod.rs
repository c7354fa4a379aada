//! Sign-in and permissions: who a request is ([`Auth::authenticate`]) and what it may do
//! ([`Auth::allows`], [`Auth::require`]) — the one authorization point every API handler
//! goes through (`crate::authorized` maps each route to what it needs; lists filter item by
//! item through the same check).
//!
//! Who: the local `admin` (password, or the admin token as a bearer), a user signed in with
//! OpenID Connect or GitHub (a session: a Ferry-signed JWT, in an HttpOnly SameSite cookie for
//! the UI or as a bearer token for the CLI), a project role's API token, or, when enabled,
//! `anonymous`. A change made with the cookie must carry `X-Ferry-Request: 1`, which a page of
//! another site cannot send without a CORS preflight the server never grants.
//!
//! What: Argo CD's RBAC (`ferry-rbac-cm`, evaluated by `ferry-rbac`), with the projects'
//! roles added. Settings are followed by watches and take effect without a restart.
//!
//! Nothing here logs or answers a credential: tokens, passwords, client secrets and codes
//! stay in [`Sensitive`] and leave only in the headers they are for.

pub mod github;
pub mod http;
pub mod local;
pub mod oidc;
pub mod projects;
pub mod rbac;
pub mod routes;
pub mod settings;
pub mod tokens;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};

use axum::http::{HeaderMap, Method, header};
use ferry_core::{Sensitive, locks};
use serde::Serialize;
use subtle::ConstantTimeEq;

use crate::error::ApiError;
use projects::ProjectRoles;
use rbac::Rbac;
use settings::Settings;
use tokens::{Claims, Purpose, TokenError};

/// The session cookie's name.
pub const COOKIE: &str = "ferry_session";
/// The sign-in-in-progress cookie's name.
pub const FLOW_COOKIE: &str = "ferry_signin";
/// The header a cookie-authenticated change must carry.
pub const REQUEST_HEADER: &str = "x-ferry-request";
/// How long a session lasts (Argo CD's default, 24h).
pub const SESSION_LIFE_SECS: i64 = 24 * 60 * 60;

/// Who a request is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The name shown and recorded (`initiatedBy.username`, events).
    pub name: String,
    /// The RBAC subject (the OIDC `sub`, the GitHub login or id, `admin`, `proj:P:R`).
    pub subject: String,
    pub groups: Vec<String>,
    /// `local`, `oidc`, `github`, `token` (a project role's), `anonymous`.
    pub via: String,
    /// Claims RBAC's `scopes` may name besides `groups` (such as `email`).
    #[serde(skip)]
    pub extra: BTreeMap<String, String>,
}

impl User {
    pub fn admin() -> User {
        User {
            name: local::ADMIN.into(),
            subject: local::ADMIN.into(),
            groups: Vec::new(),
            via: "local".into(),
            extra: BTreeMap::new(),
        }
    }

    fn from_claims(c: Claims) -> User {
        User {
            name: if c.name.is_empty() {
                c.sub.clone()
            } else {
                c.name
            },
            subject: c.sub,
            groups: c.groups,
            via: c.via,
            extra: c.extra,
        }
    }

    /// The claims of a session for this user.
    pub fn session_claims(&self, lifetime: i64) -> Claims {
        let now = tokens::now();
        Claims {
            sub: self.subject.clone(),
            iat: now,
            exp: Some(now + lifetime),
            jti: Some(tokens::random(12)),
            name: self.name.clone(),
            groups: self.groups.clone(),
            via: self.via.clone(),
            extra: self.extra.clone(),
            ..Default::default()
        }
    }
}

struct Inner {
    admin_token: Sensitive<String>,
    tls: bool,
    settings: RwLock<Arc<Settings>>,
    projects: RwLock<Arc<BTreeMap<String, ProjectRoles>>>,
    rbac: RwLock<Arc<Rbac>>,
    oidc: Mutex<Option<Arc<oidc::Provider>>>,
}

/// What is accepted and allowed, kept current by [`watch`].
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

fn token_error(what: &str, e: &TokenError) -> ApiError {
    match e {
        TokenError::Expired => {
            ApiError::Unauthenticated(format!("{what} has expired: sign in again"))
        }
        other => ApiError::Unauthenticated(format!("{what} is not accepted: {other}")),
    }
}

impl Auth {
    /// `admin_token`: the admin account's API token (empty: none); `tls`: the listener
    /// serves TLS itself (cookies are then `Secure`).
    pub fn new(admin_token: Sensitive<String>, tls: bool) -> Self {
        let settings = Arc::new(Settings::default());
        let rbac = Arc::new(Rbac::build(&settings.rbac, &BTreeMap::new()));
        Auth {
            inner: Arc::new(Inner {
                admin_token,
                tls,
                settings: RwLock::new(settings),
                projects: RwLock::new(Arc::new(BTreeMap::new())),
                rbac: RwLock::new(rbac),
                oidc: Mutex::new(None),
            }),
        }
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        locks::read(&self.inner.settings).clone()
    }

    /// New settings (from the watches, or a test).
    pub fn set_settings(&self, s: Settings) {
        for p in &s.problems {
            tracing::warn!(problem = %p, "sign-in settings");
        }
        let changed = s.rbac != self.settings().rbac;
        *locks::write(&self.inner.settings) = Arc::new(s);
        if changed {
            self.rebuild_rbac();
        }
    }

    /// New project roles (from the AppProject watch).
    pub fn set_projects(&self, projects: BTreeMap<String, ProjectRoles>) {
        *locks::write(&self.inner.projects) = Arc::new(projects);
        self.rebuild_rbac();
    }

    /// The policy from the settings and projects in force; a policy that does not parse
    /// leaves the one in force.
    fn rebuild_rbac(&self) {
        let previous = self.rbac();
        match Rbac::build_over(&self.settings().rbac, &self.projects(), Some(&previous)) {
            Ok(r) => {
                for p in r.problems() {
                    tracing::warn!(problem = %p, "RBAC");
                }
                *locks::write(&self.inner.rbac) = Arc::new(r);
            }
            Err(e) => tracing::warn!(problem = %e, "RBAC"),
        }
    }

    pub fn projects(&self) -> Arc<BTreeMap<String, ProjectRoles>> {
        locks::read(&self.inner.projects).clone()
    }

    pub fn rbac(&self) -> Arc<Rbac> {
        locks::read(&self.inner.rbac).clone()
    }

    /// Whether cookies get `Secure`: the server serves TLS, or its external URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.inner.tls
            || self
                .settings()
                .url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"))
    }

    /// The OIDC provider of the settings in force (rebuilt when they change).
    pub fn oidc(&self) -> Option<Arc<oidc::Provider>> {
        let s = self.settings();
        let config = s.oidc.as_ref()?;
        let mut slot = self
            .inner
            .oidc
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = slot.as_ref()
            && p.same_config(config)
        {
            return Some(p.clone());
        }
        match oidc::Provider::new(config.clone()) {
            Ok(p) => {
                let p = Arc::new(p);
                *slot = Some(p.clone());
                Some(p)
            }
            Err(e) => {
                tracing::warn!(error = %e, "the OIDC provider cannot be used");
                None
            }
        }
    }

    fn admin_token_matches(&self, given: &str) -> bool {
        let want = self.inner.admin_token.expose().as_bytes();
        !want.is_empty() && bool::from(want.ct_eq(given.as_bytes()))
    }

    /// The user of a session's claims, if the session still stands.
    fn session_user(&self, s: &Settings, c: Claims) -> Result<User, ApiError> {
        if c.via == "local" {
            if !s.admin_enabled {
                return Err(ApiError::Unauthenticated(
                    "the admin account is disabled (admin.enabled in ferry-cm)".into(),
                ));
            }
            if c.iat < s.admin_password_mtime {
                return Err(ApiError::Unauthenticated(
                    "the admin password changed after this session began: sign in again".into(),
                ));
            }
        }
        Ok(User::from_claims(c))
    }

    /// The role of a project token, if the role still lists the token.
    fn project_token_user(&self, c: Claims) -> Result<User, ApiError> {
        let revoked = || {
            ApiError::Unauthenticated(format!(
                "the token of {} was revoked (or its role or project deleted)",
                c.sub
            ))
        };
        let (project, role) = projects::parse_subject(&c.sub).ok_or_else(revoked)?;
        let projects = self.projects();
        let r = projects
            .get(project)
            .and_then(|p| p.roles.iter().find(|r| r.name == role))
            .ok_or_else(revoked)?;
        let listed = r.tokens.iter().any(|t| match (&t.id, &c.jti) {
            (Some(id), Some(jti)) => id == jti,
            (None, _) => t.iat == c.iat,
            _ => false,
        });
        if !listed {
            return Err(revoked());
        }
        Ok(User {
            name: c.sub.clone(),
            subject: c.sub,
            // A token is its role; the role's groups are who else holds it.
            groups: Vec::new(),
            via: "token".into(),
            extra: BTreeMap::new(),
        })
    }

    /// Who a bearer token is.
    pub fn bearer_user(&self, token: &str) -> Result<User, ApiError> {
        let s = self.settings();
        let token = token.trim();
        if self.admin_token_matches(token) {
            return if s.admin_enabled {
                Ok(User::admin())
            } else {
                Err(ApiError::Unauthenticated(
                    "the admin account is disabled (admin.enabled in ferry-cm)".into(),
                ))
            };
        }
        if token.split('.').count() != 3 {
            return Err(ApiError::Unauthenticated(
                "the bearer token is not accepted".into(),
            ));
        }
        match s.keys.verify(Purpose::Session, token) {
            Ok(c) => return self.session_user(&s, c),
            Err(TokenError::Expired) => {
                return Err(token_error("the session", &TokenError::Expired));
            }
            Err(_) => {}
        }
        match s.keys.verify(Purpose::ProjectToken, token) {
            Ok(c) => self.project_token_user(c),
            Err(e) => Err(token_error("the bearer token", &e)),
        }
    }

    /// Who the request is, or why it may not go on.
    pub fn authenticate(&self, method: &Method, headers: &HeaderMap) -> Result<User, ApiError> {
        if let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .ok_or_else(|| {
                    ApiError::Unauthenticated(
                        "the Authorization header is not `Bearer TOKEN`".into(),
                    )
                })?;
            return self.bearer_user(token);
        }
        let s = self.settings();
        if let Some(value) = cookie(headers, COOKIE).filter(|v| !v.is_empty()) {
            let c = s
                .keys
                .verify(Purpose::Session, value)
                .map_err(|e| token_error("the session", &e))?;
            let user = self.session_user(&s, c)?;
            let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
            if changes && headers.get(REQUEST_HEADER).is_none() {
                return Err(ApiError::Forbidden(format!(
                    "a change made with the session cookie must carry the header {REQUEST_HEADER}: 1"
                )));
            }
            return Ok(user);
        }
        if s.anonymous_enabled {
            return Ok(User {
                name: "anonymous".into(),
                subject: String::new(),
                groups: Vec::new(),
                via: "anonymous".into(),
                extra: BTreeMap::new(),
            });
        }
        Err(ApiError::Unauthenticated(
            "sign in: open the UI, run `ferry login`, or send `Authorization: Bearer TOKEN`".into(),
        ))
    }

    /// Whether `user` may `action` the `resource` `object` (Argo CD's
    /// `resource, action, object` triple: `applications, sync, proj/app`).
    pub fn allows(&self, user: &User, resource: &str, action: &str, object: &str) -> bool {
        self.rbac().allows(user, resource, action, object)
    }

    /// [`Auth::allows`], or a 403 in Argo CD's words.
    pub fn require(
        &self,
        user: &User,
        resource: &str,
        action: &str,
        object: &str,
    ) -> Result<(), ApiError> {
        if self.allows(user, resource, action, object) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "permission denied: {resource}, {action}, {object}, sub: {}",
                user.name
            )))
        }
    }

    /// A `Set-Cookie` value carrying a session for `user`.
    pub fn session_cookie(&self, user: &User, root: &str) -> Result<String, ApiError> {
        let token = self
            .settings()
            .keys
            .sign(Purpose::Session, user.session_claims(SESSION_LIFE_SECS))
            .map_err(|e| ApiError::Unauthenticated(format!("no session can be made: {e}")))?;
        Ok(format!(
            "{COOKIE}={token}; Path={root}; HttpOnly; SameSite=Strict; Max-Age={SESSION_LIFE_SECS}{}",
            if self.secure_cookies() {
                "; Secure"
            } else {
                ""
            }
        ))
    }

    /// A bearer session token for `user` (what `ferry login` keeps).
    pub fn session_token(&self, user: &User) -> Result<String, ApiError> {
        self.settings()
            .keys
            .sign(Purpose::Session, user.session_claims(SESSION_LIFE_SECS))
            .map_err(|e| ApiError::Unauthenticated(format!("no session can be made: {e}")))
    }

    /// The cookie that ends the session.
    pub fn cleared_cookie(&self, root: &str) -> String {
        format!(
            "{COOKIE}=; Path={root}; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.secure_cookies() {
                "; Secure"
            } else {
                ""
            }
        )
    }

    /// Checks the local admin's password.
    pub fn check_password(&self, username: &str, password: &str) -> Result<User, ApiError> {
        let s = self.settings();
        let refused = || ApiError::Unauthenticated("wrong username or password".into());
        if username != local::ADMIN {
            return Err(refused());
        }
        if !s.admin_enabled {
            return Err(ApiError::Unauthenticated(
                "the admin account is disabled (admin.enabled in ferry-cm)".into(),
            ));
        }
        let Some(hash) = &s.admin_hash else {
            return Err(ApiError::Unauthenticated(format!(
                "the admin account has no password yet ({} admin.password)",
                settings::SECRET
            )));
        };
        match local::verify_password(hash.expose(), password) {
            Ok(true) => Ok(User::admin()),
            Ok(false) => Err(refused()),
            Err(e) => {
                tracing::warn!(error = %e, "the admin password cannot be checked");
                Err(ApiError::Unauthenticated(e.to_string()))
            }
        }
    }
}

/// Who the request is (kept for callers of the first API: [`Auth::authenticate`]).
pub fn authorize(auth: &Auth, method: &Method, headers: &HeaderMap) -> Result<User, ApiError> {
    auth.authenticate(method, headers)
}

pub use watch::watch;

mod watch {
    //! The watches that keep [`Auth`] current: `ferry-cm`, `ferry-rbac-cm`, `ferry-secret`
    //! and the AppProjects (their roles).

    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use ferry_cluster::api_resource as ar;
    use futures::StreamExt as _;
    use kube::api::{Api, DynamicObject};
    use kube::runtime::watcher;
    use tokio::sync::watch as tokio_watch;

    use super::Auth;
    use super::settings::{RBAC_CM, SECRET, SETTINGS_CM, parse};

    #[derive(Default)]
    struct Raw {
        cm: BTreeMap<String, String>,
        rbac: BTreeMap<String, String>,
        secret: BTreeMap<String, Vec<u8>>,
    }

    fn strings(o: Option<&DynamicObject>) -> BTreeMap<String, String> {
        o.and_then(|o| o.data.get("data"))
            .and_then(|d| d.as_object())
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
            .collect()
    }

    fn decoded(o: Option<&DynamicObject>) -> BTreeMap<String, Vec<u8>> {
        let b64 = base64::engine::general_purpose::STANDARD;
        o.and_then(|o| o.data.get("data"))
            .and_then(|d| d.as_object())
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), b64.decode(v.as_str()?).ok()?)))
            .collect()
    }

    /// Follows one named object; `apply` gets it (or `None` once deleted).
    fn follow_named(
        api: Api<DynamicObject>,
        name: &'static str,
        mut stop: tokio_watch::Receiver<bool>,
        ready: tokio::sync::mpsc::Sender<()>,
        apply: impl Fn(Option<&DynamicObject>) + Send + 'static,
    ) {
        tokio::spawn(async move {
            let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
            let mut stream = watcher(api, config).boxed();
            let mut seen = false;
            let mut ready = Some(ready);
            loop {
                let ev = tokio::select! { e = stream.next() => e, _ = stop.changed() => return };
                match ev {
                    None => return,
                    Some(Ok(watcher::Event::Init)) => seen = false,
                    Some(Ok(watcher::Event::InitApply(o) | watcher::Event::Apply(o))) => {
                        seen = true;
                        apply(Some(&o));
                    }
                    Some(Ok(watcher::Event::Delete(_))) => apply(None),
                    Some(Ok(watcher::Event::InitDone)) => {
                        if !seen {
                            apply(None);
                        }
                        if let Some(r) = ready.take() {
                            let _ = r.send(()).await;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::debug!(object = name, error = %e, "settings watch failed; retrying");
                        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }

    /// Starts the watches; returns once each has read its object (or its absence) once.
    pub async fn watch(
        auth: &Auth,
        client: &kube::Client,
        namespace: &str,
        stop: &tokio_watch::Receiver<bool>,
    ) {
        let raw = Arc::new(Mutex::new(Raw::default()));
        let (tx, mut rx) = tokio::sync::mpsc::channel(4);
        let cms = Api::<DynamicObject>::namespaced_with(
            client.clone(),
            namespace,
            &ar("", "v1", "ConfigMap", "configmaps"),
        );
        let secrets = Api::<DynamicObject>::namespaced_with(
            client.clone(),
            namespace,
            &ar("", "v1", "Secret", "secrets"),
        );
        type Slot = fn(&mut Raw, Option<&DynamicObject>);
        let slots: [(Api<DynamicObject>, &'static str, Slot); 3] = [
            (cms.clone(), SETTINGS_CM, |r, o| r.cm = strings(o)),
            (cms, RBAC_CM, |r, o| r.rbac = strings(o)),
            (secrets, SECRET, |r, o| r.secret = decoded(o)),
        ];
        for (api, name, slot) in slots {
            let raw = raw.clone();
            let auth = auth.clone();
            follow_named(api, name, stop.clone(), tx.clone(), move |o| {
                let mut r = raw
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                slot(&mut r, o);
                auth.set_settings(parse(&r.cm, &r.rbac, &r.secret));
            });
        }
        super::projects::watch(auth, client, namespace, stop, tx.clone());
        drop(tx);
        let deadline = tokio::time::sleep(std::time::Duration::from_secs(30));
        tokio::pin!(deadline);
        for _ in 0..4 {
            tokio::select! {
                r = rx.recv() => if r.is_none() { break },
                _ = &mut deadline => {
                    tracing::warn!("the sign-in settings were not read within 30s; going on with what was read");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth() -> Auth {
        let a = Auth::new(Sensitive::new("s3cret-token".into()), false);
        let mut secret = BTreeMap::new();
        secret.insert(
            "server.secretkey".to_owned(),
            b"k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y".to_vec(),
        );
        secret.insert(
            "admin.password".to_owned(),
            local::hash_password("hunter22").expect("hash").into_bytes(),
        );
        a.set_settings(settings::parse(&BTreeMap::new(), &BTreeMap::new(), &secret));
        a
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).expect("header"));
        }
        h
    }

    #[test]
    fn the_admin_token_is_accepted_as_bearer_and_nothing_else_is() {
        let a = auth();
        let ok = a.authenticate(
            &Method::POST,
            &headers(&[("authorization", "Bearer s3cret-token")]),
        );
        assert_eq!(ok.map(|u| u.name).ok().as_deref(), Some("admin"));
        for bad in [
            "Bearer wrong",
            "Basic s3cret-token",
            "Bearer ",
            "Bearer a.b.c",
        ] {
            let e = a.authenticate(&Method::GET, &headers(&[("authorization", bad)]));
            assert!(matches!(e, Err(ApiError::Unauthenticated(_))), "{bad}");
        }
        assert!(matches!(
            a.authenticate(&Method::GET, &HeaderMap::new()),
            Err(ApiError::Unauthenticated(_))
        ));
        // An empty configured token accepts nothing.
        let empty = Auth::new(Sensitive::new(String::new()), false);
        assert!(
            empty
                .authenticate(&Method::GET, &headers(&[("authorization", "Bearer ")]))
                .is_err()
        );
    }

    #[test]
    fn a_password_makes_a_session_that_works_for_reads_and_for_changes_only_with_the_header() {
        let a = auth();
        assert!(a.check_password("admin", "wrong").is_err());
        assert!(a.check_password("root", "hunter22").is_err());
        let user = a.check_password("admin", "hunter22").expect("signed in");
        let set = a.session_cookie(&user, "/").expect("cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(!set.contains("hunter22"), "{set}");
        let value = set.split(';').next().unwrap_or_default().to_owned();
        let get = a.authenticate(&Method::GET, &headers(&[("cookie", &value)]));
        assert_eq!(get.map(|u| u.name).ok().as_deref(), Some("admin"));
        let post = a.authenticate(&Method::POST, &headers(&[("cookie", &value)]));
        assert!(matches!(post, Err(ApiError::Forbidden(_))));
        let post = a.authenticate(
            &Method::POST,
            &headers(&[("cookie", &value), ("x-ferry-request", "1")]),
        );
        assert!(post.is_ok());
        // Another server's key: refused.
        let other = Auth::new(Sensitive::new("t".into()), false);
        let mut s = BTreeMap::new();
        s.insert(
            "server.secretkey".to_owned(),
            b"another-key-of-32-bytes-length!!".to_vec(),
        );
        other.set_settings(settings::parse(&BTreeMap::new(), &BTreeMap::new(), &s));
        assert!(
            other
                .authenticate(&Method::GET, &headers(&[("cookie", &value)]))
                .is_err()
        );
    }

    #[test]
    fn disabling_admin_or_changing_its_password_ends_its_sessions() {
        let a = auth();
        let user = a.check_password("admin", "hunter22").expect("signed in");
        let token = a.session_token(&user).expect("token");
        let bearer = format!("Bearer {token}");
        assert!(
            a.authenticate(&Method::GET, &headers(&[("authorization", &bearer)]))
                .is_ok()
        );
        let mut secret = BTreeMap::new();
        secret.insert(
            "server.secretkey".to_owned(),
            b"k3y-k3y-k3y-k3y-k3y-k3y-k3y-k3y".to_vec(),
        );
        secret.insert(
            "admin.passwordMtime".to_owned(),
            ferry_core::timestamp::rfc3339(
                std::time::SystemTime::now() + std::time::Duration::from_secs(60),
            )
            .into_bytes(),
        );
        a.set_settings(settings::parse(&BTreeMap::new(), &BTreeMap::new(), &secret));
        let e = a
            .authenticate(&Method::GET, &headers(&[("authorization", &bearer)]))
            .expect_err("ended");
        assert!(e.to_string().contains("password changed"), "{e}");
        let mut cm = BTreeMap::new();
        cm.insert("admin.enabled".to_owned(), "false".to_owned());
        secret.remove("admin.passwordMtime");
        a.set_settings(settings::parse(&cm, &BTreeMap::new(), &secret));
        for h in [bearer.as_str(), "Bearer s3cret-token"] {
            let e = a
                .authenticate(&Method::GET, &headers(&[("authorization", h)]))
                .expect_err("disabled");
            assert!(e.to_string().contains("disabled"), "{e}");
        }
    }
}
