//! Ferry's own tokens: HS256 JWTs signed with the server's key (`server.secretkey` of the
//! Secret `ferry-secret`, as Argo CD signs its sessions with `argocd-secret`'s), issuer
//! `ferry`, each audience one purpose so that a token made for one is refused as another:
//!
//! - [`Purpose::Session`]: a signed-in user (the UI's cookie, the CLI's bearer token);
//! - [`Purpose::ProjectToken`]: an API token of a project role (`proj:P:R`), valid while the
//!   role lists its id (revocable) and until its `exp` if it has one;
//! - [`Purpose::Flow`]: the sign-in in progress (state, nonce, PKCE verifier), in a
//!   short-lived cookie;
//! - [`Purpose::CliCode`]: what the browser hands a waiting `ferry login --sso`, exchanged for
//!   a session only with the CLI's PKCE verifier.
//!
//! Only HS256 is accepted (no `none`, no algorithm from the token), with the issuer, the
//! audience and `exp` checked; the key rotates by changing the Secret, which ends every session.

use std::collections::BTreeMap;

use ferry_core::Sensitive;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "ferry";

/// What a token is for (its `aud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Session,
    ProjectToken,
    Flow,
    CliCode,
}

impl Purpose {
    pub fn audience(self) -> &'static str {
        match self {
            Purpose::Session => "ferry-session",
            Purpose::ProjectToken => "ferry-api",
            Purpose::Flow => "ferry-flow",
            Purpose::CliCode => "ferry-cli-code",
        }
    }
}

/// The claims of every Ferry token; which are set depends on the purpose.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The subject: the user (`admin`, an OIDC `sub`, a GitHub login) or `proj:P:R`.
    pub sub: String,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// The name to show (`preferred_username`, e-mail or login).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// How the user signed in: `local`, `oidc`, `github`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub via: String,
    /// Other claims RBAC may read (`scopes` beyond `groups`, such as `email`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, String>,
    /// For [`Purpose::Flow`] and [`Purpose::CliCode`]: the sign-in's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowState>,
}

/// A sign-in in progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FlowState {
    /// The provider's id (`oidc`, or a GitHub connector's id).
    pub provider: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pkce_verifier: String,
    /// Where the browser goes after: a path of this site.
    pub return_to: String,
    /// A `ferry login --sso` waiting on a loopback port, with its PKCE challenge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cli: Option<CliWait>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct CliWait {
    pub port: u16,
    pub challenge: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not one of this server's ({0})")]
    Invalid(String),
    #[error("the server has no signing key yet")]
    NoKey,
}

/// The server's signing key.
#[derive(Clone)]
pub struct Keys {
    key: Sensitive<Vec<u8>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

pub fn now() -> i64 {
    i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX)
}

impl Keys {
    pub fn new(key: Sensitive<Vec<u8>>) -> Keys {
        Keys { key }
    }

    /// Signs `claims` for `purpose` (its issuer and audience are set here).
    pub fn sign(&self, purpose: Purpose, mut claims: Claims) -> Result<String, TokenError> {
        if self.key.expose().is_empty() {
            return Err(TokenError::NoKey);
        }
        claims.iss = ISSUER.into();
        claims.aud = purpose.audience().into();
        let key = EncodingKey::from_secret(self.key.expose())
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// The claims of `token` if this server signed it for `purpose` and it has not expired.
    pub fn verify(&self, purpose: Purpose, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        if self.key.expose().is_empty() {
            return Err(TokenError::NoKey);
        }
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[purpose.audience()]);
        v.set_required_spec_claims(&["iss", "aud", "sub"]);
        v.leeway = 5;
        let key = DecodingKey::from_secret(self.key.expose())
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        match jsonwebtoken::decode::<Claims>(token, &key, &v) {
            Ok(t) => Ok(t.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::Invalid("bad signature".into()),
                ErrorKind::InvalidAudience => {
                    TokenError::Invalid("made for another purpose".into())
                }
                ErrorKind::InvalidIssuer => TokenError::Invalid("another issuer".into()),
                ErrorKind::InvalidAlgorithm => TokenError::Invalid("not HS256".into()),
                _ => TokenError::Invalid("malformed".into()),
            }),
        }
    }
}

