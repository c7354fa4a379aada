//! Argo CD config management plugins (CMP v2, the "sidecar" `ConfigManagementPlugin`
//! format), run as local processes so that an existing `plugin.yaml` works unchanged.
//!
//! - [`load_plugins`] / [`PluginSpec::from_yaml`]: the configuration files.
//! - [`select_plugin`]: the plugin an Application names in `spec.source.plugin.name`
//!   (`<metadata.name>`, or `<metadata.name>-<spec.version>` when a version is set), whose
//!   discovery rules, if it has any, must also match (as in Argo CD); or, when it names none,
//!   the first plugin in discovery order whose rules match (`discover.fileName`, else
//!   `discover.find.glob`, else `discover.find.command`; plugins without rules are only used
//!   by name).
//! - [`preselect_plugin`]: the same choice when it needs no command (a name, `fileName` or
//!   `find.glob`), so that a caller knows the plugin before it queues the run.
//! - [`run_plugin`]: copies the checkout into a fresh scratch directory, runs `init` (if
//!   any) and then `generate` in the source path of the copy with a clean environment (the
//!   controller's `PATH`, `HOME` and `TMPDIR` inside the scratch directory, and the variables
//!   Argo CD sets, see `env`), each command under a timeout that kills its process group,
//!   and parses `generate`'s stdout with the rules of manifest files. Stdout is spooled to
//!   disk and counted as it comes (see `exec`); a symbolic link out of the checkout is never
//!   followed, and fails the run only where the plugin reads (see `scratch`).
//! - [`plugin_cache_variant`]: what distinguishes one plugin render from another in the
//!   [`RenderCache`](crate::RenderCache).
//!
//! Deliberate differences from Argo CD: nothing of the controller's own environment reaches
//! a plugin (a sidecar sees its container's environment); `provideGitCreds` is not honoured;
//! dynamic parameter announcements are not run (they only feed a UI); a JSON array on stdout
//! is accepted as a list of objects.

use std::path::{Path, PathBuf};
use std::time::Duration;

mod discover;
mod env;
mod error;
mod exec;
mod scratch;
mod spec;

pub use env::{BuildEnv, PluginParameter, PluginRequest, plugin_cache_variant};
pub use error::{ExitKind, PluginCommandKind, PluginError};
pub use spec::{Discover, ParameterAnnouncement, PluginCommand, PluginSpec, load_plugins};

use crate::{Limits, Rendered, manifest, walk};
use exec::Invocation;
use ferry_core::Sensitive;
use scratch::Scratch;

/// Bounds on one plugin run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginLimits {
    /// How long each command (`init`, `generate`, `discover.find.command`) may run before its
    /// process group is killed.
    pub timeout: Duration,
    /// Most bytes a command may write to stdout; more kills it and is an error, never a
    /// truncation. Stdout is spooled to disk while the command runs (see `exec`), so this
    /// bounds the memory of an output that is kept (and parsed), not of one that overflows.
    pub max_output_bytes: u64,
    /// How much of the end of a command's stderr is kept for error messages.
    pub max_stderr_bytes: usize,
    /// Most bytes of regular files copied from the checkout into the scratch directory.
    pub max_copy_bytes: u64,
    /// Most YAML or JSON documents in the output (empty ones included).
    pub max_documents: usize,
    /// Most nodes that YAML alias expansion may produce in the output.
    pub max_alias_nodes: u64,
}

impl Default for PluginLimits {
    /// 90 s per command (Argo CD's `ARGOCD_EXEC_TIMEOUT` default), 16 MiB of output, 4 KiB
    /// of stderr, 1 GiB copied, and the directory renderer's document and alias limits.
    ///
    /// 16 MiB: the output is parsed and its objects kept (as JSON values, several times the
    /// text) in the render cache, so the limit is what one render may make the controller
    /// hold. Large charts with their CRDs render a few MiB; 16 MiB leaves room for several
    /// times that, and for more than the directory renderer's 10 MiB per file.
    fn default() -> Self {
        let render = Limits::default();
        PluginLimits {
            timeout: Duration::from_secs(90),
            max_output_bytes: 16 * 1024 * 1024,
            max_stderr_bytes: 4 * 1024,
            max_copy_bytes: 1024 * 1024 * 1024,
            max_documents: render.max_documents,
            max_alias_nodes: render.max_alias_nodes,
        }
    }
}

