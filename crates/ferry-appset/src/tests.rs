//! End-to-end tests of `generate` and `plan` on whole ApplicationSets.

use ferry_api::{Application, ApplicationSet, RESOURCES_FINALIZER};
use serde_json::{Value, json};

use crate::generators::fake::{Fake, cluster};
use crate::{
    GenerateError, Generated, InvalidApp, Policy, generate, git_sources, normalize, plan, policy_of,
};

fn set(spec: Value) -> ApplicationSet {
    serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "guestbook", "namespace": "ferry", "uid": "uid-1"},
        "spec": spec,
    }))
    .expect("a valid ApplicationSet")
}

fn template(name: &str) -> Value {
    json!({
        "metadata": {"name": name, "namespace": "elsewhere"},
        "spec": {"project": "default",
            "source": {"repoURL": "https://git.example/apps.git", "path": "guestbook"},
            "destination": {"server": "{{server}}", "namespace": "guestbook"}}
    })
}

/// [`template`] for goTemplate (no fasttemplate tags).
fn go_template(name: &str) -> Value {
    let mut t = template(name);
    t["spec"]["destination"]["server"] = json!("https://x");
    t
}

fn clusters() -> Fake {
    Fake {
        clusters: vec![
            cluster("prod", "https://prod", &[("env", "prod")]),
            cluster("stg", "https://stg", &[("env", "stg")]),
        ],
        ..Default::default()
    }
}

fn names(apps: &[Application]) -> Vec<String> {
    apps.iter()
        .map(|a| a.metadata.name.clone().unwrap_or_default())
        .collect()
}

#[test]
fn cluster_apps_are_owned_namespaced_and_templated() {
    let mut t = template("{{name}}-guestbook");
    t["metadata"]["labels"] =
        json!({"env-{{metadata.labels.env}}": "{{metadata.labels.env}}", "keep": "{{unknown}}"});
    let s = set(json!({
        "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
        "template": t,
    }));
    let got = generate(&s, &clusters()).expect("generates");
    assert!(got.invalid.is_empty());
    assert_eq!(names(&got.apps), ["prod-guestbook"]);
    let app = serde_json::to_value(&got.apps[0]).expect("serializes");
    assert_eq!(
        app,
        json!({
            "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {
                "name": "prod-guestbook", "namespace": "ferry",
                "labels": {"env-prod": "prod", "keep": "{{unknown}}"},
                "ownerReferences": [{"apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
                    "name": "guestbook", "uid": "uid-1", "controller": true, "blockOwnerDeletion": true}]
            },
            "spec": {"project": "default",
                "source": {"repoURL": "https://git.example/apps.git", "path": "guestbook"},
                "destination": {"server": "https://prod", "namespace": "guestbook"}}
        })
    );
}

#[test]
fn finalizer_only_when_resources_are_not_preserved() {
    let cases = [
        ("default: preserved", json!(null), json!(null), None),
        (
            "explicit true",
            json!({"preserveResourcesOnDeletion": true}),
            json!(null),
            None,
        ),
        (
            "explicit false",
            json!({"preserveResourcesOnDeletion": false}),
            json!(null),
            Some(vec![RESOURCES_FINALIZER.to_owned()]),
        ),
        (
            "template's own finalizers win",
            json!({"preserveResourcesOnDeletion": false}),
            json!(["example.com/other"]),
            Some(vec!["example.com/other".to_owned()]),
        ),
    ];
    for (name, policy, finalizers, want) in cases {
        let mut t = template("{{name}}");
        if !finalizers.is_null() {
            t["metadata"]["finalizers"] = finalizers;
        }
        let mut spec = json!({"generators": [{"list": {"elements": [{"name": "a", "server": "s"}]}}], "template": t});
        if !policy.is_null() {
            spec["syncPolicy"] = policy;
        }
        let got = generate(&set(spec), &Fake::default()).expect(name);
        assert_eq!(got.apps[0].metadata.finalizers, want, "{name}");
    }
}

