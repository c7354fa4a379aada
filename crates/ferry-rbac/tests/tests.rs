//! Argo CD's RBAC cases (`tests/fixtures/argo-cases.json`, transcribed from Argo CD's tests
//! and docs; its `about` says from where) run as a table, and the behaviours a user would
//! notice: deny wins, inheritance and its cycles, project-role isolation, regex mode, the
//! default role, errors that name the line.

use std::collections::BTreeMap;

use ferry_rbac::{MatchMode, Policy, ProjectError, ProjectRole, Reason, Subject};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    suites: Vec<Suite>,
    not_transcribed: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
struct Suite {
    name: String,
    policy: String,
    #[serde(default)]
    overlays: BTreeMap<String, String>,
    default_role: Option<String>,
    match_mode: Option<String>,
    scopes: Option<String>,
    #[serde(default)]
    projects: Vec<FixtureProject>,
    checks: Vec<(Who, String, String, String, bool)>,
}

#[derive(Deserialize)]
struct FixtureProject {
    name: String,
    #[serde(default)]
    expect_error: bool,
    roles: Vec<FixtureRole>,
}

#[derive(Deserialize)]
struct FixtureRole {
    name: String,
    policies: Vec<String>,
    groups: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Who {
    Name(String),
    Subject {
        name: String,
        groups: Vec<String>,
    },
    Claims {
        claims: serde_json::Map<String, serde_json::Value>,
    },
}

fn build(suite: &Suite) -> Policy {
    let mut data = suite.overlays.clone();
    data.insert("policy.csv".into(), suite.policy.clone());
    if let Some(d) = &suite.default_role {
        data.insert("policy.default".into(), d.clone());
    }
    if let Some(m) = &suite.match_mode {
        data.insert("policy.matchMode".into(), m.clone());
    }
    if let Some(s) = &suite.scopes {
        data.insert("scopes".into(), s.clone());
    }
    let mut policy =
        Policy::from_config_map(&data).unwrap_or_else(|e| panic!("{}: {e}", suite.name));
    for p in &suite.projects {
        let roles: Vec<ProjectRole> = p
            .roles
            .iter()
            .map(|r| ProjectRole {
                name: r.name.clone(),
                policies: r.policies.clone(),
                groups: r.groups.clone(),
            })
            .collect();
        let added = policy.add_project_roles(&p.name, &roles);
        assert_eq!(
            added.is_err(),
            p.expect_error,
            "{}: project {}: {added:?}",
            suite.name,
            p.name
        );
    }
    policy
}

#[test]
fn argo_cd_cases() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/argo-cases.json"
    ))
    .expect("fixture file");
    let fixtures: Fixtures = serde_json::from_str(&text).expect("fixture JSON");
    let (mut passed, mut total, mut failures) = (0, 0, Vec::new());
    for suite in &fixtures.suites {
        let policy = build(suite);
        for (who, resource, action, object, expected) in &suite.checks {
            total += 1;
            let subject = match who {
                Who::Name(n) => Subject::new(n.clone(), Vec::<String>::new()),
                Who::Subject { name, groups } => Subject::new(name.clone(), groups.clone()),
                Who::Claims { claims } => Subject::from_claims(claims, policy.scopes()),
            };
            let decision = policy.explain(&subject, resource, action, object);
            assert_eq!(
                decision.allowed,
                policy.enforce(&subject, resource, action, object)
            );
            if decision.allowed == *expected {
                passed += 1;
            } else {
                failures.push(format!(
                    "{}: {subject:?} {resource} {action} {object}: expected {expected}, {decision}",
                    suite.name
                ));
            }
        }
    }
    println!(
        "Argo CD RBAC cases: {passed}/{total} pass ({} cases not transcribed, listed with why)",
        fixtures.not_transcribed.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(total > 100, "the table lost its cases: {total}");
}

// === helpers ===

fn policy(csv: &str) -> Policy {
    Policy::new(csv, None, MatchMode::Glob).expect("valid policy")
}

fn user(name: &str) -> Subject {
    Subject::new(name, Vec::<String>::new())
}

fn role(name: &str, policies: &[&str], groups: &[&str]) -> ProjectRole {
    ProjectRole {
        name: name.into(),
        policies: policies.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
    }
}

// === deny, inheritance ===

