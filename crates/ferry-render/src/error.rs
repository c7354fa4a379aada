//! Why rendering a directory source failed.
//!
//! Every error names what the user has to look at: the path inside the repository (never
//! the checkout's location on this machine, which is a cache detail), the document number
//! within a file (1-based, counting every YAML document, empty ones included), and for
//! parse errors the line and column (both 1-based).

use std::path::PathBuf;

use thiserror::Error;

/// What went wrong while rendering a directory source.
#[derive(Debug, Error)]
pub enum RenderError {
    /// The source path is absolute or climbs out of the repository with `..`.
    #[error(
        "source path {path:?} escapes the repository (absolute paths and `..` above the root are refused)"
    )]
    PathEscapes {
        /// The source path as given.
        path: String,
    },

    /// A symbolic link in the repository points outside it.
    #[error("symlink {link:?} points outside the repository (to {target:?}); refused")]
    SymlinkEscapes {
        /// The link, relative to the repository root.
        link: String,
        /// Where it points, as written in the link (never the path it resolves to on this
        /// machine, which may be another process's file or a cache location).
        target: PathBuf,
    },

    /// A symbolic link to a directory leads back into a directory being walked.
    #[error("symlink {link:?} points to a directory that contains it; refused to loop")]
    SymlinkLoop {
        /// The link, relative to the repository root.
        link: String,
    },

    /// The source path (or the checkout root) does not exist or is not a directory.
    #[error("source path {path:?} does not exist in the repository or is not a directory")]
    NotFound {
        /// The source path as given.
        path: String,
    },

    /// An `include` or `exclude` pattern is not a valid glob.
    #[error("directory {option} pattern {pattern:?} is not a valid glob: {message}")]
    InvalidPattern {
        /// `include` or `exclude`.
        option: &'static str,
        /// The pattern as given.
        pattern: String,
        /// What the glob compiler said.
        message: String,
    },

    /// A file could not be parsed as YAML or JSON, or holds something Kubernetes tooling
    /// refuses (duplicate keys, excessive aliasing, a value JSON cannot carry).
    #[error("{file}: document {document}, line {line}, column {column}: {message}")]
    Parse {
        /// The file, relative to the repository root.
        file: String,
        /// The document within the file, 1-based.
        document: usize,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong.
        message: String,
    },

    /// A document (or a `List` item) is not a mapping, so it cannot be a Kubernetes object.
    #[error("{file}: document {document}{}: expected a Kubernetes object (a mapping), found {found}", item_suffix(*item))]
    NotAnObject {
        /// The file, relative to the repository root.
        file: String,
        /// The document within the file, 1-based.
        document: usize,
        /// The index in `items` when the document is a `List`.
        item: Option<usize>,
        /// What was found instead (`a string`, `a sequence`, ...).
        found: &'static str,
    },

    /// An object lacks `apiVersion`, `kind` or `metadata.name` (or has them empty or not as
    /// strings).
    #[error(
        "{file}: document {document}: object has no {field} (apiVersion, kind and metadata.name are required)"
    )]
    MissingField {
        /// The file, relative to the repository root.
        file: String,
        /// The document within the file, 1-based.
        document: usize,
        /// The missing field, prefixed with `items[N].` for a `List` item.
        field: String,
    },

    /// A single file is larger than [`Limits::max_file_bytes`](crate::Limits).
    #[error("{file}: file is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The file, relative to the repository root.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// The manifest files together are larger than [`Limits::max_total_bytes`](crate::Limits).
    #[error("manifests exceed the combined limit of {limit} bytes (reached at {file})")]
    TotalTooLarge {
        /// The file whose size crossed the limit, relative to the repository root.
        file: String,
        /// The limit in bytes.
        limit: u64,
    },

    /// More YAML documents than [`Limits::max_documents`](crate::Limits).
    #[error("more than {limit} YAML documents (reached in {file})")]
    TooManyDocuments {
        /// The file in which the limit was crossed, relative to the repository root.
        file: String,
        /// The limit.
        limit: usize,
    },

    /// Reading the repository failed.
    #[error("reading {path:?}: {source}")]
    Io {
        /// The path, relative to the repository root.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

fn item_suffix(item: Option<usize>) -> String {
    match item {
        Some(index) => format!(", items[{index}]"),
        None => String::new(),
    }
}