#[test]
fn empty_and_duplicate_names_are_invalid() {
    let s = set(json!({
        "generators": [
            {"list": {"elements": [{"name": "b"}, {"name": "a"}, {"name": ""}]}},
            {"list": {"elements": [{"name": "a", "server": "second"}]}},
        ],
        "template": template("{{name}}"),
    }));
    let got = generate(&s, &Fake::default()).expect("generates");
    assert_eq!(names(&got.apps), ["a", "b"]);
    assert_eq!(
        got.apps[0].spec.destination.server.as_deref(),
        Some("{{server}}"),
        "the first 'a' wins"
    );
    let invalid: Vec<&str> = got.invalid.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(invalid, ["", "a"]);
    assert!(got.invalid[1].message.contains("duplicate name"));
    // The first of duplicates is still created (and the others do not block it).
    let p = plan(&s, Policy::Sync, &got, &[], &[]);
    assert_eq!(names(&p.create), ["a", "b"]);
}

#[test]
fn any_error_fails_the_whole_generation() {
    let fake = Fake {
        fail: Some("connection refused".into()),
        ..Default::default()
    };
    let s = set(json!({
        "generators": [
            {"list": {"elements": [{"name": "a"}]}},
            {"git": {"repoURL": "https://git.example/r.git", "directories": [{"path": "*"}]}},
        ],
        "template": template("{{name}}"),
    }));
    let err = generate(&s, &fake).expect_err("git fails");
    assert_eq!(
        err.to_string(),
        "generators[1] (git): listing directories of https://git.example/r.git at HEAD: connection refused"
    );
    assert!(matches!(err, GenerateError::Generator { index: 1, .. }));

    let s = set(json!({"generators": [{}], "template": template("x")}));
    let err = generate(&s, &fake).expect_err("no type");
    assert!(
        err.to_string()
            .starts_with("generators[0] (none): no generator type")
    );

    let s = set(json!({
        "goTemplate": true, "goTemplateOptions": ["missingkey=error"],
        "generators": [{"list": {"elements": [{"name": "a"}]}}],
        "template": go_template("{{.name}}-{{.nope}}"),
    }));
    let err = generate(&s, &fake).expect_err("missing key");
    assert!(
        matches!(
            &err,
            GenerateError::Render {
                index: 0,
                set: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn go_template_with_patch_and_generator_template() {
    let s = set(json!({
        "goTemplate": true,
        "generators": [{"list": {
            "elements": [{"name": "a", "auto": true, "server": "https://a"}, {"name": "b", "auto": false, "server": "https://b"}],
            "template": {"metadata": {"labels": {"from": "generator"}}}
        }}],
        "template": {
            "metadata": {"name": "{{ .name | upper }}-{{ normalize \"X_Y\" }}"},
            "spec": {"project": "default",
                "source": {"repoURL": "https://git.example/apps.git"},
                "destination": {"server": "{{ .server }}"}}
        },
        "templatePatch": "{{ if .auto }}\nspec:\n  project: hijacked\n  syncPolicy:\n    automated:\n      prune: true\n{{ end }}\n",
    }));
    let got = generate(&s, &Fake::default()).expect("generates");
    assert_eq!(names(&got.apps), ["A-x-y", "B-x-y"]);
    let a = &got.apps[0];
    assert_eq!(
        a.spec.project, "default",
        "a patch cannot change the project"
    );
    assert!(
        a.spec
            .sync_policy
            .as_ref()
            .and_then(|p| p.automated.as_ref())
            .is_some_and(|x| x.prune)
    );
    assert!(got.apps[1].spec.sync_policy.is_none());
    assert_eq!(
        a.metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("from"))
            .map(String::as_str),
        Some("generator")
    );
}

#[test]
fn post_selector_filters_flattened_params() {
    let s = set(json!({
        "goTemplate": true,
        "generators": [{
            "list": {"elements": [{"name": "a", "meta": {"tier": "web"}}, {"name": "b", "meta": {"tier": "db"}}]},
            "selector": {"matchLabels": {"meta.tier": "web"}}
        }],
        "template": go_template("{{.name}}"),
    }));
    let got = generate(&s, &Fake::default()).expect("generates");
    assert_eq!(names(&got.apps), ["a"]);
}

#[test]
fn unknown_go_template_option_fails() {
    let s = set(json!({
        "goTemplate": true, "goTemplateOptions": ["missingkey=explode"],
        "generators": [], "template": template("x"),
    }));
    assert!(matches!(
        generate(&s, &Fake::default()),
        Err(GenerateError::Options(_))
    ));
}

#[test]
fn git_sources_recurse_and_skip_templated() {
    let s = set(json!({
        "generators": [
            {"git": {"repoURL": "https://b", "revision": "main", "files": [{"path": "x"}]}},
            {"matrix": {"generators": [
                {"git": {"repoURL": "https://a", "directories": [{"path": "*"}]}},
                {"merge": {"mergeKeys": ["k"], "generators": [
                    {"git": {"repoURL": "https://b", "revision": "main", "files": [{"path": "y"}]}},
                    {"git": {"repoURL": "https://{{path.basename}}", "files": [{"path": "y"}]}},
                ]}},
            ]}},
        ],
        "template": template("x"),
    }));
    assert_eq!(
        git_sources(&s),
        [
            ("https://a".to_owned(), String::new()),
            ("https://b".to_owned(), "main".to_owned())
        ]
    );
}

#[test]
fn policies_and_names() {
    let mut s = set(json!({"generators": [], "template": template("x")}));
    assert_eq!(policy_of(&s, Policy::CreateOnly), Policy::CreateOnly);
    s = set(json!({"generators": [], "template": template("x"),
        "syncPolicy": {"applicationsSync": "create-delete"}}));
    assert_eq!(policy_of(&s, Policy::Sync), Policy::CreateDelete);

    let cases = [
        ("Prod_Cluster", "prod-cluster"),
        ("--a.b--", "a.b"),
        ("héllo wörld", "h-llo-w-rld"),
        ("..x..", "x"),
        ("", ""),
    ];
    for (input, want) in cases {
        assert_eq!(normalize(input), want, "{input}");
    }
    assert_eq!(normalize(&"a".repeat(300)).len(), 253);
}

// ---- plan ----

fn app(name: &str, server: &str) -> Application {
    serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "ferry"},
        "spec": {"project": "default",
            "source": {"repoURL": "https://git.example/apps.git"},
            "destination": {"server": server}}
    }))
    .expect("a valid Application")
}

