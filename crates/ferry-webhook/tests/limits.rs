//! The bounds of webhook bodies (issue 20, item 7: bodies were read whole, up to 50 MiB and
//! any number at once, before anything was checked): nothing is read before the headers
//! pass, declared sizes are refused unread, bodies are cut at the limit, a bounded number is
//! read at once, and a stalled one gives its slot back. Bodies are streams that count what is
//! pulled from them, so "not read" is measured, not inferred.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use ferry_core::Sensitive;
use ferry_webhook::{
    PushEvent, WebhookLimits, WebhookSecrets, WebhookState, router, signature_header_value,
};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

const GITHUB_SECRET: &str = "limits-gh-s3cret";
const GITLAB_SECRET: &str = "limits-gl-token";
const BITBUCKET_UUID: &str = "{5e1c0a52-3c57-4bdc-9c39-8c2b0f0a7a11}";
const BITBUCKET_SERVER_SECRET: &str = "limits-bbs-s3cret";
const GENERIC_SECRET: &str = "limits-generic-s3cret";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn every_secret() -> WebhookSecrets {
    let s = |v: &str| Some(Sensitive::new(v.to_owned()));
    WebhookSecrets {
        github: s(GITHUB_SECRET),
        gitlab: s(GITLAB_SECRET),
        bitbucket_uuid: s(BITBUCKET_UUID),
        bitbucket_server: s(BITBUCKET_SERVER_SECRET),
        generic: s(GENERIC_SECRET),
    }
}

fn limited(limits: WebhookLimits) -> WebhookState {
    WebhookState::new(Arc::new(every_secret()), Arc::new(|_: PushEvent| 1usize)).with_limits(limits)
}

/// A body that hands out `data` in chunks of `chunk` bytes, and the count of bytes pulled.
fn counted_body(data: &[u8], chunk: usize) -> (Body, Arc<AtomicUsize>) {
    let chunks: Vec<Bytes> = data.chunks(chunk).map(Bytes::copy_from_slice).collect();
    counted_stream(futures::stream::iter(chunks))
}

/// `total` bytes of spaces in 64 KiB chunks, made as they are pulled, and the count of them.
fn counted_spaces(total: usize) -> (Body, Arc<AtomicUsize>) {
    static CHUNK: [u8; 64 * 1024] = [b' '; 64 * 1024];
    let chunks = total.div_ceil(CHUNK.len());
    let last = total - chunks.saturating_sub(1) * CHUNK.len();
    counted_stream(futures::stream::iter(0..chunks).map(move |i| {
        let len = if i + 1 == chunks { last } else { CHUNK.len() };
        Bytes::from_static(&CHUNK[..len])
    }))
}

fn counted_stream(
    chunks: impl futures::Stream<Item = Bytes> + Send + 'static,
) -> (Body, Arc<AtomicUsize>) {
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let stream = chunks.map(move |c| {
        counter.fetch_add(c.len(), Ordering::SeqCst);
        Ok::<_, std::io::Error>(c)
    });
    (Body::from_stream(stream), pulled)
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    error: String,
}