/// The checked source: the canonical checkout root, the source path's components, and its
/// directory in the checkout (symbolic links resolved).
struct Source {
    root: PathBuf,
    components: Vec<String>,
    app: PathBuf,
}

impl Source {
    fn check(checkout_root: &Path, source_path: &str) -> Result<Source, PluginError> {
        let components = walk::normalize_source_path(source_path)
            .map_err(|source| PluginError::Source { source })?;
        let root = std::fs::canonicalize(checkout_root).map_err(|e| PluginError::Source {
            source: crate::RenderError::Io {
                path: ".".to_string(),
                source: e,
            },
        })?;
        let app = walk::resolve_app_dir(&root, &components, source_path)
            .map_err(|source| PluginError::Source { source })?;
        Ok(Source {
            root,
            components,
            app,
        })
    }
}

/// Where the commands of one run work: the source path's directory in the copy, the full
/// environment, and the directory stdout is spooled to.
struct Workspace {
    app_dir: PathBuf,
    env: Vec<(String, std::ffi::OsString)>,
    spool_dir: PathBuf,
}

/// Everything a command of one plugin runs with, besides the command.
struct Context<'a> {
    plugin: String,
    spec: &'a PluginSpec,
    source: &'a Source,
    env: Vec<(String, std::ffi::OsString)>,
    limits: &'a PluginLimits,
    scratch_parent: &'a Path,
}

impl<'a> Context<'a> {
    fn new(
        spec: &'a PluginSpec,
        source: &'a Source,
        request: &PluginRequest,
        build_env: &BuildEnv,
        limits: &'a PluginLimits,
        scratch_parent: &'a Path,
    ) -> Result<Context<'a>, PluginError> {
        let plugin = spec.full_name();
        let mut env = Vec::new();
        for (name, value) in env::plugin_env(request, build_env) {
            if name.contains('\0') || value.contains('\0') || name.is_empty() {
                return Err(PluginError::InvalidEnv {
                    plugin,
                    variable: name,
                });
            }
            // `os/exec` splits "NAME=VALUE" at the first `=`; so does this.
            let (name, value) = match name.split_once('=') {
                Some((n, rest)) => (n.to_string(), format!("{rest}={value}")),
                None => (name, value),
            };
            env.push((name, value.into()));
        }
        Ok(Context {
            plugin,
            spec,
            source,
            env,
            limits,
            scratch_parent,
        })
    }

    /// Runs `f` on a fresh copy of the checkout (the source path's directory in it, and the
    /// full environment), then removes the copy.
    fn in_scratch<T>(
        &self,
        f: impl FnOnce(&Workspace) -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let scratch = Scratch::create(self.scratch_parent, &self.plugin)?;
        let result = scratch
            .populate(
                &self.source.root,
                &self.source.components,
                &self.source.app,
                self.spec.preserve_file_mode,
                self.limits,
            )
            .and_then(|app_dir| {
                let mut env = scratch.base_env();
                env.extend(self.env.iter().cloned());
                f(&Workspace {
                    app_dir,
                    env,
                    spool_dir: scratch.path().to_path_buf(),
                })
            });
        let removed = scratch.remove();
        let value = result?;
        removed?;
        Ok(value)
    }

    fn invocation<'i>(
        &'i self,
        kind: PluginCommandKind,
        command: &'i PluginCommand,
        workspace: &'i Workspace,
    ) -> Invocation<'i> {
        Invocation {
            plugin: &self.plugin,
            kind,
            command,
            cwd: &workspace.app_dir,
            env: &workspace.env,
            limits: self.limits,
            spool_dir: &workspace.spool_dir,
        }
    }

    /// `Ok(Ok(()))` when the plugin's discovery rule matches, `Ok(Err(why not))` when it does
    /// not; `Err` when the source cannot be copied.
    /// `Ok(None)` when only a `discover.find.command` can tell and `run_commands` is off.
    fn discover(&self, run_commands: bool) -> Result<Option<Result<(), String>>, PluginError> {
        let rules = &self.spec.discover;
        let (root, source) = (&self.source.root, &self.source.components);
        let verdict = |found: Result<bool, String>, rule: &str, pattern: &str| match found {
            Ok(true) => Ok(()),
            Ok(false) => Err(format!("{rule} {pattern:?} matches nothing")),
            Err(bad) => Err(format!("{rule} {bad}")),
        };
        if let Some(pattern) = &rules.file_name {
            let found = discover::file_name_matches(root, source, pattern);
            return Ok(Some(verdict(found, "discover.fileName", pattern)));
        }
        if let Some(pattern) = &rules.find_glob {
            let found = discover::find_glob_matches(root, source, pattern);
            return Ok(Some(verdict(found, "discover.find.glob", pattern)));
        }
        let Some(command) = &rules.find_command else {
            return Ok(Some(Err("no discover rules".to_string())));
        };
        if !run_commands {
            return Ok(None);
        }
        let prefix = format!("plugin {:?}: ", self.plugin);
        self.in_scratch(|workspace| {
            let inv = self.invocation(PluginCommandKind::Discover, command, workspace);
            Ok(Some(match exec::run(&inv) {
                Ok(out) => {
                    let out = out.strip_suffix(b"\n").unwrap_or(&out);
                    if out.is_empty() {
                        Err("discover.find.command printed nothing".to_string())
                    } else {
                        Ok(())
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    Err(message
                        .strip_prefix(&prefix)
                        .unwrap_or(&message)
                        .to_string())
                }
            }))
        })
    }
}

