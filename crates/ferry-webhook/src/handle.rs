//! One request, without HTTP: who sent it, is it authentic, what did it push.

use axum::http::HeaderMap;

use crate::error::{AuthFailure, WebhookError};
use crate::event::{Provider, PushEvent};
use crate::payload;
use crate::secrets::WebhookSecrets;
use crate::verify::{signature_tag, tokens_equal, verify_hmac_sha256, verify_token};

/// GitHub's event header.
pub const GITHUB_EVENT_HEADER: &str = "X-GitHub-Event";
/// GitHub's signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const GITHUB_SIGNATURE_HEADER: &str = "X-Hub-Signature-256";
/// GitLab's event header (`Push Hook`, `Tag Push Hook`, `System Hook`, …).
pub const GITLAB_EVENT_HEADER: &str = "X-Gitlab-Event";
/// GitLab's secret token header.
pub const GITLAB_TOKEN_HEADER: &str = "X-Gitlab-Token";
/// Bitbucket Cloud's per-webhook UUID header.
pub const BITBUCKET_UUID_HEADER: &str = "X-Hook-UUID";
/// Bitbucket's (Cloud and Server) event header.
pub const BITBUCKET_EVENT_HEADER: &str = "X-Event-Key";
/// Bitbucket Server's signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const BITBUCKET_SERVER_SIGNATURE_HEADER: &str = "X-Hub-Signature";
/// The generic endpoint's signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const GENERIC_SIGNATURE_HEADER: &str = "X-Ferry-Signature-256";

/// What an authentic request to `/api/webhook` amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A push: refresh the applications it [`matches`](crate::matches()).
    Push(PushEvent),
    /// The provider's connectivity check (GitHub `ping`, Bitbucket Server `diagnostics:ping`).
    Ping(Provider),
    /// An event that is not a push (GitHub `issues`, GitLab `Merge Request Hook`, …).
    Ignored {
        /// Who sent it.
        provider: Provider,
        /// The event name from its header.
        event: String,
    },
}

