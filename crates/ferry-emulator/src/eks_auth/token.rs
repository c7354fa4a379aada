//! The form of an EKS bearer token, checked without the network, as aws-iam-authenticator's
//! `tokenVerifier.Verify` (`pkg/token/token.go`) checks it before it asks STS.
//!
//! A token is `k8s-aws-v1.` + base64url without padding of a presigned STS
//! `GetCallerIdentity` URL. It is refused unless it is at most 4096 bytes; the URL points at the
//! cluster's STS endpoint (scheme and host exactly, path `/`); its query has no repeated
//! parameter (names compared case-insensitively), each with one value, all from the
//! authenticator's allow-list; `Action=GetCallerIdentity`; `X-Amz-SignedHeaders` names
//! `x-k8s-aws-id`; `X-Amz-Expires` is 0–900 (and ignored, as STS ignores it: a presigned
//! `GetCallerIdentity` is good for 15 minutes after `X-Amz-Date`); `X-Amz-Date` parses and is not
//! past that lifetime. Beyond the authenticator (which leaves these to STS, and moto does not
//! check them), `Version=2011-06-15`, `X-Amz-Algorithm=AWS4-HMAC-SHA256`, a well-formed
//! `X-Amz-Credential` (`KEY/YYYYMMDD/REGION/sts/aws4_request`, of the same day as the date), a
//! signature, and a date not more than a few minutes in the future are required too.
//!
//! Errors never carry the token, the signature or the security token.

use std::time::Duration;

use base64::Engine as _;
use ferry_core::Sensitive;
use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;

/// What every EKS token starts with.
pub const PREFIX: &str = "k8s-aws-v1.";
/// The longest token the authenticator reads.
pub const MAX_TOKEN_LEN: usize = 4096;
/// The header that binds a token to one cluster: signed by the client, sent by the verifier.
pub const CLUSTER_ID_HEADER: &str = "x-k8s-aws-id";
/// How long STS honours a presigned `GetCallerIdentity` after its `X-Amz-Date`.
pub const PRESIGNED_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// How far in the future a token's date may be (clocks differ).
pub const FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);

/// Query parameters a token may carry (aws-iam-authenticator's `parameterWhitelist`).
const ALLOWED: [&str; 9] = [
    "action",
    "version",
    "x-amz-algorithm",
    "x-amz-credential",
    "x-amz-date",
    "x-amz-expires",
    "x-amz-security-token",
    "x-amz-signature",
    "x-amz-signedheaders",
];

const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// Why a token's form is refused. Names parts of the URL that are not secret, never values
/// that are (signature, security token, access key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("the token does not start with {PREFIX:?}")]
    Prefix,
    #[error("the token is not base64url without padding")]
    Base64,
    #[error("the token's presigned URL does not parse")]
    Url,
    #[error("the presigned URL points at {found}, not at this cluster's STS endpoint {expected}")]
    Host { found: String, expected: String },
    #[error("the presigned URL's path is not /")]
    Path,
    #[error("the presigned URL's query does not parse")]
    Query,
    #[error("query parameter {0:?} is given more than once")]
    Duplicate(String),
    #[error("query parameter {0:?} is not allowed in an EKS token")]
    NotAllowed(String),
    #[error("the presigned request is not Action=GetCallerIdentity")]
    Action,
    #[error("the presigned request is not Version=2011-06-15")]
    Version,
    #[error("the presigned request is not signed with X-Amz-Algorithm=AWS4-HMAC-SHA256")]
    Algorithm,
    #[error("the client did not sign the {CLUSTER_ID_HEADER} header")]
    ClusterIdNotSigned,
    #[error("X-Amz-Expires is missing or not between 0 and 900")]
    Expires,
    #[error("X-Amz-Date is missing or not of the form 20060102T150405Z")]
    Date,
    #[error("the token expired at {0}")]
    Expired(String),
    #[error("the token is dated {0}, in the future")]
    Future(String),
    #[error("X-Amz-Credential is not KEY/YYYYMMDD/REGION/sts/aws4_request of the token's day")]
    Credential,
    #[error("X-Amz-Signature is missing")]
    Signature,
}

/// Where a cluster's STS answers: its scheme and host (with the port, if any), as the token's
/// URL must name them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    scheme: String,
    authority: String,
}

impl Endpoint {
    /// `https://sts.us-east-1.amazonaws.com` or, for moto, `http://127.0.0.1:5000`. A path
    /// other than `/` is refused.
    pub fn parse(url: &str) -> Option<Self> {
        let uri: http::Uri = url.parse().ok()?;
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let authority = uri.authority()?.as_str().to_ascii_lowercase();
        let path_ok = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
        (matches!(scheme.as_str(), "http" | "https") && path_ok && !authority.contains('@'))
            .then_some(Self { scheme, authority })
    }