/// The plugin to render `source_path` with: the one `request.name` names (its discovery
/// rules, if any, must match), or the first in `plugins`' order whose rules match.
///
/// Blocking (a `discover.find.command` runs on a scratch copy of the checkout, under
/// `limits`, with the same environment as `generate`); call it from `spawn_blocking`.
pub fn select_plugin<'p>(
    plugins: &'p [PluginSpec],
    request: &PluginRequest,
    checkout_root: &Path,
    source_path: &str,
    build_env: &BuildEnv,
    limits: &PluginLimits,
    scratch_parent: &Path,
) -> Result<&'p PluginSpec, PluginError> {
    let choose = Choose {
        plugins,
        request,
        checkout_root,
        source_path,
        build_env,
        limits,
        scratch_parent,
    };
    choose
        .select(true)?
        .ok_or_else(|| PluginError::NoneDiscovered {
            path: source_path.to_string(),
            tried: Vec::new(),
        })
}

/// [`select_plugin`] without running any command: `Ok(None)` when a plugin's
/// `discover.find.command` would have to decide (the caller then runs [`select_plugin`] where
/// commands may run). Only file IO on the checkout; cheap enough to run before every render
/// so that the plugin is known (for per-plugin limits, and the cache key) before any wait.
pub fn preselect_plugin<'p>(
    plugins: &'p [PluginSpec],
    request: &PluginRequest,
    checkout_root: &Path,
    source_path: &str,
    build_env: &BuildEnv,
    scratch_parent: &Path,
) -> Result<Option<&'p PluginSpec>, PluginError> {
    let limits = PluginLimits::default();
    let choose = Choose {
        plugins,
        request,
        checkout_root,
        source_path,
        build_env,
        limits: &limits,
        scratch_parent,
    };
    choose.select(false)
}

/// The arguments of a selection.
struct Choose<'a, 'p> {
    plugins: &'p [PluginSpec],
    request: &'a PluginRequest,
    checkout_root: &'a Path,
    source_path: &'a str,
    build_env: &'a BuildEnv,
    limits: &'a PluginLimits,
    scratch_parent: &'a Path,
}

impl<'p> Choose<'_, 'p> {
    /// `Ok(None)` only when `run_commands` is off and a command would have to decide.
    fn select(&self, run_commands: bool) -> Result<Option<&'p PluginSpec>, PluginError> {
        let (plugins, request) = (self.plugins, self.request);
        let source = Source::check(self.checkout_root, self.source_path)?;
        let context = |spec| {
            let (env, limits) = (self.build_env, self.limits);
            Context::new(spec, &source, request, env, limits, self.scratch_parent)
        };
        if let Some(name) = request.name.as_deref().filter(|n| !n.is_empty()) {
            let spec = plugins
                .iter()
                .find(|p| p.full_name() == name)
                .ok_or_else(|| PluginError::NotFound {
                    name: name.to_string(),
                    known: plugins.iter().map(PluginSpec::full_name).collect(),
                })?;
            if !spec.discover.is_configured() {
                return Ok(Some(spec));
            }
            return match context(spec)?.discover(run_commands)? {
                None => Ok(None),
                Some(Ok(())) => Ok(Some(spec)),
                Some(Err(reason)) => Err(PluginError::NotSupported {
                    name: name.to_string(),
                    reason,
                }),
            };
        }
        let mut tried = Vec::new();
        for spec in plugins {
            if !spec.discover.is_configured() {
                tried.push(format!(
                    "{}: no discover rules, used only when named",
                    spec.full_name()
                ));
                continue;
            }
            match context(spec)?.discover(run_commands)? {
                None => return Ok(None),
                Some(Ok(())) => return Ok(Some(spec)),
                Some(Err(reason)) => tried.push(format!("{}: {reason}", spec.full_name())),
            }
        }
        Err(PluginError::NoneDiscovered {
            path: self.source_path.to_string(),
            tried,
        })
    }
}

