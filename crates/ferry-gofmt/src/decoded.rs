//! How Go's `fmt` prints the values that end up in Kubernetes error messages: `%v` for numbers,
//! `%q` for strings and `%#v` for decoded JSON maps and slices (`map[string]interface {}{...}`).
//!
//! Values are the ones `encoding/json`-style decoding gives the API server: integers that fit in
//! an `int64` are `int64`, every other number is a `float64`.

use serde_json::{Number, Value};

/// A JSON number as the API server holds it after decoding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GoNumber {
    Int(i64),
    Float(f64),
}

impl GoNumber {
    /// The number as decoded: `int64` when it is an integer that fits, `float64` otherwise.
    pub fn of(n: &Number) -> GoNumber {
        if let Some(i) = n.as_i64() {
            GoNumber::Int(i)
        } else {
            GoNumber::Float(n.as_f64().unwrap_or(f64::NAN))
        }
    }

    /// The value as a `float64`.
    pub fn as_f64(self) -> f64 {
        match self {
            GoNumber::Int(i) => i as f64,
            GoNumber::Float(f) => f,
        }
    }

    /// `%v`.
    pub fn go_v(self) -> String {
        match self {
            GoNumber::Int(i) => i.to_string(),
            GoNumber::Float(f) => float_v(f),
        }
    }
}

/// Go's `%v` (shortest `%g`) for a `float64`: `1`, `0.5`, `1e+06`, `1.5e-05`.
pub fn float_v(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` is the shortest round-trip mantissa with a decimal exponent: "1.5e-5".
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        format!("{f}")
    }
}

/// Go's `strconv.Quote` (what `%q` prints for a string).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

/// An approximation of Go's `unicode.IsPrint`: graphic characters and the ASCII space.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    // Format characters (soft hyphen, zero-width joiners, bidi marks) and private use areas.
    !matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF)
}

/// How `field.Error.ErrorBody` prints a bad value: `%v` for numbers and booleans, `%q` for
/// strings, `null` for nil and `%#v` for maps and slices.
pub fn bad_value(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => GoNumber::of(n).go_v(),
        Value::String(s) => quote(s),
        Value::Array(_) | Value::Object(_) => sharp_v(v),
    }
}

/// Go's `%#v` of a decoded JSON value.
pub fn sharp_v(v: &Value) -> String {
    match v {
        Value::Null => "interface {}(nil)".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => GoNumber::of(n).go_v(),
        Value::String(s) => quote(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(sharp_v).collect();
            format!("[]interface {{}}{{{}}}", inner.join(", "))
        }
        Value::Object(map) => {
            // fmt sorts map keys.
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let inner: Vec<String> = keys
                .iter()
                .filter_map(|k| {
                    map.get(k.as_str())
                        .map(|v| format!("{}:{}", quote(k), sharp_v(v)))
                })
                .collect();
            format!("map[string]interface {{}}{{{}}}", inner.join(", "))
        }
    }
}

/// `swag.IsFloat64AJSONInteger`: whether a float is (close enough to) an integer that JSON can
/// carry exactly.
pub fn is_json_integer(f: f64) -> bool {
    const MAX: f64 = 9_007_199_254_740_991.0; // 1<<53 - 1
    if !f.is_finite() || !(-MAX..=MAX).contains(&f) {
        return false;
    }
    if f.fract() == 0.0 {
        return true;
    }
    let g = f.round();
    let diff = (f - g).abs();
    if g == 0.0 {
        return false;
    }
    diff / (f.abs() + g.abs()) < 1e-9
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(float_v(1.0), "1");
        assert_eq!(float_v(0.5), "0.5");
        assert_eq!(float_v(123456.0), "123456");
        assert_eq!(float_v(1_000_000.0), "1e+06");
        assert_eq!(float_v(1_234_567.0), "1.234567e+06");
        assert_eq!(float_v(0.0001), "0.0001");
        assert_eq!(float_v(0.000015), "1.5e-05");
        assert_eq!(float_v(-2.5), "-2.5");
        assert_eq!(float_v(1e21), "1e+21");
    }

    #[test]
    fn strings_quote_like_go() {
        assert_eq!(quote("a\"b"), r#""a\"b""#);
        assert_eq!(quote("tab\there\n"), r#""tab\there\n""#);
        assert_eq!(quote("\u{1}"), r#""\x01""#);
        assert_eq!(quote("héllo"), "\"héllo\"");
        assert_eq!(quote("\u{200b}"), r#""\u200b""#);
    }

    #[test]
    fn compound_values_print_like_sharp_v() {
        assert_eq!(
            bad_value(&json!({"name": "a", "b": 1, "c": null})),
            r#"map[string]interface {}{"b":1, "c":interface {}(nil), "name":"a"}"#
        );
        assert_eq!(
            bad_value(&json!(["x", 2.5, true])),
            r#"[]interface {}{"x", 2.5, true}"#
        );
        assert_eq!(bad_value(&json!([])), "[]interface {}{}");
        assert_eq!(bad_value(&json!(null)), "null");
        assert_eq!(bad_value(&json!(3)), "3");
    }

    #[test]
    fn json_integers() {
        assert!(is_json_integer(2.0));
        assert!(is_json_integer(-3.0));
        assert!(!is_json_integer(2.5));
        assert!(!is_json_integer(1e300));
        assert!(is_json_integer(3.0000000000001));
    }
}