    /// The default of a region: `https://sts.<region>.amazonaws.com`.
    pub fn regional(region: &str) -> Self {
        Self {
            scheme: "https".into(),
            authority: format!("sts.{region}.amazonaws.com"),
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// A token whose form is good: what the verifier sends to STS and what it learns from the URL.
#[derive(Debug, Clone)]
pub struct Presigned {
    /// The presigned URL, exactly as the token carries it (a credential).
    pub url: Sensitive<String>,
    /// The access key id of the signing credentials (from `X-Amz-Credential`).
    pub access_key_id: Sensitive<String>,
    /// `X-Amz-Credential`, `X-Amz-SignedHeaders` and `X-Amz-Signature`, for an STS that reads the
    /// signature only from an `Authorization` header (moto).
    pub credential: Sensitive<String>,
    pub signed_headers: String,
    pub signature: Sensitive<String>,
    /// When the token stops being accepted.
    pub expires_at: OffsetDateTime,
}

/// What a cluster expects of a token.
#[derive(Debug, Clone)]
pub struct Expect<'a> {
    pub endpoint: &'a Endpoint,
    /// How long after `X-Amz-Date` a token is accepted ([`PRESIGNED_LIFETIME`] unless a test
    /// shortens it).
    pub lifetime: Duration,
    pub now: OffsetDateTime,
}

/// Checks a bearer token's form; see the module documentation for every rule.
pub fn parse(token: &str, expect: &Expect<'_>) -> Result<Presigned, TokenError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(TokenError::TooLong);
    }
    let encoded = token.strip_prefix(PREFIX).ok_or(TokenError::Prefix)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(encoded)
        .map_err(|_| TokenError::Base64)?;
    let url = String::from_utf8(bytes).map_err(|_| TokenError::Url)?;
    let uri: http::Uri = url.parse().map_err(|_| TokenError::Url)?;
    let found = Endpoint {
        scheme: uri.scheme_str().unwrap_or_default().to_ascii_lowercase(),
        authority: uri
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
            .unwrap_or_default(),
    };
    if &found != expect.endpoint {
        // Shown without any user information the URL may carry.
        let host = found.authority.rsplit('@').next().unwrap_or_default();
        return Err(TokenError::Host {
            found: format!("{}://{host}", found.scheme),
            expected: expect.endpoint.to_string(),
        });
    }
    if uri.path() != "/" {
        return Err(TokenError::Path);
    }
    let q = Query::parse(uri.query().unwrap_or_default())?;
    if q.get("action") != Some("GetCallerIdentity") {
        return Err(TokenError::Action);
    }
    if q.get("version") != Some("2011-06-15") {
        return Err(TokenError::Version);
    }
    if q.get("x-amz-algorithm") != Some("AWS4-HMAC-SHA256") {
        return Err(TokenError::Algorithm);
    }
    let signed_headers = q.get("x-amz-signedheaders").unwrap_or_default();
    if !signed_headers
        .split(';')
        .any(|h| h.eq_ignore_ascii_case(CLUSTER_ID_HEADER))
    {
        return Err(TokenError::ClusterIdNotSigned);
    }
    match q.get("x-amz-expires").map(str::parse::<u32>) {
        Some(Ok(0..=900)) => {}
        _ => return Err(TokenError::Expires),
    }
    let date_text = q.get("x-amz-date").ok_or(TokenError::Date)?;
    let date = time::PrimitiveDateTime::parse(date_text, AMZ_DATE)
        .map_err(|_| TokenError::Date)?
        .assume_utc();
    let expires_at = date + expect.lifetime;
    if expect.now > expires_at {
        return Err(TokenError::Expired(date_text_of(expires_at)));
    }
    if date > expect.now + FUTURE_SKEW {
        return Err(TokenError::Future(date_text.to_owned()));
    }
    let credential = q.get("x-amz-credential").unwrap_or_default();
    let day = date_text.get(..8).ok_or(TokenError::Date)?;
    let access_key_id = credential_key(credential, day)?;
    let signature = q
        .get("x-amz-signature")
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or(TokenError::Signature)?;
    Ok(Presigned {
        access_key_id: Sensitive::new(access_key_id.to_owned()),
        credential: Sensitive::new(credential.to_owned()),
        signed_headers: signed_headers.to_owned(),
        signature: Sensitive::new(signature.to_owned()),
        expires_at,
        url: Sensitive::new(url),
    })
}

fn date_text_of(t: OffsetDateTime) -> String {
    t.format(AMZ_DATE).unwrap_or_default()
}

/// The access key of `KEY/YYYYMMDD/REGION/sts/aws4_request` dated `day`.
fn credential_key<'a>(credential: &'a str, day: &str) -> Result<&'a str, TokenError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [key, date, region, service, terminator] = parts[..] else {
        return Err(TokenError::Credential);
    };
    let key_ok = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric());
    let region_ok = !region.is_empty()
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if key_ok && date == day && region_ok && service == "sts" && terminator == "aws4_request" {
        Ok(key)
    } else {
        Err(TokenError::Credential)
    }
}

