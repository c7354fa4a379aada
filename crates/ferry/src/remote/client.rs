//! The HTTP client of Ferry's API: TLS as asked, the token only in the `Authorization`
//! header, and the API's errors in words.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use ferry_core::Sensitive;
use http::{Method, Request, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use super::events::Events;
use super::normalize_url;

/// How to check the server's certificate.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    pub insecure: bool,
    pub ca: Option<PathBuf>,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Accepts any certificate (`--insecure-skip-tls-verify`), still checking that the server
/// holds its key.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn connector(tls: &Tls) -> anyhow::Result<Connector> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(10)));
    let config = || {
        rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")
    };
    let builder = if tls.insecure {
        let config = config()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider.clone())))
            .with_no_client_auth();
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
    } else if let Some(ca) = &tls.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .and_then(|it| it.collect::<Result<_, _>>())
            .with_context(|| {
                format!(
                    "--server-ca {}: not a PEM file of certificates",
                    ca.display()
                )
            })?;
        let mut roots = rustls::RootCertStore::empty();
        for c in certs {
            roots
                .add(c)
                .with_context(|| format!("--server-ca {}", ca.display()))?;
        }
        if roots.is_empty() {
            anyhow::bail!("--server-ca {}: no CERTIFICATE in it", ca.display());
        }
        let config = config()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
    } else {
        match hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider.clone())
        {
            Ok(b) => b,
            // No system roots: an https server is then only reached with --server-ca.
            Err(_) => {
                let config = config()?
                    .with_root_certificates(rustls::RootCertStore::empty())
                    .with_no_client_auth();
                hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config)
            }
        }
    };
    Ok(builder.https_or_http().enable_http1().wrap_connector(http))
}

/// A failed request to the server, in words, with what to do next.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "cannot reach the Ferry server at {url}: {cause}. Is it running? (`ferry all` runs the \
         controllers and the server; check --server, FERRY_SERVER or the server `ferry login` \
         stored)"
    )]
    Unreachable { url: String, cause: String },
    #[error(
        "TLS with the Ferry server at {url} failed: {cause} (a private CA: --server-ca FILE; \
         to not check the certificate at all: --insecure-skip-tls-verify)"
    )]
    Tls { url: String, cause: String },
    #[error("the Ferry server at {url} did not answer within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error(
        "the Ferry server at {url} needs a token: run `ferry login {url} --token TOKEN` (or give \
         --token / FERRY_TOKEN); until sign-in exists it is the admin token (`ferry server \
         --admin-token`, or the Secret ferry-admin-token in Ferry's namespace)"
    )]
    NoToken { url: String },
    #[error(
        "the Ferry server at {url} did not accept the token ({message}): run `ferry login {url} \
         --token TOKEN` with the server's admin token"
    )]
    Unauthenticated { url: String, message: String },
    /// An error the API answered: its message as the server wrote it.
    #[error("{message}")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error(
        "{url} answered {status} with something that is not Ferry's API ({text}): is --server Ferry's URL?"
    )]
    NotFerry {
        url: String,
        status: u16,
        text: String,
    },
}

impl RemoteError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            RemoteError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// `err`'s cause, from the innermost error that says something.
fn classify(url: &str, err: &(dyn std::error::Error + 'static)) -> RemoteError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut last = err.to_string();
    while let Some(e) = cur {
        if let Some(t) = e.downcast_ref::<rustls::Error>() {
            return RemoteError::Tls {
                url: url.to_owned(),
                cause: t.to_string(),
            };
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(t) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return RemoteError::Tls {
                    url: url.to_owned(),
                    cause: t.to_string(),
                };
            }
            let cause = match io.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                std::io::ErrorKind::ConnectionReset => "connection reset".to_owned(),
                std::io::ErrorKind::TimedOut => "connection timed out".to_owned(),
                _ => io.to_string(),
            };
            return RemoteError::Unreachable {
                url: url.to_owned(),
                cause,
            };
        }
        last = e.to_string();
        cur = e.source();
    }
    RemoteError::Unreachable {
        url: url.to_owned(),
        cause: last,
    }
}

/// What a path segment may hold unescaped.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `name` as one segment of a path (or a query value).
pub fn escape(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, SEGMENT).to_string()
}

/// The most of an answer read.
const MAX_ANSWER: usize = 64 * 1024 * 1024;

/// A client of one Ferry server.
pub struct Remote {
    url: String,
    token: Option<Sensitive<String>>,
    client: Client<Connector, Full<Bytes>>,
}

impl Remote {
    pub fn new(url: &str, token: Option<Sensitive<String>>, tls: &Tls) -> anyhow::Result<Remote> {
        let url = normalize_url(url)?;
        if url.starts_with("http://") && token.is_some() && !is_loopback(&url) {
            eprintln!(
                "warning: the token goes to {url} over plain HTTP; serve Ferry with TLS (or \
                 behind an ingress that does) and use https://"
            );
        }
        let client = Client::builder(TokioExecutor::new()).build(connector(tls)?);
        Ok(Remote { url, token, client })
    }

