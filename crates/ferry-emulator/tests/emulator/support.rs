//! Fixtures shared by the emulator's integration tests.

use std::time::Duration;

use ferry_emulator::{ClusterConfig, Emulator};

pub const ADMIN: &str = "admin-token-for-tests";
pub const LIMITED: &str = "limited-token-for-tests";

/// One cluster with an admin and a `limited` user in group `dev` (as the transcripts expect).
pub async fn emulator() -> Emulator {
    let mut config = ClusterConfig::new("test", ADMIN).user("limited", &["dev"], LIMITED);
    config.http_port = Some(0);
    config.workload_ready_delay = Duration::from_millis(100);
    config.controller_delay = Duration::from_millis(400);
    Emulator::start(vec![config])
        .await
        .expect("emulator starts")
}

/// A kube-rs client from a kubeconfig (HTTPS, verifying the emulator's CA).
pub async fn client(kubeconfig: &str) -> kube::Client {
    let kc = kube::config::Kubeconfig::from_yaml(kubeconfig).expect("kubeconfig parses");
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .expect("config");
    kube::Client::try_from(config).expect("client")
}

/// Path of a file under this crate's `tests/`.
pub fn test_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(rel)
}

/// A plain-HTTP request without any client-side retry: `(status, headers, body)`.
pub fn raw_request(
    base: &str,
    method: &str,
    path: &str,
    token: &str,
    body: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read as _, Write as _};
    let hostport = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(hostport).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let body = body.unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, rest) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), rest.to_owned())
}
