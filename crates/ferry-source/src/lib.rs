//! From an application's source to objects: resolve the target revision (remembered for one
//! poll interval unless a refresh is asked for), check the commit out (cached by commit), and
//! render it (cached by repository, commit, path and options). Config management plugins
//! render in their own bounded pool with a backoff after failures, never holding the caller
//! for long (`plugin_runs`). `ref+awsssm://` / `ref+awssecrets://` references in the rendered
//! objects are resolved after the render cache, in the application's AWS account (`secrets`).

#![forbid(unsafe_code)]

mod command;
mod plugin_runs;
mod secrets;
#[cfg(test)]
mod tests;

pub use plugin_runs::{PluginRunConfig, PluginRunError, PluginRuns, Plugins, RunFailure};
pub use secrets::{
    AWS_EXTERNAL_ID_ANNOTATION, AWS_REGION_ANNOTATION, AWS_ROLE_ARN_ANNOTATION, AppAws,
    PLUGIN_AWS_CREDENTIALS_ANNOTATION, Redactions, SecretAccess, SecretError,
};

use ferry_core::locks;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferry_api::ApplicationSource;
use ferry_git::{CommitId, GitCache, GitError, Repo, RepoSecret};
use ferry_render::{DirectoryOptions, RenderCache, RenderError, Rendered};
use tokio::time::Instant;

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("rendering {path:?} at {commit}: {source}")]
    Render {
        path: String,
        commit: String,
        source: RenderError,
    },
    #[error("rendering {path:?} at {commit} with a config management plugin: {source}")]
    Plugin {
        path: String,
        commit: String,
        source: PluginRunError,
    },
    /// A secret reference of the rendered objects could not be resolved (or a plugin's AWS
    /// credentials could not be had).
    #[error("rendering {path:?} at {commit}: {source}")]
    Secrets {
        path: String,
        commit: String,
        source: Box<SecretError>,
    },
    #[error("rendering {path:?} at {commit}: {reason}")]
    Internal {
        path: String,
        commit: String,
        reason: String,
    },
}

impl SourceError {
    /// A plugin render of this source is running or waits for a slot: not a failure, just
    /// not done yet (the application is woken when it ends).
    pub fn is_pending(&self) -> bool {
        matches!(
            self,
            SourceError::Plugin {
                source: PluginRunError::Running { .. } | PluginRunError::Queued { .. },
                ..
            }
        )
    }
}

/// `(repository URL, revision)`.
type RevisionKey = (String, String);

/// Git and rendering, shared by every application.
#[derive(Clone)]
pub struct Sources {
    git: GitCache,
    render: Arc<RenderCache>,
    /// (repo URL, revision) → (commit, when resolved).
    resolved: Arc<Mutex<HashMap<RevisionKey, (CommitId, Instant)>>>,
    /// Repository credentials, from Secrets.
    repo_secrets: Arc<Mutex<Vec<RepoSecret>>>,
    resolve_ttl: Duration,
    plugins: Arc<PluginRuns>,
    /// Reads secret references and hands plugins credentials; `None`: references fail.
    aws: Option<ferry_aws::Aws>,
    /// Resolved values, kept for `resolve_ttl`.
    secret_values: Arc<secrets::SecretValues>,
}

/// What a plugin learns of the application besides its source (Argo CD's build
/// environment).
#[derive(Debug, Clone, Default)]
pub struct AppContext {
    pub app_name: String,
    pub app_namespace: String,
    pub project: String,
    pub kube_version: String,
    pub kube_api_versions: Vec<String>,
    /// Whose AWS account references are read in, and whether a plugin gets credentials.
    pub aws: AppAws,
}

impl std::fmt::Debug for Sources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sources").finish_non_exhaustive()
    }
}

/// What a source rendered to. `Debug` shows the commit and counts, never the objects (they
/// hold resolved secret values).
#[derive(Clone)]
pub struct Resolved {
    /// The commit rendered, as resolved once (it travels as this type to the status).
    pub commit: CommitId,
    /// The objects, with secret references replaced by their values.
    pub rendered: Arc<Rendered>,
    /// The values put in, to be replaced back in any text made from the objects.
    pub redactions: Redactions,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolved")
            .field("commit", &self.commit)
            .field("objects", &self.rendered.len())
            .field("redactions", &self.redactions)
            .finish()
    }
}

