//! jq path expressions, evaluated with jaq.
//!
//! Argo CD runs `del(EXPR)` with gojq. jq (and gojq) define `del(f)` as
//! `delpaths([path(f)])`: every path `f` selects *in the input* is collected first, then all of
//! them are deleted at once. This module does exactly that: it compiles `path(EXPR)` once, runs it
//! on the object to get the paths, and [`super::remove::paths`] deletes them as one set. (jaq's
//! own `del(f)` is `f |= empty`, which deletes one path after another, so that
//! `del(.[0], .[1])` removes the first and the *third* element; jq removes the first two.)
//!
//! # Bounds
//!
//! Argo CD stops a jq evaluation after one second. jaq has no timeout, step budget or other
//! way to interrupt an evaluation, so Ferry bounds expressions by what they may contain:
//! refused when the rules are compiled are local definitions (`def`, which allow unbounded
//! recursion), `reduce` and `foreach`, assignments (`=`, `|=`, `+=`, ...), `*` (string
//! repetition), `$ENV`, and the filters that loop, generate without bound, grow what they walk
//! or reach outside the object ([`DENIED_CALLS`]: `range`, `repeat`, `while`, `until`,
//! `recurse(f)`, `walk`, `combinations`, `setpath`, `env`, `now`, `localtime` (reads the
//! system time zone), `input`, `debug`, `stderr`, `halt`, ...). What is left (paths, `..`, `recurse`, `[]`, `select`, comparisons, string
//! tests and regular expressions, `if`, `//`, `try`, `any`/`all`, `first`, `limit`, ...)
//! terminates, and at most [`MAX_JQ_PATHS`] paths are taken from one evaluation. An expression
//! can still be made slow on purpose (each link of `(.,.) | (.,.) | ...` doubles the work, and
//! `[...]` collects it): there is no wall-clock bound.

use jaq_core::compile::Undefined;
use jaq_core::load::lex::{Expect as LexExpect, StrPart, Token};
use jaq_core::load::parse::{BinaryOp, Pattern as JqPattern, Term};
use jaq_core::load::{Arena, File, Lexer, Loader, Parser};
use jaq_core::ops::Math;
use jaq_core::path::Part;
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::{Num, Val};
use serde_json::Value;

/// The most paths one jq expression may select in one object; beyond it the expression is
/// skipped for that object (with a warning) rather than applied in part.
pub const MAX_JQ_PATHS: usize = 100_000;

type Data = data::JustLut<Val>;

/// One segment of a path as jq returns it.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum JqSeg {
    /// An object key.
    Key(String),
    /// An array index, possibly negative (from the end).
    Index(isize),
    /// An array slice `[start:end]` (jq's `{"start": .., "end": ..}`).
    Slice(Option<isize>, Option<isize>),
}

/// Why an evaluation gave no paths.
#[derive(Debug)]
pub(super) enum JqRunError {
    Failed(String),
    TooManyPaths,
}

/// A compiled `path(EXPR)`.
pub(super) struct JqPath {
    expression: String,
    filter: jaq_core::Filter<Data>,
}

impl std::fmt::Debug for JqPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JqPath")
            .field("expression", &self.expression)
            .finish_non_exhaustive()
    }
}

impl JqPath {
    /// Parses and checks `expression` on its own (so that it cannot close the `path(` it is
    /// wrapped in), then compiles `path(expression)` with jaq's core, standard and JSON
    /// libraries. The error is a sentence for people.
    pub(super) fn compile(expression: &str) -> Result<JqPath, String> {
        if expression.trim().is_empty() {
            return Err("the expression is empty".to_owned());
        }
        check(expression)?;
        // A newline before `)` so that a trailing `# comment` cannot swallow it.
        let code = format!("path({expression}\n)");
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let loader = Loader::new(defs);
        let arena = Arena::default();
        let modules = loader
            .load(
                &arena,
                File {
                    code: &code,
                    path: (),
                },
            )
            .map_err(|errs| {
                let n = errs.len();
                format!("it does not parse ({n} error(s) in path(EXPR))")
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let names: Vec<String> = errs
                    .into_iter()
                    .flat_map(|(_, es)| es)
                    .map(|(name, undefined)| match undefined {
                        Undefined::Filter(arity) => format!("undefined filter `{name}/{arity}`"),
                        other => format!("undefined {} `{name}`", other.as_str()),
                    })
                    .collect();
                names.join(", ")
            })?;
        Ok(JqPath {
            expression: expression.to_owned(),
            filter,
        })
    }

