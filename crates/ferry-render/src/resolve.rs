//! Scalar resolution exactly as go-yaml v2 (`sigs.k8s.io/yaml/goyaml.v2`, `resolve.go`) does
//! it, followed by what `sigs.k8s.io/yaml` and `k8s.io/apimachinery` do to the result on its
//! way to JSON: non-string map keys become strings, numbers pass through Go's JSON encoder and
//! come back as `int64` when their text is an integer and `float64` otherwise.
//!
//! The YAML 1.1 rules that matter for Kubernetes manifests:
//!
//! - Booleans are exactly `y Y yes Yes YES true True TRUE on On ON` and
//!   `n N no No NO false False FALSE off Off OFF` (no other capitalisation).
//! - Nulls are `~ null Null NULL` and the empty plain scalar.
//! - Integers go through Go's `strconv.ParseInt(s, 0, 64)` after removing every `_`, so
//!   `0644` is octal (420), `0x1F` and `0X1F` are hex, `0b101` binary, `0o17` octal.
//! - Floats follow `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`; `.inf` and `.nan`
//!   parse but JSON cannot carry them, so Kubernetes tools reject them (so do we).
//! - Timestamps stay strings (go-yaml keeps them as text when decoding into `interface{}`).

use std::borrow::Cow;

use base64::Engine as _;

/// An explicit tag on a scalar, as far as go-yaml distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScalarTag {
    /// No tag.
    None,
    /// `!!str`, `!!bool`, `!!int`, `!!float`, `!!null`, `!!timestamp`: resolved, then checked.
    Core(CoreTag),
    /// `!!binary`: base64, decoded to a string.
    Binary,
    /// `!!merge` (only meaningful on a `<<` key).
    Merge,
    /// Any other tag (`!foo`, `!`, `!!map` on a scalar...): the text is kept as a string.
    Other,
}

/// The core tags go-yaml resolves scalars to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoreTag {
    Str,
    Bool,
    Int,
    Float,
    Null,
    Timestamp,
}

impl CoreTag {
    fn name(self) -> &'static str {
        match self {
            CoreTag::Str => "!!str",
            CoreTag::Bool => "!!bool",
            CoreTag::Int => "!!int",
            CoreTag::Float => "!!float",
            CoreTag::Null => "!!null",
            CoreTag::Timestamp => "!!timestamp",
        }
    }
}

impl ScalarTag {
    /// Classifies a tag by its name in the `tag:yaml.org,2002:` namespace (`None` when the
    /// tag lies outside that namespace).
    pub(crate) fn from_yaml_org(name: Option<&str>) -> ScalarTag {
        match name {
            Some("str") => ScalarTag::Core(CoreTag::Str),
            Some("bool") => ScalarTag::Core(CoreTag::Bool),
            Some("int") => ScalarTag::Core(CoreTag::Int),
            Some("float") => ScalarTag::Core(CoreTag::Float),
            Some("null") => ScalarTag::Core(CoreTag::Null),
            Some("timestamp") => ScalarTag::Core(CoreTag::Timestamp),
            Some("binary") => ScalarTag::Binary,
            Some("merge") => ScalarTag::Merge,
            _ => ScalarTag::Other,
        }
    }
}

/// A resolved scalar, with Go's types.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved<'a> {
    Null,
    Bool(bool),
    /// Go `int`.
    Int(i64),
    /// Go `uint64` (plain integers above `i64::MAX`).
    Uint(u64),
    /// Go `float64`, possibly infinite or NaN.
    Float(f64),
    /// Go `*big.Int` (hex/octal/binary integers beyond 64 bits), as its nearest `f64`.
    BigInt(f64),
    Str(Cow<'a, str>),
}

