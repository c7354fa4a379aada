//! AppProject roles as policy, as Argo CD builds them (`AppProject.ProjectPoliciesString`)
//! and checks them (`AppProject.ValidateProject`: `validateRoleName`, `validatePolicy`,
//! `validateGroupName`).
//!
//! Each role `R` of project `P` becomes the subject `proj:P:R` with an implicit
//! `p, proj:P:R, projects, get, P, allow`, its own policy lines, and a
//! `g, <group>, proj:P:R` per group. Argo CD's API refuses a role whose policy names another
//! subject, a resource that is not project-scoped, an object outside `P` (`P/*`,
//! `P/<app>`, `P/<ns>/<app>`) or an effect other than `allow`/`deny`, and at enforcement it
//! consults a project's roles only for requests about that project's objects. Ferry does
//! both: [`crate::Policy::add_project_roles`] refuses such a project (AppProjects reach Ferry
//! through Git and `kubectl`, past no API validation, so the check that Argo CD's API makes
//! is made here), and the evaluator reads a project's roles only for objects of that
//! project.

use regex::Regex;

/// One role of an AppProject (`spec.roles[]`), as the API types will carry it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectRole {
    pub name: String,
    /// Policy lines whose subject is `proj:<project>:<name>`.
    pub policies: Vec<String>,
    /// Groups (OIDC claim values) bound to the role.
    pub groups: Vec<String>,
}

/// Why a project's roles are refused (Argo CD's validation messages, shortened).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProjectError {
    #[error(
        "project {project}: invalid role name {role:?}: alphanumeric characters, '-' or '_', starting and ending with an alphanumeric character"
    )]
    RoleName { project: String, role: String },
    #[error("project {project}: role {role} is defined twice")]
    DuplicateRole { project: String, role: String },
    #[error("project {project} role {role}: invalid policy rule {policy:?}: {cause}")]
    Policy {
        project: String,
        role: String,
        policy: String,
        cause: String,
    },
    #[error("project {project} role {role}: group {group:?}: {cause}")]
    Group {
        project: String,
        role: String,
        group: String,
        cause: String,
    },
}

/// Resources a project role may name (Argo CD's `rbac.ProjectScoped`).
pub const PROJECT_SCOPED_RESOURCES: [&str; 6] = [
    "applications",
    "applicationsets",
    "repositories",
    "clusters",
    "logs",
    "exec",
];

fn valid_role_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_alphanumeric();
    !b.is_empty()
        && edge(b[0])
        && edge(b[b.len() - 1])
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

fn valid_action(action: &str) -> bool {
    // validActions, then the unanchored validActionPatterns `action/.*`, `update/.*`,
    // `delete/.*` (Go's MatchString: the prefix may appear anywhere).
    matches!(
        action,
        "get" | "create" | "update" | "delete" | "sync" | "override" | "rollback" | "*"
    ) || ["action/", "update/", "delete/"]
        .iter()
        .any(|p| action.contains(p))
}

/// `^<project>(/[*\w-.]+)?/[*\w-.]+$` (Go's `\w` is ASCII).
fn valid_object(project: &str, object: &str) -> bool {
    let re = format!(
        r"^{}(/[*A-Za-z0-9_\-.]+)?/[*A-Za-z0-9_\-.]+$",
        regex::escape(project)
    );
    Regex::new(&re).is_ok_and(|re| re.is_match(object))
}

/// Argo CD's `validatePolicy`: a naive split on `,` (a quoted comma is refused), fields
/// trimmed of spaces.
fn validate_policy(project: &str, role: &str, policy: &str) -> Result<(), String> {
    let parts: Vec<&str> = policy.split(',').map(|p| p.trim_matches(' ')).collect();
    if parts.len() != 6 || parts[0] != "p" {
        return Err("must be of the form: 'p, sub, res, act, obj, eft'".to_string());
    }
    let expected = format!("proj:{project}:{role}");
    if parts[1] != expected {
        return Err(format!(
            "policy subject must be: '{expected}', not '{}'",
            parts[1]
        ));
    }
    if !PROJECT_SCOPED_RESOURCES.contains(&parts[2]) {
        return Err(format!(
            "project resource must be: 'applications', 'applicationsets', 'repositories', 'exec', 'logs' or 'clusters', not '{}'",
            parts[2]
        ));
    }
    if !valid_action(parts[3]) {
        return Err(format!("invalid action '{}'", parts[3]));
    }
    if !valid_object(project, parts[4]) {
        return Err(format!(
            "object must be of form '{project}/*', '{project}[/<NAMESPACE>]/<APPNAME>' or '{project}/<APPNAME>', not '{}'",
            parts[4]
        ));
    }
    if parts[5] != "allow" && parts[5] != "deny" {
        return Err("effect must be: 'allow' or 'deny'".to_string());
    }
    Ok(())
}

