//! Rendering an Application's plain-directory source into Kubernetes objects, as Argo CD's
//! "directory" source type does (`spec.source.directory`: `recurse`, `include`, `exclude`).
//!
//! An adapter (layer 3): it reads files from a checkout the git adapter made and, for
//! config management plugins only, runs the plugin's commands on a copy of it. No network of
//! its own, no async. The flow of [`render_directory`]:
//!
//! 1. `walk`: resolve the source path inside the checkout (refusing escapes), list the
//!    `*.yaml`, `*.yml` and `*.json` files in Argo CD's order, apply `include`/`exclude`, and
//!    check the size limits before reading anything.
//! 2. `manifest`: read each file, split YAML into documents (`yaml`, parsed as
//!    `sigs.k8s.io/yaml` does, with `resolve` for YAML 1.1 scalars), skip empty documents,
//!    expand `*List`s, and require `apiVersion`, `kind` and `metadata.name`.
//! 3. [`Rendered`]: the objects with where they came from, and a content hash that changes
//!    exactly when the objects do.
//!
//! [`RenderCache`] keeps recent renders by repository, commit, path and options (and, for
//! plugin renders, a variant naming the plugin and its inputs).
//!
//! The `plugin` module renders a source with an Argo CD config management plugin instead
//! (the v2 "sidecar" `ConfigManagementPlugin` format): [`load_plugins`], [`select_plugin`]
//! (by name or by discovery rules) and [`run_plugin`] (the checkout copied into a scratch
//! directory, `init` then `generate` run with Argo CD's environment variables and nothing of
//! the controller's, under a timeout that kills the process group, stdout parsed with the
//! rules above).
//!
//! # Public API
//!
//! ```text
//! pub fn render_directory(checkout_root: &Path, source_path: &str, opts: &DirectoryOptions,
//!                         limits: &Limits) -> Result<Rendered, RenderError>;  // blocking IO
//! pub struct DirectoryOptions { recurse: bool, include: Option<String>, exclude: Option<String> }
//! pub struct Limits { max_file_bytes, max_total_bytes, max_documents, max_alias_nodes }
//! pub struct Rendered;  // new(objects), objects(), into_objects(), content_hash(), len(), is_empty()
//! pub struct RenderedObject { file: String, document: usize, item: Option<usize>, object: Value }
//! pub struct RenderCache;  // new(capacity), get_or_render(key, || render),
//!                           // get_or_try_render(key, || Result<Rendered, E>), get, stats, clear
//! pub struct RenderKey { repo_url, commit, path, options, variant }
//!     // RenderKey::new(repo, commit, path, options) normalises path; .with_variant(String)
//! pub struct CacheStats { hits, misses, entries, capacity }
//! pub enum RenderError { PathEscapes, SymlinkEscapes, SymlinkLoop, NotFound, InvalidPattern,
//!                        Parse, NotAnObject, MissingField, TooLarge, TotalTooLarge,
//!                        TooManyDocuments, Io }
//!
//! // Config management plugins (blocking: processes and file IO)
//! pub fn load_plugins(dir: &Path) -> Result<Vec<PluginSpec>, PluginError>;  // discovery order
//! pub struct PluginSpec { name, version, init, generate, discover, static_parameters,
//!                         dynamic_parameters, preserve_file_mode, provide_git_creds, origin }
//!     // PluginSpec::from_yaml(text, origin), full_name() (`<name>[-<version>]`), digest()
//! pub struct PluginCommand { command: Vec<String>, args: Vec<String> }  // argv()
//! pub struct Discover { file_name, find_glob, find_command }
//! pub struct ParameterAnnouncement { name, title, tooltip, required, item_type,
//!                                    collection_type, string, array, map }  // UI only
//! pub struct PluginRequest { name: Option<String>, env: Vec<(String, String)>,
//!                            parameters: Vec<PluginParameter> }
//! pub struct PluginParameter { name, string: Option<String>, array: Option<Vec<String>>,
//!                              map: Option<BTreeMap<String, String>> }  // serde, camelCase
//! pub struct BuildEnv { app_name, app_namespace, project, revision, source_path, repo_url,
//!                       target_revision, kube_version, kube_api_versions: Vec<String> }
//! pub struct PluginLimits { timeout, max_output_bytes, max_stderr_bytes, max_copy_bytes,
//!                           max_documents, max_alias_nodes }  // Default: 90 s, 16 MiB, ...
//! pub fn select_plugin<'p>(plugins: &'p [PluginSpec], request: &PluginRequest,
//!                          checkout_root: &Path, source_path: &str, build_env: &BuildEnv,
//!                          limits: &PluginLimits, scratch_parent: &Path)
//!                          -> Result<&'p PluginSpec, PluginError>;
//! pub fn preselect_plugin<'p>(plugins, request, checkout_root, source_path, build_env,
//!                             scratch_parent) -> Result<Option<&'p PluginSpec>, PluginError>;
//!     // never runs a command: None when a discover.find.command must decide
//! pub fn run_plugin(spec: &PluginSpec, checkout_root: &Path, source_path: &str,
//!                   request: &PluginRequest, build_env: &BuildEnv, limits: &PluginLimits,
//!                   scratch_parent: &Path) -> Result<Rendered, PluginError>;
//! pub struct PluginRun { root, source_path, request, build_env, limits, scratch_parent }
//!     // .with_private_env(spec, &[(name, Sensitive value)]): run_plugin plus variables
//!     // (credentials) for init and generate only, in no cache key or error
//! pub fn plugin_cache_variant(spec: &PluginSpec, request: &PluginRequest,
//!                             build_env: &BuildEnv) -> String;  // for RenderKey::with_variant
//! pub enum PluginError { InvalidSpec, DuplicateName, ConfigIo, NotFound, NotSupported,
//!                        NoneDiscovered, Source, CheckoutTooLarge, InvalidEnv, Spawn,
//!                        CommandFailed, Timeout, OutputTooLarge, Output, Io }
//! pub enum PluginCommandKind { Init, Generate, Discover }
//! pub enum ExitKind { Code(i32), Signal(i32) }
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