/// Resolves a scalar: `plain` tells whether it was written without quotes or block style.
pub(crate) fn resolve(value: &str, plain: bool, tag: ScalarTag) -> Result<Resolved<'_>, String> {
    match tag {
        ScalarTag::None if plain => Ok(resolve_untagged(value, true).1),
        ScalarTag::None | ScalarTag::Merge | ScalarTag::Other => Ok(Resolved::Str(value.into())),
        ScalarTag::Binary => {
            let compact: String = value.chars().filter(|c| *c != '\n' && *c != '\r').collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact.as_bytes())
                .map_err(|_| "!!binary value contains invalid base64 data".to_string())?;
            Ok(Resolved::Str(Cow::Owned(
                String::from_utf8_lossy(&bytes).into_owned(),
            )))
        }
        ScalarTag::Core(CoreTag::Str) => Ok(Resolved::Str(value.into())),
        ScalarTag::Core(wanted) => {
            let (got, resolved) = resolve_untagged(value, wanted == CoreTag::Timestamp);
            match (wanted, got, resolved) {
                (w, g, r) if w == g => Ok(r),
                (CoreTag::Float, CoreTag::Int, Resolved::Int(i)) => Ok(Resolved::Float(i as f64)),
                (w, g, _) => Err(format!(
                    "cannot decode {} `{value}` as a {}",
                    g.name(),
                    w.name()
                )),
            }
        }
    }
}

/// go-yaml's `resolve("", in)` (or with the timestamp tag): the tag it found and the value.
fn resolve_untagged(input: &str, try_timestamp: bool) -> (CoreTag, Resolved<'_>) {
    let hint = match input.as_bytes().first() {
        None => b'N',
        Some(b'+' | b'-') => b'S',
        Some(b'0'..=b'9') => b'D',
        Some(b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~') => b'M',
        Some(b'.') => b'.',
        Some(_) => return (CoreTag::Str, Resolved::Str(input.into())),
    };
    if let Some(found) = lookup(input) {
        return found;
    }
    match hint {
        b'.' => {
            if let Some(f) = go_parse_float(input) {
                return (CoreTag::Float, Resolved::Float(f));
            }
        }
        b'D' | b'S' => {
            if try_timestamp && is_timestamp(input) {
                return (CoreTag::Timestamp, Resolved::Str(input.into()));
            }
            let plain: Cow<'_, str> = if input.contains('_') {
                Cow::Owned(input.replace('_', ""))
            } else {
                Cow::Borrowed(input)
            };
            if let Ok(i) = go_parse_int(&plain) {
                return (CoreTag::Int, Resolved::Int(i));
            }
            match go_parse_uint(&plain) {
                Ok(u) => return (CoreTag::Int, Resolved::Uint(u)),
                Err(uint_err) => {
                    if is_yaml_style_float(&plain)
                        && let Some(f) = go_parse_float(&plain)
                    {
                        return (CoreTag::Float, Resolved::Float(f));
                    }
                    if uint_err == IntError::Range
                        && let Some(f) = big_int_approx(&plain)
                    {
                        return (CoreTag::Int, Resolved::BigInt(f));
                    }
                }
            }
        }
        _ => {}
    }
    (CoreTag::Str, Resolved::Str(input.into()))
}

/// The fixed spellings of go-yaml's `resolveMap`.
fn lookup(input: &str) -> Option<(CoreTag, Resolved<'static>)> {
    Some(match input {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            (CoreTag::Bool, Resolved::Bool(true))
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            (CoreTag::Bool, Resolved::Bool(false))
        }
        "" | "~" | "null" | "Null" | "NULL" => (CoreTag::Null, Resolved::Null),
        ".nan" | ".NaN" | ".NAN" => (CoreTag::Float, Resolved::Float(f64::NAN)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            (CoreTag::Float, Resolved::Float(f64::INFINITY))
        }
        "-.inf" | "-.Inf" | "-.INF" => (CoreTag::Float, Resolved::Float(f64::NEG_INFINITY)),
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IntError {
    Syntax,
    Range,
}

/// Go's `strconv.ParseUint(s, 0, 64)`: base from the prefix (`0x`, `0o`, `0b`, a leading `0`
/// for octal), no sign; an invalid digit is a syntax error, overflow (even before an invalid
/// digit) a range error.
fn go_parse_uint(s: &str) -> Result<u64, IntError> {
    let (radix, digits) = split_radix(s).ok_or(IntError::Syntax)?;
    let mut n: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or(IntError::Syntax)?;
        n = n
            .checked_mul(u64::from(radix))
            .and_then(|n| n.checked_add(u64::from(d)))
            .ok_or(IntError::Range)?;
    }
    Ok(n)
}

/// The radix and the digits after Go's base-0 prefix; `None` for an empty string.
fn split_radix(s: &str) -> Option<(u32, &str)> {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return None;
    }
    if bytes[0] != b'0' {
        return Some((10, s));
    }
    if bytes.len() >= 3 {
        match bytes[1].to_ascii_lowercase() {
            b'b' => return Some((2, &s[2..])),
            b'o' => return Some((8, &s[2..])),
            b'x' => return Some((16, &s[2..])),
            _ => {}
        }
    }
    Some((8, &s[1..]))
}

