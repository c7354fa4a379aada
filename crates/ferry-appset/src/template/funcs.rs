//! The goTemplate engine: `gtmpl-ng` (Go `text/template` semantics) plus the functions
//! ApplicationSets use most, written here after Sprig's and Argo CD's documented behaviour:
//!
//! `default`, `empty`, `coalesce`, `ternary`, `dig`, `normalize`, `lower`, `upper`, `trim`,
//! `trimPrefix`, `trimSuffix`, `replace`, `trunc`, `quote`, `squote`, `hasPrefix`,
//! `hasSuffix`, `contains`, `join`, `splitList`, `toString`, `toJson`, `toRawJson`,
//! `toPrettyJson`, `toYaml`, `fromYaml`, `fromYamlArray`; and Go's own (`index`, `len`,
//! `printf`, `eq`, `and`, `or`, `not`, ...).

use std::collections::HashMap;

use gtmpl_ng::{Context, Func, FuncError, Number, Template, Value as G};
use serde_json::Value;

use super::TemplateError;

const FUNCS: &[(&str, Func)] = &[
    ("index", index),
    ("default", default),
    ("empty", empty),
    ("coalesce", coalesce),
    ("ternary", ternary),
    ("dig", dig),
    ("normalize", normalize),
    ("lower", lower),
    ("upper", upper),
    ("trim", trim),
    ("trimPrefix", trim_prefix),
    ("trimSuffix", trim_suffix),
    ("replace", replace),
    ("trunc", trunc),
    ("quote", quote),
    ("squote", squote),
    ("hasPrefix", has_prefix),
    ("hasSuffix", has_suffix),
    ("contains", contains),
    ("join", join),
    ("splitList", split_list),
    ("toString", to_string),
    ("toJson", to_json),
    ("toRawJson", to_raw_json),
    ("toPrettyJson", to_pretty_json),
    ("toYaml", to_yaml),
    ("fromYaml", from_yaml),
    ("fromYamlArray", from_yaml_array),
];

/// Parses and executes one template over `data`.
pub(super) fn render(text: &str, data: &G) -> Result<String, TemplateError> {
    let mut tmpl = Template::default();
    tmpl.add_funcs(FUNCS);
    tmpl.parse(text)
        .map_err(|e| TemplateError::new(text, e.to_string()))?;
    tmpl.render(&Context::from(data.clone()))
        .map_err(|e| TemplateError::new(text, e.to_string()))
}

/// JSON to the template's values. With `strict`, objects become struct-like values, whose
/// missing fields are errors (Go's `missingkey=error`); otherwise maps, whose missing keys
/// are `<no value>`.
pub(super) fn to_gtmpl(value: &Value, strict: bool) -> G {
    match value {
        Value::Null => G::Nil,
        Value::Bool(b) => G::Bool(*b),
        Value::Number(n) => G::Number(number(n)),
        Value::String(s) => G::String(s.clone()),
        Value::Array(a) => G::Array(a.iter().map(|v| to_gtmpl(v, strict)).collect()),
        Value::Object(m) => {
            let entries: HashMap<String, G> = m
                .iter()
                .map(|(k, v)| (k.clone(), to_gtmpl(v, strict)))
                .collect();
            if strict {
                G::Object(entries)
            } else {
                G::Map(entries)
            }
        }
    }
}

fn number(n: &serde_json::Number) -> Number {
    if let Some(i) = n.as_i64() {
        Number::signed(i)
    } else if let Some(u) = n.as_u64() {
        Number::unsigned(u)
    } else {
        Number::float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// The template's values back to JSON (keys sorted, as Go's encoder sorts map keys).
fn to_json_value(value: &G) -> Value {
    match value {
        G::NoValue | G::Nil | G::Function(_) => Value::Null,
        G::Bool(b) => Value::Bool(*b),
        G::String(s) => Value::String(s.clone()),
        G::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_u64().map(Value::from))
            .or_else(|| {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or(Value::Null),
        G::Array(a) => Value::Array(a.iter().map(to_json_value).collect()),
        G::Map(m) | G::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), to_json_value(&m[k])))
                    .collect(),
            )
        }
    }
}

/// Struct-like values (strict mode) as maps, so that `index` treats them as Go treats maps.
fn as_maps(value: &G) -> G {
    match value {
        G::Object(m) | G::Map(m) => {
            G::Map(m.iter().map(|(k, v)| (k.clone(), as_maps(v))).collect())
        }
        G::Array(a) => G::Array(a.iter().map(as_maps).collect()),
        other => other.clone(),
    }
}

