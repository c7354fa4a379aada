//! AppProject rules as Argo CD enforces them (layer 2, pure: no IO, no clock of its own).
//!
//! A [`Project`] answers, for one of its Applications, whether its source repository is
//! permitted ([`Project::source_permitted`]: `sourceRepos` globs on normalised URLs, `!`
//! refusing), whether its destination is ([`Project::destination_permitted`]: server or name,
//! and namespace), whether it may live in its namespace ([`Project::app_namespace_permitted`]:
//! `sourceNamespaces`), which kinds it may deploy ([`Project::kind_refusal`]: the cluster and
//! namespace resource white- and blacklists with Argo CD's defaults) and, through
//! [`windows`], when it may sync. Refusals are [`Refusal`]s: the project and the rule in
//! words, after Argo CD's messages (`util/argo/argo.go`, `controller/sync.go`).

#![forbid(unsafe_code)]

pub mod glob;
pub mod repo;
pub mod windows;

use ferry_api::{AppProjectSpec, ClusterResourceRestriction, GroupKind};

pub use windows::{SyncVerdict, WindowError, Windows};

/// The project an Application names (an empty `spec.project` is `default`).
pub fn project_name(spec_project: &str) -> &str {
    if spec_project.is_empty() {
        "default"
    } else {
        spec_project
    }
}

/// One AppProject's rules.
#[derive(Debug, Clone, Copy)]
pub struct Project<'a> {
    pub name: &'a str,
    pub spec: &'a AppProjectSpec,
}

/// Why a project refuses an Application or one of its objects, in words that name the
/// project and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("application references project {0} which does not exist")]
    NoProject(String),
    #[error("application repo {repo} is not permitted in project '{project}' (sourceRepos)")]
    Source { repo: String, project: String },
    #[error(
        "application destination server '{server}' and namespace '{namespace}' do not match any of the allowed destinations in project '{project}'"
    )]
    Destination {
        server: String,
        namespace: String,
        project: String,
    },
    #[error(
        "application '{app}' in namespace '{namespace}' is not permitted to use project '{project}' (sourceNamespaces)"
    )]
    AppNamespace {
        app: String,
        namespace: String,
        project: String,
    },
}

/// What a project is asked about an Application.
#[derive(Debug, Clone, Default)]
pub struct AppFacts<'a> {
    pub name: &'a str,
    /// The namespace the Application lives in.
    pub namespace: &'a str,
    pub repo_url: &'a str,
    /// The destination cluster as registered: its server URL and name.
    pub server: &'a str,
    pub cluster_name: &'a str,
    /// The destination namespace (`""` when none).
    pub dest_namespace: &'a str,
}

impl<'a> Project<'a> {
    pub fn new(name: &'a str, spec: &'a AppProjectSpec) -> Self {
        Project { name, spec }
    }

    /// Every rule about the Application itself, in Argo CD's order: its namespace, its
    /// source, its destination.
    pub fn check_app(&self, app: &AppFacts<'_>, controller_ns: &str) -> Result<(), Refusal> {
        if !self.app_namespace_permitted(app.namespace, controller_ns) {
            return Err(Refusal::AppNamespace {
                app: app.name.into(),
                namespace: app.namespace.into(),
                project: self.name.into(),
            });
        }
        if !self.source_permitted(app.repo_url) {
            return Err(Refusal::Source {
                repo: app.repo_url.into(),
                project: self.name.into(),
            });
        }
        if !self.destination_permitted(app.server, app.cluster_name, app.dest_namespace) {
            return Err(Refusal::Destination {
                server: app.server.into(),
                namespace: app.dest_namespace.into(),
                project: self.name.into(),
            });
        }
        Ok(())
    }

    /// `sourceRepos`: some pattern matches the normalised URL, and no `!pattern` excludes it.
    pub fn source_permitted(&self, repo_url: &str) -> bool {
        let url = repo::normalize(repo_url);
        let mut any = false;
        for pattern in &self.spec.source_repos {
            let normalized = match pattern.strip_prefix('!') {
                Some(p) => format!("!{}", repo::normalize(p)),
                None => repo::normalize(pattern),
            };
            if glob::glob_match(&normalized, &url, true, &['/']) {
                any = true;
            } else if glob::is_deny(&normalized) {
                return false;
            }
        }
        any
    }

