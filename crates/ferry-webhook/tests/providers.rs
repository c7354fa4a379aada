//! Provider payloads (fixtures shaped like the providers' documented push payloads) through
//! `handle_request`: verification, extraction, matching.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use ferry_core::Sensitive;
use ferry_webhook::{
    AuthFailure, Outcome, Provider, PushEvent, PushedRef, RefKind, WebhookError, WebhookSecrets,
    handle_generic_request, handle_request, matches, signature_header_value,
};

const GITHUB_SECRET: &str = "gh-s3cret";
const GITLAB_TOKEN: &str = "gl-t0ken";
const BITBUCKET_UUID: &str = "{3f2a6c1e-9b7d-4e5a-8c0f-1a2b3c4d5e6f}";
const BITBUCKET_SERVER_SECRET: &str = "bbs-s3cret";
const GENERIC_SECRET: &str = "generic-s3cret";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn all_secrets() -> WebhookSecrets {
    let s = |v: &str| Some(Sensitive::new(v.to_owned()));
    WebhookSecrets {
        github: s(GITHUB_SECRET),
        gitlab: s(GITLAB_TOKEN),
        bitbucket_uuid: s(BITBUCKET_UUID),
        bitbucket_server: s(BITBUCKET_SERVER_SECRET),
        generic: s(GENERIC_SECRET),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    map
}

fn push(outcome: Result<Outcome, WebhookError>) -> PushEvent {
    match outcome {
        Ok(Outcome::Push(event)) => event,
        other => panic!("expected a push, got {other:?}"),
    }
}

fn refused(outcome: Result<Outcome, WebhookError>, provider: Provider) -> AuthFailure {
    match outcome {
        Err(e @ WebhookError::Unauthorized { .. }) => {
            assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(e.provider(), Some(provider));
            let WebhookError::Unauthorized { cause, .. } = e else {
                unreachable!()
            };
            cause
        }
        other => panic!("expected 401 for {provider}, got {other:?}"),
    }
}

fn without(provider: Provider) -> WebhookSecrets {
    let mut s = all_secrets();
    match provider {
        Provider::GitHub => s.github = None,
        Provider::GitLab => s.gitlab = None,
        Provider::BitbucketCloud => s.bitbucket_uuid = None,
        Provider::BitbucketServer => s.bitbucket_server = None,
        Provider::Generic => s.generic = None,
    }
    s
}

// ---------------------------------------------------------------------------------------------
// GitHub

fn github(event: &str, body: &[u8], signature: Option<&str>) -> HeaderMap {
    let mut pairs = vec![
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("Content-Type", "application/json"),
        ("User-Agent", "GitHub-Hookshot/044aadd"),
    ];
    let computed = signature_header_value(GITHUB_SECRET.as_bytes(), body);
    let sig = signature.unwrap_or(&computed);
    if signature != Some("") {
        pairs.push(("X-Hub-Signature-256", sig));
    }
    headers(&pairs)
}

#[test]
fn github_push_extracts_everything() {
    let body = fixture("github-push.json");
    let event = push(handle_request(
        &all_secrets(),
        &github("push", &body, None),
        &body,
    ));
    assert_eq!(event.provider, Provider::GitHub);
    assert_eq!(
        event.repo_urls,
        [
            "https://github.com/Acme-Corp/gitops-demo",
            "https://github.com/Acme-Corp/gitops-demo.git",
            "git@github.com:Acme-Corp/gitops-demo.git",
            "git://github.com/Acme-Corp/gitops-demo.git",
        ]
    );
    assert_eq!(
        event.refs,
        [PushedRef {
            kind: RefKind::Branch,
            name: "main".to_owned(),
            commit: Some("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c".to_owned()),
        }]
    );
    assert_eq!(event.default_branch.as_deref(), Some("main"));
    assert_eq!(
        event.changed_files.as_deref(),
        Some(
            &[
                "apps/guestbook/deployment.yaml".to_owned(),
                "apps/redis/statefulset.yaml".to_owned(),
                "apps/redis/service.yaml".to_owned(),
                "apps/old/deployment.yaml".to_owned(),
            ][..]
        )
    );

    for app_url in [
        "https://github.com/acme-corp/gitops-demo",
        "https://github.com/Acme-Corp/gitops-demo.git",
        "git@github.com:Acme-Corp/gitops-demo.git",
        "ssh://git@github.com/Acme-Corp/gitops-demo.git",
        "ssh://git@ssh.github.com:443/Acme-Corp/gitops-demo.git",
    ] {
        for rev in ["main", "refs/heads/main", "HEAD", ""] {
            assert!(matches(&event, app_url, rev), "{app_url} @ {rev}");
        }
        assert!(!matches(&event, app_url, "refs/tags/main"));
        assert!(!matches(&event, app_url, "dev"));
        assert!(!matches(
            &event,
            app_url,
            "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"
        ));
    }
    assert!(!matches(
        &event,
        "https://github.com/Acme-Corp/gitops-demo-2",
        "main"
    ));
    assert!(!matches(
        &event,
        "https://github.com/Other/gitops-demo",
        "main"
    ));
}

#[test]
fn github_tag_push() {
    let body = fixture("github-tag-push.json");
    let event = push(handle_request(
        &all_secrets(),
        &github("push", &body, None),
        &body,
    ));
    assert_eq!(event.refs[0].kind, RefKind::Tag);
    assert_eq!(event.refs[0].name, "v1.2.0");
    assert_eq!(event.changed_files, None, "a tag push lists no commits");
    let url = "git@github.com:Acme-Corp/gitops-demo.git";
    assert!(matches(&event, url, "v1.2.0"));
    assert!(matches(&event, url, "refs/tags/v1.2.0"));
    assert!(!matches(&event, url, "refs/heads/v1.2.0"));
    assert!(
        !matches(&event, url, "HEAD"),
        "a tag push does not move the default branch"
    );
}

#[test]
fn github_branch_deletion_has_no_commit() {
    let body = fixture("github-branch-delete.json");
    let event = push(handle_request(
        &all_secrets(),
        &github("push", &body, None),
        &body,
    ));
    assert_eq!(event.refs[0].name, "feature/login");
    assert_eq!(event.refs[0].commit, None);
    assert!(matches(
        &event,
        "https://github.com/Acme-Corp/gitops-demo",
        "feature/login"
    ));
}

#[test]
fn github_ping_and_other_events() {
    let body = fixture("github-ping.json");
    assert_eq!(
        handle_request(&all_secrets(), &github("ping", &body, None), &body).ok(),
        Some(Outcome::Ping(Provider::GitHub))
    );
    let body = fixture("github-issues.json");
    assert_eq!(
        handle_request(&all_secrets(), &github("issues", &body, None), &body).ok(),
        Some(Outcome::Ignored {
            provider: Provider::GitHub,
            event: "issues".to_owned()
        })
    );
    // Ignored events are still verified.
    let cause = refused(
        handle_request(
            &all_secrets(),
            &github("issues", &body, Some("sha256=00")),
            &body,
        ),
        Provider::GitHub,
    );
    assert!(matches!(cause, AuthFailure::Malformed { .. }));
}

#[test]
fn github_signatures() {
    let body = fixture("github-push.json");
    let wrong = signature_header_value(b"not the secret", &body);
    assert_eq!(
        refused(
            handle_request(&all_secrets(), &github("push", &body, Some(&wrong)), &body),
            Provider::GitHub
        ),
        AuthFailure::Mismatch {
            header: "X-Hub-Signature-256"
        }
    );
    assert_eq!(
        refused(
            handle_request(&all_secrets(), &github("push", &body, Some("")), &body),
            Provider::GitHub
        ),
        AuthFailure::Missing {
            header: "X-Hub-Signature-256"
        }
    );
    // A body changed after signing.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert!(matches!(
        refused(
            handle_request(&all_secrets(), &github("push", &body, None), &tampered),
            Provider::GitHub
        ),
        AuthFailure::Mismatch { .. }
    ));
    // The legacy SHA-1 header alone is not enough.
    let sha1_only = headers(&[
        ("X-GitHub-Event", "push"),
        (
            "X-Hub-Signature",
            "sha1=0123456789abcdef0123456789abcdef01234567",
        ),
    ]);
    assert!(matches!(
        refused(
            handle_request(&all_secrets(), &sha1_only, &body),
            Provider::GitHub
        ),
        AuthFailure::Missing { .. }
    ));
    // No secret configured: refused even when signed.
    assert_eq!(
        refused(
            handle_request(
                &without(Provider::GitHub),
                &github("push", &body, None),
                &body
            ),
            Provider::GitHub
        ),
        AuthFailure::NoSecretConfigured {
            key: "webhook.github.secret"
        }
    );
}

