//! Argo CD's RBAC, evaluated as Argo CD evaluates it, so that an `argocd-rbac-cm` and the
//! roles of AppProjects work unchanged.
//!
//! A [`Policy`] holds Argo CD's built-in policy ([`BUILTIN_POLICY`]), the policy of
//! `argocd-rbac-cm` (`policy.csv` and the `policy.<name>.csv` overlays, in key order),
//! `policy.default`, `policy.matchMode` and `scopes`, plus the roles of AppProjects
//! ([`Policy::add_project_roles`]). Every pattern is compiled once when the policy is read.
//!
//! The semantics are those of `util/rbac/rbac.go` (casbin model `assets/model.conf`) and
//! `server/rbacpolicy/rbacpolicy.go`:
//!
//! - A subject is evaluated alone: the `p` lines of the subject and of every role it reaches
//!   through `g` lines (transitively, at most 10 links deep as casbin's role manager goes;
//!   cycles end) whose resource, action and object patterns match. Allowed if some matching
//!   line allows and none denies (deny wins); a line with another effect word matches but
//!   counts for nothing.
//! - A user ([`Subject`]) is allowed if the default role is, else if its name is, else if
//!   one of its groups is — but a group counts only if some `g` line names it as the member
//!   (`g, <group>, <role>`; a group named only in `p` lines grants nothing, as Argo CD's
//!   docs warn), else if the empty subject is (rules written for `""` apply to everyone).
//!   So a `deny` for the user does not stop what the default role or a group allows, and
//!   nothing denies what the default role allows.
//! - For a request about a project's objects (applications, applicationsets, logs, exec,
//!   clusters and repositories as `<project>/...`, and the project itself under
//!   `projects`), the project's roles join the policy; their denies apply as anyone's.
//!   A project role token (`proj:<project>:<role>` as the name) asking about another
//!   project's object is refused outright, and its groups are not consulted.
//!
//! Claims are read by the caller: [`Subject::from_claims`] takes the name as Argo CD does
//! (Dex's `federated_claims.user_id`, else `sub`) and the groups from the claims named by
//! the policy's `scopes`.
//!
//! Chosen over the `casbin` crate: casbin-rs is async (its enforcer loads policy through an
//! async adapter and pulls in `tokio` or `async-std`), evaluates a matcher expression in the
//! `rhai` scripting engine per policy line, and would still need Argo CD's CSV reading, glob
//! function (gobwas semantics, not casbin's `globMatch`), default role, group pre-filter and
//! project handling written around it. Argo CD uses a fixed model, so a small pure engine
//! is the whole of it, with Argo CD's cases as fixtures (`tests/fixtures/`).

#![forbid(unsafe_code)]

mod builtin;
mod csv;
mod eval;
mod parse;
mod pattern;
mod project;

use std::collections::{BTreeMap, HashMap, HashSet};

pub use builtin::BUILTIN_POLICY;
pub use csv::CsvError;
pub use eval::{Decision, Reason};
pub use parse::{Effect, LineError, Origin, ParseError};
pub use pattern::MatchMode;
pub use project::{
    PROJECT_SCOPED_RESOURCES, ProjectError, ProjectRole, project_of_request,
    project_role_of_subject,
};

use parse::{Line, Link, Rule};

/// `argocd-rbac-cm` keys.
pub const POLICY_CSV_KEY: &str = "policy.csv";
pub const POLICY_DEFAULT_KEY: &str = "policy.default";
pub const MATCH_MODE_KEY: &str = "policy.matchMode";
pub const SCOPES_KEY: &str = "scopes";

/// Who asks: the user's name (Argo CD's user identifier) and the values of the claims named
/// by `scopes` (groups, emails, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    pub name: String,
    pub groups: Vec<String>,
}

impl Subject {
    pub fn new(
        name: impl Into<String>,
        groups: impl IntoIterator<Item = impl Into<String>>,
    ) -> Subject {
        Subject {
            name: name.into(),
            groups: groups.into_iter().map(Into::into).collect(),
        }
    }

