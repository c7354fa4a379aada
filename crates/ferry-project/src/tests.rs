//! Each project rule, as a table.

use super::*;
use ferry_api::ProjectDestination;

fn spec(f: impl FnOnce(&mut AppProjectSpec)) -> AppProjectSpec {
    let mut s = AppProjectSpec::default();
    f(&mut s);
    s
}

fn dest(server: &str, name: &str, ns: &str) -> ProjectDestination {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    ProjectDestination {
        server: opt(server),
        name: opt(name),
        namespace: opt(ns),
    }
}

#[test]
fn sources_match_normalised_urls_with_negation() {
    let s = spec(|s| {
        s.source_repos = vec![
            "https://github.com/org/*".into(),
            "!https://github.com/org/secret".into(),
            "git@gitlab.com:team/*.git".into(),
        ]
    });
    let p = Project::new("team-a", &s);
    for (url, want) in [
        ("https://github.com/org/web", true),
        ("https://GitHub.com/Org/Web.git", true),
        ("https://github.com/org/secret.git", false),
        ("git@gitlab.com:team/infra.git", true),
        ("ssh://git@gitlab.com/team/infra", true),
    ] {
        assert_eq!(p.source_permitted(url), want, "{url}");
    }
    let none = spec(|_| {});
    assert!(!Project::new("p", &none).source_permitted("https://x"));
    let allow_only = spec(|s| s.source_repos = vec!["https://github.com/org/*".into()]);
    let p = Project::new("p", &allow_only);
    assert!(!p.source_permitted("https://github.com/other/web"));
    assert!(!p.source_permitted("https://github.com/org/a/b"));
    // As in Argo CD, a `!pattern` also counts as a match for what it does not refuse.
    let only_deny = spec(|s| s.source_repos = vec!["!https://github.com/org/secret".into()]);
    let p = Project::new("p", &only_deny);
    assert!(p.source_permitted("https://github.com/org/web"));
    assert!(!p.source_permitted("https://github.com/org/secret"));
    let star = spec(|s| s.source_repos = vec!["*".into()]);
    assert!(Project::new("p", &star).source_permitted("anything at all"));
}

#[test]
fn destinations_match_server_or_name_and_namespace() {
    let s = spec(|s| {
        s.destinations = vec![
            dest("https://prod.example", "", "team-*"),
            dest("", "stg", "*"),
            dest("*", "", "!kube-system"),
        ]
    });
    let p = Project::new("team-a", &s);
    // (server, name, namespace)
    for (server, name, ns, want) in [
        ("https://prod.example", "prod", "team-web", true),
        ("https://other", "stg", "anything", true),
        ("https://other", "other", "kube-system", false),
        ("https://other", "other", "default", true),
    ] {
        assert_eq!(
            p.destination_permitted(server, name, ns),
            want,
            "{server} {name} {ns}"
        );
    }
    let narrow = spec(|s| s.destinations = vec![dest("https://prod.example", "", "team-*")]);
    let p = Project::new("team-a", &narrow);
    assert!(!p.destination_permitted("https://prod.example", "prod", "default"));
    assert!(!p.destination_permitted("https://stg.example", "stg", "team-a"));
    let not_prod =
        spec(|s| s.destinations = vec![dest("!https://prod.example", "", "*"), dest("*", "", "*")]);
    let p = Project::new("p", &not_prod);
    assert!(!p.destination_permitted("https://prod.example", "prod", "a"));
    assert!(p.destination_permitted("https://stg.example", "stg", "a"));
}