mod cache;
mod decode;
mod error;
mod manifest;
mod plugin;
mod resolve;
mod walk;
mod yaml;

pub use cache::{CacheStats, RenderCache, RenderKey};
pub use error::RenderError;
pub use plugin::{
    BuildEnv, Discover, ExitKind, ParameterAnnouncement, PluginCommand, PluginCommandKind,
    PluginError, PluginLimits, PluginParameter, PluginRequest, PluginRun, PluginSpec, load_plugins,
    plugin_cache_variant, preselect_plugin, run_plugin, select_plugin,
};

/// Argo CD's `spec.source.directory` options that select files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DirectoryOptions {
    /// Descend into subdirectories (hidden ones, like `.git`, never).
    pub recurse: bool,
    /// Only files whose path relative to the source path matches this glob (`{a,b}` lists
    /// allowed; `*` also matches `/`). `None` or empty: every manifest file.
    pub include: Option<String>,
    /// Skip files whose relative path matches this glob; wins over `include`.
    pub exclude: Option<String>,
}

/// Bounds on what one render may read and build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest single manifest file, in bytes.
    pub max_file_bytes: u64,
    /// Largest sum of the manifest files' sizes, in bytes.
    pub max_total_bytes: u64,
    /// Most YAML documents (empty ones included) across all files.
    pub max_documents: usize,
    /// Most nodes that alias expansion may produce across all files (go-yaml's own
    /// "excessive aliasing" ratio applies per document as well).
    pub max_alias_nodes: u64,
}

impl Default for Limits {
    /// 10 MiB per file, 100 MiB in total, 10,000 documents, 1,000,000 alias-expanded nodes.
    fn default() -> Self {
        Limits {
            max_file_bytes: 10 * 1024 * 1024,
            max_total_bytes: 100 * 1024 * 1024,
            max_documents: 10_000,
            max_alias_nodes: 1_000_000,
        }
    }
}

/// One Kubernetes object and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedObject {
    /// The file, relative to the repository root, `/`-separated.
    pub file: String,
    /// The YAML document within the file, 1-based (1 for a JSON file).
    pub document: usize,
    /// The index in `items` when the document was a `*List`.
    pub item: Option<usize>,
    /// The object, as the API server would receive it.
    pub object: Value,
}

/// The objects of a source, in render order, with their content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    objects: Vec<RenderedObject>,
    content_hash: String,
}

// === impl Rendered ===

impl Rendered {
    /// Wraps objects, computing their content hash.
    pub fn new(objects: Vec<RenderedObject>) -> Rendered {
        let content_hash = content_hash(objects.iter().map(|o| &o.object));
        Rendered {
            objects,
            content_hash,
        }
    }

    /// The objects, in render order.
    pub fn objects(&self) -> &[RenderedObject] {
        &self.objects
    }

    /// The objects, owned.
    pub fn into_objects(self) -> Vec<RenderedObject> {
        self.objects
    }

    /// `sha256:<hex>` over the objects in order, each in canonical JSON (keys sorted). It does
    /// not depend on file names, key order, formatting or comments; equal hashes mean equal
    /// objects in the same order.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are no objects (the controller decides whether that is allowed).
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}

/// `sha256:<hex>` of the values' canonical JSON, one per line.
fn content_hash<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    let mut hasher = Sha256::new();
    let mut buf = String::new();
    for value in values {
        buf.clear();
        write_canonical(value, &mut buf);
        buf.push('\n');
        hasher.update(buf.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// JSON with object keys sorted and no whitespace.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Renders the directory `source_path` of the checkout at `checkout_root`.
///
/// An empty directory (or one whose files hold only empty documents) is `Ok` with no
/// objects. Errors name files relative to the repository root, never the checkout location.
/// This does blocking file IO: call it from `spawn_blocking` in async code.
pub fn render_directory(
    checkout_root: &Path,
    source_path: &str,
    opts: &DirectoryOptions,
    limits: &Limits,
) -> Result<Rendered, RenderError> {
    let files = walk::find_manifests(checkout_root, source_path, opts, limits)?;
    let mut progress = manifest::Progress::new(limits);
    let mut objects = Vec::new();
    for file in &files {
        manifest::render_file(file, limits, &mut progress, &mut objects)?;
    }
    Ok(Rendered::new(objects))
}