fn generated(apps: &[Application], invalid: &[&str]) -> Generated {
    Generated {
        apps: apps.to_vec(),
        invalid: invalid
            .iter()
            .map(|n| InvalidApp {
                name: (*n).to_owned(),
                message: "bad".into(),
            })
            .collect(),
    }
}

#[derive(Debug, PartialEq)]
struct Summary {
    create: Vec<String>,
    update: Vec<String>,
    delete: Vec<String>,
    unchanged: Vec<String>,
}

fn summary(p: &crate::Plan) -> Summary {
    Summary {
        create: names(&p.create),
        update: p.update.iter().map(|u| u.name.clone()).collect(),
        delete: p.delete.clone(),
        unchanged: p.unchanged.clone(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn plan_under_each_policy() {
    let s = set(json!({"generators": [], "template": template("x")}));
    // new: to create; same: equal; changed: spec differs; gone: no longer generated.
    let generated = generated(
        &[
            app("new", "https://n"),
            app("same", "https://s"),
            app("changed", "https://new"),
        ],
        &[],
    );
    let owned = [
        app("gone", "https://g"),
        app("same", "https://s"),
        app("changed", "https://old"),
    ];
    let table = [
        (Policy::Sync, &["changed"][..], &["gone"][..], &["same"][..]),
        (Policy::CreateOnly, &[], &[], &["changed", "gone", "same"]),
        (Policy::CreateUpdate, &["changed"], &[], &["gone", "same"]),
        (Policy::CreateDelete, &[], &["gone"], &["changed", "same"]),
    ];
    for (policy, update, delete, unchanged) in table {
        let p = plan(&s, policy, &generated, &owned, &[]);
        assert_eq!(
            summary(&p),
            Summary {
                create: strings(&["new"]),
                update: strings(update),
                delete: strings(delete),
                unchanged: strings(unchanged),
            },
            "{policy}"
        );
        assert!(p.conflicts.is_empty());
    }
    let p = plan(&s, Policy::Sync, &generated, &owned, &[]);
    assert_eq!(
        p.update[0].patch,
        json!({"spec": {"destination": {"server": "https://new"}}})
    );
    assert_eq!(p.update[0].changed, ["spec"]);
}

#[test]
fn unowned_apps_are_never_adopted() {
    let s = set(json!({"generators": [], "template": template("x")}));
    let generated = generated(&[app("taken", "https://x"), app("free", "https://y")], &[]);
    let mut other = app("taken", "https://x");
    let p = plan(&s, Policy::Sync, &generated, &[], &[other.clone()]);
    assert_eq!(names(&p.create), ["free"]);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].name, "taken");
    assert!(p.conflicts[0].message.contains("does not adopt"));

    other.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "ferry.dev/v1alpha1".into(),
            kind: "ApplicationSet".into(),
            name: "other-set".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    ]);
    let p = plan(&s, Policy::CreateOnly, &generated, &[], &[other]);
    assert!(
        p.conflicts[0]
            .message
            .contains("ApplicationSet \"other-set\"")
    );
}

