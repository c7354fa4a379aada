//! Finding `ref+awsssm://` / `ref+awssecrets://` references in rendered objects and putting
//! their values in (pure).
//!
//! Every string value of an object is searched (keys are not). A reference is found where
//! vals finds one (its `DefaultRefRegexp`, `((secret)?ref)\+([^\+:]*:\/\/[^\+\n ]+[^\+\n ",])\+?`),
//! restricted to the two AWS schemes:
//!
//! - a value that is exactly a reference is replaced by the reference's value;
//! - a reference inside a longer string ends at the first `+`, newline or space, or at the
//!   end of the string, without a trailing `"` or `,`; a `+` right after it ends it and is
//!   removed: `postgres://app:ref+awsssm://db/password+@db:5432/app` becomes
//!   `postgres://app:<value>@db:5432/app`. vals' `secretref+` prefix is read as `ref+`.
//!
//! References of other vals providers (`ref+vault://`, ...) are left as they are.

use std::collections::HashMap;

use serde_json::Value;

const SCHEMES: [&str; 2] = ["ref+awsssm://", "ref+awssecrets://"];

/// One reference inside a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span<'a> {
    /// What the value replaces: from the `ref+` (or `secretref+`) to the end, with a
    /// terminating `+`.
    pub start: usize,
    pub end: usize,
    /// The reference as parsed: `ref+awsssm://…`.
    pub text: &'a str,
}

/// The references in `s`, in order.
pub(crate) fn spans(s: &str) -> Vec<Span<'_>> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some((at, scheme)) = SCHEMES
        .iter()
        .filter_map(|p| s[from..].find(p).map(|i| (from + i, *p)))
        .min_by_key(|(i, _)| *i)
    {
        let body = at + scheme.len();
        let run_end = s[body..]
            .find(['+', '\n', ' '])
            .map_or(s.len(), |i| body + i);
        let mut end = run_end;
        while end > body && s[..end].ends_with(['"', ',']) {
            end -= 1;
        }
        let consumed = if end == run_end && s[end..].starts_with('+') {
            end + 1
        } else {
            end
        };
        let start = if s[..at].ends_with("secret") {
            at - "secret".len()
        } else {
            at
        };
        out.push(Span {
            start,
            end: consumed,
            text: &s[at..end],
        });
        from = consumed.max(body);
    }
    out
}

/// Every reference in `value`'s strings, with the JSON pointer of the string it is in
/// (one entry per occurrence).
pub(crate) fn references(value: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    walk(value, &mut String::new(), &mut out);
    out
}

fn walk(value: &Value, pointer: &mut String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(s) => {
            for span in spans(s) {
                out.push((pointer.clone(), span.text.to_owned()));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                walk(item, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (k, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&k.replace('~', "~0").replace('/', "~1"));
                walk(item, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

/// `value` with every reference replaced by its value from `values` (by the reference as
/// written); a reference missing from `values` is left as it is.
pub(crate) fn substitute(value: &mut Value, values: &HashMap<&str, &str>) {
    match value {
        Value::String(s) => {
            let found = spans(s);
            if found.is_empty() {
                return;
            }
            let mut out = String::with_capacity(s.len());
            let mut at = 0;
            for span in &found {
                let Some(v) = values.get(span.text) else {
                    continue;
                };
                out.push_str(&s[at..span.start]);
                out.push_str(v);
                at = span.end;
            }
            out.push_str(&s[at..]);
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|v| substitute(v, values)),
        Value::Object(map) => map.values_mut().for_each(|v| substitute(v, values)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(s: &str) -> Vec<&str> {
        spans(s).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn whole_values_and_embedded_references_are_found_as_vals_finds_them() {
        assert_eq!(
            texts("ref+awsssm://kubernetes/datadog/apiKey?region=ap-northeast-1"),
            ["ref+awsssm://kubernetes/datadog/apiKey?region=ap-northeast-1"]
        );
        assert_eq!(
            texts("postgres://app:ref+awsssm://db/password+@db:5432/app"),
            ["ref+awsssm://db/password"]
        );
        assert_eq!(
            texts("a ref+awsssm://x/y b ref+awssecrets://s#/k\nc"),
            ["ref+awsssm://x/y", "ref+awssecrets://s#/k"]
        );
        assert_eq!(
            texts(r#"{"k": "ref+awsssm://x/y", "l": 1}"#),
            ["ref+awsssm://x/y"]
        );
        assert_eq!(texts("ref+awsssm://a, then"), ["ref+awsssm://a"]);
        assert_eq!(texts("secretref+awsssm://x"), ["ref+awsssm://x"]);
        assert!(texts("ref+vault://kv/x#/y and plain text").is_empty());
        assert!(texts("").is_empty());
        // Adjacent references joined by their terminating `+`.
        assert_eq!(
            texts("ref+awsssm://a+ref+awsssm://b+"),
            ["ref+awsssm://a", "ref+awsssm://b"]
        );
    }

    #[test]
    fn substitution_replaces_each_reference_and_its_terminator() {
        let mut obj = json!({
            "kind": "ConfigMap",
            "data": {
                "key": "ref+awsssm://k",
                "url": "postgres://app:ref+awsssm://p+@db/app",
                "two": "secretref+awsssm://k+-ref+awsssm://p",
                "other": "ref+vault://x",
                "n": 3,
            },
            "list": ["ref+awsssm://k"],
        });
        let found: Vec<(String, String)> = references(&obj);
        assert_eq!(found.len(), 5, "{found:?}");
        assert!(found.contains(&("/data/url".to_owned(), "ref+awsssm://p".to_owned())));
        assert!(found.contains(&("/list/0".to_owned(), "ref+awsssm://k".to_owned())));
        let values = HashMap::from([("ref+awsssm://k", "K"), ("ref+awsssm://p", "P")]);
        substitute(&mut obj, &values);
        assert_eq!(obj["data"]["key"], "K");
        assert_eq!(obj["data"]["url"], "postgres://app:P@db/app");
        assert_eq!(obj["data"]["two"], "K-P");
        assert_eq!(obj["data"]["other"], "ref+vault://x");
        assert_eq!(obj["list"][0], "K");
    }

    #[test]
    fn pointers_escape_slashes_and_tildes() {
        let obj = json!({"metadata": {"annotations": {"a/b~c": "ref+awsssm://x"}}});
        assert_eq!(
            references(&obj),
            [(
                "/metadata/annotations/a~1b~0c".to_owned(),
                "ref+awsssm://x".to_owned()
            )]
        );
    }
}
