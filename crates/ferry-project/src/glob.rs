//! Glob patterns as Argo CD matches project rules with (gobwas/glob): `*` any run of
//! characters but a separator, `**` any run at all, `?` one character but a separator,
//! `[abc]`, `[a-z]` and `[!abc]` classes, `{a,b}` alternatives and `\` escapes. Argo CD's
//! `globMatch` adds that `*` alone matches everything and that `!pattern` (where negation is
//! allowed) matches what `pattern` does not.

/// Whether `value` matches `pattern` (with `separators`); a pattern that does not compile
/// (an unclosed class) matches nothing, as Argo CD's does.
pub fn matches(pattern: &str, value: &str, separators: &[char]) -> bool {
    let Some(tokens) = compile(pattern) else {
        return false;
    };
    let value: Vec<char> = value.chars().collect();
    run(&tokens, &value, separators)
}

/// Argo CD's `globMatch`: `*` is everything; with `negation`, `!p` is what `p` is not.
pub fn glob_match(pattern: &str, value: &str, negation: bool, separators: &[char]) -> bool {
    if negation && let Some(rest) = pattern.strip_prefix('!') {
        return !matches(rest, value, separators);
    }
    pattern == "*" || matches(pattern, value, separators)
}

/// Whether `pattern` refuses what it names (`!pattern`).
pub fn is_deny(pattern: &str) -> bool {
    pattern.starts_with('!')
}

#[derive(Debug, Clone)]
enum Token {
    Char(char),
    /// `*` (false) or `**` (true).
    Star(bool),
    Any,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    Alt(Vec<Vec<Token>>),
}

fn compile(pattern: &str) -> Option<Vec<Token>> {
    let chars: Vec<char> = pattern.chars().collect();
    let (tokens, end) = sequence(&chars, 0, false)?;
    (end == chars.len()).then_some(tokens)
}

/// Tokens from `i` up to the end, or (inside braces) up to the `,` or `}` that ends them.
fn sequence(c: &[char], mut i: usize, in_alt: bool) -> Option<(Vec<Token>, usize)> {
    let mut out = Vec::new();
    while i < c.len() {
        match c[i] {
            ',' | '}' if in_alt => return Some((out, i)),
            '\\' => {
                out.push(Token::Char(*c.get(i + 1)?));
                i += 2;
            }
            '*' if c.get(i + 1) == Some(&'*') => {
                out.push(Token::Star(true));
                i += 2;
            }
            '*' => {
                out.push(Token::Star(false));
                i += 1;
            }
            '?' => {
                out.push(Token::Any);
                i += 1;
            }
            '[' => {
                let (t, next) = class(c, i + 1)?;
                out.push(t);
                i = next;
            }
            '{' => {
                let mut alts = Vec::new();
                let mut j = i + 1;
                loop {
                    let (alt, end) = sequence(c, j, true)?;
                    alts.push(alt);
                    match c.get(end) {
                        Some(',') => j = end + 1,
                        Some('}') => {
                            i = end + 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                out.push(Token::Alt(alts));
            }
            ch => {
                out.push(Token::Char(ch));
                i += 1;
            }
        }
    }
    (!in_alt).then_some((out, i))
}

fn class(c: &[char], mut i: usize) -> Option<(Token, usize)> {
    let negated = c.get(i) == Some(&'!');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    while let Some(&ch) = c.get(i) {
        if ch == ']' {
            return Some((Token::Class { negated, ranges }, i + 1));
        }
        let lo = if ch == '\\' {
            i += 1;
            *c.get(i)?
        } else {
            ch
        };
        if c.get(i + 1) == Some(&'-') && c.get(i + 2).is_some_and(|&h| h != ']') {
            ranges.push((lo, c[i + 2]));
            i += 3;
        } else {
            ranges.push((lo, lo));
            i += 1;
        }
    }
    None
}

fn run(tokens: &[Token], v: &[char], seps: &[char]) -> bool {
    let Some((first, rest)) = tokens.split_first() else {
        return v.is_empty();
    };
    match first {
        Token::Char(ch) => v.first() == Some(ch) && run(rest, &v[1..], seps),
        Token::Any => v.first().is_some_and(|c| !seps.contains(c)) && run(rest, &v[1..], seps),
        Token::Class { negated, ranges } => {
            v.first().is_some_and(|c| {
                let inside = ranges.iter().any(|(lo, hi)| lo <= c && c <= hi);
                inside != *negated
            }) && run(rest, &v[1..], seps)
        }
        Token::Star(any) => {
            for n in 0..=v.len() {
                if run(rest, &v[n..], seps) {
                    return true;
                }
                if n < v.len() && !any && seps.contains(&v[n]) {
                    return false;
                }
            }
            false
        }
        Token::Alt(alts) => alts.iter().any(|alt| {
            let mut joined = alt.clone();
            joined.extend_from_slice(rest);
            run(&joined, v, seps)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_gobwas_does() {
        let cases: &[(&str, &str, &[char], bool)] = &[
            ("*", "any/thing", &['/'], false),
            (
                "https://github.com/org/*",
                "https://github.com/org/repo",
                &['/'],
                true,
            ),
            (
                "https://github.com/org/*",
                "https://github.com/org/a/b",
                &['/'],
                false,
            ),
            (
                "https://github.com/org/**",
                "https://github.com/org/a/b",
                &['/'],
                true,
            ),
            ("team-?", "team-a", &[], true),
            ("team-[a-c]", "team-d", &[], false),
            ("team-[!a-c]", "team-d", &[], true),
            ("{prod,stg}-*", "stg-eu", &[], true),
            ("{prod,stg}-*", "test-eu", &[], false),
            ("a\\*", "a*", &[], true),
            ("a\\*", "ab", &[], false),
            ("[unclosed", "[unclosed", &[], false),
            ("", "", &[], true),
        ];
        for (pattern, value, seps, want) in cases {
            assert_eq!(matches(pattern, value, seps), *want, "{pattern} ~ {value}");
        }
        assert!(glob_match("*", "any/thing", false, &['/']));
        assert!(glob_match("!team-*", "other", true, &[]));
        assert!(!glob_match("!team-*", "team-a", true, &[]));
        assert!(!glob_match("!team-*", "other", false, &[]));
    }
}
