//! The source service as a one-shot command uses it (`ferry app diff`, `ferry appset
//! preview`): the same resolve, checkout and render as the controller's, with a small render
//! cache and every revision resolved afresh.

use std::path::PathBuf;
use std::time::Duration;

use ferry_git::{GitCache, GitConfig, GitError};
use ferry_render::RenderCache;
use serde_json::Value;

use crate::Sources;

impl Sources {
    /// A source service for one command: Git caches under `git_root`, credentials from the
    /// repository Secrets `repo_secrets` (Argo CD's `repository`/`repo-creds` format).
    pub fn for_command(
        git_root: PathBuf,
        allow_file_urls: bool,
        repo_secrets: &[Value],
    ) -> Result<Sources, GitError> {
        let mut git_config = GitConfig::new(git_root);
        git_config.allow_file_urls = allow_file_urls;
        let sources = Sources::new(
            GitCache::new(git_config)?,
            RenderCache::new(4),
            Duration::ZERO,
        );
        sources.set_repo_secrets(ferry_git::repositories_from_secrets(repo_secrets));
        Ok(sources)
    }
}