/// A query with lower-cased names, one value each, as the authenticator reads it.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: &str) -> Result<Self, TokenError> {
        let mut out: Vec<(String, String)> = Vec::new();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (k, v) = (decode(k)?, decode(v)?);
            let lower = k.to_ascii_lowercase();
            if out.iter().any(|(seen, _)| *seen == lower) {
                return Err(TokenError::Duplicate(shorten(&k)));
            }
            if !ALLOWED.contains(&lower.as_str()) {
                return Err(TokenError::NotAllowed(shorten(&k)));
            }
            out.push((lower, v));
        }
        Ok(Self(out))
    }

    fn get(&self, lower_name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == lower_name)
            .map(|(_, v)| v.as_str())
    }
}

/// A parameter name as shown in an error: names are not secret, but bounded.
fn shorten(name: &str) -> String {
    name.chars().take(40).collect()
}

/// Form decoding as Go's `url.ParseQuery`: `+` is a space, `%XX` a byte, `;` refused.
fn decode(s: &str) -> Result<String, TokenError> {
    if s.contains(';') {
        return Err(TokenError::Query);
    }
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let ok = bytes.len() > i + 2
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit();
            if !ok {
                return Err(TokenError::Query);
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| TokenError::Query)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "b7c49c0c755dc6f7bf8ce83621821d46ac17e841e943999dd0b60d2fa41aeec4";

    fn now() -> OffsetDateTime {
        time::macros::datetime!(2026-12-04 02:00:00 UTC)
    }

    fn url(host: &str, extra: &str) -> String {
        format!(
            "{host}/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=ASIATHPL2AOHKBXZDXWN%2F20261204%2Fus-east-1%2Fsts%2Faws4_request\
             &X-Amz-Date=20261204T015617Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id\
             &X-Amz-Security-Token=FQoGZXIvYXdzEBYa%2Bx%3D&X-Amz-Signature={SIG}{extra}"
        )
    }

    fn token(url: &str) -> String {
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url)
        )
    }

    fn check(url: &str) -> Result<Presigned, TokenError> {
        let endpoint = Endpoint::regional("us-east-1");
        parse(
            &token(url),
            &Expect {
                endpoint: &endpoint,
                lifetime: PRESIGNED_LIFETIME,
                now: now(),
            },
        )
    }

    const STS: &str = "https://sts.us-east-1.amazonaws.com";

    #[test]
    fn a_well_formed_token_is_read() {
        let p = check(&url(STS, "")).expect("accepted");
        assert_eq!(p.access_key_id.expose(), "ASIATHPL2AOHKBXZDXWN");
        assert_eq!(p.signed_headers, "host;x-k8s-aws-id");
        assert_eq!(p.signature.expose(), SIG);
        assert_eq!(
            p.expires_at,
            time::macros::datetime!(2026-12-04 02:11:17 UTC)
        );
        assert_eq!(p.url.expose(), &url(STS, ""));
        // Nothing secret prints.
        let shown = format!("{p:?}");
        assert!(!shown.contains(SIG) && !shown.contains("FQoG") && !shown.contains("ASIA"));
    }

    #[test]
    fn an_expired_token_is_refused_and_the_lifetime_is_the_clusters() {
        let endpoint = Endpoint::regional("us-east-1");
        let at = |now, lifetime| {
            parse(
                &token(&url(STS, "")),
                &Expect {
                    endpoint: &endpoint,
                    lifetime,
                    now,
                },
            )
        };
        let signed = time::macros::datetime!(2026-12-04 01:56:17 UTC);
        assert!(at(signed + Duration::from_secs(900), PRESIGNED_LIFETIME).is_ok());
        assert_eq!(
            at(signed + Duration::from_secs(901), PRESIGNED_LIFETIME).map(|_| ()),
            Err(TokenError::Expired("20261204T021117Z".into()))
        );
        assert!(matches!(
            at(signed + Duration::from_secs(3), Duration::from_secs(2)),
            Err(TokenError::Expired(_))
        ));
        assert!(matches!(
            at(signed - Duration::from_secs(400), PRESIGNED_LIFETIME),
            Err(TokenError::Future(_))
        ));
    }

    #[test]
    fn a_token_for_another_sts_host_or_scheme_is_refused() {
        for other in [
            "https://sts.eu-west-1.amazonaws.com",
            "http://sts.us-east-1.amazonaws.com",
            "https://sts.us-east-1.amazonaws.com:8443",
            "https://evil@sts.us-east-1.amazonaws.com",
            "https://sts.us-east-1.amazonaws.com.evil.example",
        ] {
            assert!(
                matches!(check(&url(other, "")), Err(TokenError::Host { .. })),
                "{other}"
            );
        }
        let e = check(&url("https://sts.eu-west-1.amazonaws.com", "")).map(|_| ());
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err(
                "the presigned URL points at https://sts.eu-west-1.amazonaws.com, not at this \
                 cluster's STS endpoint https://sts.us-east-1.amazonaws.com"
                    .into()
            )
        );
        assert_eq!(
            check(&url("HTTPS://STS.us-east-1.amazonaws.com", "")).map(|_| ()),
            Ok(())
        );
    }

    #[test]
    fn the_request_must_be_get_caller_identity_of_2011() {
        let u = url(STS, "");
        let cases = [
            (
                u.replace("GetCallerIdentity", "AssumeRole"),
                TokenError::Action,
            ),
            (u.replace("2011-06-15", "2012-01-01"), TokenError::Version),
            (
                u.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
                TokenError::Algorithm,
            ),
            (u.replace("/?Action", "/x?Action"), TokenError::Path),
            (
                u.replace("host%3Bx-k8s-aws-id", "host"),
                TokenError::ClusterIdNotSigned,
            ),
            (
                u.replace("X-Amz-Expires=60", "X-Amz-Expires=901"),
                TokenError::Expires,
            ),
            (u.replace("&X-Amz-Expires=60", ""), TokenError::Expires),
            (
                u.replace("20261204T015617Z", "2026-12-04T01:56:17Z"),
                TokenError::Date,
            ),
            (u.replace("%2Fsts%2F", "%2Fs3%2F"), TokenError::Credential),
            (
                u.replace("%2F20261204%2F", "%2F20261203%2F"),
                TokenError::Credential,
            ),
            (
                u.replace("ASIATHPL2AOHKBXZDXWN%2F", ""),
                TokenError::Credential,
            ),
            (u.replace(SIG, ""), TokenError::Signature),
            (
                format!("{u}&action=GetCallerIdentity"),
                TokenError::Duplicate("action".into()),
            ),
            (
                format!("{u}&X-Amz-Signature=00"),
                TokenError::Duplicate("X-Amz-Signature".into()),
            ),
            (
                format!("{u}&Policy=x"),
                TokenError::NotAllowed("Policy".into()),
            ),
            (format!("{u}&x=%zz"), TokenError::Query),
        ];
        for (bad, want) in cases {
            assert_eq!(check(&bad).map(|_| ()), Err(want.clone()), "{want}");
        }
        // Names are case-insensitive, as the authenticator reads them; signed headers too.
        let lower = u
            .replace("Action=", "action=")
            .replace("x-k8s-aws-id", "X-K8S-AWS-ID");
        assert!(check(&lower).is_ok());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let endpoint = Endpoint::regional("us-east-1");
        let expect = Expect {
            endpoint: &endpoint,
            lifetime: PRESIGNED_LIFETIME,
            now: now(),
        };
        let p = |t: &str| parse(t, &expect).map(|_| ());
        assert_eq!(p("k8s-aws-v2.aGVsbG8"), Err(TokenError::Prefix));
        assert_eq!(p("Bearer"), Err(TokenError::Prefix));
        assert_eq!(p("k8s-aws-v1.a+b/"), Err(TokenError::Base64));
        // Padding is refused: RawURLEncoding.
        let padded = format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE.encode(url(STS, "x"))
        );
        assert_eq!(p(&padded), Err(TokenError::Base64));
        assert_eq!(p(&token("not a url")), Err(TokenError::Url));
        assert_eq!(p(&"k".repeat(MAX_TOKEN_LEN + 1)), Err(TokenError::TooLong));
    }

    #[test]
    fn endpoints_are_scheme_and_host() {
        let moto = Endpoint::parse("http://127.0.0.1:5000").expect("moto");
        assert_eq!(moto.to_string(), "http://127.0.0.1:5000");
        assert_eq!(Endpoint::parse("http://127.0.0.1:5000/"), Some(moto));
        assert_eq!(
            Endpoint::parse("https://sts.us-east-1.amazonaws.com"),
            Some(Endpoint::regional("us-east-1"))
        );
        assert_eq!(Endpoint::parse("https://sts.example/sts"), None);
        assert_eq!(Endpoint::parse("ftp://sts.example"), None);
        assert_eq!(Endpoint::parse("sts.example"), None);
    }
}
