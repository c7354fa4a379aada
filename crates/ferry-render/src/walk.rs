//! Finding the manifest files of a directory source, safely.
//!
//! The order is Go's `filepath.Walk` (what Argo CD's repo server uses): each directory's
//! entries sorted by name, depth first, so `a/x.yaml` comes before `a.yaml`. Directories whose
//! name starts with `.` (`.git`, `.github`) are not entered. `include` and `exclude` are
//! matched against the path relative to the source path, and `*` crosses `/` as in Argo CD
//! (gobwas/glob without separators).
//!
//! Nothing outside the checkout is ever read: the source path may not be absolute nor climb
//! above the root, and every symbolic link met on the way (to a file or a directory, followed
//! or not) must resolve inside the checkout root, or the render fails naming the link and
//! its target as written in it (never the path it resolves to on this machine).

use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use crate::{DirectoryOptions, Limits, RenderError};

/// The format a manifest file is parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Yaml,
    Json,
}

/// A manifest file to read.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// The path inside the repository, `/`-separated (a link's own path, not its target's).
    pub rel: String,
    /// Where to read it on this machine (symlinks resolved).
    pub real: PathBuf,
    pub format: Format,
}

/// The files of a directory source, in render order, after the size limits were checked.
pub(crate) fn find_manifests(
    checkout_root: &Path,
    source_path: &str,
    opts: &DirectoryOptions,
    limits: &Limits,
) -> Result<Vec<Candidate>, RenderError> {
    let components = normalize_source_path(source_path)?;
    let root = fs::canonicalize(checkout_root).map_err(|source| RenderError::Io {
        path: ".".to_string(),
        source,
    })?;
    let app = resolve_app_dir(&root, &components, source_path)?;
    let mut walker = Walker {
        root: &root,
        recurse: opts.recurse,
        include: compile("include", opts.include.as_deref())?,
        exclude: compile("exclude", opts.exclude.as_deref())?,
        limits,
        total: 0,
        stack: vec![(app.clone(), None)],
        out: Vec::new(),
    };
    walker.walk(&app, &components.join("/"), "")?;
    Ok(walker.out)
}

/// The source path as normal components; absolute paths and `..` above the root are refused.
pub(crate) fn normalize_source_path(source_path: &str) -> Result<Vec<String>, RenderError> {
    let escapes = || RenderError::PathEscapes {
        path: source_path.to_string(),
    };
    let mut parts: Vec<String> = Vec::new();
    for component in Path::new(source_path).components() {
        match component {
            Component::Normal(part) => parts.push(part.to_string_lossy().into_owned()),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop().ok_or_else(escapes)?;
            }
            Component::RootDir | Component::Prefix(_) => return Err(escapes()),
        }
    }
    Ok(parts)
}

/// Follows the source path from the root one component at a time, refusing a symlink that
/// leaves the checkout.
pub(crate) fn resolve_app_dir(
    root: &Path,
    components: &[String],
    source_path: &str,
) -> Result<PathBuf, RenderError> {
    let not_found = || RenderError::NotFound {
        path: source_path.to_string(),
    };
    let mut current = root.to_path_buf();
    for (i, part) in components.iter().enumerate() {
        let next = current.join(part);
        let meta = fs::symlink_metadata(&next).map_err(|_| not_found())?;
        current = if meta.file_type().is_symlink() {
            let link = components[..=i].join("/");
            resolve_link(root, &next, &link)?.ok_or_else(not_found)?
        } else {
            next
        };
    }
    if !current.is_dir() {
        return Err(not_found());
    }
    Ok(current)
}