impl Sources {
    pub fn new(git: GitCache, render: RenderCache, resolve_ttl: Duration) -> Self {
        let render = Arc::new(render);
        Self {
            git,
            render: render.clone(),
            resolved: Arc::new(Mutex::new(HashMap::new())),
            repo_secrets: Arc::new(Mutex::new(Vec::new())),
            resolve_ttl,
            plugins: Arc::new(PluginRuns::new(Plugins::default(), render)),
            aws: None,
            secret_values: Arc::new(secrets::SecretValues::new(resolve_ttl)),
        }
    }

    /// With the process's AWS adapter: secret references are resolved, and plugins that
    /// opt in get credentials (see `secrets`).
    pub fn with_aws(mut self, aws: ferry_aws::Aws) -> Self {
        self.aws = Some(aws);
        self
    }

    /// With these config management plugins.
    pub fn with_plugins(mut self, plugins: Plugins) -> Self {
        self.plugins = Arc::new(PluginRuns::new(plugins, self.render.clone()));
        self
    }

    /// Calls `wake` with an application's name when a plugin render it waited for has
    /// ended, or when the backoff after its failure is over (call after `with_plugins`).
    pub fn on_plugin_settled(&self, wake: impl Fn(&str) + Send + Sync + 'static) {
        self.plugins.on_settled(wake);
    }

    /// Forgets the commits resolved for `url` (every revision), so that the next render
    /// asks the server again: a push webhook said it changed.
    pub fn invalidate(&self, url: &str) {
        locks::lock(&self.resolved).retain(|(u, _), _| u != url);
    }

    pub fn git(&self) -> &GitCache {
        &self.git
    }

    pub fn render_cache(&self) -> &RenderCache {
        &self.render
    }

    /// Replaces the known repository Secrets.
    pub fn set_repo_secrets(&self, secrets: Vec<RepoSecret>) {
        *locks::lock(&self.repo_secrets) = secrets;
    }

    fn repo(&self, url: &str) -> Repo {
        let secrets = locks::lock(&self.repo_secrets);
        Repo::from_secrets(url, &secrets)
    }

    /// The commit `revision` names (`refresh` skips the remembered answer).
    pub async fn resolve(
        &self,
        url: &str,
        revision: &str,
        refresh: bool,
    ) -> Result<CommitId, SourceError> {
        let revision = if revision.is_empty() {
            "HEAD"
        } else {
            revision
        };
        let key = (url.to_owned(), revision.to_owned());
        if !refresh {
            let cache = locks::lock(&self.resolved);
            if let Some((commit, at)) = cache.get(&key)
                && at.elapsed() < self.resolve_ttl
            {
                return Ok(commit.clone());
            }
        }
        let commit = self.git.resolve(&self.repo(url), revision).await?;
        locks::lock(&self.resolved).insert(key, (commit.clone(), Instant::now()));
        Ok(commit)
    }

    /// The checkout of the commit `revision` of `url` names (`refresh` resolves it again).
    pub async fn checkout(
        &self,
        url: &str,
        revision: &str,
        refresh: bool,
    ) -> Result<std::path::PathBuf, SourceError> {
        let commit = self.resolve(url, revision, refresh).await?;
        Ok(self.git.checkout(&self.repo(url), &commit).await?.path)
    }

