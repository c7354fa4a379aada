//! Renders JSON values the way Go's `fmt` and `encoding/json` name and print
//! them, so error messages read like the API server's.

use serde_json::{Number, Value};

/// Go's `%v` rendering of a decoded JSON value (`map[k:v]`, `[a b]`, `<nil>`).
pub fn go_value(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v);
    out
}

fn write_value(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("map[");
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                if let Some(val) = map.get(k.as_str()) {
                    write_value(out, val);
                }
            }
            out.push(']');
        }
    }
}

/// A JSON number as Go prints the `float64` it decodes to.
fn go_number(n: &Number) -> String {
    let Some(f) = n.as_f64() else {
        return n.to_string();
    };
    if f == 0.0 {
        return "0".to_string();
    }
    let abs = f.abs();
    if (1e-4..1e21).contains(&abs) {
        if f.fract() == 0.0 {
            format!("{f:.0}")
        } else {
            format!("{f}")
        }
    } else {
        // Go uses %e with at least two exponent digits: 1e+21, 1e-05.
        let s = format!("{f:e}");
        match s.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = match exp.strip_prefix('-') {
                    Some(d) => ('-', d),
                    None => ('+', exp),
                };
                let digits = if digits.len() < 2 {
                    format!("0{digits}")
                } else {
                    digits.to_string()
                };
                format!("{mantissa}e{sign}{digits}")
            }
            None => s,
        }
    }
}

/// How `encoding/json` names a JSON value's kind in an `UnmarshalTypeError`.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// `reflect.TypeOf` of a decoded JSON value, as `%s` prints it.
pub fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "float64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// Go's `==` on two decoded JSON scalars (`interface{}` values): numbers
/// compare as `float64`; lists and maps never compare equal here (Go would
/// panic on them).
pub fn go_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(fx), Some(fy)) => fx == fy,
            _ => x == y,
        },
        _ => false,
    }
}

/// The message of an `encoding/json` syntax error, approximated from serde's.
pub fn syntax_error(err: &serde_json::Error) -> String {
    if err.is_eof() {
        "unexpected end of JSON input".to_string()
    } else {
        format!("invalid JSON: {err}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_like_go() {
        assert_eq!(
            go_value(&json!({"b": [1, "x"], "a": null, "c": 1.5})),
            "map[a:<nil> b:[1 x] c:1.5]"
        );
        assert_eq!(go_value(&json!(1e21)), "1e+21");
        assert_eq!(go_value(&json!(0.00001)), "1e-05");
        assert_eq!(go_value(&json!(80)), "80");
    }

    #[test]
    fn compares_numbers_as_floats() {
        assert!(go_eq(&json!(80), &json!(80.0)));
        assert!(!go_eq(&json!({}), &json!({})));
    }
}
