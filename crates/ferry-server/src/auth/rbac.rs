//! RBAC as Argo CD evaluates it, through `ferry-rbac`: `ferry-rbac-cm`'s policy with the
//! built-in roles, plus every project's roles (subject `proj:P:R`, limited to that
//! project's objects; a role's `groups` make its members that role). A policy that does not
//! parse is refused whole and the one in force stays (at the first start: the built-in
//! roles only), and the problem is said in words; so is a project whose roles are refused
//! (it keeps none).

use std::collections::BTreeMap;

use ferry_rbac::{MatchMode, Policy, ProjectRole, Subject};

use super::User;
use super::projects::ProjectRoles;
use super::settings::RbacConfig;

/// The policy in force.
#[derive(Debug)]
pub struct Rbac {
    policy: Policy,
    problems: Vec<String>,
}

impl Rbac {
    /// `config` with `projects`; when `config` does not parse, `previous` stays in force.
    pub fn build_over(
        config: &RbacConfig,
        projects: &BTreeMap<String, ProjectRoles>,
        previous: Option<&Rbac>,
    ) -> Result<Rbac, String> {
        let mut problems = Vec::new();
        let mut policy = match Policy::from_config_map(&config.data) {
            Ok(p) => p,
            Err(e) => {
                let why = format!("ferry-rbac-cm is refused ({e}); the policy in force stays");
                if previous.is_some() {
                    return Err(why);
                }
                problems.push(format!(
                    "ferry-rbac-cm is refused ({e}); only the built-in roles apply"
                ));
                Policy::new("", None, MatchMode::Glob).map_err(|e| e.to_string())?
            }
        };
        for (name, p) in projects {
            let roles: Vec<ProjectRole> = p
                .roles
                .iter()
                .map(|r| ProjectRole {
                    name: r.name.clone(),
                    policies: r.policies.clone(),
                    groups: r.groups.clone(),
                })
                .collect();
            if let Err(e) = policy.add_project_roles(name, &roles) {
                problems.push(format!("AppProject {name}: its roles are refused ({e})"));
            }
        }
        for p in policy.lint() {
            problems.push(format!("{}: {} ({})", p.origin, p.message, p.line));
        }
        Ok(Rbac { policy, problems })
    }

    /// [`Rbac::build_over`] with nothing in force before.
    pub fn build(config: &RbacConfig, projects: &BTreeMap<String, ProjectRoles>) -> Rbac {
        match Self::build_over(config, projects, None) {
            Ok(r) => r,
            Err(e) => Rbac {
                policy: Policy::new("", None, MatchMode::Glob).unwrap_or_else(|_| {
                    unreachable!("the built-in policy parses (tested in ferry-rbac)")
                }),
                problems: vec![e],
            },
        }
    }

    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The subject RBAC sees for `user`: its name, and as groups the values of the claims
    /// `scopes` names (`groups`: the provider's groups; others such as `email` by name).
    pub fn subject(&self, user: &User) -> Subject {
        let mut groups = Vec::new();
        for scope in self.policy.scopes() {
            if scope == "groups" {
                groups.extend(user.groups.iter().cloned());
            } else if let Some(v) = user.extra.get(scope) {
                groups.push(v.clone());
            }
        }
        Subject::new(user.subject.clone(), groups)
    }

    pub fn allows(&self, user: &User, resource: &str, action: &str, object: &str) -> bool {
        self.policy
            .enforce(&self.subject(user), resource, action, object)
    }

    /// `ferry admin can-i`: whether `subject` (a role, user, group or `proj:P:R`) may, and
    /// the rule (or its absence) that decided, in words.
    pub fn explain_role(
        &self,
        subject: &str,
        resource: &str,
        action: &str,
        object: &str,
    ) -> (bool, String) {
        let d = if subject.starts_with("proj:") {
            self.policy.explain(
                &Subject::new(subject, Vec::<String>::new()),
                resource,
                action,
                object,
            )
        } else {
            self.policy.can_i_role(subject, resource, action, object)
        };
        (d.allowed, d.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::projects::Role;

    fn user(subject: &str, groups: &[&str]) -> User {
        User {
            name: subject.into(),
            subject: subject.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            via: "oidc".into(),
            extra: [("email".to_owned(), format!("{subject}@example.com"))].into(),
        }
    }

    fn config(pairs: &[(&str, &str)]) -> RbacConfig {
        RbacConfig {
            data: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn an_argo_cd_policy_decides_by_groups_email_and_project_roles() {
        let c = config(&[
            (
                "policy.csv",
                "p, role:deployer, applications, sync, team-a/*, allow\n\
                 p, role:deployer, applications, get, team-a/*, allow\n\
                 g, acme:sre, role:deployer\n\
                 g, carol@example.com, role:admin\n",
            ),
            ("scopes", "[groups, email]"),
        ]);
        let projects: BTreeMap<String, ProjectRoles> = [(
            "team-a".to_owned(),
            ProjectRoles {
                name: "team-a".into(),
                roles: vec![Role {
                    name: "ci".into(),
                    description: String::new(),
                    policies: vec!["p, proj:team-a:ci, applications, get, team-a/*, allow".into()],
                    groups: vec!["acme:ci".into()],
                    tokens: Vec::new(),
                }],
            },
        )]
        .into();
        let r = Rbac::build(&c, &projects);
        assert!(r.problems().is_empty(), "{:?}", r.problems());
        let sre = user("alice", &["acme:sre"]);
        assert!(r.allows(&sre, "applications", "sync", "team-a/web"));
        assert!(!r.allows(&sre, "applications", "sync", "team-b/web"));
        assert!(!r.allows(&sre, "applications", "delete", "team-a/web"));
        assert!(r.allows(&user("carol", &[]), "clusters", "delete", "https://x"));
        assert!(r.allows(&User::admin(), "applications", "delete", "any/thing"));
        assert!(!r.allows(&user("bob", &[]), "applications", "get", "team-a/web"));
        // The project role's group gets the role, in its project only.
        let ci_member = user("dan", &["acme:ci"]);
        assert!(r.allows(&ci_member, "applications", "get", "team-a/web"));
        assert!(!r.allows(&ci_member, "applications", "sync", "team-a/web"));
        let (yes, why) = r.explain_role("role:deployer", "applications", "sync", "team-a/web");
        assert!(yes && why.contains("role:deployer"), "{why}");
        let (no, _) = r.explain_role("role:readonly", "applications", "sync", "team-a/web");
        assert!(!no);
    }

    #[test]
    fn a_broken_policy_keeps_the_one_in_force() {
        let good = Rbac::build(
            &config(&[("policy.csv", "g, acme:sre, role:admin\n")]),
            &BTreeMap::new(),
        );
        let bad = config(&[("policy.csv", "p, role:x, applications\n")]);
        let e = Rbac::build_over(&bad, &BTreeMap::new(), Some(&good)).expect_err("refused");
        assert!(e.contains("policy.csv line 1"), "{e}");
        // Without one in force, the built-in roles only, and a problem in words.
        let r = Rbac::build(&bad, &BTreeMap::new());
        assert!(
            r.problems()[0].contains("only the built-in roles"),
            "{:?}",
            r.problems()
        );
        assert!(r.allows(&User::admin(), "applications", "sync", "a/b"));
        assert!(!r.allows(&user("alice", &["acme:sre"]), "applications", "get", "a/b"));
    }
}