/// Sends one request through the router, in this task; `content_length` is declared as is.
async fn call(
    state: &WebhookState,
    path: &str,
    headers: &[(&str, &str)],
    content_length: Option<usize>,
    body: Body,
) -> Answer {
    let mut request = Request::builder().method("POST").uri(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(len) = content_length {
        request = request.header("Content-Length", len);
    }
    let request = request.body(body).expect("request");
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("response body");
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    Answer {
        status,
        headers,
        error: json["error"].as_str().unwrap_or_default().to_owned(),
    }
}

/// A signed GitHub push: its headers and its body.
fn signed_github_push() -> (Vec<(&'static str, String)>, Vec<u8>) {
    let push = fixture("github-push.json");
    let signature = signature_header_value(GITHUB_SECRET.as_bytes(), &push);
    (
        vec![
            ("X-GitHub-Event", "push".to_owned()),
            ("X-Hub-Signature-256", signature),
        ],
        push,
    )
}

fn pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    headers.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn webhook_bodies_over_the_limit_are_refused_before_being_read() {
    // The default limit, 2 MiB, against the 20 MB posts.
    let state = limited(WebhookLimits::default());
    assert_eq!(state.limits().max_payload_bytes, 2 * 1024 * 1024);
    let twenty_mb = 20 * 1000 * 1000;
    // A well-formed signature: the size is what refuses these.
    let signature = signature_header_value(b"x", b"y");
    let headers = [
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", signature.as_str()),
    ];

    // Declared too large: refused by its Content-Length, nothing read.
    let (body, pulled) = counted_spaces(twenty_mb);
    let answer = call(&state, "/api/webhook", &headers, Some(twenty_mb), body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        pulled.load(Ordering::SeqCst),
        0,
        "bytes read of a refused body"
    );
    // The message names Ferry's own flag and the limit, not Argo CD's setting.
    assert!(answer.error.contains("2 MiB"), "{}", answer.error);
    assert!(
        answer.error.contains("--webhook-max-payload-mib"),
        "{}",
        answer.error
    );
    assert!(
        !answer.error.contains("maxPayloadSizeMB"),
        "{}",
        answer.error
    );

    // The same on the generic endpoint.
    let (body, pulled) = counted_spaces(twenty_mb);
    let generic_headers = [("X-Ferry-Signature-256", signature.as_str())];
    let answer = call(
        &state,
        "/api/webhook/generic",
        &generic_headers,
        Some(twenty_mb),
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(pulled.load(Ordering::SeqCst), 0);

    // No Content-Length: read as it comes and cut off at the limit, never all of it.
    let (body, pulled) = counted_spaces(twenty_mb);
    let answer = call(&state, "/api/webhook", &headers, None, body).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let read = pulled.load(Ordering::SeqCst);
    assert!(read <= 2 * 1024 * 1024 + 64 * 1024, "read {read} bytes");

    // At the limit exactly: accepted; with a limit one byte smaller: refused, both ways.
    let (headers, push) = signed_github_push();
    let headers = pairs(&headers);
    let exact = limited(WebhookLimits {
        max_payload_bytes: push.len(),
        ..WebhookLimits::default()
    });
    let short = limited(WebhookLimits {
        max_payload_bytes: push.len() - 1,
        ..WebhookLimits::default()
    });
    for length in [Some(push.len()), None] {
        let (body, _) = counted_body(&push, 1024);
        let answer = call(&exact, "/api/webhook", &headers, length, body).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{length:?}: {}",
            answer.error
        );
        let (body, _) = counted_body(&push, 1024);
        let answer = call(&short, "/api/webhook", &headers, length, body).await;
        assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE, "{length:?}");
        assert!(
            answer.error.contains(&format!("{} bytes", push.len() - 1)),
            "{}",
            answer.error
        );
    }
}

#[tokio::test]
async fn unsigned_webhook_for_a_provider_with_a_secret_is_refused_before_its_body() {
    let state = limited(WebhookLimits::default());
    let signature = |secret: &str, body: &[u8]| signature_header_value(secret.as_bytes(), body);
    let github = fixture("github-push.json");
    let gitlab = fixture("gitlab-push.json");
    let cloud = fixture("bitbucket-cloud-push.json");
    let server = fixture("bitbucket-server-refs-changed.json");
    let generic = fixture("generic-push.json");
    let github_sig = signature(GITHUB_SECRET, &github);
    let server_sig = signature(BITBUCKET_SERVER_SECRET, &server);
    let generic_sig = signature(GENERIC_SECRET, &generic);

    // (path, headers, body, what the refusal says)
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [u8], &'a str);
    let refused: Vec<Case> = vec![
        (
            "/api/webhook",
            vec![("X-GitHub-Event", "push")],
            &github,
            "missing X-Hub-Signature-256",
        ),
        (
            "/api/webhook",
            vec![
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", "sha1=0123"),
            ],
            &github,
            "malformed X-Hub-Signature-256",
        ),
        (
            "/api/webhook",
            vec![("X-Gitlab-Event", "Push Hook")],
            &gitlab,
            "missing X-Gitlab-Token",
        ),
        (
            "/api/webhook",
            vec![("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", "guess")],
            &gitlab,
            "X-Gitlab-Token does not match",
        ),
        (
            "/api/webhook",
            vec![("X-Event-Key", "repo:push")],
            &cloud,
            "missing X-Hook-UUID",
        ),
        (
            "/api/webhook",
            vec![
                ("X-Event-Key", "repo:push"),
                ("X-Hook-UUID", "{00000000-0000-0000-0000-000000000000}"),
            ],
            &cloud,
            "X-Hook-UUID does not match",
        ),
        (
            "/api/webhook",
            vec![("X-Event-Key", "repo:refs_changed")],
            &server,
            "missing X-Hub-Signature header",
        ),
        (
            "/api/webhook/generic",
            vec![],
            &generic,
            "missing X-Ferry-Signature-256",
        ),
    ];
    for (path, headers, body, cause) in &refused {
        let (counted, pulled) = counted_body(body, 256);
        let answer = call(&state, path, headers, Some(body.len()), counted).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{headers:?}");
        assert!(
            answer.error.contains(cause),
            "{headers:?}: {}",
            answer.error
        );
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            0,
            "{headers:?}: body read before the refusal"
        );
    }

    // A provider without a secret is refused before its body too.
    let none = WebhookState::new(
        Arc::new(WebhookSecrets::default()),
        Arc::new(|_: PushEvent| 0usize),
    );
    let (counted, pulled) = counted_body(&github, 256);
    let headers = [
        ("X-GitHub-Event", "push"),
        ("X-Hub-Signature-256", github_sig.as_str()),
    ];
    let answer = call(&none, "/api/webhook", &headers, Some(github.len()), counted).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(
        answer.error.contains("webhook.github.secret"),
        "{}",
        answer.error
    );
    assert_eq!(pulled.load(Ordering::SeqCst), 0);

    // Signed, the same bodies are read whole and accepted (the counters do count).
    let accepted: Vec<Case> = vec![
        (
            "/api/webhook",
            vec![
                ("X-GitHub-Event", "push"),
                ("X-Hub-Signature-256", &github_sig),
            ],
            &github,
            "",
        ),
        (
            "/api/webhook",
            vec![
                ("X-Gitlab-Event", "Push Hook"),
                ("X-Gitlab-Token", GITLAB_SECRET),
            ],
            &gitlab,
            "",
        ),
        (
            "/api/webhook",
            vec![
                ("X-Event-Key", "repo:push"),
                ("X-Hook-UUID", BITBUCKET_UUID),
            ],
            &cloud,
            "",
        ),
        (
            "/api/webhook",
            vec![
                ("X-Event-Key", "repo:refs_changed"),
                ("X-Hub-Signature", &server_sig),
            ],
            &server,
            "",
        ),
        (
            "/api/webhook/generic",
            vec![("X-Ferry-Signature-256", &generic_sig)],
            &generic,
            "",
        ),
    ];
    for (path, headers, body, _) in &accepted {
        let (counted, pulled) = counted_body(body, 256);
        let answer = call(&state, path, headers, Some(body.len()), counted).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{headers:?}: {}",
            answer.error
        );
        assert_eq!(pulled.load(Ordering::SeqCst), body.len());
    }

    // On a socket: headers announcing 20 MB and asking to continue, and no body ever sent,
    // are answered 401 without a `100 Continue` (were the body awaited, no answer would come).
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server_task = tokio::spawn(async move {
        axum::serve(listener, router(state)).await.expect("serve");
    });
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream
        .write_all(
            format!(
                "POST /api/webhook HTTP/1.1\r\nHost: {addr}\r\nX-GitHub-Event: push\r\n\
                 Expect: 100-continue\r\nContent-Length: 20000000\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write head");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");
    server_task.abort();
}

