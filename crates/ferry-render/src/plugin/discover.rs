//! The file-based discovery rules, as the CMP server applies them (`matchRepository` in
//! `cmpserver/plugin/plugin.go`): the pattern is joined to the source path and cleaned
//! lexically (Go's `filepath.Join`), then
//!
//! - `discover.fileName` is matched like Go's `filepath.Glob`: `*`, `?`, `[...]` (with `^`
//!   for negation) and `\` escapes within one path component, hidden files included;
//! - `discover.find.glob` like `zglob.Glob`: the same, plus `**` for any number of
//!   directories and `{a,b}` alternatives.
//!
//! A pattern that reaches above the repository root matches nothing (in Argo CD it would
//! point outside the plugin's working directory). Nothing outside the checkout is looked at:
//! a symbolic link to a directory is followed only when it resolves inside the checkout
//! (`fileName`) or not at all (`find.glob`, as zglob does not follow links). File system
//! errors count as "no match", as in Go.

use std::fs;
use std::path::{Path, PathBuf};

use globset::GlobBuilder;

/// The pattern joined to the source path and cleaned: `None` when it climbs above the root.
fn clean_join(source: &[String], pattern: &str) -> Option<Vec<String>> {
    let mut out: Vec<String> = source.to_vec();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                out.pop()?;
            }
            part => out.push(part.to_string()),
        }
    }
    Some(out)
}

