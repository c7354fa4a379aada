//! The one authorization point every handler goes through ([`authorize`]). Until sign-in
//! exists, one local admin token is accepted: as `Authorization: Bearer`, or traded with
//! `POST /api/v1/session` for a session cookie signed with a key derived from it
//! (stateless: any replica with the same token accepts it; a new token ends every session).
//! A request that changes something and is authenticated by the cookie must carry
//! `X-Ferry-Request: 1`, which a page of another site cannot send without a CORS preflight
//! the server never grants.
//!
//! The token is compared in constant time and never logged or answered.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, Method, header};
use base64::Engine as _;
use ferry_core::Sensitive;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// The session cookie's name.
pub const COOKIE: &str = "ferry_session";
/// The header a cookie-authenticated change must carry.
pub const REQUEST_HEADER: &str = "x-ferry-request";
/// How long a session lasts.
pub const SESSION_LIFE: Duration = Duration::from_secs(12 * 60 * 60);

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Who a request is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
}

/// What is accepted: the admin token.
#[derive(Clone)]
pub struct Auth {
    token: Sensitive<String>,
    secure_cookie: bool,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(token: Sensitive<String>, secure_cookie: bool) -> Self {
        Self {
            token,
            secure_cookie,
        }
    }

    fn token_matches(&self, given: &str) -> bool {
        let want = self.token.expose().as_bytes();
        !want.is_empty() && bool::from(want.ct_eq(given.as_bytes()))
    }

    fn mac(&self, payload: &str) -> String {
        // The key is the token itself, with a purpose prefix so that a cookie's MAC never
        // equals any other use of it.
        let mut mac = HmacSha256::new_from_slice(
            format!("ferry-session-v1:{}", self.token.expose()).as_bytes(),
        )
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(payload.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A session cookie for `user` (`Set-Cookie` value) if `token` is the admin token.
    pub fn session_cookie(&self, token: &str, root: &str) -> Result<String, ApiError> {
        if !self.token_matches(token.trim()) {
            return Err(ApiError::Unauthenticated(
                "that is not the admin token (see docs/api.md: the Secret ferry-admin-token)"
                    .into(),
            ));
        }
        let expires = now_secs() + SESSION_LIFE.as_secs();
        let payload = format!("admin.{expires}");
        let value = format!("{payload}.{}", self.mac(&payload));
        Ok(format!(
            "{COOKIE}={value}; Path={root}; HttpOnly; SameSite=Strict; Max-Age={}{}",
            SESSION_LIFE.as_secs(),
            if self.secure_cookie { "; Secure" } else { "" }
        ))
    }

    /// The cookie that ends the session.
    pub fn cleared_cookie(&self, root: &str) -> String {
        format!(
            "{COOKIE}=; Path={root}; HttpOnly; SameSite=Strict; Max-Age=0{}",
            if self.secure_cookie { "; Secure" } else { "" }
        )
    }

    fn session_user(&self, value: &str) -> Option<User> {
        let (payload, mac) = value.rsplit_once('.')?;
        if !bool::from(self.mac(payload).as_bytes().ct_eq(mac.as_bytes())) {
            return None;
        }
        let (user, expires) = payload.split_once('.')?;
        let expires: u64 = expires.parse().ok()?;
        (expires > now_secs()).then(|| User {
            name: user.to_owned(),
        })
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
}

/// Who the request is, or why it may not go on. The one place every API handler asks.
pub fn authorize(auth: &Auth, method: &Method, headers: &HeaderMap) -> Result<User, ApiError> {
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header is not `Bearer TOKEN`".into())
            })?;
        return if auth.token_matches(token.trim()) {
            Ok(User {
                name: "admin".into(),
            })
        } else {
            Err(ApiError::Unauthenticated(
                "the bearer token is not accepted".into(),
            ))
        };
    }
    let Some(user) = cookie(headers, COOKIE).and_then(|v| auth.session_user(v)) else {
        return Err(ApiError::Unauthenticated(
            "sign in: send `Authorization: Bearer TOKEN` or POST the token to /api/v1/session"
                .into(),
        ));
    };
    let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if changes && headers.get(REQUEST_HEADER).is_none() {
        return Err(ApiError::Forbidden(format!(
            "a change made with the session cookie must carry the header {REQUEST_HEADER}: 1"
        )));
    }
    Ok(user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn auth() -> Auth {
        Auth::new(Sensitive::new("s3cret-token".into()), false)
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
        let ok = authorize(
            &a,
            &Method::POST,
            &headers(&[("authorization", "Bearer s3cret-token")]),
        );
        assert_eq!(ok.map(|u| u.name).ok().as_deref(), Some("admin"));
        for bad in ["Bearer wrong", "Basic s3cret-token", "Bearer "] {
            let e = authorize(&a, &Method::GET, &headers(&[("authorization", bad)]));
            assert!(matches!(e, Err(ApiError::Unauthenticated(_))), "{bad}");
        }
        assert!(matches!(
            authorize(&a, &Method::GET, &HeaderMap::new()),
            Err(ApiError::Unauthenticated(_))
        ));
        // An empty configured token accepts nothing.
        let empty = Auth::new(Sensitive::new(String::new()), false);
        assert!(
            authorize(
                &empty,
                &Method::GET,
                &headers(&[("authorization", "Bearer ")])
            )
            .is_err()
        );
    }

    #[test]
    fn a_session_cookie_works_for_reads_and_for_changes_only_with_the_request_header() {
        let a = auth();
        assert!(a.session_cookie("wrong", "/").is_err());
        let set = a.session_cookie("s3cret-token", "/").expect("cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(
            !set.contains("s3cret-token"),
            "the token is not in the cookie: {set}"
        );
        let value = set.split(';').next().unwrap_or_default().to_owned();
        let get = authorize(&a, &Method::GET, &headers(&[("cookie", &value)]));
        assert!(get.is_ok());
        let post = authorize(&a, &Method::POST, &headers(&[("cookie", &value)]));
        assert!(matches!(post, Err(ApiError::Forbidden(_))));
        let post = authorize(
            &a,
            &Method::POST,
            &headers(&[("cookie", &value), ("x-ferry-request", "1")]),
        );
        assert!(post.is_ok());
        // A forged or tampered cookie is refused; so is one signed for another token.
        let forged = value.replace("admin.", "root.");
        assert!(authorize(&a, &Method::GET, &headers(&[("cookie", &forged)])).is_err());
        let other = Auth::new(Sensitive::new("another".into()), false);
        assert!(authorize(&other, &Method::GET, &headers(&[("cookie", &value)])).is_err());
    }
}