    /// Reads a token's claims as Argo CD does: the name is `federated_claims.user_id` when
    /// it is a non-empty string, else `sub`; the groups are, for each scope in order, the
    /// claim's string or the strings of its list.
    pub fn from_claims(
        claims: &serde_json::Map<String, serde_json::Value>,
        scopes: &[String],
    ) -> Subject {
        use serde_json::Value;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let name = claims
            .get("federated_claims")
            .and_then(|f| f.get("user_id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .unwrap_or(sub);
        let mut groups = Vec::new();
        for scope in scopes {
            match claims.get(scope) {
                Some(Value::String(s)) => groups.push(s.clone()),
                Some(Value::Array(items)) => {
                    groups.extend(items.iter().filter_map(Value::as_str).map(str::to_string));
                }
                _ => {}
            }
        }
        Subject {
            name: name.to_string(),
            groups,
        }
    }
}

/// Rules and role links of one source (the global policy, or one project's roles), indexed.
#[derive(Debug, Default)]
pub(crate) struct Layer {
    pub rules: Vec<Rule>,
    /// Rule indices by subject.
    pub by_subject: HashMap<String, Vec<usize>>,
    /// Roles of each member (`g, member, role`).
    pub roles_of: HashMap<String, Vec<String>>,
}

impl Layer {
    fn push_rule(&mut self, rule: Rule) {
        self.by_subject
            .entry(rule.subject.clone())
            .or_default()
            .push(self.rules.len());
        self.rules.push(rule);
    }

    fn push_link(&mut self, link: Link) {
        self.roles_of
            .entry(link.member)
            .or_default()
            .push(link.role);
    }
}

/// A line [`Policy::lint`] warns about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: Origin,
    pub line: String,
    pub message: String,
}

/// Why `argocd-rbac-cm` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("scopes: {0:?} is not a YAML list of claim names (write it as [groups, email])")]
    Scopes(String),
}

/// An RBAC policy ready to answer.
#[derive(Debug)]
pub struct Policy {
    pub(crate) global: Layer,
    /// Each known project's roles (empty for a project with none, or whose roles were refused).
    pub(crate) projects: HashMap<String, Layer>,
    pub(crate) default_role: Option<String>,
    pub(crate) mode: MatchMode,
    scopes: Vec<String>,
}

impl Policy {
    /// The built-in policy plus `policy_csv` (errors name `policy.csv` and the line).
    pub fn new(
        policy_csv: &str,
        default_role: Option<&str>,
        mode: MatchMode,
    ) -> Result<Policy, PolicyError> {
        let mut data = BTreeMap::new();
        data.insert(POLICY_CSV_KEY.to_string(), policy_csv.to_string());
        let mut policy = Policy::from_parts(&data, mode)?;
        policy.default_role = default_role.filter(|r| !r.is_empty()).map(str::to_string);
        Ok(policy)
    }

    /// Reads `argocd-rbac-cm`'s data: `policy.csv`, then every other `policy.<name>.csv` key
    /// in key order (Argo CD's `PolicyCSV`), `policy.default`, `policy.matchMode` and
    /// `scopes`. Any line that cannot be read refuses the whole policy (the caller keeps the
    /// previous one).
    pub fn from_config_map(data: &BTreeMap<String, String>) -> Result<Policy, PolicyError> {
        let mode = MatchMode::from_config(data.get(MATCH_MODE_KEY).map_or("", String::as_str));
        let mut policy = Policy::from_parts(data, mode)?;
        policy.default_role = data
            .get(POLICY_DEFAULT_KEY)
            .filter(|r| !r.is_empty())
            .cloned();
        if let Some(scopes) = data.get(SCOPES_KEY).filter(|s| !s.is_empty()) {
            policy.scopes = parse_scopes(scopes)?;
        }
        Ok(policy)
    }