/// The text of a value as Sprig's string functions see it (nothing for no value).
fn text(value: &G) -> String {
    match value {
        G::NoValue | G::Nil => String::new(),
        other => other.to_string(),
    }
}

fn is_empty(value: &G) -> bool {
    match value {
        G::NoValue | G::Nil => true,
        G::Bool(b) => !b,
        G::String(s) => s.is_empty(),
        G::Number(n) => n.as_f64() == Some(0.0),
        G::Array(a) => a.is_empty(),
        G::Map(m) | G::Object(m) => m.is_empty(),
        G::Function(_) => false,
    }
}

fn exactly<'a, const N: usize>(name: &str, args: &'a [G]) -> Result<&'a [G; N], FuncError> {
    <&[G; N]>::try_from(args).map_err(|_| FuncError::ExactlyXArgs(name.into(), N))
}

fn generic(message: impl Into<String>) -> FuncError {
    FuncError::Generic(message.into())
}

/// Go's `index`, except that struct-like values (strict mode) are indexed like maps: a
/// missing key is no value, never an error.
fn index(args: &[G]) -> Result<G, FuncError> {
    let args: Vec<G> = args.iter().map(as_maps).collect();
    gtmpl_ng::funcs::index(&args)
}

/// `default DEFAULT GIVEN`: GIVEN unless it is empty.
fn default(args: &[G]) -> Result<G, FuncError> {
    match args {
        [d] => Ok(d.clone()),
        [d, given] => Ok(if is_empty(given) { d } else { given }.clone()),
        _ => Err(FuncError::AtLeastXArgs("default".into(), 1)),
    }
}

fn empty(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("empty", args)?;
    Ok(G::Bool(is_empty(v)))
}

fn coalesce(args: &[G]) -> Result<G, FuncError> {
    Ok(args
        .iter()
        .find(|v| !is_empty(v))
        .cloned()
        .unwrap_or(G::Nil))
}

/// `ternary IF_TRUE IF_FALSE CONDITION`.
fn ternary(args: &[G]) -> Result<G, FuncError> {
    let [yes, no, cond] = exactly("ternary", args)?;
    Ok(if is_empty(cond) { no } else { yes }.clone())
}

/// `dig KEY... DEFAULT MAP`.
fn dig(args: &[G]) -> Result<G, FuncError> {
    let [keys @ .., fallback, map] = args else {
        return Err(FuncError::AtLeastXArgs("dig".into(), 3));
    };
    if keys.is_empty() {
        return Err(FuncError::AtLeastXArgs("dig".into(), 3));
    }
    let mut current = map;
    for key in keys {
        let G::String(key) = key else {
            return Err(generic("dig: keys must be strings"));
        };
        match current {
            G::Map(m) | G::Object(m) => match m.get(key) {
                Some(next) => current = next,
                None => return Ok(fallback.clone()),
            },
            _ => return Ok(fallback.clone()),
        }
    }
    Ok(current.clone())
}

fn normalize(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("normalize", args)?;
    Ok(G::String(crate::normalize(&text(v))))
}

fn lower(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("lower", args)?;
    Ok(G::String(text(v).to_lowercase()))
}

fn upper(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("upper", args)?;
    Ok(G::String(text(v).to_uppercase()))
}

fn trim(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("trim", args)?;
    Ok(G::String(text(v).trim().to_owned()))
}

fn trim_prefix(args: &[G]) -> Result<G, FuncError> {
    let [prefix, v] = exactly("trimPrefix", args)?;
    let (prefix, v) = (text(prefix), text(v));
    Ok(G::String(v.strip_prefix(&prefix).unwrap_or(&v).to_owned()))
}

fn trim_suffix(args: &[G]) -> Result<G, FuncError> {
    let [suffix, v] = exactly("trimSuffix", args)?;
    let (suffix, v) = (text(suffix), text(v));
    Ok(G::String(v.strip_suffix(&suffix).unwrap_or(&v).to_owned()))
}

/// `replace OLD NEW STRING`.
fn replace(args: &[G]) -> Result<G, FuncError> {
    let [old, new, v] = exactly("replace", args)?;
    Ok(G::String(text(v).replace(&text(old), &text(new))))
}

/// `trunc N STRING`: the first N characters, or the last -N.
fn trunc(args: &[G]) -> Result<G, FuncError> {
    let [n, v] = exactly("trunc", args)?;
    let G::Number(n) = n else {
        return Err(generic("trunc: the length must be a number"));
    };
    let n = n
        .as_i64()
        .ok_or_else(|| generic("trunc: the length must be an integer"))?;
    let chars: Vec<char> = text(v).chars().collect();
    let len = i64::try_from(chars.len()).unwrap_or(i64::MAX);
    let out: String = if n >= 0 {
        chars
            .iter()
            .take(usize::try_from(n.min(len)).unwrap_or(0))
            .collect()
    } else {
        let skip = usize::try_from((len + n).max(0)).unwrap_or(0);
        chars.iter().skip(skip).collect()
    };
    Ok(G::String(out))
}

