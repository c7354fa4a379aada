//! What the generators of one ApplicationSet read, fetched before they run: the registered
//! clusters (from the cluster Secrets the controller watches) and the checkouts of the Git
//! revisions its git generators name. `ferry-appset` sees them through its `Sources` trait.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ferry_appset::{ClusterInfo, SourceError};
use serde_json::Value;

/// Clusters and checkouts for one run of the generators.
#[derive(Debug, Default)]
pub struct Fetched {
    pub clusters: Vec<ClusterInfo>,
    /// `(repoURL, revision)` → the checkout of the commit it resolved to.
    pub trees: HashMap<(String, String), PathBuf>,
}

impl Fetched {
    fn tree(&self, repo_url: &str, revision: &str) -> Result<&Path, SourceError> {
        self.trees
            .get(&(repo_url.to_owned(), revision.to_owned()))
            .map(PathBuf::as_path)
            .ok_or_else(|| {
                SourceError(format!(
                    "{repo_url} at {:?} was not fetched (a repoURL or revision rendered from \
                     another generator's parameters is not supported)",
                    if revision.is_empty() {
                        "HEAD"
                    } else {
                        revision
                    }
                ))
            })
    }
}

/// Every directory (`dirs`) or file under `root`, repo-relative with `/`, sorted.
fn walk(root: &Path, dirs: bool) -> Result<Vec<String>, SourceError> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| SourceError(format!("reading {}: {e}", dir.display())))?;
        for entry in entries {
            let entry =
                entry.map_err(|e| SourceError(format!("reading {}: {e}", dir.display())))?;
            let path = entry.path();
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if rel == ".git" {
                continue;
            }
            let kind = entry
                .file_type()
                .map_err(|e| SourceError(format!("reading {}: {e}", path.display())))?;
            if kind.is_dir() {
                stack.push(path);
                if dirs {
                    out.push(rel);
                }
            } else if kind.is_file() && !dirs {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

impl ferry_appset::Sources for Fetched {
    fn clusters(&self) -> Result<Vec<ClusterInfo>, SourceError> {
        Ok(self.clusters.clone())
    }

    fn git_directories(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, SourceError> {
        walk(self.tree(repo_url, revision)?, true)
    }

    fn git_files(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, SourceError> {
        walk(self.tree(repo_url, revision)?, false)
    }

    fn git_read(&self, repo_url: &str, revision: &str, path: &str) -> Result<Vec<u8>, SourceError> {
        let root = self.tree(repo_url, revision)?;
        if path.split('/').any(|p| p == "..") {
            return Err(SourceError(format!("{path}: leaves the repository")));
        }
        std::fs::read(root.join(path)).map_err(|e| SourceError(format!("reading {path}: {e}")))
    }
}

/// A cluster Secret as the cluster generator sees it: `name`, `server` and `project` from
/// its data (base64, as the API server returns it; `name` defaults to the server), its
/// labels and annotations.
pub fn cluster_info(secret: &Value) -> Option<ClusterInfo> {
    use base64::Engine as _;
    let field = |k: &str| {
        secret
            .pointer(&format!("/data/{k}"))
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok())
            .or_else(|| {
                secret
                    .pointer(&format!("/stringData/{k}"))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    };
    let strings = |p: &str| -> BTreeMap<String, String> {
        secret
            .pointer(p)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let server = field("server");
    if server.is_empty() {
        return None;
    }
    let name = Some(field("name"))
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| server.clone());
    Some(ClusterInfo {
        name,
        server,
        project: field("project"),
        labels: strings("/metadata/labels"),
        annotations: strings("/metadata/annotations"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_appset::Sources as _;
    use serde_json::json;

    #[test]
    fn cluster_secrets_become_generator_clusters() {
        let s = json!({"metadata": {"name": "c1",
                "labels": {"argocd.argoproj.io/secret-type": "cluster", "env": "prod"},
                "annotations": {"team": "a"}},
            "data": {"name": "cHJvZC1ibHVl", "server": "aHR0cHM6Ly9ibHVlLmV4YW1wbGU="}});
        let c = cluster_info(&s).expect("a cluster");
        assert_eq!(c.name, "prod-blue");
        assert_eq!(c.server, "https://blue.example");
        assert_eq!(c.labels["env"], "prod");
        assert_eq!(c.annotations["team"], "a");
        assert!(cluster_info(&json!({"data": {}})).is_none());
    }

    #[test]
    fn checkouts_are_listed_and_read_without_leaving_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("apps/a")).expect("mkdir");
        std::fs::create_dir_all(dir.path().join(".git")).expect("mkdir");
        std::fs::write(dir.path().join("apps/a/config.json"), "{}").expect("write");
        let mut f = Fetched::default();
        f.trees
            .insert(("r".into(), "".into()), dir.path().to_path_buf());
        assert_eq!(
            f.git_directories("r", "").expect("dirs"),
            ["apps", "apps/a"]
        );
        assert_eq!(f.git_files("r", "").expect("files"), ["apps/a/config.json"]);
        assert_eq!(
            f.git_read("r", "", "apps/a/config.json").expect("read"),
            b"{}"
        );
        assert!(f.git_read("r", "", "../x").is_err());
        let e = f.git_directories("other", "main").expect_err("not fetched");
        assert!(e.0.contains("other at \"main\" was not fetched"), "{e}");
    }
}
