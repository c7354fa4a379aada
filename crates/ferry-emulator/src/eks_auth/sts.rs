//! Asking STS who signed a token: the presigned `GetCallerIdentity` is sent as
//! aws-iam-authenticator sends it (GET of the URL as it is, `x-k8s-aws-id: <cluster name>`,
//! `Accept: application/json`, 10 s, no redirects), and the answer read as JSON (what STS
//! answers to that `Accept`) or XML (what moto's server answers whatever the `Accept`).
//!
//! [`StsDialect::Moto`] also sends the query's signature as an `Authorization` header: moto's
//! server reads the caller's access key only from that header and, without it, routes a
//! `GET /?Action=GetCallerIdentity` to its S3 backend. moto checks no signature either way.
//!
//! Errors name the endpoint, the status and STS's error code, never the URL or the body.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::token::{CLUSTER_ID_HEADER, Presigned};

/// How long the authenticator waits for STS.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from STS.
const MAX_ANSWER: usize = 64 * 1024;

/// How the presigned request is sent to the STS endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum StsDialect {
    /// As EKS does: the presigned URL alone.
    #[default]
    Aws,
    /// The presigned URL plus its signature as an `Authorization` header, for moto's server.
    Moto,
}

/// Why STS gave no identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StsError {
    #[error("cannot reach the STS endpoint {endpoint}: {why}")]
    Unreachable { endpoint: String, why: String },
    #[error("the STS endpoint {endpoint} did not answer within {}s", TIMEOUT.as_secs())]
    Timeout { endpoint: String },
    #[error("STS ({endpoint}) did not verify the token: {status}{}", code.as_ref().map(|c| format!(" {c}")).unwrap_or_default())]
    Refused {
        endpoint: String,
        status: u16,
        code: Option<String>,
    },
    #[error("STS ({endpoint}) answered without a readable {what}")]
    Unreadable {
        endpoint: String,
        what: &'static str,
    },
}

/// What `GetCallerIdentity` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub arn: String,
    pub account: String,
    pub user_id: String,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// One HTTP client for every emulated cluster: plain HTTP (moto on loopback) or HTTPS with the
/// system's roots (none when the system has none: then HTTPS endpoints fail to connect).
fn client() -> Option<&'static Client<Connector, Empty<Bytes>>> {
    static CLIENT: OnceLock<Option<Client<Connector, Empty<Bytes>>>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = match hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(provider.clone())
            {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "no system CA roots: STS over HTTPS will fail");
                    let config = rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .ok()?
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth();
                    hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
                }
            };
            let connector = builder.https_or_http().enable_http1().build();
            Some(Client::builder(TokioExecutor::new()).build(connector))
        })
        .as_ref()
}

/// Sends the presigned request of `token` to STS, for the cluster `cluster_id`.
pub async fn get_caller_identity(
    endpoint: &str,
    token: &Presigned,
    cluster_id: &str,
    dialect: StsDialect,
) -> Result<CallerIdentity, StsError> {
    let unreachable = |why: &str| StsError::Unreachable {
        endpoint: endpoint.to_owned(),
        why: why.to_owned(),
    };
    let mut req = http::Request::get(token.url.expose().as_str())
        .header(CLUSTER_ID_HEADER, cluster_id)
        .header(http::header::ACCEPT, "application/json");
    if dialect == StsDialect::Moto {
        req = req.header(
            http::header::AUTHORIZATION,
            format!(
                "AWS4-HMAC-SHA256 Credential={}, SignedHeaders={}, Signature={}",
                token.credential.expose(),
                token.signed_headers,
                token.signature.expose()
            ),
        );
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|_| unreachable("the presigned URL is not a request URL"))?;
    let answer = async {
        let client = client().ok_or_else(|| unreachable("no TLS configuration"))?;
        let resp = client.request(req).await.map_err(|e| {
            unreachable(if e.is_connect() {
                "connection failed"
            } else {
                "the request failed"
            })
        })?;
        let status = resp.status().as_u16();
        let body = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|_| unreachable("reading the answer failed"))?
            .to_bytes();
        Ok::<_, StsError>((status, body))
    };
    let (status, body) =
        tokio::time::timeout(TIMEOUT, answer)
            .await
            .map_err(|_| StsError::Timeout {
                endpoint: endpoint.to_owned(),
            })??;
    if status != 200 {
        return Err(StsError::Refused {
            endpoint: endpoint.to_owned(),
            status,
            code: error_code(&body),
        });
    }
    parse_identity(&body).map_err(|what| StsError::Unreadable {
        endpoint: endpoint.to_owned(),
        what,
    })
}