/// A body whose first half comes at once (saying so on `started`), the rest once `release`
/// turns true.
fn held_body(
    data: &[u8],
    started: tokio::sync::mpsc::UnboundedSender<()>,
    release: tokio::sync::watch::Receiver<bool>,
) -> Body {
    let half = data.len() / 2;
    let first = Bytes::copy_from_slice(&data[..half]);
    let rest = Bytes::copy_from_slice(&data[half..]);
    let stream = futures::stream::unfold(0, move |step| {
        let (first, rest, started, mut release) = (
            first.clone(),
            rest.clone(),
            started.clone(),
            release.clone(),
        );
        async move {
            match step {
                0 => {
                    let _ = started.send(());
                    Some((Ok::<_, std::io::Error>(first), 1))
                }
                1 => {
                    release.wait_for(|go| *go).await.expect("release sender");
                    Some((Ok(rest), 2))
                }
                _ => None,
            }
        }
    });
    Body::from_stream(stream)
}

#[tokio::test]
async fn concurrent_webhook_bodies_are_bounded() {
    let state = limited(WebhookLimits::default().with_max_concurrent_bodies(2));
    assert_eq!(state.limits().max_concurrent_bodies, 2);
    let (headers, push) = signed_github_push();

    // Two bodies being read, held half-way.
    let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
    let (release, release_rx) = tokio::sync::watch::channel(false);
    let mut held = Vec::new();
    for _ in 0..2 {
        let body = held_body(&push, started_tx.clone(), release_rx.clone());
        let (state, headers, len) = (state.clone(), headers.clone(), push.len());
        held.push(tokio::spawn(async move {
            call(&state, "/api/webhook", &pairs(&headers), Some(len), body)
                .await
                .status
        }));
    }
    for _ in 0..2 {
        started.recv().await.expect("a held body was read");
    }

    // A third is answered 503 with Retry-After at once, its body not read.
    let (body, pulled) = counted_body(&push, 1024);
    let answer = call(
        &state,
        "/api/webhook",
        &pairs(&headers),
        Some(push.len()),
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        answer
            .headers
            .get("Retry-After")
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert!(
        answer.error.contains("--webhook-max-concurrent-bodies"),
        "{}",
        answer.error
    );
    assert_eq!(pulled.load(Ordering::SeqCst), 0);
    // What its headers refuse is still refused for that: the headers come before the slots.
    let (body, _) = counted_body(&push, 1024);
    let unsigned = [("X-GitHub-Event", "push")];
    let answer = call(&state, "/api/webhook", &unsigned, Some(push.len()), body).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);

    // The held ones finish and give their slots back.
    release.send_replace(true);
    for task in held {
        assert_eq!(task.await.expect("held request"), StatusCode::OK);
    }
    let (body, _) = counted_body(&push, 1024);
    let answer = call(
        &state,
        "/api/webhook",
        &pairs(&headers),
        Some(push.len()),
        body,
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.error);

    // Refused reads give theirs back too: with one slot, one over-limit body after another.
    let small = limited(WebhookLimits {
        max_payload_bytes: 1024,
        max_concurrent_bodies: 1,
        ..WebhookLimits::default()
    });
    for _ in 0..3 {
        let (body, _) = counted_spaces(4096);
        let answer = call(&small, "/api/webhook", &pairs(&headers), None, body).await;
        assert_eq!(
            answer.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{}",
            answer.error
        );
    }
}