    /// `destinations`: one entry whose server or name, and namespace, match; an entry whose
    /// `!` pattern excludes the cluster or the namespace refuses, as Argo CD's
    /// `isDestinationMatched`.
    pub fn destination_permitted(&self, server: &str, name: &str, namespace: &str) -> bool {
        let mut any = false;
        for d in &self.spec.destinations {
            let (ds, dn, dns) = (
                d.server.as_deref().unwrap_or_default(),
                d.name.as_deref().unwrap_or_default(),
                d.namespace.as_deref().unwrap_or_default(),
            );
            let name_ok = !name.is_empty() && glob::glob_match(dn, name, true, &[]);
            let server_ok = !server.is_empty() && glob::glob_match(ds, server, true, &[]);
            let ns_ok = glob::glob_match(dns, namespace, true, &[]);
            if (server_ok || name_ok) && ns_ok {
                any = true;
            } else if (!name_ok && glob::is_deny(dn))
                || (!server_ok && glob::is_deny(ds) && ns_ok)
                || (!ns_ok && glob::is_deny(dns) && server_ok)
            {
                return false;
            }
        }
        any
    }

    /// `sourceNamespaces`: Applications in Ferry's own namespace always may; others only in
    /// a namespace one of its globs (or `/regular expressions/`) matches.
    pub fn app_namespace_permitted(&self, app_ns: &str, controller_ns: &str) -> bool {
        app_ns.is_empty()
            || app_ns == controller_ns
            || self.spec.source_namespaces.iter().any(|p| {
                match p.strip_prefix('/').and_then(|r| r.strip_suffix('/')) {
                    Some(re) if p.len() >= 2 => {
                        regex::Regex::new(re).is_ok_and(|r| r.is_match(app_ns))
                            || glob::matches(p, app_ns, &[])
                    }
                    _ => glob::matches(p, app_ns, &[]),
                }
            })
    }

    /// Why the project refuses objects of `group`/`kind` (named `name`, for cluster-scoped
    /// white- and blacklist entries that name one), if it does. Cluster-scoped kinds need
    /// `clusterResourceWhitelist` and are refused by `clusterResourceBlacklist`; namespaced
    /// kinds are all allowed unless `namespaceResourceWhitelist` is given (an empty one
    /// allows none) and refused by `namespaceResourceBlacklist`.
    pub fn kind_refusal(
        &self,
        group: &str,
        kind: &str,
        name: &str,
        namespaced: bool,
    ) -> Option<String> {
        let rule = if namespaced {
            let white = match &self.spec.namespace_resource_whitelist {
                None => true,
                Some(list) => gk_in(list, group, kind),
            };
            if !white {
                Some("it is not in namespaceResourceWhitelist")
            } else if gk_in(&self.spec.namespace_resource_blacklist, group, kind) {
                Some("it is in namespaceResourceBlacklist")
            } else {
                None
            }
        } else if !named_in(&self.spec.cluster_resource_whitelist, group, kind, name) {
            Some("cluster-scoped resources need clusterResourceWhitelist, and it is not in it")
        } else if named_in(&self.spec.cluster_resource_blacklist, group, kind, name) {
            Some("it is in clusterResourceBlacklist")
        } else {
            None
        }?;
        Some(format!(
            "resource {group}:{kind} is not permitted in project {}: {rule}",
            self.name
        ))
    }

    /// Why the project refuses an object in `namespace` of a destination cluster (server,
    /// name), if it does: a namespaced object must go to a permitted destination too.
    pub fn namespace_refusal(&self, server: &str, name: &str, namespace: &str) -> Option<String> {
        (!self.destination_permitted(server, name, namespace)).then(|| {
            format!(
                "namespace {namespace} is not permitted in project '{}' (destinations)",
                self.name
            )
        })
    }
}

/// `filepath.Match` of group and kind, as Argo CD's `isResourceInList`.
fn gk_in(list: &[GroupKind], group: &str, kind: &str) -> bool {
    list.iter()
        .any(|i| glob::matches(&i.kind, kind, &['/']) && glob::matches(&i.group, group, &['/']))
}

/// As [`gk_in`], with an entry's `name` (when set) matched against the object's name.
fn named_in(list: &[ClusterResourceRestriction], group: &str, kind: &str, name: &str) -> bool {
    list.iter().any(|i| {
        glob::matches(&i.kind, kind, &['/'])
            && glob::matches(&i.group, group, &['/'])
            && (i.name.is_empty() || glob::matches(&i.name, name, &['/']))
    })
}

#[cfg(test)]
mod tests;