/// The identity of a `GetCallerIdentity` answer, JSON or XML; else which field is missing.
pub fn parse_identity(body: &[u8]) -> Result<CallerIdentity, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "text")?;
    let field = |name: &'static str| -> Result<String, &'static str> {
        let v = if text.trim_start().starts_with('{') {
            let v: Value = serde_json::from_str(text).map_err(|_| "JSON")?;
            v.pointer(&format!(
                "/GetCallerIdentityResponse/GetCallerIdentityResult/{name}"
            ))
            .and_then(Value::as_str)
            .map(str::to_owned)
        } else {
            xml_element(
                xml_element(text, "GetCallerIdentityResult").ok_or(name)?,
                name,
            )
            .map(unescape)
        };
        v.filter(|s| !s.is_empty()).ok_or(name)
    };
    Ok(CallerIdentity {
        arn: field("Arn")?,
        account: field("Account")?,
        user_id: field("UserId")?,
    })
}

/// STS's error code (`SignatureDoesNotMatch`, `ExpiredToken`, `Throttling`, ...), if readable.
fn error_code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let code = if text.trim_start().starts_with('{') {
        let v: Value = serde_json::from_str(text).ok()?;
        v.pointer("/Error/Code")
            .and_then(Value::as_str)
            .map(str::to_owned)
    } else {
        xml_element(text, "Code").map(unescape)
    }?;
    // A code is a word; anything else is not shown.
    (!code.is_empty() && code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric()))
        .then_some(code)
}

/// The text inside the first `<name>…</name>` (no attributes, no prefixes: as STS writes it).
fn xml_element<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find(&close)?;
    Some(text[start..start + len].trim())
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_of_sts_and_of_moto_are_read() {
        let json = br#"{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Account":"222222222222","Arn":"arn:aws:sts::222222222222:assumed-role/deployer/ferry","UserId":"AROA1:ferry"},"ResponseMetadata":{"RequestId":"x"}}}"#;
        let xml = br#"<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><UserId>AROA1:ferry</UserId><Account>222222222222</Account><Arn>arn:aws:sts::222222222222:assumed-role/deployer/ferry</Arn></GetCallerIdentityResult><ResponseMetadata><RequestId>x</RequestId></ResponseMetadata></GetCallerIdentityResponse>"#;
        let want = CallerIdentity {
            arn: "arn:aws:sts::222222222222:assumed-role/deployer/ferry".into(),
            account: "222222222222".into(),
            user_id: "AROA1:ferry".into(),
        };
        assert_eq!(parse_identity(json), Ok(want.clone()));
        assert_eq!(parse_identity(xml), Ok(want));
        assert_eq!(
            parse_identity(b"<ListAllMyBucketsResult><Buckets/></ListAllMyBucketsResult>"),
            Err("Arn")
        );
        assert_eq!(
            parse_identity(
                br#"{"GetCallerIdentityResponse":{"GetCallerIdentityResult":{"Arn":"a"}}}"#
            ),
            Err("Account")
        );
        assert_eq!(parse_identity(b"{"), Err("JSON"));
    }

    #[test]
    fn error_codes_are_read_but_only_when_they_are_words() {
        let xml = b"<ErrorResponse><Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>m</Message></Error></ErrorResponse>";
        assert_eq!(error_code(xml).as_deref(), Some("SignatureDoesNotMatch"));
        let json = br#"{"Error":{"Code":"Throttling","Message":"Rate exceeded","Type":"Sender"}}"#;
        assert_eq!(error_code(json).as_deref(), Some("Throttling"));
        assert_eq!(error_code(b"<Code>a secret value</Code>"), None);
        assert_eq!(error_code(b"nothing"), None);
    }
}