#[test]
fn github_form_encoded_body() {
    let json = fixture("github-push.json");
    let encoded: String = percent_encode_form(&json);
    let body = format!("payload={encoded}").into_bytes();
    let sig = signature_header_value(GITHUB_SECRET.as_bytes(), &body);
    let h = headers(&[
        ("X-GitHub-Event", "push"),
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("X-Hub-Signature-256", &sig),
    ]);
    let event = push(handle_request(&all_secrets(), &h, &body));
    assert_eq!(event.refs[0].name, "main");
}

fn percent_encode_form(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[test]
fn github_malformed_payloads() {
    for body in [
        &b"not json"[..],
        br#"{"ref": "refs/heads/main"}"#,
        br#"{"repository": {"html_url": "https://github.com/a/b"}}"#,
    ] {
        let result = handle_request(&all_secrets(), &github("push", body, None), body);
        match result {
            Err(e @ WebhookError::Malformed { .. }) => {
                assert_eq!(e.status(), StatusCode::BAD_REQUEST)
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GitLab

fn gitlab(event: &str, token: Option<&str>) -> HeaderMap {
    let mut pairs = vec![
        ("X-Gitlab-Event", event),
        ("X-Gitlab-Instance", "https://gitlab.example.com"),
        (
            "X-Gitlab-Event-UUID",
            "9cebe914-4827-408f-b014-cfa23a47a35f",
        ),
        ("Content-Type", "application/json"),
    ];
    if let Some(token) = token {
        pairs.push(("X-Gitlab-Token", token));
    }
    headers(&pairs)
}

#[test]
fn gitlab_push_extracts_everything() {
    let body = fixture("gitlab-push.json");
    let event = push(handle_request(
        &all_secrets(),
        &gitlab("Push Hook", Some(GITLAB_TOKEN)),
        &body,
    ));
    assert_eq!(event.provider, Provider::GitLab);
    assert_eq!(
        event.repo_urls,
        [
            "https://gitlab.example.com/platform/k8s/deploy",
            "https://gitlab.example.com/platform/k8s/deploy.git",
            "git@gitlab.example.com:platform/k8s/deploy.git",
        ]
    );
    assert_eq!(event.refs[0].kind, RefKind::Branch);
    assert_eq!(event.refs[0].name, "release/2024.05");
    assert_eq!(
        event.refs[0].commit.as_deref(),
        Some("da1560886d4f094c3e6c9ef40349f7d38b5d27d7")
    );
    assert_eq!(event.default_branch.as_deref(), Some("main"));
    assert_eq!(
        event.changed_files,
        Some(vec![
            "overlays/prod/kustomization.yaml".to_owned(),
            "base/deployment.yaml".to_owned(),
            "README.md".to_owned(),
            "base/old-configmap.yaml".to_owned(),
        ])
    );
    let url = "https://gitlab.example.com/platform/k8s/deploy.git";
    assert!(matches(&event, url, "release/2024.05"));
    assert!(matches(&event, url, "refs/heads/release/2024.05"));
    assert!(!matches(&event, url, "HEAD"), "not the default branch");
    assert!(!matches(
        &event,
        "https://gitlab.example.com/platform/deploy",
        "release/2024.05"
    ));
    assert!(!matches(
        &event,
        "https://gitlab.example.com/platform/k8s",
        "release/2024.05"
    ));
}

#[test]
fn gitlab_tag_and_system_hooks() {
    let body = fixture("gitlab-tag-push.json");
    let event = push(handle_request(
        &all_secrets(),
        &gitlab("Tag Push Hook", Some(GITLAB_TOKEN)),
        &body,
    ));
    assert_eq!(event.refs[0].kind, RefKind::Tag);
    assert_eq!(event.refs[0].name, "v1.0.0");
    assert_eq!(
        event.refs[0].commit.as_deref(),
        Some("5937ac0a7beb003549fc5fd26fc247adbce4a52e"),
        "checkout_sha is the commit"
    );
    assert!(matches(
        &event,
        "git@gitlab.example.com:platform/k8s/deploy.git",
        "refs/tags/v1.0.0"
    ));

    let system = push(handle_request(
        &all_secrets(),
        &gitlab("System Hook", Some(GITLAB_TOKEN)),
        &body,
    ));
    assert_eq!(system, event);

    let other = br#"{"object_kind": "merge_request", "event_type": "merge_request"}"#;
    assert!(matches!(
        handle_request(
            &all_secrets(),
            &gitlab("System Hook", Some(GITLAB_TOKEN)),
            other
        ),
        Ok(Outcome::Ignored { .. })
    ));
    assert!(matches!(
        handle_request(
            &all_secrets(),
            &gitlab("Merge Request Hook", Some(GITLAB_TOKEN)),
            other
        ),
        Ok(Outcome::Ignored { .. })
    ));
}

#[test]
fn gitlab_tokens() {
    let body = fixture("gitlab-push.json");
    assert!(matches!(
        refused(
            handle_request(&all_secrets(), &gitlab("Push Hook", Some("wrong")), &body),
            Provider::GitLab
        ),
        AuthFailure::Mismatch {
            header: "X-Gitlab-Token"
        }
    ));
    assert!(matches!(
        refused(
            handle_request(
                &all_secrets(),
                &gitlab("Push Hook", Some(&format!("{GITLAB_TOKEN}x"))),
                &body
            ),
            Provider::GitLab
        ),
        AuthFailure::Mismatch { .. }
    ));
    assert!(matches!(
        refused(
            handle_request(&all_secrets(), &gitlab("Push Hook", None), &body),
            Provider::GitLab
        ),
        AuthFailure::Missing {
            header: "X-Gitlab-Token"
        }
    ));
    assert!(matches!(
        refused(
            handle_request(
                &without(Provider::GitLab),
                &gitlab("Push Hook", Some(GITLAB_TOKEN)),
                &body
            ),
            Provider::GitLab
        ),
        AuthFailure::NoSecretConfigured {
            key: "webhook.gitlab.secret"
        }
    ));
}

// ---------------------------------------------------------------------------------------------
// Bitbucket Cloud

fn bitbucket(event: &str, uuid: Option<&str>) -> HeaderMap {
    let mut pairs = vec![
        ("X-Event-Key", event),
        ("X-Request-UUID", "afe4c0c5-6a1b-4f4f-8a36-0bd4a5f3c0d2"),
        ("X-Attempt-Number", "1"),
        ("User-Agent", "Bitbucket-Webhooks/2.0"),
        ("Content-Type", "application/json"),
    ];
    if let Some(uuid) = uuid {
        pairs.push(("X-Hook-UUID", uuid));
    }
    headers(&pairs)
}

#[test]
fn bitbucket_cloud_push_extracts_every_change() {
    let body = fixture("bitbucket-cloud-push.json");
    let event = push(handle_request(
        &all_secrets(),
        &bitbucket("repo:push", Some(BITBUCKET_UUID)),
        &body,
    ));
    assert_eq!(event.provider, Provider::BitbucketCloud);
    assert_eq!(
        event.repo_urls,
        [
            "https://bitbucket.org/acme/Deploy-Config",
            "https://bitbucket.org/acme/Deploy-Config.git",
            "git@bitbucket.org:acme/Deploy-Config.git",
        ]
    );
    assert_eq!(
        event.refs,
        [
            PushedRef {
                kind: RefKind::Branch,
                name: "main".to_owned(),
                commit: Some("709d658dc5b6d6afcd46049c2f332ee3f515a67d".to_owned())
            },
            PushedRef {
                kind: RefKind::Tag,
                name: "v2.3.0".to_owned(),
                commit: Some("709d658dc5b6d6afcd46049c2f332ee3f515a67d".to_owned())
            },
            PushedRef {
                kind: RefKind::Branch,
                name: "feature/old".to_owned(),
                commit: None
            },
        ]
    );
    assert_eq!(event.default_branch, None);
    assert_eq!(event.changed_files, None);
    let url = "git@bitbucket.org:acme/deploy-config.git";
    assert!(matches(&event, url, "main"));
    assert!(
        matches(&event, url, "refs/tags/v2.3.0"),
        "second change counts too"
    );
    assert!(matches(&event, url, "feature/old"));
    assert!(
        matches(&event, url, "HEAD"),
        "no default branch in the payload: any push"
    );
    assert!(!matches(&event, url, "develop"));
    assert!(!matches(
        &event,
        "https://bitbucket.org/acme/deploy",
        "main"
    ));
}

#[test]
fn bitbucket_cloud_uuids() {
    let body = fixture("bitbucket-cloud-push.json");
    // Braces and case do not matter.
    let bare = BITBUCKET_UUID.trim_matches(['{', '}']).to_ascii_uppercase();
    assert!(handle_request(&all_secrets(), &bitbucket("repo:push", Some(&bare)), &body).is_ok());
    assert!(matches!(
        refused(
            handle_request(
                &all_secrets(),
                &bitbucket("repo:push", Some("{00000000-0000-0000-0000-000000000000}")),
                &body
            ),
            Provider::BitbucketCloud
        ),
        AuthFailure::Mismatch {
            header: "X-Hook-UUID"
        }
    ));
    assert!(matches!(
        refused(
            handle_request(&all_secrets(), &bitbucket("repo:push", None), &body),
            Provider::BitbucketCloud
        ),
        AuthFailure::Missing {
            header: "X-Hook-UUID"
        }
    ));
    assert!(matches!(
        refused(
            handle_request(
                &without(Provider::BitbucketCloud),
                &bitbucket("repo:push", Some(BITBUCKET_UUID)),
                &body
            ),
            Provider::BitbucketCloud
        ),
        AuthFailure::NoSecretConfigured {
            key: "webhook.bitbucket.uuid"
        }
    ));
    assert!(matches!(
        handle_request(
            &all_secrets(),
            &bitbucket("pullrequest:created", Some(BITBUCKET_UUID)),
            b"{}"
        ),
        Ok(Outcome::Ignored { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Bitbucket Server

fn bitbucket_server(event: &str, body: &[u8], signature: Option<&str>) -> HeaderMap {
    let computed = signature_header_value(BITBUCKET_SERVER_SECRET.as_bytes(), body);
    let mut pairs = vec![
        ("X-Event-Key", event),
        ("X-Request-Id", "f9a7b33d-8c3e-4c0a-b9b8-2e0d6b4f5a61"),
        ("Content-Type", "application/json; charset=utf-8"),
    ];
    match signature {
        None => pairs.push(("X-Hub-Signature", &computed)),
        Some("") => {}
        Some(sig) => pairs.push(("X-Hub-Signature", sig)),
    }
    headers(&pairs)
}

#[test]
fn bitbucket_server_push_extracts_every_change() {
    let body = fixture("bitbucket-server-refs-changed.json");
    let event = push(handle_request(
        &all_secrets(),
        &bitbucket_server("repo:refs_changed", &body, None),
        &body,
    ));
    assert_eq!(event.provider, Provider::BitbucketServer);
    assert_eq!(
        event.repo_urls,
        [
            "ssh://git@bitbucket.example.com:7999/ops/cluster-config.git",
            "https://bitbucket.example.com/scm/ops/cluster-config.git",
        ]
    );
    assert_eq!(
        event.refs,
        [
            PushedRef::from_ref(
                "refs/heads/master",
                Some("22671f0349857934857983457983475ec39f196b")
            ),
            PushedRef::from_ref(
                "refs/tags/0.1.0",
                Some("b82dd854c413d8e09aaf68c3c286f11ec6780be6")
            ),
            PushedRef::from_ref("refs/heads/hotfix/x", None),
        ]
    );
    assert_eq!(event.refs[2].kind, RefKind::Branch);
    assert_eq!(event.refs[2].name, "hotfix/x");
    for url in [
        "ssh://git@bitbucket.example.com:7999/ops/cluster-config.git",
        "https://bitbucket.example.com/scm/ops/cluster-config.git",
        "https://bitbucket.example.com/scm/OPS/cluster-config",
        "https://admin@bitbucket.example.com:8443/scm/ops/cluster-config.git",
    ] {
        assert!(matches(&event, url, "master"), "{url}");
        assert!(matches(&event, url, "0.1.0"), "{url}");
        assert!(matches(&event, url, "refs/heads/hotfix/x"), "{url}");
    }
    assert!(matches(
        &event,
        "https://bitbucket.example.com/scm/ops/cluster-config.git",
        "HEAD"
    ));
    assert!(!matches(
        &event,
        "https://bitbucket.example.com/scm/ops/other.git",
        "master"
    ));
}

#[test]
fn bitbucket_server_signatures_and_ping() {
    let body = fixture("bitbucket-server-refs-changed.json");
    let wrong = signature_header_value(b"nope", &body);
    assert!(matches!(
        refused(
            handle_request(
                &all_secrets(),
                &bitbucket_server("repo:refs_changed", &body, Some(&wrong)),
                &body
            ),
            Provider::BitbucketServer
        ),
        AuthFailure::Mismatch {
            header: "X-Hub-Signature"
        }
    ));
    assert!(matches!(
        refused(
            handle_request(
                &all_secrets(),
                &bitbucket_server("repo:refs_changed", &body, Some("")),
                &body
            ),
            Provider::BitbucketServer
        ),
        AuthFailure::Missing {
            header: "X-Hub-Signature"
        }
    ));
    assert!(matches!(
        refused(
            handle_request(
                &without(Provider::BitbucketServer),
                &bitbucket_server("repo:refs_changed", &body, None),
                &body
            ),
            Provider::BitbucketServer
        ),
        AuthFailure::NoSecretConfigured {
            key: "webhook.bitbucketserver.secret"
        }
    ));
    let ping = br#"{"test": true}"#;
    assert_eq!(
        handle_request(
            &all_secrets(),
            &bitbucket_server("diagnostics:ping", ping, None),
            ping
        )
        .ok(),
        Some(Outcome::Ping(Provider::BitbucketServer))
    );
    assert!(matches!(
        refused(
            handle_request(
                &all_secrets(),
                &bitbucket_server("diagnostics:ping", ping, Some("")),
                ping
            ),
            Provider::BitbucketServer
        ),
        AuthFailure::Missing { .. }
    ));
}

// ---------------------------------------------------------------------------------------------
// Generic

fn generic(body: &[u8], signature: Option<&str>) -> HeaderMap {
    let computed = signature_header_value(GENERIC_SECRET.as_bytes(), body);
    let mut pairs = vec![("Content-Type", "application/json")];
    match signature {
        None => pairs.push(("X-Ferry-Signature-256", &computed)),
        Some("") => {}
        Some(sig) => pairs.push(("X-Ferry-Signature-256", sig)),
    }
    headers(&pairs)
}

#[test]
fn generic_push() {
    let body = fixture("generic-push.json");
    let event = handle_generic_request(&all_secrets(), &generic(&body, None), &body).expect("push");
    assert_eq!(event.provider, Provider::Generic);
    assert_eq!(
        event.repo_urls,
        ["https://git.example.com/platform/apps.git"]
    );
    assert_eq!(
        event.refs,
        [PushedRef {
            kind: RefKind::Branch,
            name: "main".to_owned(),
            commit: Some("3e1f0c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f".to_owned())
        }]
    );
    assert_eq!(event.default_branch.as_deref(), Some("main"));
    assert_eq!(
        event.changed_files,
        Some(vec!["guestbook/deployment.yaml".to_owned()])
    );
    assert!(matches(&event, "git@git.example.com:platform/apps", "HEAD"));
    assert!(matches(
        &event,
        "ssh://git@git.example.com/platform/apps.git",
        "refs/heads/main"
    ));

    let bare = br#"{"repoURL": "https://git.example.com/platform/apps", "revision": "v3"}"#;
    let event = handle_generic_request(&all_secrets(), &generic(bare, None), bare).expect("push");
    assert_eq!(event.refs[0].kind, RefKind::Unqualified);
    assert!(matches(
        &event,
        "https://git.example.com/platform/apps",
        "refs/tags/v3"
    ));
    assert!(matches(
        &event,
        "https://git.example.com/platform/apps",
        "refs/heads/v3"
    ));
    assert!(matches(
        &event,
        "https://git.example.com/platform/apps",
        "HEAD"
    ));
}

#[test]
fn generic_refusals() {
    let body = fixture("generic-push.json");
    let wrong = signature_header_value(b"nope", &body);
    for (secrets, headers, want) in [
        (all_secrets(), generic(&body, Some(&wrong)), "Mismatch"),
        (all_secrets(), generic(&body, Some("")), "Missing"),
        (
            all_secrets(),
            generic(&body, Some("sha256=xyz")),
            "Malformed",
        ),
        (
            without(Provider::Generic),
            generic(&body, None),
            "NoSecretConfigured",
        ),
    ] {
        match handle_generic_request(&secrets, &headers, &body) {
            Err(WebhookError::Unauthorized {
                provider: Provider::Generic,
                cause,
            }) => {
                assert!(
                    format!("{cause:?}").starts_with(want),
                    "{cause:?} vs {want}"
                );
            }
            other => panic!("expected 401, got {other:?}"),
        }
    }
    for bad in [
        &br#"{"revision": "main"}"#[..],
        br#"{"repoURL": "https://git.example.com/a/b"}"#,
        br#"{"repoURL": "https://git.example.com/a/b", "revision": "HEAD"}"#,
        br#"{"repoURL": "nonsense", "revision": "main"}"#,
        br#"["not an object"]"#,
    ] {
        match handle_generic_request(&all_secrets(), &generic(bad, None), bad) {
            Err(e @ WebhookError::Malformed { .. }) => {
                assert_eq!(e.status(), StatusCode::BAD_REQUEST)
            }
            other => panic!(
                "expected 400 for {}, got {other:?}",
                String::from_utf8_lossy(bad)
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_and_unsupported_senders() {
    let body = b"{}";
    let unknown = handle_request(
        &all_secrets(),
        &headers(&[("X-Custom-Event", "push")]),
        body,
    );
    assert!(matches!(unknown, Err(WebhookError::UnknownSender)));
    let gogs = handle_request(
        &all_secrets(),
        &headers(&[("X-Gogs-Event", "push"), ("X-GitHub-Event", "push")]),
        body,
    );
    match gogs {
        Err(e @ WebhookError::UnsupportedSender { .. }) => {
            assert_eq!(e.status(), StatusCode::BAD_REQUEST)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn secrets_never_appear_in_errors() {
    let body = fixture("github-push.json");
    let wrong = signature_header_value(b"x", &body);
    let err = handle_request(&all_secrets(), &github("push", &body, Some(&wrong)), &body)
        .expect_err("refused");
    let text = format!("{err} {err:?}");
    assert!(!text.contains(GITHUB_SECRET));
    assert!(!text.contains(&wrong[7..]));
}
