//! Parameter sets, and the flat dotted view of them that fasttemplate and post-selectors use.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One parameter set: flat string values (fasttemplate) or nested JSON (goTemplate).
pub type Params = Map<String, Value>;

/// The text of a leaf value as Go's `%v` shows it. FERRY DIFFERS: numbers print as written
/// (Go prints JSON numbers as float64, e.g. `1e+06`).
pub(crate) fn leaf_text(value: &Value) -> String {
    match value {
        Value::Null => "<nil>".to_owned(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(_) | Value::Object(_) => value.to_string(),
    }
}

/// Nested objects and lists as dotted keys (`cluster.address`, `list.0`), each leaf as text.
/// Empty objects and lists disappear.
pub(crate) fn flatten(params: &Params) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
        let join = |k: &str| {
            if prefix.is_empty() {
                k.to_owned()
            } else {
                format!("{prefix}.{k}")
            }
        };
        match value {
            Value::Object(m) => m.iter().for_each(|(k, v)| walk(&join(k), v, out)),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, v)| walk(&join(&i.to_string()), v, out)),
            leaf => {
                out.insert(prefix.to_owned(), leaf_text(leaf));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (k, v) in params {
        walk(k, v, &mut out);
    }
    out
}

/// [`flatten`] as a parameter set of strings.
pub(crate) fn flatten_params(params: &Params) -> Params {
    flatten(params)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// Is this "empty" the way Go's mergo sees a zero value (it then does not override)?
pub(crate) fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
    }
}

/// Deep merge with override: maps are merged key by key, and any other non-zero value of
/// `over` replaces the one in `base` (mergo's `WithOverride`).
pub(crate) fn merge_override(base: &mut Params, over: &Params) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_override(b, o),
            (Some(_), v) if is_zero(v) => {}
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The object inside a JSON value, if it is one.
pub(crate) fn object(value: Value) -> Option<Params> {
    match value {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattening() {
        let p = object(json!({
            "a": {"b": "x", "c": [1, {"d": true}], "e": {}, "f": []},
            "n": 1.5, "z": null, "s": "t"
        }))
        .unwrap_or_default();
        let got = flatten(&p);
        let want: BTreeMap<String, String> = [
            ("a.b", "x"),
            ("a.c.0", "1"),
            ("a.c.1.d", "true"),
            ("n", "1.5"),
            ("z", "<nil>"),
            ("s", "t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn merging() {
        let mut base =
            object(json!({"a": {"x": 1, "y": 2}, "b": "keep", "c": "old"})).unwrap_or_default();
        let over = object(json!({"a": {"y": 3, "z": 4}, "b": "", "c": "new", "d": false}))
            .unwrap_or_default();
        merge_override(&mut base, &over);
        assert_eq!(
            Value::Object(base),
            json!({"a": {"x": 1, "y": 3, "z": 4}, "b": "keep", "c": "new", "d": false})
        );
    }
}