#[test]
fn deny_wins_through_inherited_roles() {
    let p = policy(
        "p, role:dev, applications, *, */*, allow\n\
         p, role:no-prod, applications, *, prod/*, deny\n\
         g, role:dev, role:no-prod\n\
         g, alice, role:dev",
    );
    assert!(p.enforce(&user("alice"), "applications", "sync", "dev/app"));
    let d = p.explain(&user("alice"), "applications", "sync", "prod/app");
    assert!(!d.allowed);
    assert_eq!(
        d.rule(),
        Some("p, role:no-prod, applications, *, prod/*, deny")
    );
    assert!(matches!(d.reason, Reason::Denied { ref subject, .. } if subject == "alice"));
}

#[test]
fn a_users_deny_does_not_stop_what_a_group_allows() {
    let p = policy("p, alice, applications, delete, */*, deny\ng, admins, role:admin");
    let alice = Subject::new("alice", ["admins"]);
    let d = p.explain(&alice, "applications", "delete", "p/app");
    assert!(d.allowed, "{d}");
    assert!(matches!(d.reason, Reason::Allowed { ref subject, .. } if subject == "admins"));
    assert!(!p.enforce(&user("alice"), "applications", "delete", "p/app"));
}

#[test]
fn inheritance_is_transitive_and_cycles_end() {
    let p =
        policy("g, a, b\ng, b, c\ng, c, a\ng, c, role:readonly\np, b, clusters, delete, *, allow");
    assert!(p.enforce(&user("a"), "clusters", "get", "https://x"));
    assert!(p.enforce(&user("c"), "clusters", "delete", "https://x"));
    assert!(!p.enforce(&user("a"), "clusters", "create", "https://x"));
    let selfloop = policy("g, x, x\np, y, clusters, get, *, allow");
    assert!(!selfloop.enforce(&user("x"), "clusters", "get", "c"));
}

#[test]
fn inheritance_stops_after_ten_links_as_casbin_does() {
    // user -> r1 -> ... -> r10 is ten links; r11 is eleven.
    let mut csv = String::from("g, user, r1\n");
    for i in 1..=10 {
        csv.push_str(&format!("g, r{i}, r{}\n", i + 1));
    }
    csv.push_str("p, r10, clusters, get, *, allow\np, r11, clusters, delete, *, allow\n");
    let p = policy(&csv);
    assert!(p.enforce(&user("user"), "clusters", "get", "c"));
    assert!(!p.enforce(&user("user"), "clusters", "delete", "c"));
}

#[test]
fn groups_count_only_when_a_g_line_names_them() {
    let p = policy("p, team, applications, get, */*, allow");
    assert!(!p.enforce(&Subject::new("u", ["team"]), "applications", "get", "p/a"));
    let p = policy("p, team, applications, get, */*, allow\ng, team, role:nothing");
    assert!(p.enforce(&Subject::new("u", ["team"]), "applications", "get", "p/a"));
}

#[test]
fn unknown_effect_grants_nothing_and_is_linted() {
    let p = policy("p, alice, applications, get, */*, Allow\np, alice, clusters, get, [x, allow");
    assert!(!p.enforce(&user("alice"), "applications", "get", "p/a"));
    let lint = p.lint();
    assert_eq!(lint.len(), 2, "{lint:?}");
    assert!(lint[0].message.contains("\"Allow\""));
    assert!(lint[1].message.starts_with("object: not a glob"));
}

// === default role ===

#[test]
fn default_role_applies_to_everyone_and_explains_itself() {
    let p = Policy::new("", Some("role:readonly"), MatchMode::Glob).expect("policy");
    let d = p.explain(&user("nobody"), "applications", "get", "p/a");
    assert!(d.allowed);
    assert!(matches!(d.reason, Reason::DefaultRole { ref role, .. } if role == "role:readonly"));
    assert_eq!(
        d.rule(),
        Some("p, role:readonly, applications, get, */*, allow")
    );
    assert!(!p.enforce(&user("nobody"), "applications", "sync", "p/a"));
    assert_eq!(
        p.explain(&user("nobody"), "applications", "sync", "p/a")
            .reason,
        Reason::NoRuleMatched
    );
    let empty = Policy::new("", Some(""), MatchMode::Glob).expect("policy");
    assert_eq!(empty.default_role(), None);
}

#[test]
fn can_i_role_answers_for_a_role_name() {
    let p = policy("p, role:dev, applications, sync, dev/*, allow\ng, role:dev, role:readonly");
    assert!(
        p.can_i_role("role:dev", "applications", "sync", "dev/app")
            .allowed
    );
    assert!(
        p.can_i_role("role:dev", "applications", "get", "prod/app")
            .allowed
    );
    assert!(
        !p.can_i_role("role:dev", "applications", "sync", "prod/app")
            .allowed
    );
    assert!(p.can_i_role("admin", "accounts", "update", "*").allowed);
}

// === regex mode ===