    fn from_parts(data: &BTreeMap<String, String>, mode: MatchMode) -> Result<Policy, PolicyError> {
        let mut global = Layer::default();
        let (mut rules, mut links) = (Vec::new(), Vec::new());
        for (n, line) in BUILTIN_POLICY.lines().enumerate() {
            match parse::parse_line(line.trim(), Origin::Builtin, mode) {
                Ok(Some(Line::Rule(r))) => rules.push(r),
                Ok(Some(Line::Link(l))) => links.push(l),
                Ok(None) => {}
                Err(cause) => {
                    return Err(PolicyError::Parse(ParseError {
                        key: "built-in policy".into(),
                        line: n + 1,
                        text: line.to_string(),
                        cause,
                    }));
                }
            }
        }
        if let Some(csv) = data.get(POLICY_CSV_KEY) {
            parse::parse_text(POLICY_CSV_KEY, csv, mode, &mut rules, &mut links)?;
        }
        for (key, value) in data {
            if key.starts_with("policy.") && key.ends_with(".csv") && key != POLICY_CSV_KEY {
                parse::parse_text(key, value, mode, &mut rules, &mut links)?;
            }
        }
        rules.into_iter().for_each(|r| global.push_rule(r));
        links.into_iter().for_each(|l| global.push_link(l));
        Ok(Policy {
            global,
            projects: HashMap::new(),
            default_role: None,
            mode,
            scopes: vec!["groups".to_string()],
        })
    }

    /// Sets or replaces the roles of `project` (an AppProject's `spec.roles`). Checked as
    /// Argo CD's API checks a project ([`project`](crate::ProjectError)); on error the project
    /// is known with no roles (Argo CD falls back to the global policy for a project whose
    /// policy it cannot load) and the error says why.
    pub fn add_project_roles(
        &mut self,
        project: &str,
        roles: &[ProjectRole],
    ) -> Result<(), ProjectError> {
        self.projects.insert(project.to_string(), Layer::default());
        let lines = project::project_lines(project, roles)?;
        let mut layer = Layer::default();
        for (role, text) in lines.rules {
            let origin = Origin::Project {
                project: project.to_string(),
                role: role.clone(),
            };
            match parse::parse_line(&text, origin, self.mode) {
                Ok(Some(Line::Rule(r))) => layer.push_rule(r),
                Ok(Some(Line::Link(l))) => layer.push_link(l),
                Ok(None) => {}
                Err(cause) => {
                    return Err(ProjectError::Policy {
                        project: project.to_string(),
                        role,
                        policy: text,
                        cause: cause.to_string(),
                    });
                }
            }
        }
        for (group, subject) in lines.bindings {
            layer.push_link(Link {
                member: group,
                role: subject,
            });
        }
        self.projects.insert(project.to_string(), layer);
        Ok(())
    }

    /// Forgets a project (its AppProject was deleted).
    pub fn remove_project(&mut self, project: &str) {
        self.projects.remove(project);
    }

    /// Lines that are accepted (as Argo CD accepts them) but cannot do what they seem to:
    /// patterns that do not compile, effects other than `allow`/`deny`. For
    /// `ferry admin rbac validate`; none of them is an error.
    pub fn lint(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let layers = std::iter::once(&self.global).chain(self.projects.values());
        for rule in layers.flat_map(|l| l.rules.iter()) {
            let fields = [
                ("resource", &rule.resource),
                ("action", &rule.action),
                ("object", &rule.object),
            ];
            for (field, pattern) in fields {
                if let Some(p) = pattern.problem() {
                    out.push(Problem {
                        origin: rule.origin.clone(),
                        line: rule.text.clone(),
                        message: format!("{field}: {p}"),
                    });
                }
            }
            if let Effect::Other(word) = &rule.effect {
                out.push(Problem {
                    origin: rule.origin.clone(),
                    line: rule.text.clone(),
                    message: format!("effect {word:?} is neither allow nor deny: the line grants and denies nothing"),
                });
            }
        }
        out
    }

    /// `policy.default`, if set.
    pub fn default_role(&self) -> Option<&str> {
        self.default_role.as_deref()
    }

    /// `policy.matchMode`.
    pub fn match_mode(&self) -> MatchMode {
        self.mode
    }

