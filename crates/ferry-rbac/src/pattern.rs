//! The patterns of a policy line's resource, action and object, compiled once.
//!
//! `glob` mode follows `github.com/gobwas/glob` compiled without separators, as Argo CD's
//! `util/glob.Match` calls it: `*` and `**` match any run of characters *including* `/`,
//! `?` one character, `[abc]` / `[!abc]` / `[a-z]` / `[!a-z]` one character of (or not of) a
//! list or a range, `{a,b}` one of the alternatives (which may hold patterns; an unclosed
//! `{` is closed by the end, as gobwas's parser accepts it), `\x` the character `x` (a
//! trailing `\` is dropped). `,` and `}` outside braces and `]` outside a class are plain
//! characters. A pattern gobwas refuses to compile (an unclosed `[`, `[]`, a range whose end
//! is below its start) matches nothing, as Argo CD logs and answers `false`. Matching is
//! whole-string and case-sensitive. The glob is translated to an anchored regular expression
//! (no backtracking, so a hostile pattern costs linear time), with shortcuts for plain text
//! and a lone `*`.
//!
//! `regex` mode follows casbin's `RegexMatchFunc`: Go's `regexp.MatchString`, which is *not*
//! anchored (`proj/.*` matches `other-proj/app`). A pattern that is not a valid regular
//! expression makes casbin panic and the whole enforcement fail; [`Pattern::matches`]
//! answers that as an error for the evaluator to turn into a denial. The `regex` crate reads
//! the RE2 syntax Go's `regexp` reads; one difference: `\w`, `\d`, `\s` and `\b` are Unicode
//! here and ASCII in Go.

use regex::Regex;

/// How the tokens of a policy line are compared (`policy.matchMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum MatchMode {
    /// gobwas glob without separators (Argo CD's default).
    #[default]
    Glob,
    /// Go regular expressions, unanchored.
    Regex,
}

impl MatchMode {
    /// Reads `policy.matchMode` as Argo CD's `SetMatchMode` does: `regex` is regex, anything
    /// else (empty, `glob`, a typo) is glob.
    pub fn from_config(value: &str) -> MatchMode {
        if value == "regex" {
            MatchMode::Regex
        } else {
            MatchMode::Glob
        }
    }
}

/// A compiled resource, action or object pattern.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// A glob without special characters: string equality.
    Literal(String),
    /// A glob that is only `*`s: matches everything.
    Any,
    /// Any other glob, as an anchored regex.
    Glob(Regex),
    /// A glob gobwas refuses: matches nothing.
    BadGlob(String),
    /// A regex-mode pattern.
    Regex(Regex),
    /// A regex-mode pattern that does not compile: evaluating it fails the enforcement.
    BadRegex(String),
}

impl Pattern {
    /// Compiles `pattern` for `mode`.
    pub fn compile(pattern: &str, mode: MatchMode) -> Pattern {
        match mode {
            MatchMode::Regex => match Regex::new(pattern) {
                Ok(re) => Pattern::Regex(re),
                Err(e) => Pattern::BadRegex(first_line(&e.to_string())),
            },
            MatchMode::Glob => {
                if !pattern.is_empty() && pattern.chars().all(|c| c == '*') {
                    return Pattern::Any;
                }
                match glob_to_regex(pattern) {
                    Err(e) => Pattern::BadGlob(e),
                    Ok(None) => Pattern::Literal(unescape_literal(pattern)),
                    Ok(Some(source)) => match Regex::new(&source) {
                        Ok(re) => Pattern::Glob(re),
                        Err(e) => Pattern::BadGlob(first_line(&e.to_string())),
                    },
                }
            }
        }
    }

    /// Why the pattern can never be used as written, if so.
    pub fn problem(&self) -> Option<String> {
        match self {
            Pattern::BadGlob(e) => Some(format!(
                "not a glob Argo CD compiles ({e}): matches nothing"
            )),
            Pattern::BadRegex(e) => Some(format!(
                "not a regular expression ({e}): fails every request it is reached for"
            )),
            _ => None,
        }
    }

