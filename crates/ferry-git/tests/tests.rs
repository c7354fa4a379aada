//! ferry-git against real repositories served over git:// (`git daemon`) and smart HTTP with
//! Basic auth (the `test-server` feature). SSH has no server here; its command construction
//! is unit-tested in `src/command.rs`.

mod support;

use std::time::{Duration, Instant};

use ferry_git::{CommitId, GitError, GitStats, Repo};
use support::{Daemon, Fixture, commit_id, git, read};

#[cfg(feature = "test-server")]
mod http;

/// main: c1 (tag v1 annotated, branch feature) ← c2 (tag light).
fn two_commits(f: &Fixture) -> (String, String) {
    let c1 = f.commit(
        &[("app/deploy.yaml", "replicas: 1\n"), ("README.md", "one\n")],
        "first",
    );
    git(&f.work(), &["tag", "-a", "v1", "-m", "release 1"]);
    git(&f.work(), &["branch", "feature"]);
    let c2 = f.commit(&[("app/deploy.yaml", "replicas: 2\n")], "second");
    git(&f.work(), &["tag", "light"]);
    f.push(&["main", "feature", "v1", "light"]);
    (c1, c2)
}

async fn resolve(cache: &ferry_git::GitCache, repo: &Repo, rev: &str) -> String {
    match cache.resolve(repo, rev).await {
        Ok(c) => c.to_string(),
        Err(e) => panic!("resolve {rev:?}: {e}"),
    }
}

#[tokio::test]
async fn resolves_branch_tag_head_and_shas() {
    let f = Fixture::new();
    let (c1, c2) = two_commits(&f);
    let daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let repo = Repo::new(daemon.url("app.git"));

    assert_eq!(resolve(&cache, &repo, "").await, c2);
    assert_eq!(resolve(&cache, &repo, "HEAD").await, c2);
    assert_eq!(resolve(&cache, &repo, "main").await, c2);
    assert_eq!(resolve(&cache, &repo, " main ").await, c2);
    assert_eq!(resolve(&cache, &repo, "feature").await, c1);
    assert_eq!(resolve(&cache, &repo, "refs/heads/feature").await, c1);
    assert_eq!(
        resolve(&cache, &repo, "v1").await,
        c1,
        "annotated tag → its commit"
    );
    assert_eq!(resolve(&cache, &repo, "light").await, c2);
    assert_eq!(resolve(&cache, &repo, &c1).await, c1);
    assert_eq!(resolve(&cache, &repo, &c1.to_uppercase()).await, c1);
    assert_eq!(resolve(&cache, &repo, &c1[..8]).await, c1);
    assert_eq!(resolve(&cache, &repo, &c2[..12]).await, c2);
}

#[tokio::test]
async fn a_new_push_resolves_at_the_next_resolve() {
    let f = Fixture::new();
    let (_, c2) = two_commits(&f);
    let daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let repo = Repo::new(daemon.url("app.git"));
    assert_eq!(resolve(&cache, &repo, "main").await, c2);
    let old = cache
        .checkout(&repo, &commit_id(&c2))
        .await
        .expect("checkout c2");

    let c3 = f.commit(&[("app/deploy.yaml", "replicas: 3\n")], "third");
    git(
        &f.work(),
        &["push", "--quiet", &daemon.url("app.git"), "main"],
    ); // through receive-pack
    assert_eq!(resolve(&cache, &repo, "main").await, c3);

    let new = cache
        .checkout(&repo, &commit_id(&c3))
        .await
        .expect("checkout c3");
    assert_eq!(read(&new.path, "app/deploy.yaml"), "replicas: 3\n");
    assert_eq!(
        read(&old.path, "app/deploy.yaml"),
        "replicas: 2\n",
        "old tree untouched"
    );
    assert_eq!(cache.stats().fetches, 2);
}

#[tokio::test]
async fn checkout_materialises_once_and_is_reused() {
    let f = Fixture::new();
    let (c1, c2) = two_commits(&f);
    let daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let repo = Repo::new(daemon.url("app.git"));

    let first = cache
        .checkout(&repo, &commit_id(&c2))
        .await
        .expect("checkout");
    assert_eq!(first.commit.as_str(), c2);
    assert!(first.path.ends_with(&c2));
    assert!(
        first
            .path
            .starts_with(f.cache_root().canonicalize().expect("root"))
    );
    assert_eq!(read(&first.path, "app/deploy.yaml"), "replicas: 2\n");
    assert_eq!(read(&first.path, "README.md"), "one\n");
    assert!(!first.path.join(".git").exists(), "a tree, not a clone");
    let after_first = cache.stats();
    assert_eq!((after_first.fetches, after_first.materialisations), (1, 1));

    let again = cache
        .checkout(&repo, &commit_id(&c2))
        .await
        .expect("checkout again");
    assert_eq!(again.path, first.path);
    let after_second = cache.stats();
    assert_eq!(after_second.fetches, 1, "no second fetch");
    assert_eq!(after_second.materialisations, 1);
    assert_eq!(after_second.checkout_hits, 1);

    // c1 came with c2's history: materialised without fetching
    let older = cache
        .checkout(&repo, &commit_id(&c1))
        .await
        .expect("checkout c1");
    assert_eq!(read(&older.path, "app/deploy.yaml"), "replicas: 1\n");
    assert_eq!(cache.stats().fetches, 1);
    assert_eq!(cache.stats().materialisations, 2);

    // another URL spelling of the same repository shares the cache
    let spelled = Repo::new(format!("{}/", daemon.url("app")));
    let shared = cache
        .checkout(&spelled, &commit_id(&c2))
        .await
        .expect("shared");
    assert_eq!(shared.path, first.path);
    assert_eq!(cache.stats().checkout_hits, 2);

    // nothing left behind in tmp/
    let tmp = f.cache_root().join("tmp");
    let leftovers = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn concurrent_checkouts_share_one_fetch() {
    let f = Fixture::new();
    let (_, c2) = two_commits(&f);
    let daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let repo = Repo::new(daemon.url("app.git"));
    let commit = commit_id(&c2);

    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (cache, repo, commit) = (cache.clone(), repo.clone(), commit.clone());
            tokio::spawn(async move { cache.checkout(&repo, &commit).await })
        })
        .collect();
    for task in tasks {
        let checkout = task.await.expect("joined").expect("checkout");
        assert_eq!(read(&checkout.path, "app/deploy.yaml"), "replicas: 2\n");
    }
    let stats = cache.stats();
    assert_eq!(
        stats,
        GitStats {
            ls_remotes: 0,
            fetches: 1,
            materialisations: 1,
            checkout_hits: 7
        }
    );
}

