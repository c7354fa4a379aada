//! OpenID Connect sign-in, authorization-code flow with PKCE, against any compliant provider
//! (on the `openidconnect` crate): discovery of the issuer's metadata and keys, the ID token
//! checked for signature (the provider's algorithms only, never `none`), issuer, audience,
//! expiry and the nonce of this sign-in, and the keys fetched again once when a token names a
//! key they lack (the provider rotated them). Groups come from the configured claim.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse as _,
};
use serde_json::Value;
use tokio::sync::Mutex;

use super::http::{HttpClient, HttpError};
use super::settings::OidcConfig;

/// How long discovered metadata is trusted before it is read again.
const METADATA_TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the OIDC provider {issuer}: {cause}")]
    Provider { issuer: String, cause: String },
    #[error("the OIDC provider {issuer} refused the sign-in: {cause}")]
    Refused { issuer: String, cause: String },
    #[error("the ID token from {issuer} is not accepted: {cause}")]
    IdToken { issuer: String, cause: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// Who signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    pub name: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, String>,
}

/// The redirect to the provider, and what the callback must check.
#[derive(Debug)]
pub struct Start {
    pub url: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// One configured provider, with its discovered metadata.
pub struct Provider {
    config: OidcConfig,
    http: HttpClient,
    metadata: Mutex<Option<(CoreProviderMetadata, Instant)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub fn new(config: OidcConfig) -> Result<Provider, OidcError> {
        let http = HttpClient::new(config.root_ca.as_deref())?;
        Ok(Provider {
            config,
            http,
            metadata: Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Whether `other` is the configuration this provider was made from.
    pub fn same_config(&self, other: &OidcConfig) -> bool {
        let a = &self.config;
        a.issuer == other.issuer
            && a.client_id == other.client_id
            && a.client_secret.as_ref().map(|s| s.expose().clone())
                == other.client_secret.as_ref().map(|s| s.expose().clone())
            && a.scopes == other.scopes
            && a.root_ca == other.root_ca
            && a.groups_claim == other.groups_claim
            && a.username_claim == other.username_claim
            && a.logout_url == other.logout_url
    }

    pub fn logout_url(&self) -> Option<&str> {
        self.config.logout_url.as_deref()
    }

    fn err(&self, cause: impl std::fmt::Display) -> OidcError {
        OidcError::Provider {
            issuer: self.config.issuer.clone(),
            cause: cause.to_string(),
        }
    }

    async fn metadata(&self, fresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut slot = self.metadata.lock().await;
        if !fresh
            && let Some((m, at)) = slot.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(m.clone());
        }
        let issuer = IssuerUrl::new(self.config.issuer.clone()).map_err(|e| self.err(e))?;
        let http = self.http.clone();
        let call = move |req| {
            let http = http.clone();
            async move { http.send(req).await }
        };
        let m = CoreProviderMetadata::discover_async(issuer, &call)
            .await
            .map_err(|e| self.err(format!("discovery: {}", chain(&e))))?;
        *slot = Some((m.clone(), Instant::now()));
        Ok(m)
    }

    fn client(
        &self,
        metadata: CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(self.config.client_id.clone()),
            self.config
                .client_secret
                .as_ref()
                .map(|s| ClientSecret::new(s.expose().clone())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| self.err(e))?))
    }

    /// Where to send the browser.
    pub async fn start(&self, redirect_uri: &str) -> Result<Start, OidcError> {
        let client = self.client(self.metadata(false).await?, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in self.config.scopes.iter().filter(|s| *s != "openid") {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        Ok(Start {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// The callback: the code exchanged (with the PKCE verifier), the ID token checked
    /// against this sign-in's nonce.
    pub async fn finish(
        &self,
        redirect_uri: &str,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(metadata, redirect_uri)?;
        let http = self.http.clone();
        let call = move |req| {
            let http = http.clone();
            async move { http.send(req).await }
        };
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| self.err(e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&call)
            .await
            .map_err(|e| OidcError::Refused {
                issuer: self.config.issuer.clone(),
                cause: format!("exchanging the code: {}", chain(&e)),
            })?;
        let id_token = token.id_token().ok_or_else(|| OidcError::IdToken {
            issuer: self.config.issuer.clone(),
            cause: "the token answer has no id_token (is `openid` among the scopes?)".into(),
        })?;
        let nonce = Nonce::new(nonce.to_owned());
        let verified = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(c) => Ok(c.subject().as_str().to_owned()),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(
                openidconnect::SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider rotated its keys since they were read: read them again, once.
                let fresh = self.client(self.metadata(true).await?, redirect_uri)?;
                id_token
                    .claims(&fresh.id_token_verifier(), &nonce)
                    .map(|c| c.subject().as_str().to_owned())
            }
            Err(e) => Err(e),
        }
        .map_err(|e| OidcError::IdToken {
            issuer: self.config.issuer.clone(),
            cause: chain(&e),
        })?;
        // The signature is checked: its payload can be read for the claims the standard
        // types do not carry (groups, or a configured claim).
        let raw = serde_json::to_value(id_token)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let claims = payload(&raw).unwrap_or(Value::Null);
        Ok(identity(
            &verified,
            &claims,
            &self.config.groups_claim,
            self.config.username_claim.as_deref(),
        ))
    }
}

/// The JSON payload of a compact JWT (already verified by the caller).
fn payload(jwt: &str) -> Option<Value> {
    let middle = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(middle.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Who the verified claims say signed in.
pub fn identity(
    subject: &str,
    claims: &Value,
    groups_claim: &str,
    username_claim: Option<&str>,
) -> Identity {
    let groups = match &claims[groups_claim] {
        Value::Array(a) => a
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    };
    let text = |k: &str| {
        claims[k]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let name = username_claim
        .and_then(text)
        .or_else(|| text("email"))
        .or_else(|| text("preferred_username"))
        .or_else(|| text("name"))
        .unwrap_or_else(|| subject.to_owned());
    let mut extra = BTreeMap::new();
    for k in ["email", "preferred_username", "name"] {
        if let Some(v) = text(k) {
            extra.insert(k.to_owned(), v);
        }
    }
    Identity {
        subject: subject.to_owned(),
        name,
        groups,
        extra,
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn groups_and_names_come_from_the_configured_claims() {
        let c = json!({"sub": "u1", "email": "alice@example.com", "groups": ["sre", "dev"],
            "roles": "ops", "preferred_username": "alice"});
        let i = identity("u1", &c, "groups", None);
        assert_eq!(i.name, "alice@example.com");
        assert_eq!(i.groups, ["sre", "dev"]);
        assert_eq!(i.extra["email"], "alice@example.com");
        let i = identity("u1", &c, "roles", Some("preferred_username"));
        assert_eq!(i.groups, ["ops"]);
        assert_eq!(i.name, "alice");
        let i = identity("u1", &json!({}), "groups", None);
        assert_eq!((i.name.as_str(), i.groups.len()), ("u1", 0));
    }

    #[test]
    fn a_payload_is_read_from_a_compact_token() {
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwt = format!("{}.{}.sig", b.encode("{}"), b.encode(r#"{"groups":["a"]}"#));
        assert_eq!(payload(&jwt), Some(json!({"groups": ["a"]})));
        assert_eq!(payload("nope"), None);
    }
}
