//! The ApplicationSet engine: generators (list, clusters, git, matrix, merge), templating
//! (fasttemplate and goTemplate), and the plan of what to create, update and delete. Pure and
//! deterministic: the caller fetches clusters and Git contents and hands them in through
//! [`Sources`]; nothing here does IO.
//!
//! ```text
//! git_sources(set)                     → what the caller fetches first
//! generate(set, sources)               → Generated { apps, invalid }   (all or nothing)
//! plan(set, policy, generated, owned, unowned) → Plan { create, update, delete, unchanged, conflicts }
//! ```
//!
//! Semantics follow Argo CD's ApplicationSet controller, except where marked FERRY DIFFERS:
//!
//! - **All or nothing.** Any generator or render error makes [`generate`] fail; the caller
//!   then creates, updates and deletes nothing (a failing cluster list or Git fetch must not
//!   look like "no clusters" and delete every Application).
//! - **Names.** An empty rendered name, or a name generated before, makes an [`InvalidApp`];
//!   the first of duplicate names wins and is created or updated as usual. An invalid
//!   Application is not created or updated, and an owned Application of that name is not
//!   deleted.
//! - **Resources are preserved by default.** FERRY DIFFERS: `syncPolicy.preserveResourcesOnDeletion`
//!   defaults to `true` (Argo CD: `false`). Only when it is explicitly `false`, and the rendered
//!   template sets no finalizers, does a generated Application get
//!   `ferry.dev/resources-finalizer` (deleting it then deletes its resources).
//! - **No adoption.** FERRY DIFFERS: a generated name that an Application not owned by the set
//!   already has is reported in [`Plan::conflicts`] and left alone (Argo CD silently adopts
//!   and overwrites it, even under `create-only`).
//! - **Determinism.** FERRY DIFFERS where Argo CD is random: of clusters with the same name
//!   the first listed wins; clusters are ordered by name (the synthetic `in-cluster` last);
//!   merge output follows the first child's order.
//! - **Numbers in flattened parameters** (git files in fasttemplate mode, post-selectors)
//!   print as written; Argo CD prints them as Go float64 (`1e+06`).
//! - **The per-set policy always wins** ([`policy_of`]); Argo CD needs a controller switch.
//! - **goTemplate** runs on `gtmpl-ng` (Go `text/template` semantics: `{{ .a.b }}`, `index`,
//!   `if`/`range`/`with`, `printf`, `eq`, ...). A missing key renders `<no value>`, or fails
//!   with `goTemplateOptions: [missingkey=error]`. Of Sprig and Argo CD's extras, these are
//!   here: `default`, `empty`, `coalesce`, `ternary`, `dig`, `normalize`, `lower`, `upper`,
//!   `trim`, `trimPrefix`, `trimSuffix`, `replace`, `trunc`, `quote`, `squote`, `hasPrefix`,
//!   `hasSuffix`, `contains`, `join`, `splitList`, `toString`, `toJson`, `toRawJson`,
//!   `toPrettyJson`, `toYaml`, `fromYaml`, `fromYamlArray`. Any other function (`slugify`,
//!   the rest of Sprig) is a template error, so generation fails rather than guess.
//! - **templatePatch** is merged as a JSON merge patch (maps merged, lists replaced; Argo CD
//!   uses a strategic merge patch, which for Application fields amounts to the same), and
//!   `spec.project` is restored afterwards.

mod generators;
mod params;
mod plan;
mod render;
mod template;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use ferry_api::{Application, ApplicationSet};

pub use ferry_api::ApplicationsSyncPolicy as Policy;
pub use generators::GeneratorError;
pub use plan::{ALWAYS_PRESERVED_ANNOTATIONS, Plan, Update, plan};
pub use render::RenderError;
pub use template::TemplateError;

use generators::{Ctx, Kind};
use template::Engine;

/// One registered cluster as the cluster generator sees it (built by the caller from the
/// cluster Secrets in namespace `ferry`). `labels` are the Secret's labels, including
/// `argocd.argoproj.io/secret-type: cluster`, which the generator requires.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterInfo {
    pub name: String,
    pub server: String,
    pub project: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}

