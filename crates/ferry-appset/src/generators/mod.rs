//! The generators: each turns its spec (and what [`Sources`] provides) into parameter sets.

mod cluster;
mod git;
mod list;
mod matrix;

use ferry_api::{
    ClusterGenerator, Generator, GitGenerator, ListGenerator, MatrixGenerator, MergeGenerator,
};
use serde_json::Value;

use crate::params::{Params, flatten};
use crate::template::{Engine, TemplateError};
use crate::{SourceError, Sources};

/// Why a generator produced no parameter sets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeneratorError {
    #[error("no generator type is set (want one of list, clusters, git, matrix, merge)")]
    NoKind,
    #[error("more than one generator type is set ({0}); a generator has exactly one")]
    ManyKinds(String),
    #[error("{what}: {cause}")]
    Source { what: String, cause: SourceError },
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("{0}")]
    Invalid(String),
    #[error("child generators[{index}] ({kind}): {cause}")]
    Child {
        index: usize,
        kind: String,
        cause: Box<GeneratorError>,
    },
}

/// What generation needs besides the generator itself.
#[derive(Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub engine: Engine,
    pub sources: &'a dyn Sources,
}

/// The one generator type a generator holds.
#[derive(Clone, Copy)]
pub(crate) enum Kind<'a> {
    List(&'a ListGenerator),
    Clusters(&'a ClusterGenerator),
    Git(&'a GitGenerator),
    Matrix(&'a MatrixGenerator),
    Merge(&'a MergeGenerator),
}

impl<'a> Kind<'a> {
    /// The generator type of `g`: exactly one must be set.
    pub(crate) fn of(g: &'a Generator) -> Result<Kind<'a>, GeneratorError> {
        let kinds: Vec<Kind<'a>> = [
            g.list.as_ref().map(Kind::List),
            g.clusters.as_ref().map(Kind::Clusters),
            g.git.as_ref().map(Kind::Git),
            g.matrix.as_ref().map(Kind::Matrix),
            g.merge.as_ref().map(Kind::Merge),
        ]
        .into_iter()
        .flatten()
        .collect();
        match kinds.as_slice() {
            [one] => Ok(*one),
            [] => Err(GeneratorError::NoKind),
            many => Err(GeneratorError::ManyKinds(
                many.iter().map(|k| k.name()).collect::<Vec<_>>().join(", "),
            )),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::List(_) => "list",
            Kind::Clusters(_) => "clusters",
            Kind::Git(_) => "git",
            Kind::Matrix(_) => "matrix",
            Kind::Merge(_) => "merge",
        }
    }

    fn is_combination(self) -> bool {
        matches!(self, Kind::Matrix(_) | Kind::Merge(_))
    }

    /// The generator's own `template` (merged over `spec.template` at the top level only).
    pub(crate) fn template(self) -> Option<&'a Value> {
        match self {
            Kind::List(g) => g.template.as_ref(),
            Kind::Clusters(g) => g.template.as_ref(),
            Kind::Git(g) => g.template.as_ref(),
            Kind::Matrix(g) => g.template.as_ref(),
            Kind::Merge(g) => g.template.as_ref(),
        }
    }
}

/// A generator's name for messages: its type, or what is wrong with it.
pub(crate) fn describe(g: &Generator) -> String {
    match Kind::of(g) {
        Ok(kind) => kind.name().to_owned(),
        Err(GeneratorError::ManyKinds(kinds)) => kinds,
        Err(_) => "none".to_owned(),
    }
}

/// The parameter sets of one generator, after its post-selector. `depth` is 0 for a
/// top-level generator and grows inside matrix and merge generators.
pub(crate) fn params(
    g: &Generator,
    ctx: Ctx<'_>,
    depth: usize,
) -> Result<Vec<Params>, GeneratorError> {
    let kind = Kind::of(g)?;
    let mut sets = match kind {
        Kind::List(l) => list::generate(l, ctx)?,
        Kind::Clusters(c) => cluster::generate(c, ctx)?,
        Kind::Git(git) => git::generate(git, ctx)?,
        Kind::Matrix(m) => matrix::matrix(m, ctx, depth)?,
        Kind::Merge(m) => matrix::merge(m, ctx, depth)?,
    };
    if let Some(selector) = &g.selector {
        sets.retain(|p| selector.matches(&flatten(p)));
    }
    Ok(sets)
}

/// The `(repoURL, revision)` of every git generator in `g`, recursively.
pub(crate) fn git_sources(g: &Generator, out: &mut Vec<(String, String)>) {
    if let Some(git) = &g.git {
        out.push((git.repo_url.clone(), git.revision.clone()));
    }
    let children = g
        .matrix
        .iter()
        .flat_map(|m| &m.generators)
        .chain(g.merge.iter().flat_map(|m| &m.generators));
    for child in children {
        git_sources(child, out);
    }
}

/// Templated `values` of the cluster and git generators: each value rendered against the
/// generator's own parameters (never against other values), as `values.<k>` (fasttemplate) or
/// a `values` map (goTemplate).
fn add_values(
    values: &std::collections::BTreeMap<String, String>,
    params: &mut Params,
    engine: Engine,
) -> Result<(), GeneratorError> {
    let renderer = engine.with(params);
    let mut rendered = Params::new();
    for (k, v) in values {
        rendered.insert(k.clone(), Value::String(renderer.string(v)?));
    }
    drop(renderer);
    if engine.is_go() {
        params.insert("values".to_owned(), Value::Object(rendered));
    } else {
        for (k, v) in rendered {
            params.insert(format!("values.{k}"), v);
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod fake {
    //! Sources for tests.

    use std::collections::BTreeMap;

    use crate::{ClusterInfo, SourceError, Sources};

    #[derive(Default)]
    pub struct Fake {
        pub clusters: Vec<ClusterInfo>,
        /// Per `repo@revision`: path → content. Directories are derived from the paths.
        pub repos: BTreeMap<String, BTreeMap<String, String>>,
        pub fail: Option<String>,
    }

    impl Fake {
        pub fn repo(mut self, repo: &str, revision: &str, files: &[(&str, &str)]) -> Self {
            self.repos.insert(
                format!("{repo}@{revision}"),
                files
                    .iter()
                    .map(|(p, c)| ((*p).to_owned(), (*c).to_owned()))
                    .collect(),
            );
            self
        }

        fn files(
            &self,
            repo: &str,
            revision: &str,
        ) -> Result<&BTreeMap<String, String>, SourceError> {
            if let Some(message) = &self.fail {
                return Err(SourceError(message.clone()));
            }
            self.repos
                .get(&format!("{repo}@{revision}"))
                .ok_or_else(|| SourceError(format!("{repo}@{revision} was not fetched")))
        }
    }

    pub fn cluster(name: &str, server: &str, labels: &[(&str, &str)]) -> ClusterInfo {
        let mut all: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        all.insert(
            ferry_api::SECRET_TYPE_LABEL.to_owned(),
            "cluster".to_owned(),
        );
        ClusterInfo {
            name: name.into(),
            server: server.into(),
            project: String::new(),
            labels: all,
            annotations: BTreeMap::new(),
        }
    }

    impl Sources for Fake {
        fn clusters(&self) -> Result<Vec<ClusterInfo>, SourceError> {
            match &self.fail {
                Some(message) => Err(SourceError(message.clone())),
                None => Ok(self.clusters.clone()),
            }
        }

        fn git_directories(&self, repo: &str, revision: &str) -> Result<Vec<String>, SourceError> {
            let mut dirs = std::collections::BTreeSet::new();
            for path in self.files(repo, revision)?.keys() {
                let mut dir = path.as_str();
                while let Some((parent, _)) = dir.rsplit_once('/') {
                    dirs.insert(parent.to_owned());
                    dir = parent;
                }
            }
            Ok(dirs.into_iter().collect())
        }

        fn git_files(&self, repo: &str, revision: &str) -> Result<Vec<String>, SourceError> {
            Ok(self.files(repo, revision)?.keys().cloned().collect())
        }

        fn git_read(&self, repo: &str, revision: &str, path: &str) -> Result<Vec<u8>, SourceError> {
            self.files(repo, revision)?
                .get(path)
                .map(|c| c.clone().into_bytes())
                .ok_or_else(|| SourceError(format!("{path}: no such file")))
        }
    }
}