    /// The expression as written.
    pub(super) fn expression(&self) -> &str {
        &self.expression
    }

    /// The paths the expression selects in `obj`.
    pub(super) fn paths(&self, obj: &Value) -> Result<Vec<Vec<JqSeg>>, JqRunError> {
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for result in self.filter.id.run((ctx, to_val(obj))).map(unwrap_valr) {
            let path = result.map_err(|e| JqRunError::Failed(e.to_string()))?;
            if out.len() == MAX_JQ_PATHS {
                return Err(JqRunError::TooManyPaths);
            }
            if let Some(path) = from_path(&path) {
                out.push(path);
            }
        }
        Ok(out)
    }
}

/// The jaq value of a JSON value.
fn to_val(v: &Value) -> Val {
    match v {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Val::Num(Num::from_integral(i))
            } else if let Some(u) = n.as_u64() {
                Val::Num(Num::from_integral(u))
            } else {
                Val::Num(Num::Float(n.as_f64().unwrap_or(f64::NAN)))
            }
        }
        Value::String(s) => Val::from(s.clone()),
        Value::Array(items) => items.iter().map(to_val).collect(),
        Value::Object(map) => Val::obj(
            map.iter()
                .map(|(k, v)| (Val::from(k.clone()), to_val(v)))
                .collect(),
        ),
    }
}

/// A path `path(f)` returned; `None` for anything that is not a list of keys, indices and
/// slices (such a path cannot be deleted from a JSON object).
fn from_path(path: &Val) -> Option<Vec<JqSeg>> {
    let Val::Arr(parts) = path else {
        return None;
    };
    parts.iter().map(seg).collect()
}

fn seg(part: &Val) -> Option<JqSeg> {
    match part {
        Val::TStr(b) | Val::BStr(b) => Some(JqSeg::Key(String::from_utf8_lossy(b).into_owned())),
        Val::Num(n) => index(n).map(JqSeg::Index),
        Val::Obj(map) => {
            let bound = |name: &str| -> Option<Option<isize>> {
                match map.get(&Val::from(name.to_owned())) {
                    None | Some(Val::Null) => Some(None),
                    Some(Val::Num(n)) => index(n).map(Some),
                    Some(_) => None,
                }
            };
            Some(JqSeg::Slice(bound("start")?, bound("end")?))
        }
        _ => None,
    }
}

/// An index as jq reads one: integers as they are, other numbers truncated.
fn index(n: &Num) -> Option<isize> {
    n.as_isize().or_else(|| {
        let f = match n {
            Num::Float(f) => *f,
            Num::Dec(s) => s.parse().ok()?,
            _ => return None,
        };
        // Truncation is what jq does with a fractional index; the range check keeps the cast
        // exact.
        (f.is_finite() && f.abs() < 1e15).then(|| f.trunc() as isize)
    })
}

// === what an ignore expression may contain ===

/// Filters refused in ignore expressions, by name (any arity): they loop, generate without a
/// bound, grow what they walk, write, or reach outside the object. (`recurse` with arguments is
/// refused too; `recurse` alone walks the object and stops.)
pub(super) const DENIED_CALLS: &[&str] = &[
    "range",
    "repeat",
    "while",
    "until",
    "combinations",
    "env",
    "now",
    "localtime",
    "strflocaltime",
    "input",
    "inputs",
    "input_filename",
    "input_line_number",
    "debug",
    "debug_empty",
    "stderr",
    "stderr_empty",
    "halt",
    "halt_error",
    "setpath",
    "walk",
    "get_search_list",
];

