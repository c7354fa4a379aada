//! Smart HTTP with Basic auth, through the crate's own test server (`git http-backend`).

use base64::Engine;
use ferry_core::Sensitive;
use ferry_git::testserver::{GitHttpServer, GitHttpServerConfig};
use ferry_git::{Credentials, GitError, Repo, repositories_from_secrets};
use serde_json::json;

use crate::support::{Fixture, commit_id, git, read};
use crate::{resolve, two_commits};

const TOKEN: &str = "ghp_S3cr3t-T0ken/with+odd=chars";
const WRONG: &str = "wrong-token-NEVER-SHOWN";

async fn server(f: &Fixture) -> GitHttpServer {
    GitHttpServer::start(GitHttpServerConfig::new(f.served()).with_credentials("ferry", TOKEN))
        .await
        .expect("git http server")
}

fn https(token: &str) -> Credentials {
    Credentials::Https {
        username: "ferry".to_owned(),
        password: Sensitive::new(token.to_owned()),
    }
}

fn assert_never_printed(e: &GitError, secret: &str) {
    let (display, debug) = (e.to_string(), format!("{e:?}"));
    assert!(!display.contains(secret), "{display}");
    assert!(!debug.contains(secret), "{debug}");
}

#[tokio::test]
async fn a_token_opens_the_repository_over_smart_http() {
    let f = Fixture::new();
    let (c1, c2) = two_commits(&f);
    let server = server(&f).await;
    let cache = f.cache();
    let repo = Repo::new(server.url("app.git")).with_credentials(https(TOKEN));

    assert_eq!(resolve(&cache, &repo, "main").await, c2);
    assert_eq!(resolve(&cache, &repo, "v1").await, c1);
    assert_eq!(resolve(&cache, &repo, &c1[..10]).await, c1);
    let checkout = cache
        .checkout(&repo, &commit_id(&c2))
        .await
        .expect("checkout");
    assert_eq!(read(&checkout.path, "app/deploy.yaml"), "replicas: 2\n");

    let requests = server.requests();
    cache.checkout(&repo, &commit_id(&c2)).await.expect("again");
    assert_eq!(
        server.requests(),
        requests,
        "a reused tree asks the server nothing"
    );
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_authentication_failed_and_never_printed() {
    let f = Fixture::new();
    let (_, c2) = two_commits(&f);
    let server = server(&f).await;
    let cache = f.cache();

    let wrong = Repo::new(server.url("app.git")).with_credentials(https(WRONG));
    for result in [
        cache.resolve(&wrong, "main").await.map(|_| ()),
        cache.checkout(&wrong, &commit_id(&c2)).await.map(|_| ()),
    ] {
        match result {
            Err(e @ GitError::AuthenticationFailed { .. }) => {
                assert!(e.to_string().contains(&server.url("app.git")));
                assert!(!e.is_transient());
                assert_never_printed(&e, WRONG);
            }
            other => panic!("expected AuthenticationFailed, got {other:?}"),
        }
    }

    let anonymous = cache
        .resolve(&Repo::new(server.url("app.git")), "main")
        .await;
    assert!(
        matches!(anonymous, Err(GitError::AuthenticationFailed { .. })),
        "{anonymous:?}"
    );

    let in_url = server
        .url("app.git")
        .replace("http://", &format!("http://ferry:{WRONG}@"));
    match cache.resolve(&Repo::new(in_url), "main").await {
        Err(e @ GitError::AuthenticationFailed { .. }) => {
            assert_never_printed(&e, WRONG);
            assert!(e.to_string().contains("ferry:<redacted>@"), "{e}");
        }
        other => panic!("expected AuthenticationFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn a_password_in_the_url_works_without_reaching_argv() {
    let f = Fixture::new();
    let (_, c2) = two_commits(&f);
    let server = server(&f).await;
    let log = f.dir.path().join("argv.log");
    let wrapper = f.dir.path().join("git-wrapper");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec git \"$@\"\n",
            log.display()
        ),
    )
    .expect("wrapper");
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&wrapper, executable).expect("chmod");
    let cache = f.cache_with(|c| c.git_binary = wrapper.clone());

    let encoded = percent_encoding::utf8_percent_encode(TOKEN, percent_encoding::NON_ALPHANUMERIC);
    let in_url = server
        .url("app.git")
        .replace("http://", &format!("http://ferry:{encoded}@"));
    assert_eq!(
        resolve(&cache, &Repo::new(in_url.clone()), "main").await,
        c2
    );
    cache
        .checkout(&Repo::new(in_url), &commit_id(&c2))
        .await
        .expect("checkout with the password in the URL");
    let with_creds = Repo::new(server.url("app.git")).with_credentials(https(TOKEN));
    assert_eq!(resolve(&cache, &with_creds, "HEAD").await, c2);

    let argv = std::fs::read_to_string(&log).expect("argv log");
    assert!(
        argv.contains("ls-remote") && argv.contains("fetch"),
        "{argv}"
    );
    assert!(
        !argv.contains(TOKEN) && !argv.contains(&encoded.to_string()),
        "{argv}"
    );
}

#[tokio::test]
async fn repo_creds_secrets_are_matched_by_prefix() {
    let f = Fixture::new();
    let (_, c2) = two_commits(&f);
    let server = server(&f).await;
    let cache = f.cache();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let secret = |name: &str, kind: &str, url: &str, password: &str| {
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": "ferry",
                         "labels": {"argocd.argoproj.io/secret-type": kind}},
            "data": {"url": b64(url), "username": b64("ferry"), "password": b64(password)},
        })
    };
    let host = format!("http://{}", server.addr());
    let secrets = repositories_from_secrets(&[
        secret("everything", "repo-creds", &format!("{host}/"), WRONG),
        secret("apps", "repo-creds", &format!("{host}/ap"), TOKEN),
        secret("other", "repository", &format!("{host}/other.git"), WRONG),
    ]);
    let repo = Repo::from_secrets(server.url("app.git"), &secrets);
    assert_eq!(resolve(&cache, &repo, "main").await, c2);

    // an exact repository Secret wins over every template
    let mut secrets = secrets;
    secrets.extend(repositories_from_secrets(&[secret(
        "app",
        "repository",
        &server.url("app"),
        WRONG,
    )]));
    let repo = Repo::from_secrets(server.url("app.git"), &secrets);
    let err = cache.resolve(&repo, "main").await;
    assert!(
        matches!(err, Err(GitError::AuthenticationFailed { .. })),
        "{err:?}"
    );
}

// multi-threaded: the fixture's `git push` blocks its thread while the server answers
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_server_accepts_pushes_when_enabled() {
    let f = Fixture::new();
    two_commits(&f);
    let server = GitHttpServer::start(GitHttpServerConfig::new(f.served()).with_push())
        .await
        .expect("server");
    let cache = f.cache();
    let repo = Repo::new(server.url("app.git"));
    let c3 = f.commit(&[("app/extra.yaml", "x: 1\n")], "third");
    git(
        &f.work(),
        &["push", "--quiet", &server.url("app.git"), "main"],
    );
    assert_eq!(resolve(&cache, &repo, "main").await, c3);
    let checkout = cache
        .checkout(&repo, &commit_id(&c3))
        .await
        .expect("checkout");
    assert_eq!(read(&checkout.path, "app/extra.yaml"), "x: 1\n");
    server.stop().await;
    let err = cache.resolve(&repo, "main").await;
    assert!(matches!(err, Err(GitError::Unreachable { .. })), "{err:?}");
}