/// Where a symlink leads, if it exists; an error if it leads (or would lead) outside `root`.
fn resolve_link(root: &Path, path: &Path, link: &str) -> Result<Option<PathBuf>, RenderError> {
    let written = || {
        fs::read_link(path).map_err(|source| RenderError::Io {
            path: link.to_string(),
            source,
        })
    };
    match fs::canonicalize(path) {
        Ok(target) if target.starts_with(root) => Ok(Some(target)),
        // The target as written in the link, never where it leads on this machine.
        Ok(_) => Err(RenderError::SymlinkEscapes {
            link: link.to_string(),
            target: written()?,
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            // Dangling: refuse it if it points outside, skip it otherwise (as Argo CD does).
            let written = written()?;
            let base = path.parent().unwrap_or(root);
            let lexical = lexical_join(base, &written);
            if lexical.starts_with(root) {
                Ok(None)
            } else {
                Err(RenderError::SymlinkEscapes {
                    link: link.to_string(),
                    target: written,
                })
            }
        }
        Err(source) => Err(RenderError::Io {
            path: link.to_string(),
            source,
        }),
    }
}

/// `base.join(rel)` with `.` and `..` applied textually.
fn lexical_join(base: &Path, rel: &Path) -> PathBuf {
    let mut out = if rel.is_absolute() {
        PathBuf::new()
    } else {
        base.to_path_buf()
    };
    for component in rel.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn compile(
    option: &'static str,
    pattern: Option<&str>,
) -> Result<Option<GlobMatcher>, RenderError> {
    let Some(pattern) = pattern.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    GlobBuilder::new(pattern)
        .literal_separator(false)
        .empty_alternates(true)
        .build()
        .map(|glob| Some(glob.compile_matcher()))
        .map_err(|err| RenderError::InvalidPattern {
            option,
            pattern: pattern.to_string(),
            message: err.kind().to_string(),
        })
}

fn manifest_format(name: &str) -> Option<Format> {
    if name.ends_with(".yaml") || name.ends_with(".yml") {
        Some(Format::Yaml)
    } else if name.ends_with(".json") {
        Some(Format::Json)
    } else {
        None
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}/{name}")
    }
}

// === impl Walker ===

struct Walker<'a> {
    root: &'a Path,
    recurse: bool,
    include: Option<GlobMatcher>,
    exclude: Option<GlobMatcher>,
    limits: &'a Limits,
    total: u64,
    /// Real paths of the directories being walked, with the symlink (if any) each was entered
    /// through, to stop symlink loops and name the link responsible.
    stack: Vec<(PathBuf, Option<String>)>,
    out: Vec<Candidate>,
}

impl Walker<'_> {
    /// Walks `dir`, whose path is `repo_rel` in the repository and `app_rel` in the source.
    fn walk(&mut self, dir: &Path, repo_rel: &str, app_rel: &str) -> Result<(), RenderError> {
        let io_err = |source| RenderError::Io {
            path: if repo_rel.is_empty() {
                ".".to_string()
            } else {
                repo_rel.to_string()
            },
            source,
        };
        let mut names = fs::read_dir(dir)
            .map_err(io_err)?
            .map(|entry| entry.map(|e| e.file_name()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io_err)?;
        names.sort_by(|a, b| a.as_encoded_bytes().cmp(b.as_encoded_bytes()));
        for os_name in names {
            let name = os_name.to_string_lossy().into_owned();
            let path = dir.join(&os_name);
            let entry_repo_rel = join(repo_rel, &name);
            let entry_app_rel = join(app_rel, &name);
            let io_err = |source| RenderError::Io {
                path: entry_repo_rel.clone(),
                source,
            };
            let mut meta = fs::symlink_metadata(&path).map_err(io_err)?;
            let mut real = path.clone();
            let is_link = meta.file_type().is_symlink();
            if is_link {
                let Some(target) = resolve_link(self.root, &path, &entry_repo_rel)? else {
                    continue;
                };
                meta = fs::metadata(&target).map_err(io_err)?;
                real = target;
            }
            if meta.is_dir() {
                if name.starts_with('.') || !self.recurse {
                    continue;
                }
                if self.stack.iter().any(|(dir, _)| *dir == real) {
                    let via = self.stack.iter().rev().find_map(|(_, link)| link.clone());
                    let link = if is_link { Some(entry_repo_rel) } else { via };
                    return Err(RenderError::SymlinkLoop {
                        link: link.unwrap_or_else(|| join(repo_rel, &name)),
                    });
                }
                let entered_via = is_link.then(|| entry_repo_rel.clone());
                self.stack.push((real.clone(), entered_via));
                self.walk(&real, &entry_repo_rel, &entry_app_rel)?;
                self.stack.pop();
            } else if meta.is_file() {
                self.consider_file(&name, entry_repo_rel, &entry_app_rel, real, meta.len())?;
            }
        }
        Ok(())
    }

    fn consider_file(
        &mut self,
        name: &str,
        repo_rel: String,
        app_rel: &str,
        real: PathBuf,
        size: u64,
    ) -> Result<(), RenderError> {
        let Some(format) = manifest_format(name) else {
            return Ok(());
        };
        if self.exclude.as_ref().is_some_and(|g| g.is_match(app_rel)) {
            return Ok(());
        }
        if self.include.as_ref().is_some_and(|g| !g.is_match(app_rel)) {
            return Ok(());
        }
        if size > self.limits.max_file_bytes {
            return Err(RenderError::TooLarge {
                file: repo_rel,
                limit: self.limits.max_file_bytes,
            });
        }
        self.total = self.total.saturating_add(size);
        if self.total > self.limits.max_total_bytes {
            return Err(RenderError::TotalTooLarge {
                file: repo_rel,
                limit: self.limits.max_total_bytes,
            });
        }
        self.out.push(Candidate {
            rel: repo_rel,
            real,
            format,
        });
        Ok(())
    }
}