    /// Whether `value` matches; `Err` (regex mode only) when the pattern cannot be compiled.
    pub fn matches(&self, value: &str) -> Result<bool, String> {
        match self {
            Pattern::Literal(s) => Ok(s == value),
            Pattern::Any => Ok(true),
            Pattern::Glob(re) | Pattern::Regex(re) => Ok(re.is_match(value)),
            Pattern::BadGlob(_) => Ok(false),
            Pattern::BadRegex(e) => Err(e.clone()),
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

/// Plain text of a glob with no special characters but possibly escapes.
fn unescape_literal(pattern: &str) -> String {
    let mut out = String::new();
    let mut escaped = false;
    for c in pattern.chars() {
        if !escaped && c == '\\' {
            escaped = true;
            continue;
        }
        escaped = false;
        out.push(c);
    }
    out
}

/// Translates a gobwas glob (no separators) to an anchored regex; `Ok(None)` when the glob
/// is plain text (escapes aside). Follows gobwas's lexer (`syntax/lexer`) and parser
/// (`syntax/ast`) rule for rule.
fn glob_to_regex(pattern: &str) -> Result<Option<String>, String> {
    let chars: Vec<char> = pattern.chars().collect();
    if chars.contains(&'\u{FFFD}') {
        return Err("could not read rune".to_string());
    }
    let mut out = String::from("(?s)^(?:");
    let mut special = false;
    let mut terms = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '{' => {
                terms += 1;
                special = true;
                out.push_str("(?:");
                i += 1;
            }
            ',' if terms > 0 => {
                out.push('|');
                i += 1;
            }
            '}' if terms > 0 => {
                terms -= 1;
                out.push(')');
                i += 1;
            }
            '[' => {
                special = true;
                i = range(&chars, i + 1, &mut out)?;
            }
            '?' => {
                special = true;
                out.push('.');
                i += 1;
            }
            '*' => {
                special = true;
                out.push_str(".*");
                i += if chars.get(i + 1) == Some(&'*') { 2 } else { 1 };
            }
            _ => {
                // Text up to the next breaker, with escapes.
                let in_terms = terms > 0;
                let mut escaped = false;
                while i < chars.len() {
                    let c = chars[i];
                    if !escaped {
                        if c == '\\' {
                            escaped = true;
                            i += 1;
                            continue;
                        }
                        let breaker = matches!(c, '?' | '*' | '[' | '{')
                            || (in_terms && matches!(c, '}' | ','));
                        if breaker {
                            break;
                        }
                    }
                    escaped = false;
                    out.push_str(&regex::escape(&c.to_string()));
                    i += 1;
                }
            }
        }
    }
    for _ in 0..terms {
        out.push(')');
    }
    out.push_str(")$");
    Ok(special.then_some(out))
}

/// A `[...]` class starting after the `[` at `i`; returns the index after its `]`.
fn range(chars: &[char], mut i: usize, out: &mut String) -> Result<usize, String> {
    let mut not = false;
    let mut lo: Option<char> = None;
    let mut hi: Option<char> = None;
    let mut list = String::new();
    let mut want_hi = false;
    let mut want_close = false;
    loop {
        let Some(&r) = chars.get(i) else {
            return Err("unexpected end of input".to_string());
        };
        i += 1;
        if want_close {
            if r != ']' {
                return Err("expected close range character".to_string());
            }
            break;
        }
        if want_hi {
            hi = Some(r);
            want_close = true;
            continue;
        }
        if !not && r == '!' {
            not = true;
            continue;
        }
        if chars.get(i) == Some(&'-') {
            lo = Some(r);
            i += 1;
            want_hi = true;
            continue;
        }
        // Text up to `]`, with escapes (the first character read again).
        i -= 1;
        let mut escaped = false;
        while let Some(&c) = chars.get(i) {
            if !escaped {
                if c == '\\' {
                    escaped = true;
                    i += 1;
                    continue;
                }
                if c == ']' {
                    break;
                }
            }
            escaped = false;
            list.push(c);
            i += 1;
        }
        want_close = true;
    }
    let negate = if not { "^" } else { "" };
    match (lo, hi) {
        (Some(lo), Some(hi)) if list.is_empty() => {
            if hi < lo {
                return Err(format!(
                    "hi character '{hi}' should be greater than lo '{lo}'"
                ));
            }
            out.push_str(&format!(
                "[{negate}{}-{}]",
                regex::escape(&lo.to_string()),
                regex::escape(&hi.to_string())
            ));
        }
        (None, None) if !list.is_empty() => {
            out.push('[');
            out.push_str(negate);
            for c in list.chars() {
                out.push_str(&regex::escape(&c.to_string()));
            }
            out.push(']');
        }
        _ => return Err("could not parse range".to_string()),
    }
    Ok(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(p: &str, v: &str) -> bool {
        Pattern::compile(p, MatchMode::Glob)
            .matches(v)
            .unwrap_or(false)
    }

    #[test]
    fn star_crosses_slashes() {
        assert!(glob("*", "a/b/c"));
        assert!(glob("*/*", "proj/ns/app"));
        assert!(glob("proj/*", "proj/ns/app"));
        assert!(glob(
            "action/extensions/*",
            "action/extensions/DaemonSet/test"
        ));
        assert!(glob(
            "https://github.com/*/*.git",
            "https://github.com/argoproj/argo-cd.git"
        ));
        assert!(!glob(
            "https://github.com/*/*.git",
            "https://github.com/argo-cd.git"
        ));
        assert!(glob("delete/*/Pod/*/*", "delete//Pod/default/web-0"));
        assert!(!glob("proj/*", "proj"));
        assert!(glob("**", ""));
    }

    #[test]
    fn literal_and_case() {
        assert!(glob("get", "get"));
        assert!(!glob("get", "Get"));
        assert!(!glob("get", "get2"));
        assert!(glob(r"a\*b", "a*b"));
        assert!(!glob(r"a\*b", "axb"));
        assert!(glob("a,b}c]", "a,b}c]"));
    }

    #[test]
    fn single_classes_and_ranges() {
        assert!(glob("ap?", "app"));
        assert!(!glob("ap?", "ap"));
        assert!(glob("[ab]x", "bx"));
        assert!(!glob("[!ab]x", "bx"));
        assert!(glob("[!ab]x", "cx"));
        assert!(glob("v[0-9]", "v7"));
        assert!(!glob("v[!0-9]", "v7"));
        assert!(glob("[ab-c]", "-"));
        assert!(glob(r"[\]]", "]"));
    }

    #[test]
    fn alternatives() {
        assert!(glob("{dev,prod}/*", "prod/app"));
        assert!(!glob("{dev,prod}/*", "test/app"));
        assert!(glob("a{b,c{d,e}}f", "acef"));
        assert!(glob("a{,x}", "a"));
        // An unclosed brace is closed by the end of the pattern.
        assert!(glob("{a,b", "b"));
    }

    #[test]
    fn patterns_gobwas_refuses_match_nothing() {
        for bad in ["[abc", "[]", "[!]", "[z-a]", "[a-]"] {
            assert!(
                matches!(Pattern::compile(bad, MatchMode::Glob), Pattern::BadGlob(_)),
                "{bad}"
            );
            assert!(!glob(bad, bad));
        }
    }

    #[test]
    fn regex_is_unanchored_and_bad_regex_is_an_error() {
        let re = Pattern::compile("proj/.*", MatchMode::Regex);
        assert_eq!(re.matches("other-proj/app"), Ok(true));
        assert_eq!(re.matches("proj"), Ok(false));
        assert!(
            Pattern::compile("*/*", MatchMode::Regex)
                .matches("a/b")
                .is_err()
        );
    }

    #[test]
    fn match_mode_reads_like_argo() {
        assert_eq!(MatchMode::from_config("regex"), MatchMode::Regex);
        assert_eq!(MatchMode::from_config("Regex"), MatchMode::Glob);
        assert_eq!(MatchMode::from_config(""), MatchMode::Glob);
    }
}