/// Verifies and parses a request to `/api/webhook`: the provider is told by its headers as
/// Argo CD does (`X-GitHub-Event`, `X-Gitlab-Event`, `X-Hook-UUID`, `X-Event-Key`), its
/// signature or token is checked against `secrets` before anything in the body is read, and a
/// push event is turned into a [`PushEvent`].
pub fn handle_request(
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Outcome, WebhookError> {
    let provider = detect_provider(headers)?;
    authenticate_headers(provider, secrets, headers)?;
    authenticate_body(provider, secrets, headers, body)?;
    parse_authentic(provider, headers, body)
}

/// Verifies and parses a request to `/api/webhook/generic` (see the crate documentation for
/// the format).
pub fn handle_generic_request(
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<PushEvent, WebhookError> {
    authenticate_headers(Provider::Generic, secrets, headers)?;
    authenticate_body(Provider::Generic, secrets, headers, body)?;
    payload::generic_push(body).map_err(|m| WebhookError::malformed(Provider::Generic, m))
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Who sent the request, by its headers, in Argo CD's order (senders Ferry does not handle
/// first, since Gogs and Gitea also send GitHub's header).
pub(crate) fn detect_provider(headers: &HeaderMap) -> Result<Provider, WebhookError> {
    for (name, sender) in [
        ("X-Vss-ActivityId", "Azure DevOps"),
        ("X-Gitea-Event", "Gitea"),
        ("X-Gogs-Event", "Gogs"),
    ] {
        if header(headers, name).is_some() {
            return Err(WebhookError::UnsupportedSender { sender });
        }
    }
    if header(headers, GITHUB_EVENT_HEADER).is_some() {
        return Ok(Provider::GitHub);
    }
    if header(headers, GITLAB_EVENT_HEADER).is_some() {
        return Ok(Provider::GitLab);
    }
    // Argo CD tells Bitbucket Cloud by `X-Hook-UUID`; a `repo:push` without it is Cloud too
    // (Bitbucket Server calls its push `repo:refs_changed`), so it is refused for the missing
    // UUID rather than for a Bitbucket Server signature.
    let event_key = header(headers, BITBUCKET_EVENT_HEADER);
    if header(headers, BITBUCKET_UUID_HEADER).is_some() || event_key == Some("repo:push") {
        return Ok(Provider::BitbucketCloud);
    }
    if event_key.is_some() {
        return Ok(Provider::BitbucketServer);
    }
    Err(WebhookError::UnknownSender)
}

/// What can be checked before the body is read, so that nothing of an unauthenticated
/// request's body is read: a secret is configured and the request carries a well-formed
/// signature header (GitHub, Bitbucket Server, generic); for token-based providers (GitLab's
/// `X-Gitlab-Token`, Bitbucket Cloud's `X-Hook-UUID`) the whole check.
pub(crate) fn authenticate_headers(
    provider: Provider,
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
) -> Result<(), WebhookError> {
    let fail = |cause| WebhookError::unauthorized(provider, cause);
    let secret = secrets
        .for_provider(provider)
        .ok_or(AuthFailure::NoSecretConfigured {
            key: provider.secret_key(),
        })
        .map_err(fail)?
        .expose();
    let credential_header = credential_header(provider);
    let value = header(headers, credential_header);
    match provider {
        Provider::GitLab => verify_token(credential_header, value, secret).map_err(fail),
        Provider::BitbucketCloud => {
            let value = value.ok_or(AuthFailure::Missing {
                header: credential_header,
            });
            let value = value.map_err(fail)?;
            if tokens_equal(&normalize_uuid(value), &normalize_uuid(secret)) {
                Ok(())
            } else {
                Err(fail(AuthFailure::Mismatch {
                    header: credential_header,
                }))
            }
        }
        Provider::GitHub | Provider::BitbucketServer | Provider::Generic => {
            signature_tag(credential_header, value)
                .map(drop)
                .map_err(fail)
        }
    }
}

/// The HMAC check, for providers that sign the body.
pub(crate) fn authenticate_body(
    provider: Provider,
    secrets: &WebhookSecrets,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), WebhookError> {
    let fail = |cause| WebhookError::unauthorized(provider, cause);
    let Some(secret) = secrets.for_provider(provider) else {
        return Err(fail(AuthFailure::NoSecretConfigured {
            key: provider.secret_key(),
        }));
    };
    match provider {
        Provider::GitHub | Provider::BitbucketServer | Provider::Generic => {
            let name = credential_header(provider);
            verify_hmac_sha256(name, header(headers, name), secret.expose(), body).map_err(fail)
        }
        Provider::GitLab | Provider::BitbucketCloud => Ok(()),
    }
}

fn credential_header(provider: Provider) -> &'static str {
    match provider {
        Provider::GitHub => GITHUB_SIGNATURE_HEADER,
        Provider::GitLab => GITLAB_TOKEN_HEADER,
        Provider::BitbucketCloud => BITBUCKET_UUID_HEADER,
        Provider::BitbucketServer => BITBUCKET_SERVER_SIGNATURE_HEADER,
        Provider::Generic => GENERIC_SIGNATURE_HEADER,
    }
}

/// Bitbucket shows webhook UUIDs as `{xxxxxxxx-…}`; accept them with or without braces and in
/// either case.
fn normalize_uuid(uuid: &str) -> String {
    uuid.trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .to_ascii_lowercase()
}

/// The event of an authentic request.
fn parse_authentic(
    provider: Provider,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Outcome, WebhookError> {
    let malformed = |message: String| WebhookError::malformed(provider, message);
    let ignored = |event: &str| {
        Ok(Outcome::Ignored {
            provider,
            event: event.to_owned(),
        })
    };
    match provider {
        Provider::GitHub => match header(headers, GITHUB_EVENT_HEADER).unwrap_or_default() {
            "push" => {
                let json = github_json_body(headers, body).map_err(malformed)?;
                payload::github_push(&json)
                    .map(Outcome::Push)
                    .map_err(malformed)
            }
            "ping" => Ok(Outcome::Ping(provider)),
            other => ignored(other),
        },
        Provider::GitLab => match header(headers, GITLAB_EVENT_HEADER).unwrap_or_default() {
            "Push Hook" | "Tag Push Hook" => payload::gitlab_push(body)
                .map(Outcome::Push)
                .map_err(malformed),
            "System Hook" => {
                // System hooks carry every instance event; pushes have the project hook's shape.
                let kind = serde_json::from_slice::<serde_json::Value>(body)
                    .map_err(|e| malformed(format!("invalid JSON: {e}")))?
                    .get("object_kind")
                    .and_then(|k| k.as_str().map(str::to_owned))
                    .unwrap_or_default();
                match kind.as_str() {
                    "push" | "tag_push" => payload::gitlab_push(body)
                        .map(Outcome::Push)
                        .map_err(malformed),
                    _ => ignored(&format!("System Hook/{kind}")),
                }
            }
            other => ignored(other),
        },
        Provider::BitbucketCloud => match header(headers, BITBUCKET_EVENT_HEADER) {
            Some("repo:push") => payload::bitbucket_cloud_push(body)
                .map(Outcome::Push)
                .map_err(malformed),
            Some(other) => ignored(other),
            None => Err(malformed("missing X-Event-Key header".to_owned())),
        },
        Provider::BitbucketServer => {
            match header(headers, BITBUCKET_EVENT_HEADER).unwrap_or_default() {
                "repo:refs_changed" => payload::bitbucket_server_push(body)
                    .map(Outcome::Push)
                    .map_err(malformed),
                "diagnostics:ping" => Ok(Outcome::Ping(provider)),
                other => ignored(other),
            }
        }
        Provider::Generic => payload::generic_push(body)
            .map(Outcome::Push)
            .map_err(malformed),
    }
}

/// GitHub sends JSON, or with content type `application/x-www-form-urlencoded` the JSON in
/// the `payload` form field (the signature covers the encoded body).
fn github_json_body(headers: &HeaderMap, body: &[u8]) -> Result<Vec<u8>, String> {
    let form = header(headers, "Content-Type").is_some_and(|ct| {
        ct.to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !form {
        return Ok(body.to_vec());
    }
    for pair in body.split(|&b| b == b'&') {
        if let Some(value) = pair.strip_prefix(b"payload=") {
            let plus_decoded: Vec<u8> = value
                .iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect();
            return Ok(percent_encoding::percent_decode(&plus_decoded).collect());
        }
    }
    Err("form-encoded body has no payload field".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                *k,
                HeaderValue::from_str(v).unwrap_or(HeaderValue::from_static("")),
            );
        }
        h
    }

    #[test]
    fn detection_follows_argo() {
        let p = |pairs: &[(&'static str, &str)]| detect_provider(&headers(pairs)).ok();
        assert_eq!(p(&[("X-GitHub-Event", "push")]), Some(Provider::GitHub));
        assert_eq!(p(&[("x-github-event", "push")]), Some(Provider::GitHub));
        assert_eq!(
            p(&[("X-Gitlab-Event", "Push Hook")]),
            Some(Provider::GitLab)
        );
        assert_eq!(
            p(&[("X-Event-Key", "repo:push"), ("X-Hook-UUID", "u")]),
            Some(Provider::BitbucketCloud)
        );
        assert_eq!(
            p(&[("X-Event-Key", "repo:push")]),
            Some(Provider::BitbucketCloud)
        );
        assert_eq!(
            p(&[("X-Event-Key", "repo:refs_changed")]),
            Some(Provider::BitbucketServer)
        );
        assert_eq!(p(&[("X-Something", "push")]), None);
        assert!(matches!(
            detect_provider(&headers(&[
                ("X-Gogs-Event", "push"),
                ("X-GitHub-Event", "push")
            ])),
            Err(WebhookError::UnsupportedSender { sender: "Gogs" })
        ));
        assert!(matches!(
            detect_provider(&headers(&[
                ("X-Gitea-Event", "push"),
                ("X-GitHub-Event", "push")
            ])),
            Err(WebhookError::UnsupportedSender { sender: "Gitea" })
        ));
    }

    #[test]
    fn uuid_forms() {
        assert_eq!(normalize_uuid("{ABC-def}"), "abc-def");
        assert_eq!(normalize_uuid(" abc-def "), "abc-def");
    }

    #[test]
    fn github_form_body() {
        let h = headers(&[("Content-Type", "application/x-www-form-urlencoded")]);
        let body = b"payload=%7B%22a%22%3A+%22b+c%22%7D";
        assert_eq!(
            github_json_body(&h, body).ok(),
            Some(br#"{"a": "b c"}"#.to_vec())
        );
        assert!(github_json_body(&h, b"other=1").is_err());
    }
}