#[tokio::test]
async fn a_webhook_body_that_stalls_gives_its_slot_back() {
    // One slot and little time to read a body: a sender that stops half-way cannot keep it.
    let state = limited(WebhookLimits {
        max_concurrent_bodies: 1,
        body_timeout: std::time::Duration::from_millis(50),
        ..WebhookLimits::default()
    });
    let (headers, push) = signed_github_push();
    let headers = pairs(&headers);
    let half = Bytes::copy_from_slice(&push[..push.len() / 2]);
    let stalled = futures::stream::once(async move { Ok::<_, std::io::Error>(half) })
        .chain(futures::stream::pending());
    let stalled = call(
        &state,
        "/api/webhook",
        &headers,
        Some(push.len()),
        Body::from_stream(stalled),
    );
    // Only a guard against hanging should the body be awaited forever; nothing is timed.
    let answer = tokio::time::timeout(std::time::Duration::from_secs(30), stalled)
        .await
        .expect("a stalled body is given up after body_timeout, not awaited forever");
    assert_eq!(
        answer.status,
        StatusCode::REQUEST_TIMEOUT,
        "{}",
        answer.error
    );
    let (body, _) = counted_body(&push, 1024);
    let answer = call(&state, "/api/webhook", &headers, Some(push.len()), body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.error);
}
