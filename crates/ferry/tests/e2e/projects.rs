//! AppProjects enforced end to end: an application whose project is missing, or refuses
//! its source or destination, gets an `InvalidSpecError` and nothing is applied until the
//! project allows it; a kind the project refuses fails the sync before anything is applied;
//! a deny sync window holds automated syncs until it lifts, and lets a manual sync through
//! only with `manualSync`.

use ferry_cluster::api_resource as ar;
use serde_json::{Value, json};

use crate::world::*;

fn projects_res() -> kube::discovery::ApiResource {
    ar("ferry.dev", "v1alpha1", "AppProject", "appprojects")
}

/// When project `name` is applied (or changed) with `spec`.
async fn project(w: &World, name: &str, spec: Value) {
    let p = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "AppProject",
        "metadata": {"name": name}, "spec": spec});
    w.apply_mgmt(&projects_res(), Some("ferry"), p).await;
}

/// A project that allows this world's repository and namespace `demo` of the target.
fn open_spec(w: &World) -> Value {
    json!({"sourceRepos": [w.repo_url],
        "destinations": [{"name": "target", "namespace": "demo"}]})
}

fn invalid_spec(s: &Value) -> &str {
    condition(s, "InvalidSpecError").unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_refuses_applications_it_does_not_allow_and_nothing_is_applied() {
    // Given a repository with one ConfigMap per application, and projects team-a (this
    // repository, namespace demo) and team-b (another host's repositories only).
    let w = World::new(&[
        ("missing/cm.yaml", cm("from-missing", "1")),
        ("repo/cm.yaml", cm("from-repo", "1")),
        ("dest/cm.yaml", cm("from-dest", "1")),
        ("fine/cm.yaml", cm("from-fine", "1")),
    ])
    .await;
    project(&w, "team-a", open_spec(&w)).await;
    project(
        &w,
        "team-b",
        json!({"sourceRepos": ["https://elsewhere.example/*"],
            "destinations": [{"server": "*", "namespace": "*"}]}),
    )
    .await;

    // When automated applications name a missing project, a refused repository, a refused
    // destination namespace, and one that the project allows.
    let automated = json!({"automated": {"prune": true, "selfHeal": true},
        "syncOptions": ["CreateNamespace=true"]});
    for (name, project, ns) in [
        ("missing", "nope", "demo"),
        ("repo", "team-b", "demo"),
        ("dest", "team-a", "other"),
        ("fine", "team-a", "demo"),
    ] {
        w.create_app(
            name,
            json!({"project": project, "source": {"path": name},
                "destination": {"namespace": ns}, "syncPolicy": automated}),
        )
        .await;
    }

    // Then the allowed one is delivered, and each refused one says which rule of which
    // project refuses it, and has applied nothing.
    w.expect_app("fine", 60, "Synced and Healthy", synced_healthy)
        .await;
    let s = w
        .expect_app("missing", 30, "an InvalidSpecError", |s| {
            !invalid_spec(s).is_empty()
        })
        .await;
    assert_eq!(
        invalid_spec(&s),
        "application references project nope which does not exist",
        "{s:#}"
    );
    let s = w
        .expect_app("repo", 30, "an InvalidSpecError", |s| {
            !invalid_spec(s).is_empty()
        })
        .await;
    assert_eq!(
        invalid_spec(&s),
        format!(
            "application repo {} is not permitted in project 'team-b' (sourceRepos)",
            w.repo_url
        ),
        "{s:#}"
    );
    let s = w
        .expect_app("dest", 30, "an InvalidSpecError", |s| {
            !invalid_spec(s).is_empty()
        })
        .await;
    let msg = invalid_spec(&s);
    assert!(
        msg.starts_with("application destination server '")
            && msg.ends_with(
                "' and namespace 'other' do not match any of the allowed destinations in project 'team-a'"
            ),
        "{msg}"
    );
    for name in ["missing", "repo"] {
        let s = w.status(name).await;
        assert!(s["operationState"].is_null(), "no sync ran: {s:#}");
        assert!(
            w.target_get(&cm_res(), &format!("from-{name}"))
                .await
                .is_none(),
            "{name} applied nothing"
        );
    }
    assert!(w.target_cm("other", "from-dest").await.is_none());

    // When team-b allows this repository, then its application is delivered and the
    // condition is gone.
    project(
        &w,
        "team-b",
        json!({"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}),
    )
    .await;
    let s = w
        .expect_app("repo", 60, "Synced and Healthy", synced_healthy)
        .await;
    assert!(invalid_spec(&s).is_empty(), "{s:#}");
    w.expect_target(&cm_res(), "from-repo", 20, "applied", |v| v.is_some())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kind_the_project_refuses_fails_the_sync_before_anything_is_applied() {
    // Given a project that refuses Deployments, and an application of a ConfigMap and a
    // Deployment in it.
    let w = World::new(&[
        ("kinds/cm.yaml", cm("kinds-cm", "1")),
        ("kinds/web.yaml", deployment("kinds-web", "nginx:1")),
    ])
    .await;
    let mut spec = open_spec(&w);
    spec["namespaceResourceBlacklist"] = json!([{"group": "apps", "kind": "Deployment"}]);
    project(&w, "team-k", spec).await;

    // When it syncs automatically, then the whole sync fails naming the kind, the project
    // and the rule, the comparison shows it, and not even the ConfigMap is applied.
    w.create_app(
        "kinds",
        json!({"project": "team-k", "source": {"path": "kinds"},
            "syncPolicy": {"automated": {"prune": true}, "syncOptions": ["CreateNamespace=true"]}}),
    )
    .await;
    let s = w
        .expect_app("kinds", 60, "a failed sync", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    let refusal = "resource apps:Deployment is not permitted in project team-k: it is in namespaceResourceBlacklist";
    let msg = op_state(&s)["message"].as_str().unwrap_or_default();
    assert!(
        msg.starts_with("one or more synchronization tasks are not valid") && msg.contains(refusal),
        "{msg}"
    );
    assert!(
        condition(&s, "ComparisonError").is_some_and(|c| c.contains(refusal)),
        "{s:#}"
    );
    assert!(w.target_get(&cm_res(), "kinds-cm").await.is_none());
    assert!(w.target_get(&deploy_res(), "kinds-web").await.is_none());

    // When the project allows Deployments again, then a sync delivers both.
    project(&w, "team-k", open_spec(&w)).await;
    w.expect_app("kinds", 30, "no refusal shown", |s| {
        condition(s, "ComparisonError").is_none()
    })
    .await;
    let (ok, out) = w.ferry(&["sync", "kinds", "--timeout", "60"]).await;
    assert!(ok, "{out}");
    w.expect_target(&deploy_res(), "kinds-web", 30, "applied", |v| v.is_some())
        .await;
    w.expect_target(&cm_res(), "kinds-cm", 30, "applied", |v| v.is_some())
        .await;

    // When the project refuses Deployments again and the Deployment leaves Git, then the
    // new revision is compared and synced, but the Deployment the project no longer
    // permits is not pruned: a project change never deletes anything.
    let before = w.status("kinds").await["sync"]["revision"].clone();
    let mut spec = open_spec(&w);
    spec["namespaceResourceBlacklist"] = json!([{"group": "apps", "kind": "Deployment"}]);
    project(&w, "team-k", spec).await;
    w.commit(&[("kinds/web.yaml", None)], "the Deployment leaves Git");
    let s = w
        .expect_app("kinds", 60, "the new revision Synced", |s| {
            s["sync"]["revision"] != before && s["sync"]["status"] == "Synced"
        })
        .await;
    assert!(
        !s["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| r["kind"] == "Deployment"),
        "not listed as needing a prune: {s:#}"
    );
    let pruned: Vec<&Value> = op_state(&s)["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["status"] == "Pruned")
        .collect();
    assert!(pruned.is_empty(), "nothing pruned: {pruned:?}");
    let live = w.target_get(&deploy_res(), "kinds-web").await;
    assert!(
        live.as_ref()
            .is_some_and(|v| v.pointer("/metadata/deletionTimestamp").is_none()),
        "the Deployment stays: {live:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_window_holds_automated_syncs_until_it_lifts_and_manual_sync_passes_it() {
    // Given a project with a deny window open all the time (every minute, for an hour).
    let w = World::new(&[("win/cm.yaml", cm("win", "1"))]).await;
    let deny = |manual: bool| {
        json!([{"kind": "deny", "schedule": "* * * * *", "duration": "1h",
            "applications": ["*"], "manualSync": manual}])
    };
    let mut spec = open_spec(&w);
    spec["syncWindows"] = deny(false);
    project(&w, "team-w", spec.clone()).await;

    // When an automated application of it is created, then it does not sync, and says
    // which window holds it.
    w.create_app(
        "win",
        json!({"project": "team-w", "source": {"path": "win"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                "syncOptions": ["CreateNamespace=true"]}}),
    )
    .await;
    let s = w
        .expect_app("win", 60, "held by the window", |s| {
            condition(s, "SyncWindowBlocked").is_some()
        })
        .await;
    assert_eq!(
        condition(&s, "SyncWindowBlocked"),
        Some("automated sync blocked by sync window deny '* * * * *' for 1h"),
        "{s:#}"
    );
    assert_eq!(s["sync"]["status"], "OutOfSync", "{s:#}");
    assert!(s["operationState"].is_null(), "{s:#}");
    assert!(w.target_get(&cm_res(), "win").await.is_none());

    // When someone syncs it by hand, then the window refuses that too.
    let (ok, out) = w.ferry(&["sync", "win", "--timeout", "30"]).await;
    assert!(!ok, "refused: {out}");
    let s = w
        .expect_app("win", 30, "a refused sync", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    assert_eq!(
        op_state(&s)["message"],
        "cannot sync: blocked by sync window deny '* * * * *' for 1h"
    );
    assert!(w.target_get(&cm_res(), "win").await.is_none());

    // When the window lets manual syncs through, then a manual sync delivers it.
    spec["syncWindows"] = deny(true);
    project(&w, "team-w", spec.clone()).await;
    let (ok, out) = w.ferry(&["sync", "win", "--timeout", "60"]).await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "win", 30, "applied", |v| v.is_some())
        .await;

    // When Git moves on, then the automated sync still waits for the window.
    w.commit(&[("win/cm.yaml", Some(cm("win", "2")))], "a change");
    w.expect_app("win", 30, "OutOfSync and held", |s| {
        s["sync"]["status"] == "OutOfSync" && condition(s, "SyncWindowBlocked").is_some()
    })
    .await;
    let live = w.target_get(&cm_res(), "win").await;
    assert_eq!(live.map(|v| v["data"]["value"].clone()), Some(json!("1")));

    // When the window is removed, then the automated sync runs and the condition goes.
    spec["syncWindows"] = json!([]);
    project(&w, "team-w", spec).await;
    w.expect_target(&cm_res(), "win", 30, "the new value", |v| {
        v.is_some_and(|v| v["data"]["value"] == "2")
    })
    .await;
    let s = w
        .expect_app("win", 30, "Synced, not held", |s| {
            synced_healthy(s) && condition(s, "SyncWindowBlocked").is_none()
        })
        .await;
    assert_eq!(op_state(&s)["phase"], "Succeeded", "{s:#}");
}
