//! The combining generators: matrix (a product; the second child rendered with each parameter
//! set of the first) and merge (the first child's sets, overridden by later children's sets
//! that agree on the merge keys).

use std::collections::BTreeMap;

use ferry_api::{Generator, MatrixGenerator, MergeGenerator};
use serde_json::Value;

use super::{Ctx, GeneratorError, Kind, params};
use crate::params::{Params, merge_override, object};
use crate::template::Engine;

/// Checks a child and generates its parameter sets, naming it in errors.
fn child_params(
    index: usize,
    child: &Generator,
    ctx: Ctx<'_>,
    depth: usize,
) -> Result<Vec<Params>, GeneratorError> {
    let wrap = |kind: String| {
        move |cause: GeneratorError| GeneratorError::Child {
            index,
            kind,
            cause: Box::new(cause),
        }
    };
    let kind = Kind::of(child).map_err(wrap(super::describe(child)))?;
    let name = kind.name().to_owned();
    if kind.is_combination() && depth >= 1 {
        return Err(wrap(name)(GeneratorError::Invalid(
            "matrix and merge generators can be nested only one level deep".into(),
        )));
    }
    params(child, ctx, depth + 1).map_err(wrap(name))
}

pub(super) fn matrix(
    m: &MatrixGenerator,
    ctx: Ctx<'_>,
    depth: usize,
) -> Result<Vec<Params>, GeneratorError> {
    let [first, second] = m.generators.as_slice() else {
        return Err(GeneratorError::Invalid(format!(
            "a matrix generator has exactly 2 child generators, not {}",
            m.generators.len()
        )));
    };
    let no_params = |index: usize, kind: &Generator| GeneratorError::Child {
        index,
        kind: super::describe(kind),
        cause: Box::new(GeneratorError::Invalid(
            "the child generator produced no parameters".into(),
        )),
    };
    let left = child_params(0, first, ctx, depth)?;
    if left.is_empty() {
        return Err(no_params(0, first));
    }
    let mut out = Vec::new();
    for a in &left {
        let second = interpolate(second, a, ctx.engine).map_err(|cause| GeneratorError::Child {
            index: 1,
            kind: super::describe(second),
            cause: Box::new(cause),
        })?;
        let right = child_params(1, &second, ctx, depth)?;
        if right.is_empty() {
            return Err(no_params(1, &second));
        }
        for b in right {
            out.push(combine(a, b, ctx.engine)?);
        }
    }
    Ok(out)
}

/// One parameter set of each child as one. goTemplate: a deep merge in which the first
/// child's values win. fasttemplate: a key in both must have the same value.
fn combine(a: &Params, b: Params, engine: Engine) -> Result<Params, GeneratorError> {
    if engine.is_go() {
        let mut out = b;
        merge_override(&mut out, a);
        return Ok(out);
    }
    let mut out = a.clone();
    for (k, v) in b {
        match out.get(&k) {
            Some(existing) if *existing != v => {
                return Err(GeneratorError::Invalid(format!(
                    "both child generators set {k:?}, to {existing} and {v} \
                     (give the git generators a pathParamPrefix)"
                )));
            }
            _ => {
                out.insert(k, v);
            }
        }
    }
    Ok(out)
}

/// The generator `g` with its strings rendered with `params` (a matrix's second child with
/// each set of the first). Its `template` is dropped (ignored inside combinations). Its
/// `values` keep references to its own parameters: with goTemplate a value that does not
/// render with `params` alone stays as written.
pub(crate) fn interpolate(
    g: &Generator,
    params: &Params,
    engine: Engine,
) -> Result<Generator, GeneratorError> {
    let invalid = |e: serde_json::Error| GeneratorError::Invalid(e.to_string());
    let mut doc = object(serde_json::to_value(g).map_err(invalid)?).unwrap_or_default();
    let mut values: Vec<(String, Params)> = Vec::new();
    for (kind, spec) in doc.iter_mut() {
        if kind == "selector" {
            continue;
        }
        if let Value::Object(spec) = spec {
            spec.remove("template");
            if let Some(Value::Object(v)) = spec.remove("values") {
                values.push((kind.clone(), v));
            }
        }
    }
    let renderer = engine.with(params);
    let mut rendered = object(renderer.value(&Value::Object(doc))?).unwrap_or_default();
    drop(renderer);
    let strict = engine.strict().with(params);
    for (kind, v) in values {
        let mut out = Params::new();
        for (k, text) in v {
            let text = match text {
                Value::String(s) => Value::String(strict.string(&s).unwrap_or(s)),
                other => other,
            };
            out.insert(k, text);
        }
        if let Some(Value::Object(spec)) = rendered.get_mut(&kind) {
            spec.insert("values".into(), Value::Object(out));
        }
    }
    serde_json::from_value(Value::Object(rendered)).map_err(invalid)
}

