//! The git generator: one parameter set per matching directory, or per object in matching
//! files, of a repository at a revision.

use ferry_api::{GitGenerator, GitPathItem};
use globset::{GlobBuilder, GlobMatcher};
use serde_json::Value;

use super::{Ctx, GeneratorError, add_values};
use crate::normalize;
use crate::params::{Params, flatten_params};

pub(super) fn generate(g: &GitGenerator, ctx: Ctx<'_>) -> Result<Vec<Params>, GeneratorError> {
    match (g.directories.is_empty(), g.files.is_empty()) {
        (false, true) => directories(g, ctx),
        (true, false) => files(g, ctx),
        (true, true) => Err(GeneratorError::Invalid(
            "a git generator needs directories or files".into(),
        )),
        (false, false) => Err(GeneratorError::Invalid(
            "a git generator has either directories or files, not both".into(),
        )),
    }
}

fn source_error(g: &GitGenerator, what: &str) -> impl FnOnce(crate::SourceError) -> GeneratorError {
    let what = format!(
        "{what} of {} at {}",
        g.repo_url,
        if g.revision.is_empty() {
            "HEAD"
        } else {
            &g.revision
        }
    );
    move |cause| GeneratorError::Source { what, cause }
}

fn directories(g: &GitGenerator, ctx: Ctx<'_>) -> Result<Vec<Params>, GeneratorError> {
    for item in &g.directories {
        path_match(&item.path, "").map_err(|e| {
            GeneratorError::Invalid(format!("directory pattern {:?}: {e}", item.path))
        })?;
    }
    let mut all = ctx
        .sources
        .git_directories(&g.repo_url, &g.revision)
        .map_err(source_error(g, "listing directories"))?;
    all.sort();
    all.dedup();
    let matches = |item: &GitPathItem, dir: &str| path_match(&item.path, dir).unwrap_or(false);
    let mut sets = Vec::new();
    for dir in all {
        if dir.split('/').any(|c| c.starts_with('.')) {
            continue;
        }
        let included = g.directories.iter().any(|i| !i.exclude && matches(i, &dir));
        let excluded = g.directories.iter().any(|i| i.exclude && matches(i, &dir));
        if !included || excluded {
            continue;
        }
        let mut params = Params::new();
        let base = base_name(&dir);
        if ctx.engine.is_go() {
            let mut path = Params::new();
            path.insert("path".into(), dir.clone().into());
            path.insert("basename".into(), base.into());
            path.insert("basenameNormalized".into(), normalize(base).into());
            path.insert("segments".into(), segments(&dir));
            insert_go_path(&mut params, &g.path_param_prefix, path);
        } else {
            let name = path_param_name(&g.path_param_prefix);
            insert_flat_path(&mut params, &name, &dir);
            params.insert(format!("{name}.basename"), base.into());
            params.insert(format!("{name}.basenameNormalized"), normalize(base).into());
        }
        add_values(&g.values, &mut params, ctx.engine)?;
        sets.push(params);
    }
    Ok(sets)
}

fn files(g: &GitGenerator, ctx: Ctx<'_>) -> Result<Vec<Params>, GeneratorError> {
    let compile = |item: &GitPathItem| -> Result<GlobMatcher, GeneratorError> {
        GlobBuilder::new(&item.path)
            .literal_separator(false)
            .build()
            .map(|g| g.compile_matcher())
            .map_err(|e| GeneratorError::Invalid(format!("file pattern {:?}: {e}", item.path)))
    };
    let mut includes = Vec::new();
    let mut excludes = Vec::new();
    for item in &g.files {
        let matcher = compile(item)?;
        if item.exclude {
            excludes.push(matcher);
        } else {
            includes.push(matcher);
        }
    }
    let mut all = ctx
        .sources
        .git_files(&g.repo_url, &g.revision)
        .map_err(source_error(g, "listing files"))?;
    all.sort();
    all.dedup();
    let mut sets = Vec::new();
    for file in all {
        let included = includes.iter().any(|m| m.is_match(&file));
        if !included || excludes.iter().any(|m| m.is_match(&file)) {
            continue;
        }
        let content = ctx
            .sources
            .git_read(&g.repo_url, &g.revision, &file)
            .map_err(source_error(g, &format!("reading {file}")))?;
        for object in parse_objects(&file, &content)? {
            let mut params = if ctx.engine.is_go() {
                object
            } else {
                flatten_params(&object)
            };
            add_file_path(&mut params, &g.path_param_prefix, &file, ctx.engine.is_go());
            add_values(&g.values, &mut params, ctx.engine)?;
            sets.push(params);
        }
    }
    Ok(sets)
}

