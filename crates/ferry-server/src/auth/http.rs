//! The server's outbound HTTP client, for identity providers only (OIDC discovery, JWKS,
//! token endpoints, GitHub's REST API): hyper + rustls (ring) with the system's roots plus a
//! provider's `rootCA`, no redirects followed (a provider that redirects a back-channel call
//! is refused, as a redirect there is an SSRF risk), bounded bodies and a timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The most a provider's answer may be.
const MAX_BODY: usize = 1 << 20;
/// How long one call may take.
const TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("{url}: {cause}")]
    Request { url: String, cause: String },
    #[error("{url}: no answer within {}s", TIMEOUT.as_secs())]
    Timeout { url: String },
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A client for one provider (its own trust roots).
#[derive(Clone)]
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl HttpClient {
    /// System roots, plus the certificates of `root_ca` (PEM) when given.
    pub fn new(root_ca: Option<&str>) -> Result<HttpClient, HttpError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs();
        for c in native {
            let _ = roots.add(c);
        }
        if let Some(pem) = root_ca.filter(|p| !p.trim().is_empty()) {
            let certs: Vec<CertificateDer<'static>> =
                CertificateDer::pem_slice_iter(pem.as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|e| HttpError::Tls(format!("rootCA is not PEM certificates: {e}")))?;
            if certs.is_empty() {
                return Err(HttpError::Tls("rootCA holds no CERTIFICATE".into()));
            }
            for c in certs {
                roots
                    .add(c)
                    .map_err(|e| HttpError::Tls(format!("rootCA: {e}")))?;
            }
        }
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(config)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpClient {
            client: Client::builder(TokioExecutor::new()).build(connector),
        })
    }

    /// One request; the answer whatever its status (the caller reads it).
    pub async fn send(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, HttpError> {
        let url = redacted_url(request.uri());
        let (parts, body) = request.into_parts();
        let request = http::Request::from_parts(parts, Full::new(Bytes::from(body)));
        let call = async {
            let resp = self
                .client
                .request(request)
                .await
                .map_err(|e| HttpError::Request {
                    url: url.clone(),
                    cause: error_chain(&e),
                })?;
            let (parts, body) = resp.into_parts();
            let bytes = Limited::new(body, MAX_BODY)
                .collect()
                .await
                .map_err(|e| HttpError::Request {
                    url: url.clone(),
                    cause: format!("reading the answer: {e}"),
                })?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes.to_vec()))
        };
        tokio::time::timeout(TIMEOUT, call)
            .await
            .map_err(|_| HttpError::Timeout { url: url.clone() })?
    }

    /// A `GET` with headers, answered as JSON when the status is 2xx.
    pub async fn get_json(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<serde_json::Value, HttpError> {
        let mut b = http::Request::get(url).header(http::header::ACCEPT, "application/json");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let req = b.body(Vec::new()).map_err(|e| HttpError::Request {
            url: url.to_owned(),
            cause: e.to_string(),
        })?;
        let resp = self.send(req).await?;
        json_of(url, resp)
    }
}

/// A 2xx answer's JSON, or the status and a short excerpt in words.
pub fn json_of(url: &str, resp: http::Response<Vec<u8>>) -> Result<serde_json::Value, HttpError> {
    let status = resp.status();
    let body = resp.into_body();
    if !status.is_success() {
        let excerpt: String = String::from_utf8_lossy(&body).chars().take(200).collect();
        return Err(HttpError::Request {
            url: url.to_owned(),
            cause: format!("answered {status}: {excerpt}"),
        });
    }
    serde_json::from_slice(&body).map_err(|e| HttpError::Request {
        url: url.to_owned(),
        cause: format!("the answer is not JSON: {e}"),
    })
}

/// The URL without its query (codes and tokens travel there).
fn redacted_url(uri: &http::Uri) -> String {
    match (uri.scheme_str(), uri.authority()) {
        (Some(s), Some(a)) => format!("{s}://{a}{}", uri.path()),
        _ => uri.path().to_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn rustls_native_certs() -> Vec<rustls::pki_types::CertificateDer<'static>> {
    rustls_native_certs::load_native_certs().certs
}
