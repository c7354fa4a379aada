//! [`GitCache`]: one bare repository per repository URL (`<root>/repos/<key>.git`), shared by
//! every Application that uses it and fetched under a per-repository async mutex, and one
//! immutable directory per materialised commit (`<root>/trees/<key>/<commit>/`), written to
//! `<root>/tmp/` and renamed into place so that its existence means it is complete.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::command::{ASKPASS_SCRIPT, GitRunner, Remote};
use crate::config::{GitConfig, Repo};
use crate::disk::{
    LockMap, clear_dir, clear_stale_locks, is_dir, lock_for, mkdir, release, write_executable,
};
use crate::error::GitError;
use crate::repourl::{RepoUrl, Transport};
use crate::revision::{CommitId, RemoteRefs, is_abbreviated_sha, is_full_sha};

/// A commit's files on disk. Never rewritten by Ferry; callers must not write into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub path: PathBuf,
    pub commit: CommitId,
}

/// What the cache has done since it was created (for benchmarks and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GitStats {
    /// `git ls-remote` calls (one per resolve of a branch, tag or `HEAD`).
    pub ls_remotes: u64,
    /// `git fetch` calls into a bare cache.
    pub fetches: u64,
    /// Commits written to `trees/`.
    pub materialisations: u64,
    /// Checkouts answered by an existing tree.
    pub checkout_hits: u64,
}

#[derive(Default)]
struct Counters {
    ls_remotes: AtomicU64,
    fetches: AtomicU64,
    materialisations: AtomicU64,
    checkout_hits: AtomicU64,
}

/// The git adapter. Cheap to clone; all clones share the cache, locks and stats.
#[derive(Clone)]
pub struct GitCache {
    inner: Arc<Inner>,
}

struct Inner {
    runner: GitRunner,
    repos: PathBuf,
    trees: PathBuf,
    tmp: PathBuf,
    allow_file_urls: bool,
    repo_locks: LockMap<String>,
    tree_locks: LockMap<PathBuf>,
    stats: Counters,
}

/// One repository as one call sees it.
struct Target<'a> {
    repo: &'a Repo,
    url: RepoUrl,
    key: String,
    bare: PathBuf,
}

impl Target<'_> {
    fn remote(&self) -> Remote<'_> {
        Remote {
            url: &self.url,
            credentials: self.repo.credentials.as_ref(),
            insecure_skip_tls_verify: self.repo.insecure_skip_tls_verify,
        }
    }

    fn not_found(&self, revision: &str) -> GitError {
        GitError::RevisionNotFound {
            repo: self.url.redacted.clone(),
            revision: revision.to_owned(),
        }
    }
}

// === impl GitCache ===

