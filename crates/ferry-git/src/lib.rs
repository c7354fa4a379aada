//! Git for Ferry's application controller (layer 3 adapter), by shelling out to the `git` CLI,
//! the most faithful client there is (Argo CD does the same).
//!
//! ```no_run
//! # async fn demo(secrets: Vec<serde_json::Value>) -> Result<(), ferry_git::GitError> {
//! use ferry_git::{GitCache, GitConfig, Repo, repositories_from_secrets};
//! let git = GitCache::new(GitConfig::new("/var/lib/ferry/git"))?;
//! let secrets = repositories_from_secrets(&secrets);
//! let repo = Repo::from_secrets("https://github.com/org/deploy.git", &secrets);
//! let commit = git.resolve(&repo, "main").await?;     // branch, tag, sha, short sha, HEAD, ""
//! let checkout = git.checkout(&repo, &commit).await?; // <root>/trees/<repo-key>/<commit>/
//! println!("{} at {}", checkout.path.display(), checkout.commit);
//! # Ok(()) }
//! ```
//!
//! # What it does
//!
//! - [`GitCache::resolve`] turns a `targetRevision` into a [`CommitId`]: `git ls-remote` for
//!   `HEAD`/`""`, branches, tags (annotated tags peeled) and full ref names, so a new push is
//!   seen at the next call; a full commit id is checked in the cache (fetched if absent); an
//!   abbreviated one is expanded in the cache.
//! - One bare cache per repository URL (`<root>/repos/<key>.git`, the key a hash of the URL
//!   with host case, `.git`, trailing `/` and an HTTPS user ignored), shared by every
//!   Application, fetched (`+refs/heads/*`, `+refs/tags/*`, `--prune --atomic`) under a
//!   per-repository async mutex. A failed or killed fetch leaves the cache as it was.
//! - [`GitCache::checkout`] materialises a commit once into `<root>/trees/<key>/<commit>/`
//!   (written in `<root>/tmp/`, renamed into place); later checkouts are a `stat`.
//! - Credentials ([`Credentials`]) come from Argo CD-style repository and `repo-creds`
//!   Secrets ([`repositories_from_secrets`], [`credentials_for`], [`Repo::from_secrets`]).
//!
//! # Security
//!
//! - Credentials never reach argv, URLs, files other than a per-command 0600 SSH key, logs or
//!   errors: HTTPS passwords/tokens go through `GIT_ASKPASS` (a script under `<root>/bin`
//!   that prints `FERRY_GIT_USERNAME`/`FERRY_GIT_PASSWORD` from git's environment); SSH keys
//!   through `GIT_SSH_COMMAND="ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i
//!   <key> -o StrictHostKeyChecking=accept-new|no ..."`. A password written into a URL is
//!   removed from it and used the same way. Errors show URLs with the password redacted and
//!   git's stderr with every credential in use replaced by `<redacted>`.
//! - git runs with a cleared environment (only [`GitConfig::passthrough_env`] is kept),
//!   `HOME` at `<root>/home`, `GIT_CONFIG_NOSYSTEM=1`, `GIT_CONFIG_GLOBAL=/dev/null`,
//!   `GIT_TERMINAL_PROMPT=0`, `LC_ALL=C`, `GIT_ALLOW_PROTOCOL` (no `ext::`; `file` only with
//!   [`GitConfig::allow_file_urls`]), and in its own process group, killed as a whole after
//!   [`GitConfig::command_timeout`] (default 60 s).
//! - Trees hold what the commit holds, symlinks included (pointing anywhere); readers of a
//!   checkout must not follow links out of it.
//! - The caches are shared across Applications: a commit already fetched with one
//!   Application's credentials is served to another without asking the server again. Who
//!   may use which repository is the controller's (project policy's) decision.
//!
//! # Errors
//!
//! [`GitError`] variants are classes a user can act on: `RevisionNotFound`,
//! `RepositoryNotFound`, `AuthenticationFailed`, `InvalidUrl` (fix the Application or the
//! Secret) versus `Unreachable`, `Timeout`, `Io` ([`GitError::is_transient`]: retry).
//!
//! # Testing
//!
//! The integration tests serve real repositories over `git daemon` (git://) and over smart
//! HTTP with Basic auth ([`testserver`], feature `test-server`). SSH is covered by unit tests
//! of the command construction only: there is no sshd on the build machines.
//!
//! # Not yet
//!
//! Submodules, Git LFS, GitHub App / bearer-token / TLS client-certificate / proxy fields of
//! repository Secrets, custom SSH known hosts, garbage collection of `repos/` and `trees/`,
//! and shallow fetches. Trees are plain files without `.git`.

mod cache;
mod command;
mod config;
mod credentials;
mod disk;
mod error;
mod repourl;
mod revision;
#[cfg(feature = "test-server")]
pub mod testserver;

pub use cache::{Checkout, GitCache, GitStats};
pub use config::{DEFAULT_COMMAND_TIMEOUT, DEFAULT_PASSTHROUGH_ENV, GitConfig, Repo};
pub use credentials::{
    Credentials, RepoSecret, RepoSecretError, RepoSecretKind, credentials_for, insecure_for,
    repositories_from_secrets,
};
pub use error::GitError;
pub use revision::{CommitId, InvalidCommitId};