    /// The claims whose values are the user's groups (`scopes`, default `[groups]`).
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// Whether `subject` may do `action` on `resource` `object`. Cheap enough to call per
    /// listed application: patterns are compiled and rules indexed by subject when the
    /// policy is read, so a call walks the subject's roles and their rules only.
    pub fn enforce(&self, subject: &Subject, resource: &str, action: &str, object: &str) -> bool {
        self.explain(subject, resource, action, object).allowed
    }

    /// What `ferry admin can-i ROLE ACTION RESOURCE [OBJECT]` answers: `role` (a role or any
    /// subject name) with the default role, against the global policy only, as Argo CD's
    /// `argocd admin settings rbac can` does.
    pub fn can_i_role(&self, role: &str, resource: &str, action: &str, object: &str) -> Decision {
        eval::explain_role(self, role, resource, action, object)
    }
}

/// Reads `scopes` as Argo CD does (`yaml.Unmarshal` into a list of strings): a flow list
/// (`[groups, email]`) or a block list (`- groups`). A plain string is an error there too;
/// `[]` means no claim gives groups.
fn parse_scopes(value: &str) -> Result<Vec<String>, PolicyError> {
    let v = value.trim();
    let unquote = |s: &str| {
        let s = s.trim();
        let quoted = s.len() >= 2
            && ((s.starts_with('"') && s.ends_with('"'))
                || (s.starts_with('\'') && s.ends_with('\'')));
        if quoted {
            s[1..s.len() - 1].to_string()
        } else {
            s.to_string()
        }
    };
    if let Some(inner) = v.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        return Ok(inner
            .split(',')
            .map(unquote)
            .filter(|s| !s.is_empty())
            .collect());
    }
    let items: Option<Vec<String>> = v
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.trim().strip_prefix('-').map(unquote))
        .collect();
    match items {
        Some(items) if !items.is_empty() => Ok(items),
        _ => Err(PolicyError::Scopes(value.to_string())),
    }
}

/// The roles `start` reaches (itself included), at most 10 links deep.
pub(crate) fn reachable<'a>(start: &'a str, layers: &[&'a Layer]) -> HashSet<&'a str> {
    const MAX_DEPTH: usize = 10;
    let mut seen: HashSet<&str> = HashSet::from([start]);
    let mut frontier = vec![start];
    for _ in 0..MAX_DEPTH {
        let mut next = Vec::new();
        for name in frontier {
            for layer in layers {
                for role in layer.roles_of.get(name).into_iter().flatten() {
                    if seen.insert(role.as_str()) {
                        next.push(role.as_str());
                    }
                }
            }
        }
        if next.is_empty() {
            break;
        }
        frontier = next;
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_read_as_a_yaml_list() {
        let ok = |v: &str| parse_scopes(v).unwrap_or_else(|e| panic!("{v}: {e}"));
        assert_eq!(ok("[groups, email]"), ["groups", "email"]);
        assert_eq!(ok(r#"["cognito:groups"]"#), ["cognito:groups"]);
        assert_eq!(ok("- groups\n- 'email'\n"), ["groups", "email"]);
        assert!(ok("[]").is_empty());
        assert!(parse_scopes("email").is_err());
    }

    #[test]
    fn claims_give_name_and_groups() {
        let claims = serde_json::json!({
            "sub": "qwertyuiop",
            "federated_claims": {"user_id": "bob"},
            "groups": ["a", 1, "b"],
            "email": "bob@example.org",
        });
        let map = claims.as_object().cloned().unwrap_or_default();
        let s = Subject::from_claims(&map, &["groups".into(), "email".into()]);
        assert_eq!(s, Subject::new("bob", ["a", "b", "bob@example.org"]));
        let no_fed = serde_json::json!({"sub": "alice", "federated_claims": {"user_id": ""}});
        let map = no_fed.as_object().cloned().unwrap_or_default();
        assert_eq!(Subject::from_claims(&map, &[]).name, "alice");
    }
}