/// Argo CD's `validateGroupName`; returns the group as the policy line will read it.
fn validate_group(group: &str) -> Result<String, String> {
    let mut name = group.trim();
    if name.len() > 1 && name.starts_with('"') && name.ends_with('"') {
        name = &name[1..name.len() - 1];
    } else if name.contains(',') {
        return Err("must be quoted".to_string());
    }
    if name.is_empty() {
        return Err("is empty".to_string());
    }
    if name.contains(['"', '\n', '\r', '\t']) {
        return Err("contains invalid characters".to_string());
    }
    Ok(name.to_string())
}

/// A project's roles checked and turned into policy lines: `(role, line)` pairs for `p`
/// lines (the implicit `projects, get` first), and `(group, subject)` bindings.
pub(crate) struct ProjectLines {
    pub rules: Vec<(String, String)>,
    pub bindings: Vec<(String, String)>,
}

pub(crate) fn project_lines(
    project: &str,
    roles: &[ProjectRole],
) -> Result<ProjectLines, ProjectError> {
    let mut out = ProjectLines {
        rules: Vec::new(),
        bindings: Vec::new(),
    };
    let mut seen = std::collections::BTreeSet::new();
    for role in roles {
        if !valid_role_name(&role.name) {
            return Err(ProjectError::RoleName {
                project: project.into(),
                role: role.name.clone(),
            });
        }
        if !seen.insert(role.name.as_str()) {
            return Err(ProjectError::DuplicateRole {
                project: project.into(),
                role: role.name.clone(),
            });
        }
        let subject = format!("proj:{project}:{}", role.name);
        out.rules.push((
            role.name.clone(),
            format!("p, {subject}, projects, get, {project}, allow"),
        ));
        for policy in &role.policies {
            validate_policy(project, &role.name, policy).map_err(|cause| ProjectError::Policy {
                project: project.into(),
                role: role.name.clone(),
                policy: policy.clone(),
                cause,
            })?;
            out.rules
                .push((role.name.clone(), policy.trim().to_string()));
        }
        for group in &role.groups {
            let name = validate_group(group).map_err(|cause| ProjectError::Group {
                project: project.into(),
                role: role.name.clone(),
                group: group.clone(),
                cause,
            })?;
            out.bindings.push((name, subject.clone()));
        }
    }
    Ok(out)
}

/// The project a request is about, as Argo CD's `getProjectFromRequest` finds it: the first
/// `/`-separated part of the object for project-scoped resources (when the object has a
/// `/`), the object itself for `projects`.
pub fn project_of_request<'a>(resource: &str, object: &'a str) -> Option<&'a str> {
    if resource == "projects" {
        return Some(object);
    }
    if PROJECT_SCOPED_RESOURCES.contains(&resource) {
        return object.split_once('/').map(|(p, _)| p);
    }
    None
}

/// Splits a project role subject `proj:<project>:<role>` (exactly three `:` parts).
pub fn project_role_of_subject(subject: &str) -> Option<(&str, &str)> {
    let mut parts = subject.split(':');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("proj"), Some(p), Some(r), None) => Some((p, r)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_must_be_of_the_project() {
        assert!(valid_object("my-proj", "my-proj/*"));
        assert!(valid_object("my-proj", "my-proj/ns/app"));
        assert!(valid_object("my-proj", "my-proj/app.v2"));
        assert!(!valid_object("my-proj", "other/*"));
        assert!(!valid_object("my-proj", "*/*"));
        assert!(!valid_object("my-proj", "my-proj"));
        assert!(!valid_object("my-proj", "my-proj/a/b/c"));
        assert!(!valid_object("a.b", "axb/*"));
    }

    #[test]
    fn actions_like_argo() {
        for ok in [
            "get",
            "*",
            "action/apps/Deployment/restart",
            "update/*",
            "delete/*/Pod/*/*",
        ] {
            assert!(valid_action(ok), "{ok}");
        }
        for bad in ["invoke", "list", "Get", "update*"] {
            assert!(!valid_action(bad), "{bad}");
        }
    }

    #[test]
    fn role_names_and_groups() {
        assert!(valid_role_name("my-role_2"));
        assert!(!valid_role_name("-role"));
        assert!(!valid_role_name("role:x"));
        assert_eq!(validate_group(r#""a,b""#), Ok("a,b".to_string()));
        assert!(validate_group("a,b").is_err());
        assert!(validate_group("  ").is_err());
    }

    #[test]
    fn subjects_and_requests() {
        assert_eq!(project_role_of_subject("proj:p:r"), Some(("p", "r")));
        assert_eq!(project_role_of_subject("proj:p:r:x"), None);
        assert_eq!(project_role_of_subject("role:p:r"), None);
        assert_eq!(project_of_request("applications", "p/ns/app"), Some("p"));
        assert_eq!(project_of_request("projects", "p"), Some("p"));
        assert_eq!(project_of_request("applications", "app"), None);
        assert_eq!(project_of_request("accounts", "p/x"), None);
    }
}