/// The IO generators need, provided by the caller (already fetched; sync).
pub trait Sources {
    fn clusters(&self) -> Result<Vec<ClusterInfo>, SourceError>;
    /// All directories (repo-relative, '/'-separated, no leading '/') at `revision` of
    /// `repo_url`.
    fn git_directories(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, SourceError>;
    /// All files (repo-relative paths) at that revision.
    fn git_files(&self, repo_url: &str, revision: &str) -> Result<Vec<String>, SourceError>;
    fn git_read(&self, repo_url: &str, revision: &str, path: &str) -> Result<Vec<u8>, SourceError>;
}

/// A source could not answer (the message says why).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SourceError(pub String);

/// Why [`generate`] produced nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    #[error("goTemplateOptions: {0}")]
    Options(String),
    #[error("generators[{index}] ({kind}): {cause}")]
    Generator {
        index: usize,
        kind: String,
        cause: GeneratorError,
    },
    #[error("generators[{index}] ({kind}): parameter set {set}: {cause}")]
    Render {
        index: usize,
        kind: String,
        /// Which parameter set of the generator (from 0).
        set: usize,
        cause: RenderError,
    },
}

/// What a set generates: valid Applications and the ones it cannot have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Generated {
    /// Sorted by name.
    pub apps: Vec<Application>,
    /// Sorted by name.
    pub invalid: Vec<InvalidApp>,
}

/// A generated Application that is not created or updated (and, if it exists, not deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvalidApp {
    pub name: String,
    pub message: String,
}

/// The `(repoURL, revision)` pairs of every git generator (recursing into matrix/merge), so
/// the caller can fetch them before [`generate`]. Revision `""` means HEAD. Sorted, without
/// duplicates. Pairs that contain `{{` (a matrix child rendered from its sibling's
/// parameters) are left out: they are known only during [`generate`], which asks [`Sources`]
/// for the rendered values (a source that has not fetched them fails, and so does generate).
pub fn git_sources(set: &ApplicationSet) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for g in &set.spec.generators {
        generators::git_sources(g, &mut out);
    }
    let unique: BTreeSet<(String, String)> = out
        .into_iter()
        .filter(|(repo, rev)| !repo.contains("{{") && !rev.contains("{{"))
        .collect();
    unique.into_iter().collect()
}

/// Every Application `set` generates, or the first error (then nothing may be acted on).
pub fn generate(set: &ApplicationSet, sources: &dyn Sources) -> Result<Generated, GenerateError> {
    let engine = Engine::new(set.spec.go_template, &set.spec.go_template_options)
        .map_err(GenerateError::Options)?;
    let ctx = Ctx { engine, sources };
    let mut rendered: Vec<Application> = Vec::new();
    for (index, g) in set.spec.generators.iter().enumerate() {
        let generator_error = |cause| GenerateError::Generator {
            index,
            kind: generators::describe(g),
            cause,
        };
        let kind = Kind::of(g).map_err(generator_error)?;
        let sets = generators::params(g, ctx, 0).map_err(generator_error)?;
        let render_error = |set, cause| GenerateError::Render {
            index,
            kind: kind.name().to_owned(),
            set,
            cause,
        };
        let template = render::base_template(&set.spec.template, kind.template())
            .map_err(|cause| render_error(0, cause))?;
        for (n, params) in sets.iter().enumerate() {
            let app = render::application(set, engine, &template, params)
                .map_err(|cause| render_error(n, cause))?;
            rendered.push(app);
        }
    }

    let mut out = Generated::default();
    let mut seen = BTreeSet::new();
    for app in rendered {
        let name = app.metadata.name.clone().unwrap_or_default();
        if name.is_empty() {
            out.invalid.push(InvalidApp {
                name,
                message: "the rendered template has an empty metadata.name".into(),
            });
        } else if !seen.insert(name.clone()) {
            out.invalid.push(InvalidApp {
                message: format!(
                    "duplicate name: another parameter set already generated {name:?}"
                ),
                name,
            });
        } else {
            out.apps.push(app);
        }
    }
    out.apps
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    out.invalid.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The policy for `set`: its `syncPolicy.applicationsSync` if set (Ferry always honours the
/// per-set field), else the controller's default.
pub fn policy_of(set: &ApplicationSet, controller_default: Policy) -> Policy {
    set.spec
        .sync_policy
        .as_ref()
        .and_then(|p| p.applications_sync)
        .unwrap_or(controller_default)
}

/// A name made safe for Kubernetes (Argo CD's `SanitizeName`): lowercased, every character
/// outside `[-a-z0-9.]` replaced by `-`, at most 253 characters, and no leading or trailing
/// `-` or `.`.
pub fn normalize(name: &str) -> String {
    let replaced: String = name
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            _ => '-',
        })
        .take(253)
        .collect();
    replaced.trim_matches(['-', '.']).to_owned()
}