pub(super) fn merge(
    m: &MergeGenerator,
    ctx: Ctx<'_>,
    depth: usize,
) -> Result<Vec<Params>, GeneratorError> {
    if m.generators.len() < 2 {
        return Err(GeneratorError::Invalid(format!(
            "a merge generator needs at least 2 child generators, not {}",
            m.generators.len()
        )));
    }
    if m.merge_keys.is_empty() {
        return Err(GeneratorError::Invalid(
            "a merge generator needs at least one merge key".into(),
        ));
    }
    let key_of = |p: &Params| -> String {
        let key: Params = m
            .merge_keys
            .iter()
            .map(|k| (k.clone(), p.get(k).cloned().unwrap_or(Value::Null)))
            .collect();
        Value::Object(key).to_string()
    };
    let mut base: Vec<Params> = Vec::new();
    for (index, child) in m.generators.iter().enumerate() {
        let sets = child_params(index, child, ctx, depth)?;
        let mut by_key: BTreeMap<String, Params> = BTreeMap::new();
        for set in sets {
            let key = key_of(&set);
            if by_key.contains_key(&key) {
                return Err(GeneratorError::Child {
                    index,
                    kind: super::describe(child),
                    cause: Box::new(GeneratorError::Invalid(format!(
                        "two parameter sets have the same merge keys {key}"
                    ))),
                });
            }
            if index == 0 {
                base.push(set.clone());
            }
            by_key.insert(key, set);
        }
        if index == 0 {
            continue;
        }
        for set in &mut base {
            if let Some(over) = by_key.get(&key_of(set)) {
                if ctx.engine.is_go() {
                    merge_override(set, over);
                } else {
                    set.extend(over.clone());
                }
            }
        }
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use ferry_api::{GitGenerator, GitPathItem, ListGenerator};
    use serde_json::json;

    use super::*;
    use crate::generators::fake::Fake;

    fn list(elements: Value) -> Generator {
        Generator {
            list: Some(ListGenerator {
                elements: elements.as_array().cloned().unwrap_or_default(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn git_files(pattern: &str, values: &[(&str, &str)]) -> Generator {
        Generator {
            git: Some(GitGenerator {
                repo_url: "https://git.example/r.git".into(),
                revision: "main".into(),
                files: vec![GitPathItem {
                    path: pattern.into(),
                    exclude: false,
                }],
                values: values
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn matrix_of(children: Vec<Generator>) -> Generator {
        Generator {
            matrix: Some(MatrixGenerator {
                generators: children,
                template: None,
            }),
            ..Default::default()
        }
    }

    fn run(g: &Generator, fake: &Fake, go: bool) -> Result<Vec<Value>, String> {
        let engine = Engine::new(go, &[])?;
        let ctx = Ctx {
            engine,
            sources: fake,
        };
        params(g, ctx, 0)
            .map(|sets| sets.into_iter().map(Value::Object).collect())
            .map_err(|e| e.to_string())
    }

    fn repo() -> Fake {
        Fake::default().repo(
            "https://git.example/r.git",
            "main",
            &[
                ("envs/prod/apps/web.yaml", "name: web\nreplicas: '3'\n"),
                ("envs/prod/apps/api.yaml", "name: api\n"),
                ("envs/stg/apps/web.yaml", "name: web\nreplicas: '1'\n"),
            ],
        )
    }

    #[test]
    fn git_files_under_the_first_childs_path() {
        let fake = repo();
        let g = matrix_of(vec![
            list(json!([{"env": "prod"}, {"env": "stg"}])),
            git_files("envs/{{env}}/apps/*.yaml", &[("ns", "{{env}}-{{name}}")]),
        ]);
        let got = run(&g, &fake, false).expect("generates");
        let summary: Vec<(String, String)> = got
            .iter()
            .map(|s| {
                (
                    s["values.ns"].as_str().unwrap_or("?").to_owned(),
                    s["path"].as_str().unwrap_or("?").to_owned(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("prod-api".to_owned(), "envs/prod/apps".to_owned()),
                ("prod-web".to_owned(), "envs/prod/apps".to_owned()),
                ("stg-web".to_owned(), "envs/stg/apps".to_owned()),
            ]
        );

        // goTemplate: a value that refers to the child's own parameters survives
        // interpolation; one that refers to the first child's is rendered by it.
        let g = matrix_of(vec![
            list(json!([{"env": "prod"}])),
            git_files(
                "envs/{{.env}}/apps/web.yaml",
                &[("ns", "{{.name}}-ns"), ("env", "{{.env}}")],
            ),
        ]);
        let got = run(&g, &fake, true).expect("generates");
        assert_eq!(got.len(), 1);
        assert_eq!(got[0]["values"], json!({"ns": "web-ns", "env": "prod"}));
        assert_eq!(got[0]["replicas"], "3");
    }

    #[test]
    fn combining_rules() {
        let fake = Fake::default();
        let g = matrix_of(vec![
            list(json!([{"a": "1", "same": "x"}])),
            list(json!([{"b": "2", "same": "x"}, {"b": "3", "same": "x"}])),
        ]);
        assert_eq!(
            run(&g, &fake, false),
            Ok(vec![
                json!({"a": "1", "same": "x", "b": "2"}),
                json!({"a": "1", "same": "x", "b": "3"})
            ])
        );
        let conflict = matrix_of(vec![list(json!([{"k": "1"}])), list(json!([{"k": "2"}]))]);
        let err = run(&conflict, &fake, false).expect_err("conflict");
        assert!(err.contains("both child generators set \"k\""), "{err}");
        // goTemplate: the first child wins, maps merge.
        let nested = matrix_of(vec![
            list(json!([{"k": "1", "m": {"x": 1}}])),
            list(json!([{"k": "2", "m": {"y": 2}}])),
        ]);
        assert_eq!(
            run(&nested, &fake, true),
            Ok(vec![json!({"k": "1", "m": {"x": 1, "y": 2}})])
        );
    }

    #[test]
    fn matrix_errors() {
        let fake = repo();
        let cases = [
            (
                matrix_of(vec![list(json!([{"a": "1"}]))]),
                "a matrix generator has exactly 2 child generators, not 1",
            ),
            (
                matrix_of(vec![list(json!([])), list(json!([{"a": "1"}]))]),
                "child generators[0] (list): the child generator produced no parameters",
            ),
            (
                matrix_of(vec![list(json!([{"a": "1"}])), git_files("none/*", &[])]),
                "child generators[1] (git): the child generator produced no parameters",
            ),
            (
                matrix_of(vec![
                    list(json!([{"a": "1"}])),
                    matrix_of(vec![
                        list(json!([{"b": "1"}])),
                        matrix_of(vec![list(json!([{"c": "1"}])), list(json!([{"d": "1"}]))]),
                    ]),
                ]),
                "child generators[1] (matrix): child generators[1] (matrix): matrix and merge generators can be nested only one level deep",
            ),
            (
                matrix_of(vec![list(json!([{"a": "1"}])), Generator::default()]),
                "child generators[1] (none): no generator type is set (want one of list, clusters, git, matrix, merge)",
            ),
        ];
        for (g, want) in cases {
            assert_eq!(run(&g, &fake, false), Err(want.to_owned()));
        }
        // One level of nesting is fine.
        let nested = matrix_of(vec![
            list(json!([{"a": "1"}])),
            matrix_of(vec![list(json!([{"b": "1"}])), list(json!([{"c": "1"}]))]),
        ]);
        assert_eq!(
            run(&nested, &fake, false),
            Ok(vec![json!({"a": "1", "b": "1", "c": "1"})])
        );
    }

    fn merge_of(keys: &[&str], children: Vec<Generator>) -> Generator {
        Generator {
            merge: Some(MergeGenerator {
                merge_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
                generators: children,
                template: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn merge_table() {
        let fake = Fake::default();
        let base = list(json!([
            {"cluster": "a", "replicas": "1", "region": "eu"},
            {"cluster": "b", "replicas": "1", "region": "us"}
        ]));
        let cases: Vec<(&str, Generator, bool, Result<Value, &str>)> = vec![
            (
                "later children override matching sets, in order",
                merge_of(
                    &["cluster"],
                    vec![
                        base.clone(),
                        list(
                            json!([{"cluster": "b", "replicas": "2"}, {"cluster": "zzz", "replicas": "9"}]),
                        ),
                        list(json!([{"cluster": "b", "replicas": "3"}])),
                    ],
                ),
                false,
                Ok(json!([
                    {"cluster": "a", "replicas": "1", "region": "eu"},
                    {"cluster": "b", "replicas": "3", "region": "us"}
                ])),
            ),
            (
                "several keys",
                merge_of(
                    &["cluster", "region"],
                    vec![
                        base.clone(),
                        list(
                            json!([{"cluster": "b", "region": "eu", "replicas": "5"}, {"cluster": "a", "region": "eu", "replicas": "7"}]),
                        ),
                    ],
                ),
                false,
                Ok(json!([
                    {"cluster": "a", "replicas": "7", "region": "eu"},
                    {"cluster": "b", "replicas": "1", "region": "us"}
                ])),
            ),
            (
                "goTemplate deep merge",
                merge_of(
                    &["cluster"],
                    vec![
                        list(json!([{"cluster": "a", "m": {"x": 1}}])),
                        list(json!([{"cluster": "a", "m": {"y": 2}}])),
                    ],
                ),
                true,
                Ok(json!([{"cluster": "a", "m": {"x": 1, "y": 2}}])),
            ),
            (
                "duplicate keys within a child",
                merge_of(
                    &["region"],
                    vec![
                        list(json!([{"region": "eu"}])),
                        list(json!([{"region": "us"}, {"region": "us"}])),
                    ],
                ),
                false,
                Err(
                    "child generators[1] (list): two parameter sets have the same merge keys {\"region\":\"us\"}",
                ),
            ),
            (
                "no keys",
                merge_of(&[], vec![base.clone(), base.clone()]),
                false,
                Err("a merge generator needs at least one merge key"),
            ),
            (
                "one child",
                merge_of(&["cluster"], vec![base.clone()]),
                false,
                Err("a merge generator needs at least 2 child generators, not 1"),
            ),
        ];
        for (name, g, go, want) in cases {
            let got = run(&g, &fake, go).map(Value::Array);
            assert_eq!(got, want.map_err(str::to_owned), "{name}");
        }
    }
}