#[test]
fn invalid_apps_are_neither_updated_nor_deleted() {
    let s = set(json!({"generators": [], "template": template("x")}));
    let generated = generated(&[app("ok", "https://x")], &["broken"]);
    let owned = [app("broken", "https://b"), app("ok", "https://x")];
    let p = plan(&s, Policy::Sync, &generated, &owned, &[]);
    assert_eq!(
        summary(&p),
        Summary {
            create: vec![],
            update: vec![],
            delete: vec![],
            unchanged: strings(&["broken", "ok"]),
        }
    );
}

#[test]
fn metadata_patch_keeps_preserved_fields() {
    let s = set(json!({"generators": [], "template": template("x"),
        "preservedFields": {"annotations": ["team/owner"], "labels": ["pinned"]}}));
    let mut want = app("a", "https://x");
    want.metadata.labels = Some(
        [("env", "prod"), ("pinned", "from-template")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    );
    want.metadata.annotations = Some([("team/owner".to_owned(), "template".to_owned())].into());
    want.metadata.finalizers = Some(vec![RESOURCES_FINALIZER.to_owned()]);
    let mut have = app("a", "https://x");
    have.metadata.labels = Some(
        [("env", "stg"), ("pinned", "by-hand"), ("stale", "x")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    );
    have.metadata.annotations = Some(
        [
            ("team/owner", "alice"),
            ("argocd.argoproj.io/refresh", "hard"),
            ("ferry.dev/refresh", "normal"),
            ("notified.notifications.argoproj.io", "{}"),
            ("old", "x"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .into(),
    );
    let p = plan(
        &s,
        Policy::Sync,
        &generated(&[want.clone()], &[]),
        &[have.clone()],
        &[],
    );
    assert_eq!(p.update.len(), 1);
    assert_eq!(
        p.update[0].patch,
        json!({"metadata": {
            "labels": {"env": "prod", "stale": null},
            "annotations": {"old": null},
            "finalizers": [RESOURCES_FINALIZER],
        }})
    );
    assert_eq!(p.update[0].changed, ["labels", "annotations", "finalizers"]);

    // Removing every finalizer patches them away; an equal app is unchanged.
    have.metadata.labels = want.metadata.labels.clone();
    have.metadata.annotations = want.metadata.annotations.clone();
    want.metadata.finalizers = None;
    have.metadata.finalizers = Some(vec![RESOURCES_FINALIZER.to_owned()]);
    let p = plan(
        &s,
        Policy::Sync,
        &generated(&[want.clone()], &[]),
        &[have.clone()],
        &[],
    );
    assert_eq!(p.update[0].patch, json!({"metadata": {"finalizers": null}}));
    have.metadata.finalizers = None;
    let p = plan(&s, Policy::Sync, &generated(&[want], &[]), &[have], &[]);
    assert_eq!(p.unchanged, ["a"]);
}

#[test]
fn terminating_apps_are_left_alone() {
    let s = set(json!({"generators": [], "template": template("x")}));
    let mut dying = app("a", "https://old");
    dying.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    ));
    let p = plan(
        &s,
        Policy::Sync,
        &generated(&[app("a", "https://new")], &[]),
        &[dying.clone()],
        &[],
    );
    assert_eq!(p.unchanged, ["a"]);
    let p = plan(&s, Policy::Sync, &generated(&[], &[]), &[dying], &[]);
    assert_eq!(p.unchanged, ["a"]);
    assert!(p.delete.is_empty());
}

#[test]
fn generated_then_planned_round_trip() {
    // What generate produces, applied, plans as unchanged.
    let s = set(json!({
        "generators": [{"clusters": {}}],
        "template": template("{{name}}"),
        "syncPolicy": {"preserveResourcesOnDeletion": false},
    }));
    let got = generate(&s, &clusters()).expect("generates");
    assert_eq!(names(&got.apps), ["in-cluster", "prod", "stg"]);
    let p = plan(&s, Policy::Sync, &got, &got.apps, &[]);
    assert_eq!(p.unchanged, ["in-cluster", "prod", "stg"]);
    assert!(p.create.is_empty() && p.update.is_empty() && p.delete.is_empty());
}
