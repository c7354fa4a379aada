//! A small YAML emitter for showing JSON values to people: mapping keys sorted, two-space
//! indentation, sequences at their key's indentation (as `kubectl get -o yaml` prints them),
//! multi-line strings as literal blocks, and strings that would read back as something else
//! (`"true"`, `"1"`, `"null"`, `""`, ...) double-quoted.
//!
//! It is for display and diffs only; nothing parses its output back.

use serde_json::Value;

/// The YAML text of `value`, ending with a newline. `Null` at the top prints as `null`.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    for line in lines(value) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// The lines of `value` at indentation zero.
fn lines(value: &Value) -> Vec<String> {
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Vec::new();
            for key in keys {
                let child = &map[key.as_str()];
                let key = scalar_string(key);
                match block(child) {
                    Block::Inline(text) => out.push(format!("{key}: {text}")),
                    Block::Literal(header, body) => {
                        out.push(format!("{key}: {header}"));
                        out.extend(body.into_iter().map(indent));
                    }
                    Block::Mapping(body) => {
                        out.push(format!("{key}:"));
                        out.extend(body.into_iter().map(indent));
                    }
                    Block::Sequence(body) => {
                        out.push(format!("{key}:"));
                        out.extend(body);
                    }
                }
            }
            out
        }
        Value::Array(items) if !items.is_empty() => {
            let mut out = Vec::new();
            for item in items {
                let (first, rest) = match block(item) {
                    Block::Inline(text) => (text, Vec::new()),
                    Block::Literal(header, body) => (header, body),
                    Block::Mapping(body) | Block::Sequence(body) => {
                        let mut body = body.into_iter();
                        let first = body.next().unwrap_or_default();
                        (first, body.collect())
                    }
                };
                out.push(format!("- {first}"));
                out.extend(rest.into_iter().map(indent));
            }
            out
        }
        other => match block(other) {
            Block::Inline(text) => vec![text],
            Block::Literal(header, body) => std::iter::once(header).chain(body).collect(),
            Block::Mapping(body) | Block::Sequence(body) => body,
        },
    }
}

/// How a value sits after its key or dash.
enum Block {
    /// On the same line: scalars and empty collections.
    Inline(String),
    /// A literal block: the `|` header on the same line, the text below, indented.
    Literal(String, Vec<String>),
    /// A non-empty mapping: below, indented.
    Mapping(Vec<String>),
    /// A non-empty sequence: below, at the key's indentation.
    Sequence(Vec<String>),
}

fn block(value: &Value) -> Block {
    match value {
        Value::Null => Block::Inline("null".into()),
        Value::Bool(b) => Block::Inline(b.to_string()),
        Value::Number(n) => Block::Inline(n.to_string()),
        Value::String(s) => match literal(s) {
            Some((header, body)) => Block::Literal(header, body),
            None => Block::Inline(scalar_string(s)),
        },
        Value::Object(map) if map.is_empty() => Block::Inline("{}".into()),
        Value::Array(items) if items.is_empty() => Block::Inline("[]".into()),
        Value::Object(_) => Block::Mapping(lines(value)),
        Value::Array(_) => Block::Sequence(lines(value)),
    }
}

fn indent(line: String) -> String {
    if line.is_empty() {
        line
    } else {
        format!("  {line}")
    }
}

/// A multi-line string as a literal block (`|`, `|-` or `|+` by its trailing newlines), or
/// `None` when it cannot be one faithfully (one line, control characters, or a first line that
/// starts with a space, which would be taken for indentation).
fn literal(s: &str) -> Option<(String, Vec<String>)> {
    let body = s.trim_end_matches('\n');
    if !body.contains('\n') {
        return None;
    }
    if s.chars().any(|c| c.is_control() && c != '\n') {
        return None;
    }
    let first = body.lines().find(|l| !l.is_empty())?;
    if first.starts_with(' ') {
        return None;
    }
    let trailing = s.len() - body.len();
    let header = match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    let mut text: Vec<String> = body.split('\n').map(str::to_string).collect();
    // `|+` keeps every trailing newline: the extra ones are empty lines of the block.
    text.extend(std::iter::repeat_n(
        String::new(),
        trailing.saturating_sub(1),
    ));
    Some((header.to_string(), text))
}

/// A string as a plain scalar when it reads back as the same string, else double-quoted (the
/// JSON escaping of a string is valid YAML).
fn scalar_string(s: &str) -> String {
    if is_plain_safe(s) {
        s.to_string()
    } else {
        serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
    }
}

fn is_plain_safe(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    if s.starts_with(' ') || s.ends_with(' ') || s.ends_with(':') {
        return false;
    }
    // `-`, `?` and `:` start a plain scalar only when a non-space follows (`--verbose`).
    let indicator_ok = "-?:".contains(first) && s[1..].starts_with(|c: char| c != ' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) && !indicator_ok {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.chars().any(|c| c.is_control()) {
        return false;
    }
    if looks_like_number(s) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "~" | "null" | "true" | "false" | "yes" | "no" | "y" | "n" | "on" | "off" | ".inf" | ".nan"
    )
}

/// Anything a YAML 1.1 or 1.2 reader might take for a number: a leading digit, or a sign or
/// dot followed by a digit or `inf`/`nan`.
fn looks_like_number(s: &str) -> bool {
    let rest = s.trim_start_matches(['+', '-', '.']);
    let lower = rest.to_ascii_lowercase();
    rest.starts_with(|c: char| c.is_ascii_digit())
        || (rest.len() < s.len() && (lower.starts_with("inf") || lower.starts_with("nan")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_nested_maps_and_lists_kubectl_style() {
        let v = json!({
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]},
            "kind": "Pod",
            "empty": {},
            "none": [],
        });
        let expected = "\
empty: {}
kind: Pod
none: []
spec:
  containers:
  - image: nginx:1.25
    name: web
    ports:
    - containerPort: 80
";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn quotes_strings_that_would_read_back_as_other_types() {
        let v = json!({"a": "true", "b": "1", "c": "", "d": "null", "e": "x: y", "f": "-", "g": "plain text", "h": "1.2.3", "i": "on", "j": "--verbose", "k": "- x", "l": "-1"});
        let expected = "\
a: \"true\"
b: \"1\"
c: \"\"
d: \"null\"
e: \"x: y\"
f: \"-\"
g: plain text
h: \"1.2.3\"
i: \"on\"
j: --verbose
k: \"- x\"
l: \"-1\"
";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn multi_line_strings_become_literal_blocks() {
        let v = json!({"script": "echo a\necho b\n", "nolf": "a\nb", "list": ["x\ny\n"]});
        let expected = "\
list:
- |
  x
  y
nolf: |-
  a
  b
script: |
  echo a
  echo b
";
        assert_eq!(to_yaml(&v), expected);
    }

    #[test]
    fn nested_lists_and_scalars_at_top() {
        assert_eq!(
            to_yaml(&json!([[1, 2], {"a": 1}])),
            "- - 1\n  - 2\n- a: 1\n"
        );
        assert_eq!(to_yaml(&json!("x")), "x\n");
        assert_eq!(to_yaml(&json!({})), "{}\n");
    }
}