/// A file holds one object, or a list of objects (YAML or JSON). An empty file is one empty
/// object.
fn parse_objects(file: &str, content: &[u8]) -> Result<Vec<Params>, GeneratorError> {
    let invalid = |why: String| GeneratorError::Invalid(format!("{file}: {why}"));
    let text = std::str::from_utf8(content).map_err(|_| invalid("not UTF-8".into()))?;
    let parsed: Value = serde_saphyr::from_str(text).map_err(|e| invalid(e.to_string()))?;
    match parsed {
        Value::Null => Ok(vec![Params::new()]),
        Value::Object(object) => Ok(vec![object]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(object) => Ok(object),
                _ => Err(invalid(format!("item {i} is not an object"))),
            })
            .collect(),
        _ => Err(invalid("neither an object nor a list of objects".into())),
    }
}

fn add_file_path(params: &mut Params, prefix: &str, file: &str, go: bool) {
    let dir = dir_name(file);
    let base = base_name(&dir).to_owned();
    let filename = base_name(file);
    if go {
        let mut path = Params::new();
        path.insert("path".into(), dir.clone().into());
        path.insert("basename".into(), base.clone().into());
        path.insert("filename".into(), filename.into());
        path.insert("basenameNormalized".into(), normalize(&base).into());
        path.insert("filenameNormalized".into(), normalize(filename).into());
        path.insert("segments".into(), segments(&dir));
        insert_go_path(params, prefix, path);
    } else {
        let name = path_param_name(prefix);
        insert_flat_path(params, &name, &dir);
        params.insert(format!("{name}.basename"), base.clone().into());
        params.insert(format!("{name}.filename"), filename.into());
        params.insert(
            format!("{name}.basenameNormalized"),
            normalize(&base).into(),
        );
        params.insert(
            format!("{name}.filenameNormalized"),
            normalize(filename).into(),
        );
    }
}

fn path_param_name(prefix: &str) -> String {
    if prefix.is_empty() {
        "path".into()
    } else {
        format!("{prefix}.path")
    }
}

/// `path` and `path[N]` (segments; empty ones skipped, their index still counted).
fn insert_flat_path(params: &mut Params, name: &str, dir: &str) {
    params.insert(name.to_owned(), dir.into());
    for (i, segment) in dir.split('/').enumerate() {
        if !segment.is_empty() {
            params.insert(format!("{name}[{i}]"), segment.into());
        }
    }
}

/// `.path` (or `.<prefix>.path`) as a map.
fn insert_go_path(params: &mut Params, prefix: &str, path: Params) {
    if prefix.is_empty() {
        params.insert("path".into(), Value::Object(path));
    } else {
        let mut wrapper = Params::new();
        wrapper.insert("path".into(), Value::Object(path));
        params.insert(prefix.to_owned(), Value::Object(wrapper));
    }
}

fn segments(dir: &str) -> Value {
    Value::Array(
        dir.split('/')
            .map(|s| Value::String(s.to_owned()))
            .collect(),
    )
}

/// Go's `path.Dir` for a relative, clean path: `a/b/c` → `a/b`, `c` → `.`.
fn dir_name(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, _)) if !dir.is_empty() => dir.to_owned(),
        Some(_) => "/".to_owned(),
        None => ".".to_owned(),
    }
}

/// Go's `path.Base`: the last element (`.` for an empty path).
fn base_name(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return if path.is_empty() { "." } else { "/" };
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed)
}

/// A malformed pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub(crate) struct BadPattern;

/// Go's `path.Match`: `*` is any run of non-`/` characters, `?` one non-`/` character,
/// `[...]` a class (`^` negates, `a-z` ranges), `\` escapes. No `**`. The whole name must
/// match. The pattern is checked for syntax even where the name does not match.
pub(crate) fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    check_syntax(&pattern)?;
    Ok(match_from(&pattern, &name))
}