#[tokio::test]
async fn unknown_revisions_are_revision_not_found() {
    let f = Fixture::new();
    two_commits(&f);
    let daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let repo = Repo::new(daemon.url("app.git"));
    let missing_sha = "dead".repeat(10);
    for rev in ["no-such-branch", "v9", missing_sha.as_str(), "deadbee"] {
        match cache.resolve(&repo, rev).await {
            Err(e @ GitError::RevisionNotFound { .. }) => {
                let msg = e.to_string();
                assert!(msg.contains(rev) && msg.contains("app.git"), "{msg}");
                assert!(!e.is_transient());
            }
            other => panic!("{rev}: expected RevisionNotFound, got {other:?}"),
        }
    }
    let missing = CommitId::parse(&missing_sha).expect("id");
    assert!(matches!(
        cache.checkout(&repo, &missing).await,
        Err(GitError::RevisionNotFound { .. })
    ));
}

#[tokio::test]
async fn unknown_repository_is_repository_not_found() {
    let f = Fixture::new();
    let daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let err = cache
        .resolve(&Repo::new(daemon.url("nope.git")), "main")
        .await;
    assert!(
        matches!(err, Err(GitError::RepositoryNotFound { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_down_is_unreachable_and_the_cache_still_serves() {
    let f = Fixture::new();
    let (c1, c2) = two_commits(&f);
    let mut daemon = Daemon::start(&f.served());
    let cache = f.cache();
    let repo = Repo::new(daemon.url("app.git"));
    cache
        .checkout(&repo, &commit_id(&c2))
        .await
        .expect("checkout while up");
    daemon.stop();

    let err = cache.resolve(&repo, "main").await;
    match &err {
        Err(e @ GitError::Unreachable { detail, .. }) => {
            assert!(e.is_transient());
            assert!(
                detail.to_lowercase().contains("connection refused"),
                "{detail}"
            );
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    // a commit that needs a fetch fails the same way, and the failed fetch breaks nothing
    let unknown = commit_id(&"beef".repeat(10));
    assert!(matches!(
        cache.checkout(&repo, &unknown).await,
        Err(GitError::Unreachable { .. })
    ));
    assert_eq!(
        resolve(&cache, &repo, &c1).await,
        c1,
        "full sha from the cache"
    );
    assert_eq!(
        resolve(&cache, &repo, &c1[..9]).await,
        c1,
        "short sha from the cache"
    );
    let old = cache
        .checkout(&repo, &commit_id(&c1))
        .await
        .expect("c1 from the cache");
    assert_eq!(read(&old.path, "app/deploy.yaml"), "replicas: 1\n");
    cache
        .checkout(&repo, &commit_id(&c2))
        .await
        .expect("c2 tree reused");
}

#[tokio::test]
async fn a_silent_server_times_out_and_git_is_killed() {
    let f = Fixture::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket); // never answer
        }
    });
    let cache = f.cache_with(|c| c.command_timeout = Duration::from_millis(500));
    let started = Instant::now();
    let err = cache
        .resolve(
            &Repo::new(format!("git://127.0.0.1:{port}/app.git")),
            "main",
        )
        .await;
    assert!(
        matches!(
            err,
            Err(GitError::Timeout {
                command: "ls-remote",
                ..
            })
        ),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn urls_git_would_misread_are_refused() {
    let f = Fixture::new();
    two_commits(&f);
    let cache = f.cache();
    for url in [
        "ext::sh -c touch% /tmp/ferry-pwned",
        "--upload-pack=touch /tmp/ferry-pwned",
        "ftp://example.com/r.git",
    ] {
        let err = cache.resolve(&Repo::new(url), "main").await;
        assert!(
            matches!(err, Err(GitError::InvalidUrl { .. })),
            "{url}: {err:?}"
        );
    }
    let local = f.served().join("app.git").to_string_lossy().into_owned();
    let err = cache.resolve(&Repo::new(local.clone()), "main").await;
    assert!(
        matches!(err, Err(GitError::InvalidUrl { .. })),
        "file URLs are off by default"
    );

    let allowed = f.cache_with(|c| c.allow_file_urls = true);
    let file_url = format!("file://{local}");
    assert!(allowed.resolve(&Repo::new(file_url), "main").await.is_ok());
}