#[test]
fn regex_mode_is_unanchored_and_applies_to_resources_and_actions() {
    let p = Policy::new("p, alice, app.*, (get|sync), ^team-a/.*$, allow\np, bob, applications, get, team-a/, allow", None, MatchMode::Regex)
        .expect("policy");
    assert!(p.enforce(&user("alice"), "applications", "sync", "team-a/x"));
    assert!(p.enforce(&user("alice"), "applicationsets", "get", "team-a/x"));
    assert!(!p.enforce(&user("alice"), "applications", "sync", "team-b/x"));
    // Unanchored: `team-a/` is found inside `other-team-a/app`.
    assert!(p.enforce(&user("bob"), "applications", "get", "other-team-a/app"));
}

#[test]
fn regex_mode_fails_requests_that_reach_the_built_in_globs() {
    // The built-in rules use `*`, which is no regular expression: casbin panics on them and
    // Argo CD answers no, so in regex mode `admin` and `role:readonly` lose their rights.
    let p = Policy::new(
        "p, alice, applications, get, .*, allow",
        None,
        MatchMode::Regex,
    )
    .expect("policy");
    let d = p.explain(&user("admin"), "applications", "get", "p/app");
    assert!(!d.allowed);
    assert!(matches!(d.reason, Reason::InvalidRegex { .. }), "{d}");
    assert!(p.enforce(&user("alice"), "applications", "get", "p/app"));
    // Only rules whose subject, resource and action matched are reached.
    let ro = Policy::new(
        "p, role:readonly, clusters, get, .*, allow",
        Some("role:readonly"),
        MatchMode::Regex,
    )
    .expect("policy");
    assert!(!ro.enforce(&user("x"), "clusters", "get", "c"));
}

// === projects ===

fn projects_policy() -> Policy {
    let mut p = policy(
        "p, role:global-dev, applications, sync, */*, allow\n\
         p, role:global-dev, logs, get, */*, allow\n\
         g, devs, role:global-dev",
    );
    p.add_project_roles(
        "a",
        &[role(
            "deployer",
            &[
                "p, proj:a:deployer, applications, sync, a/*, allow",
                "p, proj:a:deployer, applications, delete, a/*, deny",
            ],
            &["team-a"],
        )],
    )
    .expect("project a");
    p.add_project_roles(
        "b",
        &[role(
            "viewer",
            &["p, proj:b:viewer, applications, get, b/*, allow"],
            &["team-b"],
        )],
    )
    .expect("project b");
    p
}

#[test]
fn project_roles_grant_in_their_project_only() {
    let p = projects_policy();
    let member = Subject::new("u", ["team-a"]);
    assert!(p.enforce(&member, "applications", "sync", "a/app"));
    assert!(p.enforce(&member, "applications", "sync", "a/ns/app"));
    assert!(p.enforce(&member, "projects", "get", "a"));
    assert!(!p.enforce(&member, "applications", "sync", "b/app"));
    assert!(!p.enforce(&member, "projects", "get", "b"));
    // A project's deny counts for its members, as anyone's deny does.
    let both = Subject::new("u", ["team-a", "devs"]);
    assert!(!p.enforce(&member, "applications", "delete", "a/app"));
    assert!(p.enforce(&both, "applications", "sync", "b/app"));
}

#[test]
fn project_tokens_act_in_their_project_only() {
    let p = projects_policy();
    let token = user("proj:a:deployer");
    assert!(p.enforce(&token, "applications", "sync", "a/app"));
    let d = p.explain(&token, "applications", "get", "b/app");
    assert!(!d.allowed);
    assert!(matches!(d.reason, Reason::OtherProjectToken { .. }));
    // A token's groups are not consulted in its project.
    let token_with_group = Subject::new("proj:a:deployer", ["devs"]);
    assert!(p.enforce(&Subject::new("u", ["devs"]), "logs", "get", "a/app"));
    assert!(!p.enforce(&token_with_group, "logs", "get", "a/app"));
}