fn check_syntax(p: &[char]) -> Result<(), BadPattern> {
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            '\\' => {
                if i + 1 >= p.len() {
                    return Err(BadPattern);
                }
                i += 2;
            }
            '[' => {
                let (_, end) = parse_class(p, i)?;
                i = end;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// One character class starting at `p[start] == '['`: its ranges, negation, and the index
/// after its `]`.
#[allow(clippy::type_complexity)]
fn parse_class(p: &[char], start: usize) -> Result<((bool, Vec<(char, char)>), usize), BadPattern> {
    let mut i = start + 1;
    let negated = p.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let literal = |i: &mut usize| -> Result<char, BadPattern> {
        match p.get(*i) {
            None | Some('-') | Some(']') => Err(BadPattern),
            Some('\\') => {
                let c = *p.get(*i + 1).ok_or(BadPattern)?;
                *i += 2;
                Ok(c)
            }
            Some(c) => {
                *i += 1;
                Ok(*c)
            }
        }
    };
    loop {
        if p.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok(((negated, ranges), i + 1));
        }
        let lo = literal(&mut i)?;
        let hi = if p.get(i) == Some(&'-') {
            i += 1;
            literal(&mut i)?
        } else {
            lo
        };
        ranges.push((lo, hi));
    }
}

fn match_from(p: &[char], s: &[char]) -> bool {
    let Some(&first) = p.first() else {
        return s.is_empty();
    };
    match first {
        '*' => {
            let rest = &p[1..];
            for i in 0..=s.len() {
                if match_from(rest, &s[i..]) {
                    return true;
                }
                if s.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        '?' => matches!(s.first(), Some(c) if *c != '/') && match_from(&p[1..], &s[1..]),
        '[' => {
            let Ok(((negated, ranges), end)) = parse_class(p, 0) else {
                return false;
            };
            let Some(&c) = s.first() else {
                return false;
            };
            let inside = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
            inside != negated && match_from(&p[end..], &s[1..])
        }
        '\\' => p.get(1).is_some_and(|c| s.first() == Some(c)) && match_from(&p[2..], &s[1..]),
        c => s.first() == Some(&c) && match_from(&p[1..], &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::generators::fake::Fake;
    use crate::template::Engine;

    #[test]
    fn go_path_match() {
        let cases = [
            ("*", "apps", Ok(true)),
            ("*", "apps/web", Ok(false)),
            ("apps/*", "apps/web", Ok(true)),
            ("apps/*", "apps/web/x", Ok(false)),
            ("apps/w?b", "apps/web", Ok(true)),
            ("apps/?", "apps//", Ok(false)),
            ("apps/[a-w]eb", "apps/web", Ok(true)),
            ("apps/[^a-w]eb", "apps/web", Ok(false)),
            ("apps/[!]", "apps/!", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "axb", Ok(false)),
            ("*/*/x", "a/b/x", Ok(true)),
            ("**", "a/b", Ok(false)),
            ("[", "x", Err(BadPattern)),
            ("a[]", "a", Err(BadPattern)),
            ("a\\", "a", Err(BadPattern)),
            ("[z-", "z", Err(BadPattern)),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(path_match(pattern, name), want, "{pattern} ~ {name}");
        }
    }

    fn run(g: &GitGenerator, fake: &Fake, go: bool) -> Result<Vec<Value>, GeneratorError> {
        let engine = Engine::new(go, &[]).map_err(GeneratorError::Invalid)?;
        let ctx = Ctx {
            engine,
            sources: fake,
        };
        Ok(generate(g, ctx)?.into_iter().map(Value::Object).collect())
    }

    fn item(path: &str, exclude: bool) -> GitPathItem {
        GitPathItem {
            path: path.into(),
            exclude,
        }
    }

    fn repo() -> Fake {
        Fake::default().repo(
            "https://git.example/r.git",
            "main",
            &[
                ("apps/web/kustomization.yaml", ""),
                ("apps/api/kustomization.yaml", ""),
                ("apps/.hidden/x.yaml", ""),
                ("apps/legacy/x.yaml", ""),
                ("apps/web/deep/x.yaml", ""),
                ("README.md", ""),
                (
                    "clusters/prod/config.json",
                    r#"{"cluster": {"name": "prod", "replicas": 3}}"#,
                ),
                (
                    "clusters/stg/config.json",
                    r#"[{"cluster": {"name": "stg-a"}}, {"cluster": {"name": "stg-b"}}]"#,
                ),
                ("clusters/stg/extra/config.json", "cluster:\n  name: deep\n"),
                ("clusters/bad/config.yaml", "- 1\n- 2\n"),
            ],
        )
    }

    fn git(directories: Vec<GitPathItem>, files: Vec<GitPathItem>) -> GitGenerator {
        GitGenerator {
            repo_url: "https://git.example/r.git".into(),
            revision: "main".into(),
            directories,
            files,
            ..Default::default()
        }
    }

    fn paths(sets: &[Value], key: &str) -> Vec<String> {
        sets.iter()
            .map(|s| s[key].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    #[test]
    fn directories_table() {
        let cases: Vec<(&str, Vec<GitPathItem>, Vec<&str>)> = vec![
            (
                "children of apps",
                vec![item("apps/*", false)],
                vec!["apps/api", "apps/legacy", "apps/web"],
            ),
            (
                "exclude wins whatever the order",
                vec![item("apps/legacy", true), item("apps/*", false)],
                vec!["apps/api", "apps/web"],
            ),
            (
                "root children",
                vec![item("*", false)],
                vec!["apps", "clusters"],
            ),
            ("no match", vec![item("nothing/*", false)], vec![]),
            (
                "deeper",
                vec![item("apps/*/*", false)],
                vec!["apps/web/deep"],
            ),
        ];
        let fake = repo();
        for (name, dirs, want) in cases {
            let got = run(&git(dirs, vec![]), &fake, false).expect(name);
            assert_eq!(paths(&got, "path"), want, "{name}");
        }
    }

    #[test]
    fn directory_params() {
        let fake = repo();
        let mut g = git(vec![item("apps/web", false)], vec![]);
        g.values = [("ns".to_owned(), "{{path.basename}}-ns".to_owned())].into();
        let got = run(&g, &fake, false).expect("generates");
        assert_eq!(
            got,
            vec![
                json!({"path": "apps/web", "path[0]": "apps", "path[1]": "web",
                "path.basename": "web", "path.basenameNormalized": "web", "values.ns": "web-ns"})
            ]
        );
        g.path_param_prefix = "app".into();
        g.values = [("ns".to_owned(), "{{.app.path.basename}}-ns".to_owned())].into();
        let got = run(&g, &fake, true).expect("generates");
        assert_eq!(
            got,
            vec![
                json!({"app": {"path": {"path": "apps/web", "basename": "web",
                "basenameNormalized": "web", "segments": ["apps", "web"]}},
                "values": {"ns": "web-ns"}})
            ]
        );
    }

    #[test]
    fn files_table() {
        let fake = repo();
        // Greedy `*`: it crosses `/`.
        let g = git(vec![], vec![item("clusters/*/config.json", false)]);
        let got = run(&g, &fake, false).expect("generates");
        assert_eq!(
            paths(&got, "cluster.name"),
            ["prod", "stg-a", "stg-b", "deep"]
        );
        assert_eq!(got[0]["cluster.replicas"], "3");
        assert_eq!(got[0]["path"], "clusters/prod");
        assert_eq!(got[0]["path.basename"], "prod");
        assert_eq!(got[0]["path.filename"], "config.json");
        assert_eq!(got[0]["path.filenameNormalized"], "config.json");
        assert_eq!(got[0]["path[1]"], "prod");
        assert_eq!(got[3]["path"], "clusters/stg/extra");

        let g = git(
            vec![],
            vec![
                item("clusters/**/config.json", false),
                item("clusters/stg/**", true),
            ],
        );
        let got = run(&g, &fake, true).expect("generates");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["cluster"]["replicas"], 3);
        assert_eq!(got[0]["path"]["segments"], json!(["clusters", "prod"]));

        let g = git(vec![], vec![item("clusters/*/config.yaml", false)]);
        let err = run(&g, &fake, false).expect_err("list of numbers");
        assert_eq!(
            err.to_string(),
            "clusters/bad/config.yaml: item 0 is not an object"
        );
    }

    #[test]
    fn spec_errors() {
        let fake = repo();
        let err = run(&git(vec![], vec![]), &fake, false).expect_err("empty");
        assert!(err.to_string().contains("directories or files"));
        let err = run(&git(vec![item("[", false)], vec![]), &fake, false).expect_err("bad");
        assert!(err.to_string().contains("syntax error"), "{err}");
        let mut g = git(vec![item("*", false)], vec![]);
        g.revision = "nope".into();
        let err = run(&g, &fake, false).expect_err("unfetched");
        assert_eq!(
            err.to_string(),
            "listing directories of https://git.example/r.git at nope: https://git.example/r.git@nope was not fetched"
        );
    }
}
