//! The router served on a real socket, spoken to with raw HTTP/1.1.

use std::io::Write;
use std::sync::{Arc, Mutex};

use ferry_core::Sensitive;
use ferry_webhook::{
    PushEvent, RefKind, SharedSecrets, WebhookLimits, WebhookSecrets, WebhookState, router,
    signature_header_value,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const GITHUB_SECRET: &str = "http-gh-s3cret";
const GENERIC_SECRET: &str = "http-generic-s3cret";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[derive(Default)]
struct RecordingSink(Mutex<Vec<PushEvent>>);

impl ferry_webhook::PushSink for RecordingSink {
    fn push(&self, event: PushEvent) -> usize {
        let mut seen = self.0.lock().expect("sink lock");
        seen.push(event);
        // Pretend two applications matched.
        2
    }
}

/// A writer that keeps what tracing prints, to check what is (and is not) logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log lock")).into_owned()
    }
}

struct Reply {
    status: u16,
    body: serde_json::Value,
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write head");
    stream.write_all(body).await.expect("write body");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8(response).expect("utf-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json")
            || body.is_empty(),
        "{head}"
    );
    let body = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    Reply { status, body }
}

/// Sends `body` with `Transfer-Encoding: chunked` (no Content-Length); returns the status.
async fn post_chunked(addr: std::net::SocketAddr, headers: &[(&str, &str)], body: &[u8]) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let mut request = format!(
        "POST /api/webhook HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n"
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut bytes = request.into_bytes();
    for chunk in body.chunks(4096) {
        bytes.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        bytes.extend_from_slice(chunk);
        bytes.extend_from_slice(b"\r\n");
    }
    bytes.extend_from_slice(b"0\r\n\r\n");
    stream.write_all(&bytes).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status code")
}

