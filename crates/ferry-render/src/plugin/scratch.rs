//! A plugin's private scratch directory and the copy of the checkout it works on.
//!
//! Layout: `<scratch_parent>/ferry-plugin-<unique>/` (mode `0700`) holding `repo/` (the copy),
//! `home/` (`HOME`) and `tmp/` (`TMPDIR`). The checkout itself is never handed to a plugin:
//! it is a shared, immutable cache entry.
//!
//! The copy follows Argo CD's repository stream to a CMP sidecar (`util/io/files/tar.go`):
//! regular files, directories and symbolic links, nothing else; files get mode `0644`
//! unless `preserveFileMode` keeps their permission bits (never setuid/setgid/sticky);
//! directories are `0755`. A symbolic link is copied as a link, rewritten relative to its
//! resolved target inside the copy, when it resolves inside the checkout; a dangling or
//! looping link is left out. A link that resolves outside the checkout is never copied nor
//! followed: when it lies in what the plugin reads (the source path's directory, and every
//! directory inside the checkout a link in there leads to, transitively) the run fails
//! naming the link and its target as written in it (never the resolved path on this
//! machine); anywhere else in the repository it is left out, so that one stray link does
//! not break every plugin application of the repository (Argo CD refuses the whole
//! repository). The copy is bounded by [`PluginLimits::max_copy_bytes`].

use std::ffi::OsString;
use std::fs::{self, DirBuilder};
use std::io;
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::{PluginError, PluginLimits};
use crate::RenderError;

/// `PATH` when the controller has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static NEXT: AtomicU64 = AtomicU64::new(0);

/// A scratch directory, removed on drop (or by [`Scratch::remove`], which reports failure).
pub(crate) struct Scratch {
    dir: PathBuf,
    plugin: String,
    removed: bool,
}

impl Scratch {
    pub(crate) fn create(parent: &Path, plugin: &str) -> Result<Scratch, PluginError> {
        let io_err = |action, source| PluginError::Io {
            plugin: plugin.to_string(),
            action,
            path: parent.display().to_string(),
            source,
        };
        fs::create_dir_all(parent).map_err(|e| io_err("create the scratch parent", e))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let mut attempt = 0;
        let dir = loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let dir = parent.join(format!(
                "ferry-plugin-{}-{n}-{nanos:08x}",
                std::process::id()
            ));
            match DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 16 => {
                    attempt += 1;
                }
                Err(e) => return Err(io_err("create a scratch directory in", e)),
            }
        };
        let scratch = Scratch {
            dir,
            plugin: plugin.to_string(),
            removed: false,
        };
        for sub in ["home", "tmp"] {
            DirBuilder::new()
                .mode(0o700)
                .create(scratch.dir.join(sub))
                .map_err(|e| scratch.io("create", sub, e))?;
        }
        Ok(scratch)
    }

    fn io(&self, action: &'static str, path: &str, source: io::Error) -> PluginError {
        PluginError::Io {
            plugin: self.plugin.clone(),
            action,
            path: path.to_string(),
            source,
        }
    }

    /// The scratch directory itself (outside the copy; for files only Ferry uses).
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Copies the checkout at `root` (canonical) into `repo/` and returns the copy's
    /// directory for the source path `components`, whose directory in the checkout
    /// (symbolic links resolved) is `app`.
    pub(crate) fn populate(
        &self,
        root: &Path,
        components: &[String],
        app: &Path,
        preserve_file_mode: bool,
        limits: &PluginLimits,
    ) -> Result<PathBuf, PluginError> {
        let repo = self.dir.join("repo");
        let mut copy = Copy {
            scratch: self,
            root,
            read_scope: read_scope(root, app),
            preserve_file_mode,
            limit: limits.max_copy_bytes,
            total: 0,
        };
        copy.tree(&repo)?;
        let mut app = repo;
        for part in components {
            app.push(part);
        }
        Ok(app)
    }

    /// The variables every command gets besides the plugin's own: the controller's `PATH`,
    /// and `HOME` and `TMPDIR` inside the scratch directory.
    pub(crate) fn base_env(&self) -> Vec<(String, OsString)> {
        vec![
            (
                "PATH".to_string(),
                std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into()),
            ),
            ("HOME".to_string(), self.dir.join("home").into_os_string()),
            ("TMPDIR".to_string(), self.dir.join("tmp").into_os_string()),
        ]
    }

    /// Removes the directory, reporting failure.
    pub(crate) fn remove(mut self) -> Result<(), PluginError> {
        self.removed = true;
        force_remove(&self.dir).map_err(|e| {
            let name = self
                .dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.io("remove the scratch directory", &name, e)
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.removed {
            let _ = force_remove(&self.dir);
        }
    }
}

/// `remove_dir_all`, retried after making every directory writable (a plugin may have left
/// read-only directories behind).
fn force_remove(dir: &Path) -> io::Result<()> {
    match fs::remove_dir_all(dir) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(_) => {}
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let _ = fs::set_permissions(&d, fs::Permissions::from_mode(0o700));
        if let Ok(entries) = fs::read_dir(&d) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
    }
    fs::remove_dir_all(dir)
}