impl GitCache {
    /// Creates the cache directories under `config.root`, removes leftovers of interrupted
    /// work from `tmp/` and writes the `GIT_ASKPASS` helper.
    pub fn new(config: GitConfig) -> Result<Self, GitError> {
        if config.command_timeout.is_zero() {
            return Err(GitError::io(
                "use a zero command timeout for",
                &config.root,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "timeout must be > 0"),
            ));
        }
        mkdir(&config.root)?;
        let root = std::fs::canonicalize(&config.root)
            .map_err(|e| GitError::io("resolve the cache directory", &config.root, e))?;
        let (repos, trees, tmp, home, bin) = (
            root.join("repos"),
            root.join("trees"),
            root.join("tmp"),
            root.join("home"),
            root.join("bin"),
        );
        for dir in [&repos, &trees, &tmp, &home, &bin, &home.join(".ssh")] {
            mkdir(dir)?;
        }
        clear_dir(&tmp)?;
        let askpass = bin.join("askpass.sh");
        write_executable(&askpass, &tmp, ASKPASS_SCRIPT)?;
        let passthrough = config
            .passthrough_env
            .iter()
            .filter_map(|name| std::env::var_os(name).map(|v| (name.clone(), v)))
            .collect();
        let runner = GitRunner {
            binary: config.git_binary.clone(),
            timeout: config.command_timeout,
            known_hosts: home.join(".ssh").join("known_hosts"),
            home,
            tmp: tmp.clone(),
            ceiling: root,
            askpass,
            allow_file: config.allow_file_urls,
            passthrough,
        };
        Ok(GitCache {
            inner: Arc::new(Inner {
                runner,
                repos,
                trees,
                tmp,
                allow_file_urls: config.allow_file_urls,
                repo_locks: LockMap::default(),
                tree_locks: LockMap::default(),
                stats: Counters::default(),
            }),
        })
    }

    /// Resolves a `targetRevision` to a commit:
    ///
    /// - a full commit id is checked against the cache, fetching when it is not there yet;
    /// - `""`/`HEAD`, a branch, a tag (peeled) or a full ref name are looked up with
    ///   `git ls-remote`, so a newly pushed commit is seen at the next call;
    /// - anything else of 7+ hex digits is taken as an abbreviated commit id and expanded in
    ///   the cache (fetching all branches and tags first if needed; from the cache alone when
    ///   the server cannot be reached).
    pub async fn resolve(&self, repo: &Repo, revision: &str) -> Result<CommitId, GitError> {
        let target = self.target(repo)?;
        let revision = revision.trim();
        if is_full_sha(revision) {
            let commit = CommitId::parse(revision).map_err(|_| target.not_found(revision))?;
            self.ensure_commit(&target, &commit, revision).await?;
            return Ok(commit);
        }
        let refs = match self.ls_remote(&target).await {
            Ok(refs) => refs,
            // a pinned short sha keeps working from the cache while the server is away
            Err(e) if e.is_transient() && is_abbreviated_sha(revision) => {
                return match self.expand(&target, revision).await {
                    Ok(Some(commit)) => Ok(commit),
                    _ => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        if let Some(commit) = refs.resolve(revision) {
            return Ok(commit);
        }
        if is_abbreviated_sha(revision) {
            return self.resolve_abbreviated(&target, revision).await;
        }
        Err(target.not_found(revision))
    }

    /// The files of `commit`: an existing tree if there is one (no git process at all),
    /// otherwise fetched if missing from the cache and materialised.
    pub async fn checkout(&self, repo: &Repo, commit: &CommitId) -> Result<Checkout, GitError> {
        let target = self.target(repo)?;
        let dest = self.inner.trees.join(&target.key).join(commit.as_str());
        let done = Checkout {
            path: dest.clone(),
            commit: commit.clone(),
        };
        if is_dir(&dest).await {
            self.inner
                .stats
                .checkout_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok(done);
        }
        let lock = lock_for(&self.inner.tree_locks, &dest);
        let result = {
            let _guard = lock.lock().await;
            if is_dir(&dest).await {
                self.inner
                    .stats
                    .checkout_hits
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            } else {
                match self.ensure_commit(&target, commit, commit.as_str()).await {
                    Ok(()) => self.materialise(&target, commit, &dest).await,
                    Err(e) => Err(e),
                }
            }
        };
        release(&self.inner.tree_locks, &dest, lock);
        result.map(|()| done)
    }

    pub fn stats(&self) -> GitStats {
        let s = &self.inner.stats;
        GitStats {
            ls_remotes: s.ls_remotes.load(Ordering::Relaxed),
            fetches: s.fetches.load(Ordering::Relaxed),
            materialisations: s.materialisations.load(Ordering::Relaxed),
            checkout_hits: s.checkout_hits.load(Ordering::Relaxed),
        }
    }

    fn target<'a>(&self, repo: &'a Repo) -> Result<Target<'a>, GitError> {
        let url = RepoUrl::parse(&repo.url)?;
        if url.transport == Transport::File && !self.inner.allow_file_urls {
            return Err(GitError::InvalidUrl {
                url: url.redacted,
                reason: "file:// URLs and local paths are disabled (GitConfig::allow_file_urls)"
                    .to_owned(),
            });
        }
        let key = url.cache_key();
        Ok(Target {
            repo,
            bare: self.inner.repos.join(format!("{key}.git")),
            url,
            key,
        })
    }

    async fn ls_remote(&self, t: &Target<'_>) -> Result<RemoteRefs, GitError> {
        self.inner.stats.ls_remotes.fetch_add(1, Ordering::Relaxed);
        let url = OsStr::new(&t.url.for_git);
        let out = self
            .inner
            .runner
            .remote("ls-remote", None, &[os("ls-remote"), url], &t.remote())
            .await?;
        Ok(RemoteRefs::parse(&out.stdout))
    }

    /// Makes sure `commit` is in the bare cache: fetch every branch and tag, then, if it is
    /// still missing (a commit no ref reaches any more), ask for it by id.
    async fn ensure_commit(
        &self,
        t: &Target<'_>,
        commit: &CommitId,
        revision: &str,
    ) -> Result<(), GitError> {
        if self.has_commit(t, commit).await? {
            return Ok(());
        }
        let lock = lock_for(&self.inner.repo_locks, &t.key);
        let _guard = lock.lock().await;
        if self.has_commit(t, commit).await? {
            return Ok(());
        }
        self.fetch_refs(t).await?;
        if self.has_commit(t, commit).await? {
            return Ok(());
        }
        match self.fetch_commit(t, commit).await {
            Ok(()) | Err(GitError::GitFailed { .. }) => {}
            Err(e) => return Err(e),
        }
        if self.has_commit(t, commit).await? {
            Ok(())
        } else {
            Err(t.not_found(revision))
        }
    }

    async fn resolve_abbreviated(
        &self,
        t: &Target<'_>,
        abbrev: &str,
    ) -> Result<CommitId, GitError> {
        if let Some(commit) = self.expand(t, abbrev).await? {
            return Ok(commit);
        }
        let lock = lock_for(&self.inner.repo_locks, &t.key);
        let _guard = lock.lock().await;
        self.fetch_refs(t).await?;
        self.expand(t, abbrev)
            .await?
            .ok_or_else(|| t.not_found(abbrev))
    }

    /// An abbreviated id expanded by the cache, if it names exactly one commit there.
    async fn expand(&self, t: &Target<'_>, abbrev: &str) -> Result<Option<CommitId>, GitError> {
        if !is_dir(&t.bare).await {
            return Ok(None);
        }
        let spec = format!("{abbrev}^{{commit}}");
        let args = [os("rev-parse"), os("--verify"), os("--quiet"), os(&spec)];
        let out = self
            .inner
            .runner
            .local("rev-parse", Some(&t.bare), &args, &[], &t.url)
            .await?;
        Ok(out
            .success
            .then(|| CommitId::parse(out.stdout.trim()).ok())
            .flatten())
    }

    async fn has_commit(&self, t: &Target<'_>, commit: &CommitId) -> Result<bool, GitError> {
        if !is_dir(&t.bare).await {
            return Ok(false);
        }
        let spec = format!("{commit}^{{commit}}");
        let args = [os("cat-file"), os("-e"), os(&spec)];
        let out = self
            .inner
            .runner
            .local("cat-file", Some(&t.bare), &args, &[], &t.url)
            .await?;
        Ok(out.success)
    }

    /// `git fetch` of every branch and tag, pruning deleted ones, all refs or none. Caller
    /// holds the repository lock. A failure leaves the cache as it was.
    async fn fetch_refs(&self, t: &Target<'_>) -> Result<(), GitError> {
        self.ensure_bare(t).await?;
        self.inner.stats.fetches.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(repo = %t.url.redacted, "fetching branches and tags");
        let args = [
            os("fetch"),
            os("--quiet"),
            os("--prune"),
            os("--atomic"),
            os("--no-tags"),
            os("--no-auto-gc"),
            os("--no-recurse-submodules"),
            os("--no-write-fetch-head"),
            os("--end-of-options"),
            os(&t.url.for_git),
            os("+refs/heads/*:refs/heads/*"),
            os("+refs/tags/*:refs/tags/*"),
        ];
        let remote = t.remote();
        self.inner
            .runner
            .remote("fetch", Some(&t.bare), &args, &remote)
            .await?;
        Ok(())
    }

    /// `git fetch <url> <commit>`, kept reachable under `refs/ferry/commits/`.
    async fn fetch_commit(&self, t: &Target<'_>, commit: &CommitId) -> Result<(), GitError> {
        self.inner.stats.fetches.fetch_add(1, Ordering::Relaxed);
        let refspec = format!("{commit}:refs/ferry/commits/{commit}");
        let args = [
            os("fetch"),
            os("--quiet"),
            os("--no-tags"),
            os("--no-auto-gc"),
            os("--no-recurse-submodules"),
            os("--no-write-fetch-head"),
            os("--end-of-options"),
            os(&t.url.for_git),
            os(&refspec),
        ];
        let remote = t.remote();
        self.inner
            .runner
            .remote("fetch", Some(&t.bare), &args, &remote)
            .await?;
        Ok(())
    }

    /// Creates the bare cache (in `tmp/`, renamed into place) and clears lock files a killed
    /// git left behind (the caller holds the repository lock, and the root is ours alone).
    async fn ensure_bare(&self, t: &Target<'_>) -> Result<(), GitError> {
        if is_dir(&t.bare).await {
            clear_stale_locks(&t.bare).await;
            return Ok(());
        }
        let staging = self
            .inner
            .tmp
            .join(format!("bare-{}", uuid::Uuid::new_v4()));
        let args = [
            os("init"),
            os("--bare"),
            os("--quiet"),
            os("--template="),
            staging.as_os_str(),
        ];
        let out = self
            .inner
            .runner
            .local("init", None, &args, &[], &t.url)
            .await;
        let out = match out {
            Ok(out) if out.success => out,
            Ok(out) => {
                return Err(GitError::GitFailed {
                    repo: t.url.redacted.clone(),
                    command: "init",
                    detail: out.stderr,
                });
            }
            Err(e) => return Err(e),
        };
        drop(out);
        let config = staging.join("config");
        let mut text = tokio::fs::read_to_string(&config)
            .await
            .map_err(|e| GitError::io("read", &config, e))?;
        // No automatic gc: it could prune commits only `refs/ferry` or a tree still names,
        // and a detached gc would outlive the command's lock and timeout.
        text.push_str(
            "[gc]\n\tauto = 0\n[maintenance]\n\tauto = false\n[core]\n\tlogAllRefUpdates = false\n",
        );
        tokio::fs::write(&config, text)
            .await
            .map_err(|e| GitError::io("write", &config, e))?;
        let description = staging.join("description");
        tokio::fs::write(&description, format!("{}\n", t.url.redacted))
            .await
            .map_err(|e| GitError::io("write", &description, e))?;
        if let Err(e) = tokio::fs::rename(&staging, &t.bare).await {
            let _ = tokio::fs::remove_dir_all(&staging).await;
            if !is_dir(&t.bare).await {
                return Err(GitError::io("move the new bare cache to", &t.bare, e));
            }
        }
        Ok(())
    }

    /// Writes the commit's tree to `tmp/`, then renames it to `dest`.
    async fn materialise(
        &self,
        t: &Target<'_>,
        commit: &CommitId,
        dest: &Path,
    ) -> Result<(), GitError> {
        let id = uuid::Uuid::new_v4();
        let work = self.inner.tmp.join(format!("tree-{id}"));
        let index = self.inner.tmp.join(format!("index-{id}"));
        tokio::fs::create_dir(&work)
            .await
            .map_err(|e| GitError::io("create", &work, e))?;
        let args = [
            os("--work-tree"),
            work.as_os_str(),
            os("read-tree"),
            os("--reset"),
            os("-u"),
            os(commit.as_str()),
        ];
        let env = [("GIT_INDEX_FILE", index.as_os_str())];
        let out = self
            .inner
            .runner
            .local("read-tree", Some(&t.bare), &args, &env, &t.url)
            .await;
        let _ = tokio::fs::remove_file(&index).await;
        let failed = match out {
            Ok(out) if out.success => None,
            Ok(out) => Some(GitError::GitFailed {
                repo: t.url.redacted.clone(),
                command: "read-tree",
                detail: out.stderr,
            }),
            Err(e) => Some(e),
        };
        if let Some(e) = failed {
            let _ = tokio::fs::remove_dir_all(&work).await;
            return Err(e);
        }
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| GitError::io("create", parent, e))?;
        }
        if let Err(e) = tokio::fs::rename(&work, dest).await {
            let _ = tokio::fs::remove_dir_all(&work).await;
            if !is_dir(dest).await {
                return Err(GitError::io("move the materialised tree to", dest, e));
            }
            return Ok(());
        }
        self.inner
            .stats
            .materialisations
            .fetch_add(1, Ordering::Relaxed);
        tracing::debug!(repo = %t.url.redacted, %commit, "materialised");
        Ok(())
    }
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}