/// Whether `discover.fileName` matches; `Err` for a malformed pattern.
pub(crate) fn file_name_matches(
    root: &Path,
    source: &[String],
    pattern: &str,
) -> Result<bool, String> {
    let Some(components) = clean_join(source, pattern) else {
        return Ok(false);
    };
    let compiled = components
        .iter()
        .map(|c| Component::compile(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|()| format!("{pattern:?} is not a valid filepath.Glob pattern"))?;
    Ok(glob(root, root.to_path_buf(), &compiled))
}

enum Component {
    Literal(String),
    Pattern(Vec<Token>),
}

impl Component {
    fn compile(text: &str) -> Result<Component, ()> {
        if text.contains(['*', '?', '[', '\\']) {
            parse_pattern(text).map(Component::Pattern)
        } else {
            Ok(Component::Literal(text.to_string()))
        }
    }
}

fn glob(root: &Path, dir: PathBuf, rest: &[Component]) -> bool {
    let Some((first, rest)) = rest.split_first() else {
        return true;
    };
    let descend = |path: PathBuf| -> bool {
        if rest.is_empty() {
            return true;
        }
        match inside_dir(root, path) {
            Some(next) => glob(root, next, rest),
            None => false,
        }
    };
    match first {
        Component::Literal(name) => {
            let path = dir.join(name);
            fs::symlink_metadata(&path).is_ok() && descend(path)
        }
        Component::Pattern(tokens) => {
            let Ok(entries) = fs::read_dir(&dir) else {
                return false;
            };
            let mut names: Vec<_> = entries.flatten().map(|e| e.file_name()).collect();
            names.sort();
            names.into_iter().any(|name| {
                let text = name.to_string_lossy();
                matches(tokens, &text) && descend(dir.join(&name))
            })
        }
    }
}

/// `path` as a directory to descend into: itself when it is one, its target when it is a
/// symbolic link to a directory inside `root`.
fn inside_dir(root: &Path, path: PathBuf) -> Option<PathBuf> {
    let meta = fs::symlink_metadata(&path).ok()?;
    if meta.file_type().is_symlink() {
        let target = fs::canonicalize(&path).ok()?;
        (target.starts_with(root) && target.is_dir()).then_some(target)
    } else {
        meta.is_dir().then_some(path)
    }
}

/// One element of a Go `filepath.Match` pattern component.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Star,
    Any,
    Literal(char),
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

/// Parses a pattern component with Go's `filepath.Match` syntax; `Err` is `ErrBadPattern`.
fn parse_pattern(text: &str) -> Result<Vec<Token>, ()> {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let mut tokens = Vec::new();
    // Go's getEsc: one class character, `\` escaping; an unescaped `-` or `]` is malformed.
    let class_char = |i: &mut usize| -> Result<char, ()> {
        let mut c = *chars.get(*i).ok_or(())?;
        if c == '-' || c == ']' {
            return Err(());
        }
        if c == '\\' {
            *i += 1;
            c = *chars.get(*i).ok_or(())?;
        }
        *i += 1;
        Ok(c)
    };
    while i < chars.len() {
        match chars[i] {
            '*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            '?' => {
                tokens.push(Token::Any);
                i += 1;
            }
            '\\' => {
                let c = *chars.get(i + 1).ok_or(())?;
                tokens.push(Token::Literal(c));
                i += 2;
            }
            '[' => {
                i += 1;
                let negated = chars.get(i) == Some(&'^');
                if negated {
                    i += 1;
                }
                let mut ranges = Vec::new();
                loop {
                    match chars.get(i) {
                        None => return Err(()),
                        Some(']') if !ranges.is_empty() => {
                            i += 1;
                            break;
                        }
                        Some(_) => {}
                    }
                    let lo = class_char(&mut i)?;
                    let mut hi = lo;
                    if chars.get(i) == Some(&'-') {
                        i += 1;
                        hi = class_char(&mut i)?;
                    }
                    ranges.push((lo, hi));
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => {
                tokens.push(Token::Literal(c));
                i += 1;
            }
        }
    }
    Ok(tokens)
}

/// Whether `name` (one path component) matches the tokens.
fn matches(tokens: &[Token], name: &str) -> bool {
    let chars: Vec<char> = name.chars().collect();
    // reach[j]: the tokens so far can match exactly the first j characters.
    let mut reach = vec![false; chars.len() + 1];
    reach[0] = true;
    for token in tokens {
        let mut next = vec![false; chars.len() + 1];
        match token {
            Token::Star => {
                let mut any = false;
                for j in 0..=chars.len() {
                    any |= reach[j];
                    next[j] = any;
                }
            }
            single => {
                for j in 1..=chars.len() {
                    let c = chars[j - 1];
                    let ok = match single {
                        Token::Any => true,
                        Token::Literal(l) => *l == c,
                        Token::Class { negated, ranges } => {
                            ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
                        }
                        Token::Star => false,
                    };
                    next[j] = reach[j - 1] && ok;
                }
            }
        }
        reach = next;
    }
    reach[chars.len()]
}

/// Whether `discover.find.glob` matches any file, directory or link; `Err` for a malformed
/// pattern.
pub(crate) fn find_glob_matches(
    root: &Path,
    source: &[String],
    pattern: &str,
) -> Result<bool, String> {
    let Some(components) = clean_join(source, pattern) else {
        return Ok(false);
    };
    let joined = components.join("/");
    let glob = GlobBuilder::new(&joined)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|err| format!("{pattern:?} is not a valid glob: {}", err.kind()))?
        .compile_matcher();
    // Walk only below the components without glob syntax.
    let literal: Vec<&String> = components
        .iter()
        .take_while(|c| !c.contains(['*', '?', '[', '{', '\\']))
        .collect();
    let mut start = root.to_path_buf();
    for (i, part) in literal.iter().enumerate() {
        let next = start.join(part);
        if i + 1 == components.len() {
            return Ok(fs::symlink_metadata(&next).is_ok());
        }
        match inside_dir(root, next) {
            Some(dir) => start = dir,
            None => return Ok(false),
        }
    }
    let prefix = literal
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join("/");
    let mut stack = vec![(start, prefix)];
    while let Some((dir, rel)) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let entry_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            if glob.is_match(&entry_rel) {
                return Ok(true);
            }
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), entry_rel));
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go_match(pattern: &str, name: &str) -> Result<bool, ()> {
        parse_pattern(pattern).map(|t| matches(&t, name))
    }

    #[test]
    fn component_matching_follows_go_filepath_match() {
        // Cases from Go's path/filepath match_test.go.
        for (pattern, name, want) in [
            ("abc", "abc", Ok(true)),
            ("*", "abc", Ok(true)),
            ("*c", "abc", Ok(true)),
            ("a*", "a", Ok(true)),
            ("a*", "abc", Ok(true)),
            ("a*b*c*d*e*", "axbxcxdxe", Ok(true)),
            ("ab[c]", "abc", Ok(true)),
            ("ab[b-d]", "abc", Ok(true)),
            ("ab[e-g]", "abc", Ok(false)),
            ("ab[^c]", "abc", Ok(false)),
            ("ab[^b-d]", "abc", Ok(false)),
            ("ab[^e-g]", "abc", Ok(true)),
            ("a\\*b", "a*b", Ok(true)),
            ("a\\*b", "ab", Ok(false)),
            ("a?b", "a☺b", Ok(true)),
            ("a[^a]b", "a☺b", Ok(true)),
            ("a???b", "a☺b", Ok(false)),
            ("[a-ζ]*", "α", Ok(true)),
            ("*[a-ζ]", "A", Ok(false)),
            ("[\\]a]", "]", Ok(true)),
            ("[\\-]", "-", Ok(true)),
            ("[x\\-]", "z", Ok(false)),
            ("[\\-x]", "-", Ok(true)),
            ("[]a]", "]", Err(())),
            ("[-]", "-", Err(())),
            ("[x-]", "x", Err(())),
            ("[a-b-c]", "a", Err(())),
            ("[", "a", Err(())),
            ("[^", "a", Err(())),
            ("[^bc", "a", Err(())),
            ("a[", "a", Err(())),
            ("a\\", "a", Err(())),
            ("*x", "xxx", Ok(true)),
            (".*", ".hidden", Ok(true)),
        ] {
            assert_eq!(go_match(pattern, name), want, "{pattern} vs {name}");
        }
    }

    #[test]
    fn patterns_are_joined_to_the_source_path() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            clean_join(&s(&["apps", "web"]), "./subdir/s*.yaml"),
            Some(s(&["apps", "web", "subdir", "s*.yaml"]))
        );
        assert_eq!(clean_join(&s(&["apps", "web"]), "../../x"), Some(s(&["x"])));
        assert_eq!(clean_join(&s(&["apps"]), "../../x"), None);
    }
}