    /// The server's URL as given (without a trailing `/`).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        accept: &str,
        body: Option<(&str, Bytes)>,
    ) -> Result<Request<Full<Bytes>>, RemoteError> {
        let uri = format!("{}/api/v1/{path}", self.url);
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .header(header::ACCEPT, accept)
            .header(
                header::USER_AGENT,
                concat!("ferry-cli/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(t) = &self.token {
            req = req.header(
                header::AUTHORIZATION,
                format!("Bearer {}", t.expose().trim()),
            );
        }
        let body = match body {
            Some((content_type, bytes)) => {
                req = req.header(header::CONTENT_TYPE, content_type);
                bytes
            }
            None => Bytes::new(),
        };
        req.body(Full::new(body))
            .map_err(|_| RemoteError::NotFerry {
                url: self.url.clone(),
                status: 0,
                text: format!("{path} does not make a request URL (a token with a line break?)"),
            })
    }

    async fn send(
        &self,
        req: Request<Full<Bytes>>,
        secs: u64,
    ) -> Result<hyper::Response<hyper::body::Incoming>, RemoteError> {
        match tokio::time::timeout(Duration::from_secs(secs), self.client.request(req)).await {
            Err(_) => Err(RemoteError::Timeout {
                url: self.url.clone(),
                secs,
            }),
            Ok(Err(e)) => Err(classify(&self.url, &e)),
            Ok(Ok(r)) => Ok(r),
        }
    }

    /// `method path` (under `/api/v1/`) with a JSON or YAML body; the JSON answered (`null`
    /// for none), or the error the API answered in words.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<(&str, Bytes)>,
    ) -> Result<Value, RemoteError> {
        // A diff or a preview renders from Git and asks clusters: give them time.
        let secs = if method == Method::GET && !path.ends_with("/diff") {
            60
        } else {
            300
        };
        let req = self.request(method, path, "application/json", body)?;
        let resp = self.send(req, secs).await?;
        let status = resp.status().as_u16();
        let bytes = tokio::time::timeout(
            Duration::from_secs(secs),
            Limited::new(resp.into_body(), MAX_ANSWER).collect(),
        )
        .await
        .map_err(|_| RemoteError::Timeout {
            url: self.url.clone(),
            secs,
        })?
        .map_err(|e| RemoteError::Unreachable {
            url: self.url.clone(),
            cause: format!("reading the answer: {e}"),
        })?
        .to_bytes();
        let json: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice(&bytes).ok()
        };
        if (200..300).contains(&status) {
            return json.ok_or_else(|| RemoteError::NotFerry {
                url: self.url.clone(),
                status,
                text: excerpt(&bytes),
            });
        }
        let error = json.as_ref().map(|j| &j["error"]).filter(|e| e.is_object());
        let Some(error) = error else {
            return Err(RemoteError::NotFerry {
                url: self.url.clone(),
                status,
                text: excerpt(&bytes),
            });
        };
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        if status == 401 {
            return Err(if self.token.is_none() {
                RemoteError::NoToken {
                    url: self.url.clone(),
                }
            } else {
                RemoteError::Unauthenticated {
                    url: self.url.clone(),
                    message,
                }
            });
        }
        Err(RemoteError::Api {
            status,
            code: error["code"].as_str().unwrap_or_default().to_owned(),
            message,
        })
    }

    pub async fn get(&self, path: &str) -> Result<Value, RemoteError> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, RemoteError> {
        let bytes = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
        self.call(Method::POST, path, Some(("application/json", bytes)))
            .await
    }

    /// The event stream (`/api/v1/stream`), or `None` when it cannot be opened (then
    /// [`Follow`] polls).
    pub async fn events(&self) -> Option<Events> {
        let req = self
            .request(Method::GET, "stream", "text/event-stream", None)
            .ok()?;
        let resp = self.send(req, 10).await.ok()?;
        if !resp.status().is_success() {
            return None;
        }
        Some(Events::new(resp.into_body()))
    }
}

fn is_loopback(url: &str) -> bool {
    let host = url
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| u.host().map(str::to_owned))
        .unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    if text.is_empty() {
        return "an empty body".into();
    }
    let short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        format!("{short}…")
    } else {
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_names_escaped() {
        assert_eq!(
            normalize_url("http://127.0.0.1:8080/").ok().as_deref(),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(
            normalize_url("https://ferry.example.com/ferry/")
                .ok()
                .as_deref(),
            Some("https://ferry.example.com/ferry")
        );
        for bad in ["127.0.0.1:8080", "ftp://x", "not a url", ""] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
        assert_eq!(escape("web-1.a_b"), "web-1.a_b");
        assert_eq!(escape("a/b?c"), "a%2Fb%3Fc");
        assert!(is_loopback("http://127.0.0.1:1") && is_loopback("http://localhost:1"));
        assert!(!is_loopback("http://ferry.example.com"));
    }
}