    /// Resolves (unless `revision` overrides it), checks out and renders a source.
    /// `app` is needed only by plugin sources (`None` is fine for directories).
    pub async fn render(
        &self,
        source: &ApplicationSource,
        revision: Option<&str>,
        refresh: bool,
        app: Option<&AppContext>,
    ) -> Result<Resolved, SourceError> {
        let wanted = revision.unwrap_or(&source.target_revision);
        let commit = self.resolve(&source.repo_url, wanted, refresh).await?;
        let checkout = self
            .git
            .checkout(&self.repo(&source.repo_url), &commit)
            .await?;
        if let Some(plugin) = &source.plugin {
            let rendered = self
                .render_plugin(
                    source,
                    plugin,
                    commit.as_str(),
                    checkout.path.clone(),
                    app,
                    refresh,
                )
                .await?;
            return self
                .put_secrets(source, commit, rendered, app, refresh)
                .await;
        }
        let dir = source.directory.clone().unwrap_or_default();
        let opts = DirectoryOptions {
            recurse: dir.recurse,
            include: dir.include,
            exclude: dir.exclude,
        };
        let path = source.path.clone();
        let root = checkout.path.clone();
        let render = self.render.clone();
        let key = ferry_render::RenderKey::new(
            source.repo_url.clone(),
            commit.to_string(),
            &path,
            opts.clone(),
        );
        let rendered = tokio::task::spawn_blocking(move || {
            render.get_or_render(key, || {
                ferry_render::render_directory(
                    &root,
                    &path,
                    &opts,
                    &ferry_render::Limits::default(),
                )
            })
        })
        .await
        .map_err(|e| SourceError::Internal {
            path: source.path.clone(),
            commit: commit.to_string(),
            reason: e.to_string(),
        })?
        .map_err(|e| SourceError::Render {
            path: source.path.clone(),
            commit: commit.to_string(),
            source: e,
        })?;
        self.put_secrets(source, commit, rendered, app, refresh)
            .await
    }

    /// The rendered objects with their secret references resolved (`refresh`: read again).
    async fn put_secrets(
        &self,
        source: &ApplicationSource,
        commit: CommitId,
        rendered: Arc<Rendered>,
        app: Option<&AppContext>,
        refresh: bool,
    ) -> Result<Resolved, SourceError> {
        let default = AppAws::default();
        let access = &app.map_or(&default, |a| &a.aws).access;
        let outcome = secrets::resolve(
            self.aws.as_ref(),
            &self.secret_values,
            rendered,
            access,
            refresh,
        )
        .await;
        match outcome {
            Ok((rendered, redactions)) => Ok(Resolved {
                commit,
                rendered,
                redactions,
            }),
            Err(e) => Err(SourceError::Secrets {
                path: source.path.clone(),
                commit: commit.to_string(),
                source: Box::new(e),
            }),
        }
    }

    /// A plugin render through the pool: see `plugin_runs` (`refresh` skips a backoff).
    async fn render_plugin(
        &self,
        source: &ApplicationSource,
        plugin: &ferry_api::PluginSource,
        commit: &str,
        root: std::path::PathBuf,
        app: Option<&AppContext>,
        refresh: bool,
    ) -> Result<Arc<Rendered>, SourceError> {
        let app = app.cloned().unwrap_or_default();
        let (private_env, aws_identity) = secrets::plugin_env(self.aws.as_ref(), &app.aws)
            .await
            .map_err(|e| SourceError::Secrets {
                path: source.path.clone(),
                commit: commit.to_owned(),
                source: Box::new(e),
            })?;
        let request = ferry_render::PluginRequest {
            name: Some(plugin.name.clone()).filter(|n| !n.is_empty()),
            env: plugin
                .env
                .iter()
                .map(|e| (e.name.clone(), e.value.clone()))
                .collect(),
            parameters: plugin
                .parameters
                .iter()
                .map(|p| ferry_render::PluginParameter {
                    name: p.name.clone(),
                    string: p.string.clone(),
                    array: p.array.clone(),
                    map: p.map.clone(),
                })
                .collect(),
        };
        let build = ferry_render::BuildEnv {
            app_name: app.app_name,
            app_namespace: app.app_namespace,
            project: app.project,
            revision: commit.to_owned(),
            source_path: source.path.clone(),
            repo_url: source.repo_url.clone(),
            target_revision: source.target_revision.clone(),
            kube_version: app.kube_version,
            kube_api_versions: app.kube_api_versions,
        };
        let input = plugin_runs::RunInput {
            root,
            request,
            build,
            private_env,
            aws_identity,
        };
        self.plugins
            .render(input, refresh)
            .await
            .map_err(|e| SourceError::Plugin {
                path: source.path.clone(),
                commit: commit.to_owned(),
                source: e,
            })
    }
}
