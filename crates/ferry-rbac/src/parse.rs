//! Policy text to rules, as Argo CD's `loadPolicyLine` reads it: each line trimmed, blank
//! lines and lines starting with `#` skipped, the rest split as CSV
//! ([`crate::csv`]). A `p` line has exactly six fields (`p, subject, resource, action,
//! object, effect`: the effect is required), a `g` line exactly three (`g, subject, role`);
//! any other first field (`g2`, `P`, `p ` with a space) is refused, as Argo CD's model
//! knows only `p` and `g`. Fields keep trailing white space (`p, alice , ...` names the
//! subject `"alice "`), as Go's reader keeps it.

use crate::csv::{CsvError, split_line};
use crate::pattern::{MatchMode, Pattern};

/// Where a rule came from, for explanations and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Argo CD's built-in policy ([`crate::BUILTIN_POLICY`]).
    Builtin,
    /// A key of `argocd-rbac-cm` (`policy.csv`, `policy.<name>.csv`), 1-based line.
    ConfigMap { key: String, line: usize },
    /// A role of an AppProject (the implicit `projects, get` rule or one of its policies).
    Project { project: String, role: String },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Builtin => write!(f, "built-in policy"),
            Origin::ConfigMap { key, line } => write!(f, "{key} line {line}"),
            Origin::Project { project, role } => write!(f, "project {project} role {role}"),
        }
    }
}

/// What a `p` line does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
    /// Any other word (`Allow`, `permit`): casbin reads it as indeterminate, so the line
    /// matches but neither allows nor denies.
    Other(String),
}

/// One `p` line, compiled.
#[derive(Debug, Clone)]
pub struct Rule {
    pub origin: Origin,
    /// The line as written (trimmed).
    pub text: String,
    pub subject: String,
    pub resource: Pattern,
    pub action: Pattern,
    pub object: Pattern,
    pub effect: Effect,
}

/// One `g` line: `member` has every permission of `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub member: String,
    pub role: String,
}

/// Why a policy line cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error(transparent)]
    Csv(#[from] CsvError),
    #[error(
        "a `p` line has 6 fields (p, subject, resource, action, object, allow|deny), this one has {0}"
    )]
    PolicyFields(usize),
    #[error("a `g` line has 3 fields (g, subject, role), this one has {0}")]
    GroupFields(usize),
    #[error("the first field must be `p` or `g`, not {0:?}")]
    Kind(String),
}

/// A policy line that cannot be read, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key} line {line}: {cause} (in {text:?})")]
pub struct ParseError {
    /// The ConfigMap key (`policy.csv`, `policy.<name>.csv`) or `project <p> role <r>`.
    pub key: String,
    /// 1-based.
    pub line: usize,
    pub text: String,
    pub cause: LineError,
}

/// What one line holds.
pub(crate) enum Line {
    Rule(Rule),
    Link(Link),
}

/// Reads one trimmed line; `Ok(None)` for blank lines and comments.
pub(crate) fn parse_line(
    text: &str,
    origin: Origin,
    mode: MatchMode,
) -> Result<Option<Line>, LineError> {
    if text.is_empty() || text.starts_with('#') {
        return Ok(None);
    }
    let fields = split_line(text)?;
    match fields[0].as_str() {
        "p" => {
            let [_, subject, resource, action, object, effect] =
                <[String; 6]>::try_from(fields).map_err(|f| LineError::PolicyFields(f.len()))?;
            let effect = match effect.as_str() {
                "allow" => Effect::Allow,
                "deny" => Effect::Deny,
                _ => Effect::Other(effect),
            };
            Ok(Some(Line::Rule(Rule {
                origin,
                text: text.to_string(),
                subject,
                resource: Pattern::compile(&resource, mode),
                action: Pattern::compile(&action, mode),
                object: Pattern::compile(&object, mode),
                effect,
            })))
        }
        "g" => {
            let [_, member, role] =
                <[String; 3]>::try_from(fields).map_err(|f| LineError::GroupFields(f.len()))?;
            Ok(Some(Line::Link(Link { member, role })))
        }
        other => Err(LineError::Kind(other.to_string())),
    }
}