/// A random string of `bytes` random bytes, URL-safe.
pub fn random(bytes: usize) -> String {
    use base64::Engine as _;
    let mut buf = vec![0u8; bytes];
    // getrandom fails only where the OS has no randomness; a key from zeros would be worse
    // than stopping.
    getrandom::fill(&mut buf).unwrap_or_else(|e| panic!("the OS gave no random bytes: {e}"));
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    fn keys() -> Keys {
        Keys::new(Sensitive::new(b"0123456789abcdef0123456789abcdef".to_vec()))
    }

    fn claims(exp: Option<i64>) -> Claims {
        Claims {
            sub: "alice".into(),
            iat: now(),
            exp,
            groups: vec!["acme:sre".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_token_is_good_for_its_purpose_only() {
        let k = keys();
        let t = k
            .sign(Purpose::Session, claims(Some(now() + 60)))
            .expect("signed");
        let c = k.verify(Purpose::Session, &t).expect("verified");
        assert_eq!(c.sub, "alice");
        assert_eq!(c.groups, ["acme:sre"]);
        for other in [Purpose::ProjectToken, Purpose::Flow, Purpose::CliCode] {
            assert!(k.verify(other, &t).is_err(), "{other:?}");
        }
    }

    #[test]
    fn expired_forged_unsigned_and_foreign_tokens_are_refused() {
        let k = keys();
        let old = k
            .sign(Purpose::Session, claims(Some(now() - 3600)))
            .expect("signed");
        assert_eq!(k.verify(Purpose::Session, &old), Err(TokenError::Expired));

        let other = Keys::new(Sensitive::new(b"another key, another server....".to_vec()));
        let foreign = other
            .sign(Purpose::Session, claims(Some(now() + 60)))
            .expect("signed");
        assert!(matches!(
            k.verify(Purpose::Session, &foreign),
            Err(TokenError::Invalid(_))
        ));

        // A changed payload (groups widened) breaks the signature.
        let good = k
            .sign(Purpose::Session, claims(Some(now() + 60)))
            .expect("signed");
        let parts: Vec<&str> = good.split('.').collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut payload: serde_json::Value =
            serde_json::from_slice(&b64.decode(parts[1]).expect("b64")).expect("json");
        payload["groups"] = serde_json::json!(["role:admin"]);
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64.encode(payload.to_string()),
            parts[2]
        );
        assert!(k.verify(Purpose::Session, &tampered).is_err());

        // `alg: none` with no signature.
        let none = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert!(k.verify(Purpose::Session, &none).is_err());
        // HS512 with the right key is still not HS256.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &Claims {
                iss: ISSUER.into(),
                aud: Purpose::Session.audience().into(),
                ..claims(Some(now() + 60))
            },
            &EncodingKey::from_secret(b"0123456789abcdef0123456789abcdef").expect("a key"),
        )
        .expect("signed");
        assert!(k.verify(Purpose::Session, &hs512).is_err());
        for junk in ["", "a.b", "a.b.c", "not a token at all"] {
            assert!(k.verify(Purpose::Session, junk).is_err(), "{junk}");
        }
        // No key: nothing signed, nothing accepted.
        let empty = Keys::new(Sensitive::new(Vec::new()));
        assert_eq!(
            empty.sign(Purpose::Session, claims(None)),
            Err(TokenError::NoKey)
        );
        assert_eq!(
            empty.verify(Purpose::Session, &good),
            Err(TokenError::NoKey)
        );
    }

    #[test]
    fn a_token_without_exp_does_not_expire() {
        let k = keys();
        let t = k.sign(Purpose::ProjectToken, claims(None)).expect("signed");
        assert!(k.verify(Purpose::ProjectToken, &t).is_ok());
    }
}
