//! AWS for the EKS tests: moto's server on loopback (IAM and STS, several accounts), signed
//! query-API calls to it, and EKS tokens presigned with `aws-sigv4` as ferry-aws makes them.
//!
//! moto 5 keeps one backend per account: a call with `x-moto-account-id: ACCOUNT` acts in that
//! account, and credentials from `AssumeRole` belong to the account of the role's ARN, so
//! `GetCallerIdentity` with them answers that account and the assumed-role ARN.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts `python3 -m moto.server` on a free loopback port and waits until it answers.
    pub async fn start() -> Self {
        let importable = Command::new("python3")
            .args(["-c", "import moto.server"])
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            importable,
            "these tests need moto's server: python3 -m pip install 'moto[server]>=5,<6'"
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("python3")
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto starts");
        let moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            let (status, _) = http(
                http::Request::get(format!("{}/moto-api/", moto.url))
                    .body(Full::default())
                    .expect("request"),
            )
            .await;
            if status == 200 {
                return moto;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("moto's server did not answer on {}", moto.url);
    }

    /// A query-API call (`Action=...`) to `service`, signed with `creds`, in `account`.
    async fn call(
        &self,
        service: &str,
        account: &str,
        creds: &Creds,
        params: &[(&str, &str)],
    ) -> String {
        let body: String = params
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let headers = [
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-moto-account-id", account),
        ];
        let identity = creds.credentials().into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .expect("signing params")
            .into();
        let url = format!("{}/", self.url);
        let signable = SignableRequest::new(
            "POST",
            &url,
            headers.into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .expect("signable");
        let (instructions, _) = sign(signable, &params).expect("signed").into_parts();
        let mut req = http::Request::post(&url);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let mut req = req.body(Full::from(body)).expect("request");
        instructions.apply_to_request_http1x(&mut req);
        let (status, answer) = http(req).await;
        assert_eq!(status, 200, "moto {service}: {answer}");
        answer
    }

    /// Creates the role `path` + `name` in `account` (trusting everyone) and returns its ARN.
    pub async fn create_role(&self, account: &str, path: &str, name: &str) -> String {
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}"#;
        let answer = self
            .call(
                "iam",
                account,
                &Creds::static_test(),
                &[
                    ("Action", "CreateRole"),
                    ("Version", "2010-05-08"),
                    ("RoleName", name),
                    ("Path", path),
                    ("AssumeRolePolicyDocument", trust),
                ],
            )
            .await;
        element(&answer, "Arn")
    }

    /// Assumes `role_arn` from the management account; the session's credentials.
    pub async fn assume_role(&self, role_arn: &str, session: &str) -> Creds {
        let answer = self
            .call(
                "sts",
                "111111111111",
                &Creds::static_test(),
                &[
                    ("Action", "AssumeRole"),
                    ("Version", "2011-06-15"),
                    ("RoleArn", role_arn),
                    ("RoleSessionName", session),
                ],
            )
            .await;
        Creds {
            access_key_id: element(&answer, "AccessKeyId"),
            secret_access_key: element(&answer, "SecretAccessKey"),
            session_token: Some(element(&answer, "SessionToken")),
        }
    }
}

/// AWS credentials.
#[derive(Clone)]
pub struct Creds {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl Creds {
    /// moto's conventional static test credentials.
    pub fn static_test() -> Self {
        Self {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "testing".into(),
            session_token: None,
        }
    }

    fn credentials(&self) -> Credentials {
        Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "tests",
        )
    }
}

/// An EKS token: `k8s-aws-v1.` + base64url (no padding) of a `GetCallerIdentity` URL of
/// `sts_endpoint` presigned at `at` with `x-k8s-aws-id: cluster` signed.
pub fn eks_token(sts_endpoint: &str, creds: &Creds, cluster: &str, at: SystemTime) -> String {
    let identity = creds.credentials().into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(Duration::from_secs(60));
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("sts")
        .time(at)
        .settings(settings)
        .build()
        .expect("signing params")
        .into();
    let url = format!("{sts_endpoint}/?Action=GetCallerIdentity&Version=2011-06-15");
    let headers = [("x-k8s-aws-id", cluster)];
    let signable = SignableRequest::new("GET", &url, headers.into_iter(), SignableBody::Bytes(&[]))
        .expect("signable");
    let (instructions, _) = sign(signable, &params).expect("presigned").into_parts();
    let mut req = http::Request::get(&url).body(()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    let presigned = req.uri().to_string();
    assert!(
        presigned.contains("x-k8s-aws-id"),
        "signed headers: {presigned}"
    );
    format!(
        "k8s-aws-v1.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(presigned)
    )
}

/// One plain-HTTP request: status and body.
pub async fn http(req: http::Request<Full<Bytes>>) -> (u16, String) {
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    match client.request(req).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
        Err(_) => (0, String::new()),
    }
}

/// A GET with a bearer token: status and body.
pub async fn get(url: &str, token: &str) -> (u16, String) {
    http(
        http::Request::get(url)
            .header("authorization", format!("Bearer {token}"))
            .body(Full::default())
            .expect("request"),
    )
    .await
}

fn element(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {xml}"))
        + open.len();
    let end = xml[start..].find(&format!("</{name}>")).expect("closed") + start;
    xml[start..end].to_owned()
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