#[test]
fn kinds_follow_the_white_and_blacklists_with_argo_cds_defaults() {
    let empty = spec(|_| {});
    let p = Project::new("team-a", &empty);
    assert_eq!(p.kind_refusal("apps", "Deployment", "web", true), None);
    let refused = p
        .kind_refusal("", "Namespace", "web", false)
        .expect("refused");
    assert_eq!(
        refused,
        "resource :Namespace is not permitted in project team-a: cluster-scoped resources need clusterResourceWhitelist, and it is not in it"
    );
    let s = spec(|s| {
        s.cluster_resource_whitelist = vec![ClusterResourceRestriction {
            group: "*".into(),
            kind: "*".into(),
            name: String::new(),
        }];
        s.cluster_resource_blacklist = vec![ClusterResourceRestriction {
            group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "admin-*".into(),
        }];
        s.namespace_resource_blacklist = vec![GroupKind {
            group: "".into(),
            kind: "ResourceQuota".into(),
        }];
    });
    let p = Project::new("team-a", &s);
    assert_eq!(p.kind_refusal("", "Namespace", "web", false), None);
    assert_eq!(
        p.kind_refusal("rbac.authorization.k8s.io", "ClusterRole", "view", false),
        None
    );
    assert!(
        p.kind_refusal("rbac.authorization.k8s.io", "ClusterRole", "admin-x", false)
            .expect("blacklisted")
            .ends_with("it is in clusterResourceBlacklist")
    );
    assert!(
        p.kind_refusal("", "ResourceQuota", "q", true)
            .expect("blacklisted")
            .contains("resource :ResourceQuota is not permitted in project team-a: it is in namespaceResourceBlacklist")
    );
    let only_apps = spec(|s| {
        s.namespace_resource_whitelist = Some(vec![GroupKind {
            group: "apps".into(),
            kind: "*".into(),
        }])
    });
    let p = Project::new("team-a", &only_apps);
    assert_eq!(p.kind_refusal("apps", "Deployment", "web", true), None);
    assert!(p.kind_refusal("", "ConfigMap", "c", true).is_some());
    let none = spec(|s| s.namespace_resource_whitelist = Some(vec![]));
    assert!(
        Project::new("p", &none)
            .kind_refusal("apps", "Deployment", "w", true)
            .is_some()
    );
}

#[test]
fn applications_outside_ferrys_namespace_need_source_namespaces() {
    let s = spec(|s| s.source_namespaces = vec!["team-*".into(), "/^ops-[0-9]+$/".into()]);
    let p = Project::new("team-a", &s);
    for (ns, want) in [
        ("ferry", true),
        ("", true),
        ("team-web", true),
        ("ops-12", true),
        ("ops-x", false),
        ("other", false),
    ] {
        assert_eq!(p.app_namespace_permitted(ns, "ferry"), want, "{ns}");
    }
}

#[test]
fn refusals_name_the_project_and_the_rule() {
    let s = spec(|s| {
        s.source_repos = vec!["https://github.com/org/*".into()];
        s.destinations = vec![dest("https://prod.example", "", "team-a")];
    });
    let p = Project::new("team-a", &s);
    let facts = AppFacts {
        name: "web",
        namespace: "ferry",
        repo_url: "https://github.com/org/web",
        server: "https://prod.example",
        cluster_name: "prod",
        dest_namespace: "team-a",
    };
    assert_eq!(p.check_app(&facts, "ferry"), Ok(()));
    let e = p
        .check_app(
            &AppFacts {
                repo_url: "https://evil.example/x",
                ..facts.clone()
            },
            "ferry",
        )
        .expect_err("source");
    assert_eq!(
        e.to_string(),
        "application repo https://evil.example/x is not permitted in project 'team-a' (sourceRepos)"
    );
    let e = p
        .check_app(
            &AppFacts {
                dest_namespace: "y",
                ..facts.clone()
            },
            "ferry",
        )
        .expect_err("destination");
    assert_eq!(
        e.to_string(),
        "application destination server 'https://prod.example' and namespace 'y' do not match any of the allowed destinations in project 'team-a'"
    );
    let e = p
        .check_app(
            &AppFacts {
                namespace: "elsewhere",
                ..facts.clone()
            },
            "ferry",
        )
        .expect_err("namespace");
    assert_eq!(
        e.to_string(),
        "application 'web' in namespace 'elsewhere' is not permitted to use project 'team-a' (sourceNamespaces)"
    );
    assert_eq!(
        p.namespace_refusal("https://prod.example", "prod", "kube-system")
            .as_deref(),
        Some("namespace kube-system is not permitted in project 'team-a' (destinations)")
    );
    assert_eq!(project_name(""), "default");
}

#[test]
fn the_default_project_allows_everything() {
    let d = ferry_api::default_project("ferry");
    let p = Project::new("default", &d.spec);
    assert!(p.source_permitted("git@anywhere:x/y.git"));
    assert!(p.destination_permitted("https://any", "any", "any-ns"));
    assert_eq!(p.kind_refusal("", "Namespace", "x", false), None);
    assert_eq!(p.kind_refusal("apps", "Deployment", "x", true), None);
}