/// Lexes and parses `expression` as one jq term and refuses what [`DENIED_CALLS`] and the module
/// documentation list.
fn check(expression: &str) -> Result<(), String> {
    let tokens = Lexer::new(expression).lex().map_err(|errs| {
        errs.first().map_or_else(
            || "it does not lex".to_owned(),
            |(expect, rest)| match (expect, rest.chars().next()) {
                (LexExpect::Token, Some(c)) => {
                    format!("unexpected `{c}` at {}", position(expression, rest))
                }
                _ => format!(
                    "expected {} at {}",
                    expect.as_str(),
                    position(expression, rest)
                ),
            },
        )
    })?;
    let term = Parser::new(&tokens)
        .parse(|p| p.term())
        .map_err(|errs| parse_error(expression, &errs))?;
    allowed(&term)
}

fn parse_error(expression: &str, errs: &[jaq_core::load::parse::TError<'_, &str>]) -> String {
    let Some((expect, found)) = errs.first() else {
        return "it does not parse".to_owned();
    };
    match found {
        Some(Token(text, _)) => format!(
            "expected {} but found `{text}` at {}",
            expect.as_str(),
            position(expression, text)
        ),
        None => format!("expected {} at the end", expect.as_str()),
    }
}

/// `character N` (1-based) of `part` within `whole`, when `part` is a slice of it.
fn position(whole: &str, part: &str) -> String {
    let start = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    if at >= start && at < start + whole.len() {
        let byte = at - start;
        let chars = whole.get(..byte).map_or(byte, |s| s.chars().count());
        format!("character {}", chars + 1)
    } else {
        "the end".to_owned()
    }
}

fn allowed(term: &Term<&str>) -> Result<(), String> {
    match term {
        Term::Id | Term::Recurse | Term::Num(_) | Term::Break(_) => Ok(()),
        Term::Var(name) => {
            if *name == "$ENV" {
                Err("`$ENV` is not allowed in an ignore expression".to_owned())
            } else {
                Ok(())
            }
        }
        Term::Str(_, parts) => parts.iter().try_for_each(|p| match p {
            StrPart::Term(t) => allowed(t),
            StrPart::Str(_) | StrPart::Char(_) => Ok(()),
        }),
        Term::Arr(inner) => inner.as_deref().map_or(Ok(()), allowed),
        Term::Obj(entries) => entries.iter().try_for_each(|(k, v)| {
            allowed(k)?;
            v.as_ref().map_or(Ok(()), allowed)
        }),
        Term::Neg(t) | Term::Label(_, t) => allowed(t),
        Term::BinOp(l, op, r) => {
            match op {
                BinaryOp::Assign
                | BinaryOp::Update
                | BinaryOp::UpdateMath(_)
                | BinaryOp::UpdateAlt => {
                    return Err(
                        "assignments (`=`, `|=`, `+=`, ...) are not allowed in an ignore \
                         expression; it only selects paths"
                            .to_owned(),
                    );
                }
                BinaryOp::Math(Math::Mul) => {
                    return Err("`*` is not allowed in an ignore expression".to_owned());
                }
                BinaryOp::Pipe(Some(pattern)) => allowed_pattern(pattern)?,
                _ => {}
            }
            allowed(l)?;
            allowed(r)
        }
        Term::Fold(name, ..) => Err(format!(
            "`{name}` is not allowed in an ignore expression (it can run without bound)"
        )),
        Term::TryCatch(t, c) => {
            allowed(t)?;
            c.as_deref().map_or(Ok(()), allowed)
        }
        Term::IfThenElse(branches, otherwise) => {
            for (cond, then) in branches {
                allowed(cond)?;
                allowed(then)?;
            }
            otherwise.as_deref().map_or(Ok(()), allowed)
        }
        Term::Def(..) => Err(
            "definitions (`def`) are not allowed in an ignore expression (they allow unbounded \
             recursion)"
                .to_owned(),
        ),
        Term::Call(name, args) => {
            let recursion = *name == "recurse" && !args.is_empty();
            if recursion || DENIED_CALLS.contains(name) {
                return Err(format!(
                    "`{name}` is not allowed in an ignore expression (it can run without bound \
                     or reaches outside the object)"
                ));
            }
            args.iter().try_for_each(allowed)
        }
        Term::Path(t, path) => {
            allowed(t)?;
            path.0.iter().try_for_each(|(part, _)| match part {
                Part::Index(i) => allowed(i),
                Part::Range(from, to) => {
                    from.as_ref().map_or(Ok(()), allowed)?;
                    to.as_ref().map_or(Ok(()), allowed)
                }
            })
        }
    }
}

fn allowed_pattern(pattern: &JqPattern<&str>) -> Result<(), String> {
    match pattern {
        JqPattern::Var(_) => Ok(()),
        JqPattern::Arr(items) => items.iter().try_for_each(allowed_pattern),
        JqPattern::Obj(entries) => entries.iter().try_for_each(|(k, p)| {
            allowed(k)?;
            allowed_pattern(p)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(expr: &str, obj: &Value) -> Vec<Vec<JqSeg>> {
        JqPath::compile(expr)
            .expect("compiles")
            .paths(obj)
            .expect("runs")
    }

    fn key(s: &str) -> JqSeg {
        JqSeg::Key(s.to_owned())
    }

    #[test]
    fn selects_paths() {
        let obj = json!({"spec": {"containers": [{"name": "main", "image": "a"}, {"name": "sidecar", "image": "b"}]}});
        assert_eq!(
            paths(
                r#".spec.containers[] | select(.name == "sidecar") | .image"#,
                &obj
            ),
            vec![vec![
                key("spec"),
                key("containers"),
                JqSeg::Index(1),
                key("image")
            ]]
        );
        assert_eq!(
            paths(r#".metadata.annotations["x/y"]"#, &obj),
            vec![vec![key("metadata"), key("annotations"), key("x/y")]]
        );
        assert_eq!(
            paths(".a[-1], .a[1:3]", &json!({"a": [1, 2, 3]})),
            vec![
                vec![key("a"), JqSeg::Index(-1)],
                vec![key("a"), JqSeg::Slice(Some(1), Some(3))]
            ]
        );
    }

    #[test]
    fn comments_cannot_swallow_the_closing_parenthesis() {
        assert_eq!(
            paths(".a # the a field", &json!({"a": 1})),
            vec![vec![key("a")]]
        );
    }

    #[test]
    fn an_expression_cannot_escape_path() {
        let err = JqPath::compile(".a), (.b").expect_err("refused");
        assert!(err.contains("expected"), "{err}");
    }

    #[test]
    fn refuses_unbounded_and_outside_constructs() {
        for (expr, word) in [
            ("def f: f; f", "def"),
            ("repeat(.)", "repeat"),
            (".a[range(1000000000)]", "range"),
            ("recurse(.a)", "recurse"),
            ("until(false; .)", "until"),
            ("reduce .[] as $x (.; .)", "reduce"),
            (".a = 1", "assignments"),
            (r#"select(("x" * 100) == "")"#, "`*`"),
            ("env.HOME", "env"),
            ("$ENV.HOME", "$ENV"),
            (".[] | select(now > 0)", "now"),
            ("walk(.)", "walk"),
            ("debug", "debug"),
        ] {
            let err = JqPath::compile(expr).expect_err(expr);
            assert!(err.contains(word), "{expr}: {err}");
        }
        // `..` and `recurse` without arguments walk the object and stop.
        assert!(JqPath::compile(r#".. | select(type == "object" and has("x")) | .x"#).is_ok());
        assert!(JqPath::compile("recurse | .x?").is_ok());
    }

    #[test]
    fn explains_syntax_errors_and_unknown_filters() {
        let err = JqPath::compile(".spec[").expect_err("refused");
        assert!(err.contains("expected"), "{err}");
        let err = JqPath::compile(".a | nosuchfilter").expect_err("refused");
        assert!(err.contains("nosuchfilter"), "{err}");
        assert!(JqPath::compile("  ").is_err());
    }

    #[test]
    fn runtime_errors_are_reported() {
        let jq = JqPath::compile(".a.b").expect("compiles");
        assert!(matches!(
            jq.paths(&json!({"a": "text"})),
            Err(JqRunError::Failed(_))
        ));
    }

    #[test]
    fn output_is_capped() {
        let many: Vec<Value> = (0..MAX_JQ_PATHS + 1).map(|_| json!(1)).collect();
        let jq = JqPath::compile(".[]").expect("compiles");
        assert!(matches!(
            jq.paths(&Value::Array(many)),
            Err(JqRunError::TooManyPaths)
        ));
    }
}
