//! Why loading, choosing or running a config management plugin failed.
//!
//! Messages are shown to users in an Application condition: each names the plugin (by the
//! name an Application uses, `<name>` or `<name>-<version>`) and the cause, and paths are
//! relative to the repository, never the scratch directory on this machine.

use std::fmt;
use std::time::Duration;

use thiserror::Error;

use crate::RenderError;

/// Which of a plugin's commands ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PluginCommandKind {
    /// `spec.init`.
    Init,
    /// `spec.generate`.
    Generate,
    /// `spec.discover.find.command`.
    Discover,
}

impl fmt::Display for PluginCommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PluginCommandKind::Init => "init",
            PluginCommandKind::Generate => "generate",
            PluginCommandKind::Discover => "discover.find",
        })
    }
}

/// How a command ended when it did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// It exited with this non-zero code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Code(code) => write!(f, "exit code {code}"),
            ExitKind::Signal(signal) => write!(f, "signal {signal}"),
        }
    }
}

/// What went wrong with a config management plugin.
#[derive(Debug, Error)]
pub enum PluginError {
    /// A plugin configuration file is not a valid `ConfigManagementPlugin`.
    #[error("plugin configuration {origin}: {message}")]
    InvalidSpec {
        /// The file (or the origin the caller gave).
        origin: String,
        /// What is wrong, naming the field.
        message: String,
    },

    /// Two configuration files define plugins with the same name.
    #[error("plugin {name:?} is defined twice: in {first} and in {second}")]
    DuplicateName {
        /// `<name>` or `<name>-<version>`.
        name: String,
        /// The first file.
        first: String,
        /// The second file.
        second: String,
    },

    /// Reading the plugin configuration directory failed.
    #[error("reading plugin configuration {path}: {source}")]
    ConfigIo {
        /// The file or directory.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The Application names a plugin that is not installed.
    #[error(
        "plugin {name:?} is not installed (installed: {})",
        list_or_none(known, ", ")
    )]
    NotFound {
        /// The name the Application gave.
        name: String,
        /// The installed plugins' names.
        known: Vec<String>,
    },

    /// The named plugin has discovery rules and they do not match the source.
    #[error("plugin {name:?} does not support this source: {reason}")]
    NotSupported {
        /// The plugin.
        name: String,
        /// Which rule did not match.
        reason: String,
    },

    /// The Application names no plugin and no plugin's discovery rules match.
    #[error(
        "no plugin supports source path {path:?} (tried: {})",
        list_or_none(tried, "; ")
    )]
    NoneDiscovered {
        /// The source path.
        path: String,
        /// Each plugin with why it did not match.
        tried: Vec<String>,
    },

    /// The source path or a symbolic link in the repository is not acceptable (escapes the
    /// repository, does not exist).
    #[error("{source}")]
    Source {
        /// What is wrong with the source.
        #[source]
        source: RenderError,
    },

    /// The repository is larger than [`PluginLimits::max_copy_bytes`](crate::PluginLimits).
    #[error(
        "plugin {plugin:?}: the repository is larger than the limit of {limit} bytes that may be copied for a plugin"
    )]
    CheckoutTooLarge {
        /// The plugin.
        plugin: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// An environment variable cannot be passed to a process (it holds a NUL byte).
    #[error("plugin {plugin:?}: environment variable {variable:?} contains a NUL byte")]
    InvalidEnv {
        /// The plugin.
        plugin: String,
        /// The variable's name.
        variable: String,
    },

    /// A command could not be started.
    #[error("plugin {plugin:?}: cannot start the {command} command {program:?}: {source}")]
    Spawn {
        /// The plugin.
        plugin: String,
        /// Which command.
        command: PluginCommandKind,
        /// The program (first element of `command`).
        program: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A command exited with a non-zero code or was killed by a signal.
    #[error(
        "plugin {plugin:?}: {command} command failed with {exit}{}",
        stderr_suffix(stderr)
    )]
    CommandFailed {
        /// The plugin.
        plugin: String,
        /// Which command.
        command: PluginCommandKind,
        /// The exit code or signal.
        exit: ExitKind,
        /// The end of what the command wrote to stderr, trimmed.
        stderr: String,
    },

    /// A command ran longer than [`PluginLimits::timeout`](crate::PluginLimits); it and
    /// its process group were killed.
    #[error(
        "plugin {plugin:?}: {command} command did not finish within {}s and was killed{}",
        limit.as_secs_f64(),
        stderr_suffix(stderr)
    )]
    Timeout {
        /// The plugin.
        plugin: String,
        /// Which command.
        command: PluginCommandKind,
        /// The limit.
        limit: Duration,
        /// The end of what the command wrote to stderr, trimmed.
        stderr: String,
    },

    /// A command wrote more than [`PluginLimits::max_output_bytes`](crate::PluginLimits)
    /// to stdout; it was killed.
    #[error("plugin {plugin:?}: {command} command wrote more than {limit} bytes to stdout")]
    OutputTooLarge {
        /// The plugin.
        plugin: String,
        /// Which command.
        command: PluginCommandKind,
        /// The limit in bytes.
        limit: u64,
    },

    /// The generate command's output is not a stream of Kubernetes objects.
    #[error("plugin {plugin:?} generated invalid manifests: {source}")]
    Output {
        /// The plugin.
        plugin: String,
        /// What is wrong, as for a manifest file (the "file" is `<plugin> output`).
        #[source]
        source: RenderError,
    },

    /// Preparing, reading or removing the plugin's scratch directory failed.
    #[error("plugin {plugin:?}: {action} {path:?}: {source}")]
    Io {
        /// The plugin.
        plugin: String,
        /// What was being done (`copy`, `remove the scratch directory`, ...).
        action: &'static str,
        /// The path, relative to the repository (or the scratch directory's name).
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

fn list_or_none(items: &[String], separator: &str) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(separator)
    }
}

fn stderr_suffix(stderr: &str) -> String {
    if stderr.is_empty() {
        String::new()
    } else {
        format!(": {stderr}")
    }
}