/// Reads a whole text (one ConfigMap key's value), naming `key` and the line in errors.
pub(crate) fn parse_text(
    key: &str,
    text: &str,
    mode: MatchMode,
    rules: &mut Vec<Rule>,
    links: &mut Vec<Link>,
) -> Result<(), ParseError> {
    for (n, raw) in text.split('\n').enumerate() {
        let trimmed = raw.trim();
        let origin = Origin::ConfigMap {
            key: key.to_string(),
            line: n + 1,
        };
        match parse_line(trimmed, origin, mode) {
            Ok(None) => {}
            Ok(Some(Line::Rule(r))) => rules.push(r),
            Ok(Some(Line::Link(l))) => links.push(l),
            Err(cause) => {
                return Err(ParseError {
                    key: key.to_string(),
                    line: n + 1,
                    text: trimmed.to_string(),
                    cause,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(Vec<Rule>, Vec<Link>), ParseError> {
        let (mut r, mut l) = (Vec::new(), Vec::new());
        parse_text("policy.csv", text, MatchMode::Glob, &mut r, &mut l)?;
        Ok((r, l))
    }

    fn cause(text: &str) -> LineError {
        match parse(text) {
            Err(e) => e.cause,
            Ok(_) => panic!("{text:?} parsed"),
        }
    }

    // The good and bad lines of Argo CD's TestValidatePolicy and TestLoadPolicyLine.
    #[test]
    fn argo_good_lines() {
        for good in [
            "p, role:admin, projects, delete, *, allow",
            "",
            "#",
            "# Some comment",
            r#"p, "role,admin", projects, delete, *, allow"#,
            " p, role:admin, projects, delete, *, allow ",
            "p, role:Myrole, applications, *, myproj/*, allow",
            "g, your-github-org:your-team, role:org-admin",
        ] {
            assert!(parse(good).is_ok(), "{good:?}");
        }
        let (rules, _) =
            parse(r#"p, "role,admin", projects, delete, *, allow"#).unwrap_or_default();
        assert_eq!(rules[0].subject, "role,admin");
    }

    #[test]
    fn argo_bad_lines() {
        assert_eq!(
            cause("this, is, not, a, good, policy"),
            LineError::Kind("this".into())
        );
        assert_eq!(cause("this\ttoo"), LineError::Kind("this\ttoo".into()));
        assert_eq!(cause("p"), LineError::PolicyFields(1));
        assert_eq!(
            cause("Some comment"),
            LineError::Kind("Some comment".into())
        );
        assert_eq!(cause("agh, foo, bar"), LineError::Kind("agh".into()));
        assert_eq!(
            cause("p, role:Myrole, applications, *, myproj/* allow"),
            LineError::PolicyFields(5)
        );
        assert_eq!(
            cause(", role:Myrole, applications, *, myproj/*, allow"),
            LineError::Kind(String::new())
        );
    }

    #[test]
    fn effect_is_required_and_g_has_three_fields() {
        assert_eq!(
            cause("p, alice, applications, get, */*"),
            LineError::PolicyFields(5)
        );
        assert_eq!(cause("g, alice"), LineError::GroupFields(2));
        assert_eq!(cause("g, alice, role:a, extra"), LineError::GroupFields(4));
        assert_eq!(cause("g2, alice, role:a"), LineError::Kind("g2".into()));
    }

    #[test]
    fn errors_name_key_line_and_cause() {
        let err = parse("# ok\np, a, b, c, d, allow\n\np, \"x, y").err();
        let err = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            err.starts_with("policy.csv line 4: extraneous or missing \""),
            "{err}"
        );
    }

    #[test]
    fn unknown_effect_is_kept_apart() {
        let (rules, _) = parse("p, a, applications, get, */*, Allow").unwrap_or_default();
        assert_eq!(rules[0].effect, Effect::Other("Allow".into()));
    }

    #[test]
    fn trailing_space_of_a_field_is_kept() {
        let (rules, links) =
            parse("p, alice , applications, get, */*, allow\ng, bob , role:x").unwrap_or_default();
        assert_eq!(rules[0].subject, "alice ");
        assert_eq!(links[0].member, "bob ");
    }
}