/// Go's `strconv.ParseInt(s, 0, 64)`.
fn go_parse_int(s: &str) -> Result<i64, IntError> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let magnitude = go_parse_uint(rest)?;
    if negative {
        if magnitude > i64::MAX as u64 + 1 {
            return Err(IntError::Range);
        }
        Ok((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).map_err(|_| IntError::Range)
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal spellings go-yaml hands it (overflow is
/// an error; underflow is not).
fn go_parse_float(s: &str) -> Option<f64> {
    let well_formed = s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !well_formed {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `big.Int.SetString(s, 0)` for a valid unsigned literal too large for 64 bits, as the
/// `float64` the API server ends up storing.
fn big_int_approx(s: &str) -> Option<f64> {
    let (radix, digits) = split_radix(s)?;
    let mut f = 0.0_f64;
    for c in digits.chars() {
        f = f * f64::from(radix) + f64::from(c.to_digit(radix)?);
    }
    Some(f)
}

/// go-yaml's `parseTimestamp`: the formats `2006-1-2T15:4:5.999999999Z07:00` (also with a
/// lower-case `t`), `2006-1-2 15:4:5.999999999` and `2006-1-2`. Only used for `!!timestamp`;
/// untagged timestamps are strings either way.
fn is_timestamp(s: &str) -> bool {
    fn num(s: &str, min_len: usize, max_len: usize, max: u32) -> Option<(u32, &str)> {
        let len = s.bytes().take_while(u8::is_ascii_digit).count();
        if len < min_len || len > max_len {
            return None;
        }
        let n: u32 = s[..len].parse().ok()?;
        (n <= max).then_some((n, &s[len..]))
    }
    let parse = || -> Option<()> {
        let (_, rest) = num(s, 4, 4, 9999)?;
        let rest = rest.strip_prefix('-')?;
        let (month, rest) = num(rest, 1, 2, 12)?;
        let rest = rest.strip_prefix('-')?;
        let (day, rest) = num(rest, 1, 2, 31)?;
        if month == 0 || day == 0 {
            return None;
        }
        if rest.is_empty() {
            return Some(());
        }
        let (zoned, rest) = match rest.as_bytes()[0] {
            b'T' | b't' => (true, &rest[1..]),
            b' ' => (false, &rest[1..]),
            _ => return None,
        };
        let (_, rest) = num(rest, 1, 2, 23)?;
        let (_, rest) = num(rest.strip_prefix(':')?, 1, 2, 59)?;
        let (_, mut rest) = num(rest.strip_prefix(':')?, 1, 2, 59)?;
        if let Some(frac) = rest.strip_prefix('.') {
            let len = frac.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return None;
            }
            rest = &frac[len..];
        }
        if !zoned {
            return rest.is_empty().then_some(());
        }
        if rest == "Z" {
            return Some(());
        }
        let offset = rest.strip_prefix(['+', '-'])?;
        let (_, offset) = num(offset, 2, 2, 23)?;
        let (_, offset) = num(offset.strip_prefix(':')?, 2, 2, 59)?;
        offset.is_empty().then_some(())
    };
    parse().is_some()
}

// === JSON conversion ===

/// The JSON value Kubernetes ends up with for a resolved scalar in value position.
pub(crate) fn to_json(resolved: Resolved<'_>, source: &str) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match resolved {
        Resolved::Null => Value::Null,
        Resolved::Bool(b) => Value::Bool(b),
        Resolved::Int(i) => Value::from(i),
        Resolved::Uint(u) => match i64::try_from(u) {
            Ok(i) => Value::from(i),
            Err(_) => json_float(u as f64, source)?,
        },
        Resolved::Float(f) | Resolved::BigInt(f) => json_float(f, source)?,
        Resolved::Str(s) => Value::String(s.into_owned()),
    })
}

/// A Go `float64` after `json.Marshal` and apimachinery's decoding: an integer when Go
/// prints it without a fraction or exponent and it fits `int64`, a float otherwise.
fn json_float(f: f64, source: &str) -> Result<serde_json::Value, String> {
    if !f.is_finite() {
        return Err(format!(
            "`{source}` is not a finite number and cannot be represented in JSON"
        ));
    }
    // -2^63 <= f < 2^63, both exactly representable.
    if f.fract() == 0.0 && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
    {
        return Ok(serde_json::Value::from(f as i64));
    }
    serde_json::Number::from_f64(f)
        .map(serde_json::Value::Number)
        .ok_or_else(|| format!("`{source}` cannot be represented in JSON"))
}

/// The string `sigs.k8s.io/yaml` makes of a map key.
pub(crate) fn key_string(resolved: Resolved<'_>) -> Result<String, String> {
    match resolved {
        Resolved::Str(s) => Ok(s.into_owned()),
        Resolved::Int(i) => Ok(i.to_string()),
        Resolved::Bool(b) => Ok(b.to_string()),
        Resolved::Float(f) => Ok(go_format_float32_g(f)),
        Resolved::Null => Err("a null map key cannot be converted to JSON".to_string()),
        Resolved::Uint(u) => Err(format!(
            "map key {u} (an unsigned 64-bit integer) cannot be converted to JSON"
        )),
        Resolved::BigInt(_) => {
            Err("a map key larger than 64 bits cannot be converted to JSON".to_string())
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)` with go-yaml's names for the infinities.
fn go_format_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { ".inf" } else { "-.inf" }.to_string();
    }
    // Shortest digits that round-trip the float32, as "d.ddde±x".
    let sci = format!("{:e}", f as f32);
    let (negative, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci.as_str()),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if !(-4..6).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        out.push_str(&format!("{:02}", exp.abs()));
    } else if exp < 0 {
        out.push_str("0.");
        for _ in 0..(-exp - 1) {
            out.push('0');
        }
        out.push_str(&digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.push_str(&digits);
            for _ in digits.len()..int_len {
                out.push('0');
            }
        } else {
            out.push_str(&digits[..int_len]);
            out.push('.');
            out.push_str(&digits[int_len..]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> Resolved<'_> {
        resolve(s, true, ScalarTag::None).expect("plain scalars always resolve")
    }

    #[test]
    fn yaml_11_booleans_are_exactly_go_yamls_spellings() {
        for t in [
            "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
        ] {
            assert_eq!(plain(t), Resolved::Bool(true), "{t}");
        }
        for f in [
            "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
        ] {
            assert_eq!(plain(f), Resolved::Bool(false), "{f}");
        }
        for s in ["yEs", "tRUE", "oN", "nO", "OfF", "enabled"] {
            assert_eq!(plain(s), Resolved::Str(s.into()), "{s}");
        }
        assert_eq!(
            resolve("yes", false, ScalarTag::None),
            Ok(Resolved::Str("yes".into()))
        );
    }

    #[test]
    fn integers_follow_go_parse_int_base_zero() {
        assert_eq!(plain("0644"), Resolved::Int(420));
        assert_eq!(plain("0x1F"), Resolved::Int(31));
        assert_eq!(plain("0X1F"), Resolved::Int(31));
        assert_eq!(plain("0b101"), Resolved::Int(5));
        assert_eq!(plain("0o17"), Resolved::Int(15));
        assert_eq!(plain("+685_230"), Resolved::Int(685_230));
        assert_eq!(plain("0x_0A_74_AE"), Resolved::Int(685_230));
        assert_eq!(plain("-0b101010"), Resolved::Int(-42));
        assert_eq!(plain("0"), Resolved::Int(0));
        assert_eq!(plain("-9223372036854775808"), Resolved::Int(i64::MIN));
        assert_eq!(plain("18446744073709551615"), Resolved::Uint(u64::MAX));
        // `08` is not octal: Go falls through to the float rule.
        assert_eq!(plain("08"), Resolved::Float(8.0));
        assert_eq!(plain("1:20"), Resolved::Str("1:20".into()));
        assert_eq!(plain("-b_c"), Resolved::Str("-b_c".into()));
        assert_eq!(
            plain("50cent_of_dollar"),
            Resolved::Str("50cent_of_dollar".into())
        );
    }

    #[test]
    fn floats_and_specials() {
        assert_eq!(plain("685.230_15e+03"), Resolved::Float(685_230.15));
        assert_eq!(plain(".5"), Resolved::Float(0.5));
        assert_eq!(plain("1e3"), Resolved::Float(1000.0));
        assert_eq!(plain("1e999"), Resolved::Str("1e999".into()));
        assert!(matches!(plain(".inf"), Resolved::Float(f) if f == f64::INFINITY));
        assert!(matches!(plain("0xFFFFFFFFFFFFFFFFFF"), Resolved::BigInt(_)));
        assert_eq!(plain("2015-01-01"), Resolved::Str("2015-01-01".into()));
        assert_eq!(plain("~"), Resolved::Null);
        assert_eq!(plain(""), Resolved::Null);
    }

    #[test]
    fn explicit_tags_are_checked_like_go_yaml() {
        let int = ScalarTag::Core(CoreTag::Int);
        let float = ScalarTag::Core(CoreTag::Float);
        assert_eq!(resolve("1", false, int), Ok(Resolved::Int(1)));
        assert_eq!(resolve("1", true, float), Ok(Resolved::Float(1.0)));
        assert_eq!(
            resolve("error", false, float),
            Err("cannot decode !!str `error` as a !!float".to_string())
        );
        assert_eq!(
            resolve("123", true, ScalarTag::Other),
            Ok(Resolved::Str("123".into()))
        );
        assert_eq!(
            resolve("gIGC", true, ScalarTag::Binary),
            Ok(Resolved::Str("\u{fffd}\u{fffd}\u{fffd}".into()))
        );
        let ts = ScalarTag::Core(CoreTag::Timestamp);
        assert_eq!(
            resolve("2015-2-3T3:4:5Z", true, ts),
            Ok(Resolved::Str("2015-2-3T3:4:5Z".into()))
        );
        assert!(resolve("2015-13-01", true, ts).is_err());
    }

    #[test]
    fn json_numbers_are_what_the_api_server_stores() {
        assert_eq!(
            to_json(Resolved::Float(1000.0), "1e3"),
            Ok(serde_json::json!(1000))
        );
        assert_eq!(
            to_json(Resolved::Float(1.5), "1.5"),
            Ok(serde_json::json!(1.5))
        );
        assert_eq!(
            to_json(Resolved::Uint(u64::MAX), "x"),
            Ok(serde_json::json!(1.8446744073709552e19))
        );
        assert!(to_json(Resolved::Float(f64::NAN), ".nan").is_err());
    }

    #[test]
    fn keys_are_stringified_like_sigs_k8s_io_yaml() {
        assert_eq!(key_string(plain("on")), Ok("true".to_string()));
        assert_eq!(key_string(plain("0644")), Ok("420".to_string()));
        assert_eq!(key_string(plain("1.0")), Ok("1".to_string()));
        assert_eq!(key_string(plain("1e6")), Ok("1e+06".to_string()));
        assert_eq!(key_string(plain("123456.0")), Ok("123456".to_string()));
        assert_eq!(key_string(plain("0.1")), Ok("0.1".to_string()));
        assert_eq!(key_string(plain("0.00001")), Ok("1e-05".to_string()));
        assert_eq!(key_string(plain("-.inf")), Ok("-.inf".to_string()));
        assert!(key_string(plain("~")).is_err());
    }
}