/// The directories of the checkout a plugin reads from its source path: `app` and every
/// directory inside `root` that a symbolic link below them leads to, transitively (none
/// inside another). Unreadable directories are skipped: the copy reports them.
fn read_scope(root: &Path, app: &Path) -> Vec<PathBuf> {
    let mut scope = vec![app.to_path_buf()];
    let mut stack = vec![app.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_symlink()
                && let Ok(target) = fs::canonicalize(entry.path())
                && target.starts_with(root)
                && target.is_dir()
                && !scope.iter().any(|s| target.starts_with(s))
            {
                scope.retain(|s| !s.starts_with(&target));
                scope.push(target.clone());
                stack.push(target);
            }
        }
    }
    scope
}

struct Copy<'a> {
    scratch: &'a Scratch,
    root: &'a Path,
    /// See [`read_scope`].
    read_scope: Vec<PathBuf>,
    preserve_file_mode: bool,
    limit: u64,
    total: u64,
}

impl Copy<'_> {
    fn tree(&mut self, dest: &Path) -> Result<(), PluginError> {
        make_dir(dest).map_err(|e| self.scratch.io("create", ".", e))?;
        // (source directory, destination directory, path relative to the root)
        let mut stack = vec![(self.root.to_path_buf(), dest.to_path_buf(), String::new())];
        while let Some((src_dir, dst_dir, rel_dir)) = stack.pop() {
            let shown = if rel_dir.is_empty() { "." } else { &rel_dir };
            let entries = fs::read_dir(&src_dir).map_err(|e| self.scratch.io("read", shown, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| self.scratch.io("read", shown, e))?;
                let name = entry.file_name();
                let rel = if rel_dir.is_empty() {
                    name.to_string_lossy().into_owned()
                } else {
                    format!("{rel_dir}/{}", name.to_string_lossy())
                };
                let src = entry.path();
                let dst = dst_dir.join(&name);
                let kind = entry
                    .file_type()
                    .map_err(|e| self.scratch.io("read", &rel, e))?;
                if kind.is_dir() {
                    make_dir(&dst).map_err(|e| self.scratch.io("copy", &rel, e))?;
                    stack.push((src, dst, rel));
                } else if kind.is_file() {
                    self.file(&src, &dst, &rel)?;
                } else if kind.is_symlink() {
                    self.link(&src, &dst, &rel)?;
                }
                // Sockets, FIFOs and devices are not copied.
            }
        }
        Ok(())
    }

    fn file(&mut self, src: &Path, dst: &Path, rel: &str) -> Result<(), PluginError> {
        let meta = fs::symlink_metadata(src).map_err(|e| self.scratch.io("copy", rel, e))?;
        self.total = self.total.saturating_add(meta.len());
        if self.total > self.limit {
            return Err(PluginError::CheckoutTooLarge {
                plugin: self.scratch.plugin.clone(),
                limit: self.limit,
            });
        }
        fs::copy(src, dst).map_err(|e| self.scratch.io("copy", rel, e))?;
        let mode = if self.preserve_file_mode {
            meta.permissions().mode() & 0o777
        } else {
            0o644
        };
        fs::set_permissions(dst, fs::Permissions::from_mode(mode))
            .map_err(|e| self.scratch.io("copy", rel, e))
    }

    fn link(&mut self, src: &Path, dst: &Path, rel: &str) -> Result<(), PluginError> {
        let Ok(target) = fs::canonicalize(src) else {
            // Dangling or looping: nothing a plugin could read through it.
            return Ok(());
        };
        let Ok(inside) = target.strip_prefix(self.root) else {
            // `src` lies below directories the copy walked, none of them a link: its path
            // is canonical up to its own name, as every directory of the read scope is.
            if !self.read_scope.iter().any(|dir| src.starts_with(dir)) {
                return Ok(());
            }
            let written = fs::read_link(src).map_err(|e| self.scratch.io("read", rel, e))?;
            return Err(PluginError::Source {
                source: RenderError::SymlinkEscapes {
                    link: rel.to_string(),
                    target: written,
                },
            });
        };
        // From the link's directory up to the copy's root, then down to the target.
        let depth = rel.matches('/').count();
        let mut relative = PathBuf::new();
        for _ in 0..depth {
            relative.push("..");
        }
        relative.push(inside);
        if relative.as_os_str().is_empty() {
            relative.push(".");
        }
        std::os::unix::fs::symlink(&relative, dst).map_err(|e| self.scratch.io("copy", rel, e))
    }
}

fn make_dir(path: &Path) -> io::Result<()> {
    DirBuilder::new().mode(0o755).create(path)
}