#[tokio::test]
async fn serves_signed_pushes_and_refuses_the_rest() {
    // current_thread runtime: the server's tasks run on this thread, under this subscriber.
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let secrets = Arc::new(SharedSecrets::new(WebhookSecrets {
        github: Some(Sensitive::new(GITHUB_SECRET.to_owned())),
        generic: Some(Sensitive::new(GENERIC_SECRET.to_owned())),
        ..WebhookSecrets::default()
    }));
    let sink = Arc::new(RecordingSink::default());
    let state = WebhookState::new(secrets.clone(), sink.clone());
    assert_eq!(state.limits().max_payload_bytes, 2 * 1024 * 1024);
    assert_eq!(
        WebhookLimits::default()
            .with_max_payload_mib(1)
            .max_payload_bytes,
        1024 * 1024
    );
    // Small enough to test cheaply, large enough for the fixtures.
    let state = state.with_limits(WebhookLimits {
        max_payload_bytes: 16 * 1024,
        ..WebhookLimits::default()
    });

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, router(state)).await.expect("serve");
    });

    let push = fixture("github-push.json");
    let good = signature_header_value(GITHUB_SECRET.as_bytes(), &push);
    let bad = signature_header_value(b"guess", &push);

    // Signed: accepted, handed to the sink once, answered with the sink's count.
    let reply = post(
        addr,
        "/api/webhook",
        &[
            ("X-GitHub-Event", "push"),
            ("Content-Type", "application/json"),
            ("X-Hub-Signature-256", &good),
        ],
        &push,
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, serde_json::json!({ "refreshed": 2 }));

    // Unsigned, wrongly signed, and from a provider without a secret: 401.
    let unsigned = post(addr, "/api/webhook", &[("X-GitHub-Event", "push")], &push).await;
    assert_eq!(unsigned.status, 401);
    assert!(
        unsigned.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("missing X-Hub-Signature-256"))
    );
    let wrong = post(
        addr,
        "/api/webhook",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &bad)],
        &push,
    )
    .await;
    assert_eq!(wrong.status, 401);
    let gitlab = fixture("gitlab-push.json");
    let no_secret = post(
        addr,
        "/api/webhook",
        &[
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "anything"),
        ],
        &gitlab,
    )
    .await;
    assert_eq!(no_secret.status, 401);
    assert!(
        no_secret.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("webhook.gitlab.secret"))
    );

    // Ping and ignored events.
    let ping = fixture("github-ping.json");
    let ping_sig = signature_header_value(GITHUB_SECRET.as_bytes(), &ping);
    let reply = post(
        addr,
        "/api/webhook",
        &[
            ("X-GitHub-Event", "ping"),
            ("X-Hub-Signature-256", &ping_sig),
        ],
        &ping,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body),
        (200, serde_json::json!({ "ok": true }))
    );
    let issues = fixture("github-issues.json");
    let issues_sig = signature_header_value(GITHUB_SECRET.as_bytes(), &issues);
    let reply = post(
        addr,
        "/api/webhook",
        &[
            ("X-GitHub-Event", "issues"),
            ("X-Hub-Signature-256", &issues_sig),
        ],
        &issues,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body),
        (200, serde_json::json!({ "ignored": "issues" }))
    );

    // Unknown sender and malformed (but signed) payloads: 400.
    let reply = post(addr, "/api/webhook", &[("X-Other-Event", "push")], b"{}").await;
    assert_eq!(reply.status, 400);
    let junk = b"{\"ref\": 42}";
    let junk_sig = signature_header_value(GITHUB_SECRET.as_bytes(), junk);
    let reply = post(
        addr,
        "/api/webhook",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &junk_sig),
        ],
        junk,
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("malformed"))
    );

    // Over the limit: 413, from Content-Length before reading, or while reading a chunked body.
    let big = vec![b' '; 16 * 1024 + 1];
    let big_sig = signature_header_value(GITHUB_SECRET.as_bytes(), &big);
    let reply = post(
        addr,
        "/api/webhook",
        &[
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", &big_sig),
        ],
        &big,
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(
        post_chunked(
            addr,
            &[
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", &big_sig)
            ],
            &big
        )
        .await,
        413
    );
    assert_eq!(
        post_chunked(
            addr,
            &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &good)],
            &push
        )
        .await,
        200
    );

    // Generic endpoint, signed and not.
    let generic = fixture("generic-push.json");
    let generic_sig = signature_header_value(GENERIC_SECRET.as_bytes(), &generic);
    let reply = post(
        addr,
        "/api/webhook/generic",
        &[
            ("Content-Type", "application/json"),
            ("X-Ferry-Signature-256", &generic_sig),
        ],
        &generic,
    )
    .await;
    assert_eq!(
        (reply.status, reply.body),
        (200, serde_json::json!({ "refreshed": 2 }))
    );
    let reply = post(
        addr,
        "/api/webhook/generic",
        &[("Content-Type", "application/json")],
        &generic,
    )
    .await;
    assert_eq!(reply.status, 401);

    // Secrets are read per request: after a rotation the old signature no longer passes.
    secrets.set(WebhookSecrets {
        github: Some(Sensitive::new("rotated".to_owned())),
        ..WebhookSecrets::default()
    });
    let reply = post(
        addr,
        "/api/webhook",
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &good)],
        &push,
    )
    .await;
    assert_eq!(reply.status, 401);

    // The sink saw exactly the signed pushes.
    {
        let seen = sink.0.lock().expect("sink lock");
        assert_eq!(seen.len(), 3, "{seen:?}");
        assert_eq!(seen[0].provider, ferry_webhook::Provider::GitHub);
        assert_eq!(seen[0].refs[0].kind, RefKind::Branch);
        assert_eq!(seen[0].refs[0].name, "main");
        assert_eq!(seen[1], seen[0], "the chunked copy of the same push");
        assert_eq!(seen[2].provider, ferry_webhook::Provider::Generic);
        assert_eq!(
            seen[2].repo_urls,
            ["https://git.example.com/platform/apps.git"]
        );
    }

    // Refusals are warned about with provider and cause, and never print secrets or signatures.
    let text = logs.text();
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("GitHub")
            && l.contains("missing X-Hub-Signature-256")),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains("WARN")
            && l.contains("GitLab")
            && l.contains("webhook.gitlab.secret")),
        "{text}"
    );
    for secret in [
        GITHUB_SECRET,
        GENERIC_SECRET,
        "rotated",
        &good[7..],
        &bad[7..],
        &generic_sig[7..],
        "anything",
    ] {
        assert!(!text.contains(secret), "log contains {secret}: {text}");
    }

    server.abort();
}

#[tokio::test]
async fn get_is_not_allowed() {
    let state = WebhookState::new(
        Arc::new(WebhookSecrets::default()),
        Arc::new(|_: PushEvent| 0usize),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(listener, router(state)).await.expect("serve");
    });
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!("GET /api/webhook HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    assert!(response.starts_with("HTTP/1.1 405"), "{response}");
    server.abort();
}
