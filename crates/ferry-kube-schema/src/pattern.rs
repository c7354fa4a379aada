//! `pattern`: the API server matches strings with Go's RE2 `regexp` (unanchored `MatchString`).
//! Rust's `regex` has the same syntax family; this module papers over the differences that
//! matter for CRD patterns: Go's `\d`, `\w`, `\s` and `\b` are ASCII-only, `[` inside a class is a
//! literal in Go, and `\Q...\E` quotes literally.

use regex::Regex;

/// A compiled `pattern` keyword, keeping the source text for messages.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: Regex,
}

impl Pattern {
    /// Compiles a Go RE2 pattern.
    pub fn new(source: &str) -> Result<Pattern, regex::Error> {
        let regex = Regex::new(&translate(source))?;
        Ok(Pattern {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written in the schema.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern matches anywhere in `s` (Go's `MatchString`).
    pub fn is_match(&self, s: &str) -> bool {
        self.regex.is_match(s)
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

const DIGIT: &str = "[0-9]";
const NOT_DIGIT: &str = "[^0-9]";
const WORD: &str = "[0-9A-Za-z_]";
const NOT_WORD: &str = "[^0-9A-Za-z_]";
const SPACE: &str = r"[\t\n\x0C\r ]";
const NOT_SPACE: &str = r"[^\t\n\x0C\r ]";

/// Rewrites Go RE2 syntax into an equivalent Rust `regex` pattern.
fn translate(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 8);
    let mut in_class = false;
    // True right after `[` or `[^`, where `]` is a literal.
    let mut class_start = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let Some(&next) = chars.get(i + 1) else {
                out.push('\\');
                i += 1;
                continue;
            };
            match next {
                'd' => out.push_str(DIGIT),
                'D' => out.push_str(NOT_DIGIT),
                'w' => out.push_str(WORD),
                'W' => out.push_str(NOT_WORD),
                's' => out.push_str(SPACE),
                'S' => out.push_str(NOT_SPACE),
                'b' if !in_class => out.push_str(r"(?-u:\b)"),
                'B' if !in_class => out.push_str(r"(?-u:\B)"),
                'Q' => {
                    // Literal text up to `\E` (or the end).
                    let mut j = i + 2;
                    let mut literal = String::new();
                    while j < chars.len() && !(chars[j] == '\\' && chars.get(j + 1) == Some(&'E')) {
                        literal.push(chars[j]);
                        j += 1;
                    }
                    out.push_str(&regex::escape(&literal));
                    class_start = false;
                    i = if j < chars.len() { j + 2 } else { j };
                    continue;
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
            class_start = false;
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' if !class_start => {
                    in_class = false;
                    out.push(']');
                }
                '^' if class_start && chars.get(i.wrapping_sub(1)) == Some(&'[') => {
                    out.push('^');
                    i += 1;
                    continue; // still at the class start
                }
                '[' if chars.get(i + 1) == Some(&':') => {
                    // A POSIX class `[:alpha:]`: copy through `:]`.
                    let rest: String = chars[i..].iter().collect();
                    if let Some(end) = rest.find(":]") {
                        out.push_str(&rest[..end + 2]);
                        i += rest[..end + 2].chars().count();
                        class_start = false;
                        continue;
                    }
                    out.push_str(r"\[");
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if chars.get(i + 1) == Some(&'-') => out.push_str(r"\-"),
                _ => out.push(c),
            }
            class_start = false;
        } else {
            if c == '[' {
                in_class = true;
                class_start = true;
            }
            out.push(c);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(p: &str, s: &str) -> bool {
        match Pattern::new(p) {
            Ok(p) => p.is_match(s),
            Err(e) => panic!("pattern {p} did not compile: {e}"),
        }
    }

    #[test]
    fn unanchored_like_go() {
        assert!(matches("b", "abc"));
        assert!(matches("^[a-z]+$", "abc"));
        assert!(!matches("^[a-z]+$", "abC"));
    }

    #[test]
    fn perl_classes_are_ascii() {
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d+$", "١٢٣"));
        assert!(!matches(r"^\w+$", "héllo"));
        assert!(matches(r"^[\w.-]+$", "a.b-c_d"));
        assert!(matches(r"\bfoo\b", "a foo b"));
        assert!(!matches(r"^\s$", "\u{a0}"));
    }

    #[test]
    fn class_quirks() {
        assert!(matches(r"^[]a]+$", "]a"));
        assert!(matches(r"^[^]a]+$", "bc"));
        assert!(matches(r"^[a[]+$", "a[a"));
        assert!(matches(r"^[a&&b]+$", "&a"));
        assert!(matches(r"^[[:alpha:]]+$", "abc"));
        assert!(matches(r"^\Q1.5\E$", "1.5"));
        assert!(!matches(r"^\Q1.5\E$", "125"));
    }

    #[test]
    fn keeps_source() {
        assert!(Pattern::new("^a$").is_ok_and(|p| p.as_str() == "^a$"));
        assert!(Pattern::new("(").is_err());
    }
}