fn quote(args: &[G]) -> Result<G, FuncError> {
    let quoted: Vec<String> = args
        .iter()
        .filter(|v| !matches!(v, G::NoValue | G::Nil))
        .map(|v| serde_json::to_string(&text(v)).unwrap_or_default())
        .collect();
    Ok(G::String(quoted.join(" ")))
}

fn squote(args: &[G]) -> Result<G, FuncError> {
    let quoted: Vec<String> = args
        .iter()
        .filter(|v| !matches!(v, G::NoValue | G::Nil))
        .map(|v| format!("'{}'", text(v)))
        .collect();
    Ok(G::String(quoted.join(" ")))
}

fn has_prefix(args: &[G]) -> Result<G, FuncError> {
    let [prefix, v] = exactly("hasPrefix", args)?;
    Ok(G::Bool(text(v).starts_with(&text(prefix))))
}

fn has_suffix(args: &[G]) -> Result<G, FuncError> {
    let [suffix, v] = exactly("hasSuffix", args)?;
    Ok(G::Bool(text(v).ends_with(&text(suffix))))
}

/// `contains SUBSTRING STRING`.
fn contains(args: &[G]) -> Result<G, FuncError> {
    let [needle, v] = exactly("contains", args)?;
    Ok(G::Bool(text(v).contains(&text(needle))))
}

/// `join SEPARATOR LIST`.
fn join(args: &[G]) -> Result<G, FuncError> {
    let [sep, list] = exactly("join", args)?;
    let items: Vec<String> = match list {
        G::Array(a) => a.iter().map(text).collect(),
        other => vec![text(other)],
    };
    Ok(G::String(items.join(&text(sep))))
}

/// `splitList SEPARATOR STRING`.
fn split_list(args: &[G]) -> Result<G, FuncError> {
    let [sep, v] = exactly("splitList", args)?;
    let v = text(v);
    Ok(G::Array(
        v.split(text(sep).as_str())
            .map(|s| G::String(s.to_owned()))
            .collect(),
    ))
}

fn to_string(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("toString", args)?;
    Ok(G::String(text(v)))
}

/// JSON as Go's encoder writes it: `<`, `>`, `&` escaped.
fn to_json(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("toJson", args)?;
    let json = serde_json::to_string(&to_json_value(v)).map_err(|e| generic(e.to_string()))?;
    Ok(G::String(
        json.replace('<', "\\u003c")
            .replace('>', "\\u003e")
            .replace('&', "\\u0026"),
    ))
}

fn to_raw_json(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("toRawJson", args)?;
    let json = serde_json::to_string(&to_json_value(v)).map_err(|e| generic(e.to_string()))?;
    Ok(G::String(json))
}

fn to_pretty_json(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("toPrettyJson", args)?;
    let json =
        serde_json::to_string_pretty(&to_json_value(v)).map_err(|e| generic(e.to_string()))?;
    Ok(G::String(json))
}

/// YAML without the final newline (as Argo CD's `toYaml`).
fn to_yaml(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("toYaml", args)?;
    let yaml = serde_saphyr::to_string(&to_json_value(v)).map_err(|e| generic(e.to_string()))?;
    Ok(G::String(yaml.trim_end_matches('\n').to_owned()))
}

fn from_yaml(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("fromYaml", args)?;
    let parsed: Value =
        serde_saphyr::from_str(&text(v)).map_err(|e| generic(format!("fromYaml: {e}")))?;
    match parsed {
        Value::Object(_) => Ok(to_gtmpl(&parsed, false)),
        Value::Null => Ok(G::Map(HashMap::new())),
        _ => Err(generic("fromYaml: not a map")),
    }
}

fn from_yaml_array(args: &[G]) -> Result<G, FuncError> {
    let [v] = exactly("fromYamlArray", args)?;
    let parsed: Value =
        serde_saphyr::from_str(&text(v)).map_err(|e| generic(format!("fromYamlArray: {e}")))?;
    match parsed {
        Value::Array(_) => Ok(to_gtmpl(&parsed, false)),
        Value::Null => Ok(G::Array(Vec::new())),
        _ => Err(generic("fromYamlArray: not a list")),
    }
}