/// Renders `source_path` of the checkout with the plugin `spec`.
///
/// The whole checkout is copied into a new directory under `scratch_parent` (so the plugin
/// may write files and read files outside the source path, like `../values`); `init` (when
/// set) and `generate` run in the source path of the copy, each within `limits.timeout`;
/// `generate`'s stdout is parsed as YAML documents or JSON into objects whose `file` is
/// `<plugin> output`. The scratch directory is removed afterwards, whatever happened.
///
/// Blocking (processes and file IO): call it from `spawn_blocking`.
pub fn run_plugin(
    spec: &PluginSpec,
    checkout_root: &Path,
    source_path: &str,
    request: &PluginRequest,
    build_env: &BuildEnv,
    limits: &PluginLimits,
    scratch_parent: &Path,
) -> Result<Rendered, PluginError> {
    let run = PluginRun {
        root: checkout_root,
        source_path,
        request,
        build_env,
        limits,
        scratch_parent,
    };
    run.with_private_env(spec, &[])
}

/// The arguments of [`run_plugin`], for a run with a private environment.
#[derive(Debug, Clone, Copy)]
pub struct PluginRun<'a> {
    pub root: &'a Path,
    pub source_path: &'a str,
    pub request: &'a PluginRequest,
    pub build_env: &'a BuildEnv,
    pub limits: &'a PluginLimits,
    pub scratch_parent: &'a Path,
}

impl PluginRun<'_> {
    /// [`run_plugin`], with `private` added to the environment of `init` and `generate`
    /// (never of a `discover.find.command`): credentials the plugin was given, say. The
    /// values are in no cache key and no error (a value with a NUL fails naming the
    /// variable only).
    pub fn with_private_env(
        &self,
        spec: &PluginSpec,
        private: &[(&str, Sensitive<String>)],
    ) -> Result<Rendered, PluginError> {
        render_with(spec, self, private)
    }
}

fn render_with(
    spec: &PluginSpec,
    run: &PluginRun<'_>,
    private: &[(&str, Sensitive<String>)],
) -> Result<Rendered, PluginError> {
    let PluginRun {
        root: checkout_root,
        source_path,
        request,
        build_env,
        limits,
        scratch_parent,
    } = *run;
    let source = Source::check(checkout_root, source_path)?;
    let mut context = Context::new(spec, &source, request, build_env, limits, scratch_parent)?;
    for (name, value) in private {
        if value.expose().contains('\0') {
            return Err(PluginError::InvalidEnv {
                plugin: context.plugin,
                variable: (*name).to_string(),
            });
        }
        context.env.retain(|(n, _)| n != name);
        context
            .env
            .push(((*name).to_string(), value.expose().into()));
    }
    let output = context.in_scratch(|workspace| {
        if let Some(init) = &spec.init {
            exec::run(&context.invocation(PluginCommandKind::Init, init, workspace))?;
        }
        let generate = &spec.generate;
        exec::run(&context.invocation(PluginCommandKind::Generate, generate, workspace))
    })?;
    let parse_limits = Limits {
        max_documents: limits.max_documents,
        max_alias_nodes: limits.max_alias_nodes,
        ..Limits::default()
    };
    let label = format!("{} output", context.plugin);
    let objects = manifest::render_stream(&label, &output, &parse_limits).map_err(|source| {
        PluginError::Output {
            plugin: context.plugin.clone(),
            source,
        }
    })?;
    Ok(Rendered::new(objects))
}