#[test]
fn a_project_role_naming_another_project_is_refused_and_grants_nothing() {
    let mut p = policy("");
    let err = p.add_project_roles(
        "a",
        &[role(
            "r",
            &["p, proj:a:r, applications, *, b/*, allow"],
            &["g1"],
        )],
    );
    assert!(matches!(err, Err(ProjectError::Policy { .. })), "{err:?}");
    let msg = err.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg.contains("object must be of form 'a/*'"), "{msg}");
    let member = Subject::new("u", ["g1"]);
    assert!(!p.enforce(&member, "applications", "get", "b/app"));
    assert!(!p.enforce(&member, "applications", "get", "a/app"));
    // Other escapes Argo CD's validation refuses: another subject, a global resource, a
    // `g` line, a foreign wildcard.
    for bad in [
        "p, role:admin, applications, *, a/*, allow",
        "p, proj:a:r, projects, delete, a, allow",
        "g, proj:a:r, role:admin",
        "p, proj:a:r, applications, *, */*, allow",
        "p, proj:a:r, applications, get, a/*, maybe",
    ] {
        assert!(
            p.add_project_roles("a", &[role("r", &[bad], &[])]).is_err(),
            "{bad}"
        );
    }
    // Replacing a project's roles forgets the old ones.
    p.add_project_roles(
        "a",
        &[role(
            "r",
            &["p, proj:a:r, applications, get, a/*, allow"],
            &["g1"],
        )],
    )
    .expect("valid");
    assert!(p.enforce(&member, "applications", "get", "a/app"));
    p.add_project_roles("a", &[]).expect("no roles");
    assert!(!p.enforce(&member, "applications", "get", "a/app"));
}

// === config map ===

#[test]
fn config_map_overlays_load_in_key_order_and_errors_name_the_key() {
    let mut data = BTreeMap::new();
    data.insert("policy.csv".to_string(), "g, u, role:a".to_string());
    data.insert(
        "policy.B.csv".to_string(),
        "p, role:a, clusters, get, *, deny".to_string(),
    );
    data.insert(
        "policy.A.csv".to_string(),
        "p, role:a, clusters, get, *, allow".to_string(),
    );
    data.insert("unrelated".to_string(), "not, a, policy".to_string());
    let p = Policy::from_config_map(&data).expect("policy");
    let d = p.explain(&user("u"), "clusters", "get", "c");
    assert!(!d.allowed);
    assert!(d.to_string().contains("policy.B.csv line 1"), "{d}");
    assert_eq!(p.scopes(), ["groups"]);
    assert_eq!(p.match_mode(), MatchMode::Glob);

    data.insert(
        "policy.C.csv".to_string(),
        "# fine\np, role:a, clusters, get, *".to_string(),
    );
    let err = Policy::from_config_map(&data)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.starts_with("policy.C.csv line 2: a `p` line has 6 fields"),
        "{err}"
    );
}

// === the rest of Argo CD's `enforce` ===

#[test]
fn rules_for_the_empty_subject_apply_to_everyone() {
    let p = policy(r#"p, "", clusters, get, *, allow"#);
    assert!(p.enforce(&user("anyone"), "clusters", "get", "https://x"));
    assert!(!p.enforce(&user("anyone"), "clusters", "delete", "https://x"));
}

#[test]
fn the_default_role_serves_a_token_of_another_project() {
    let mut p = Policy::new("", Some("role:readonly"), MatchMode::Glob).expect("policy");
    p.add_project_roles("a", &[role("r", &[], &[])]).expect("a");
    p.add_project_roles("b", &[]).expect("b");
    let token = user("proj:a:r");
    assert!(p.enforce(&token, "applications", "get", "b/app"));
    let d = p.explain(&token, "applications", "sync", "b/app");
    assert!(matches!(d.reason, Reason::OtherProjectToken { .. }), "{d}");
}

#[test]
fn scopes_that_are_not_a_list_refuse_the_config_map() {
    let mut data = BTreeMap::new();
    data.insert("scopes".to_string(), "email".to_string());
    assert!(Policy::from_config_map(&data).is_err());
    data.insert("scopes".to_string(), "[]".to_string());
    let p = Policy::from_config_map(&data).expect("policy");
    assert!(p.scopes().is_empty());
}

// === globs ===

#[derive(Deserialize)]
struct GlobCases {
    cases: Vec<(String, String, bool)>,
}

#[test]
fn gobwas_glob_cases() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/gobwas-glob.json"
    ))
    .expect("fixture file");
    let fixtures: GlobCases = serde_json::from_str(&text).expect("fixture JSON");
    let mut failures = Vec::new();
    for (pattern, text, expected) in &fixtures.cases {
        // Through a whole policy line, as a user writes it (quoted: patterns hold commas).
        let quoted = pattern.replace('"', "\"\"");
        let p = policy(&format!("p, u, clusters, get, \"{quoted}\", allow"));
        if p.enforce(&user("u"), "clusters", "get", text) != *expected {
            failures.push(format!("{pattern:?} on {text:?}: expected {expected}"));
        }
    }
    println!(
        "gobwas glob cases: {}/{} pass",
        fixtures.cases.len() - failures.len(),
        fixtures.cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
