//! Delivering Git to a cluster: changes, drift, prune, errors that change nothing,
//! unreachable and refusing clusters, ignored differences.

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn git_changes_reach_the_cluster_drift_heals_and_removed_files_are_pruned() {
    // Given a repository with a ConfigMap and a Deployment, and an automated application
    // carrying Argo CD's resources finalizer (as a converted Argo CD manifest does).
    let w = World::new(&[
        ("web/config.yaml", cm("settings", "v1")),
        ("web/deploy.yaml", deployment("web", "nginx:1.25")),
    ])
    .await;
    w.create_app_with(
        "web",
        json!({"finalizers": ["resources-finalizer.argocd.argoproj.io"]}),
        json!({"source": {"path": "web"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}),
    )
    .await;
    let s = w
        .expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;
    assert_eq!(s["resources"].as_array().map(Vec::len), Some(2), "{s:#}");
    w.expect_target(&cm_res(), "settings", 5, "the ConfigMap", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v1")
    })
    .await;

    // When a change is pushed, then it is applied on the next poll.
    w.commit(&[("web/config.yaml", Some(cm("settings", "v2")))], "change");
    w.expect_target(&cm_res(), "settings", 20, "the new value", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v2")
    })
    .await;
    w.expect_app("web", 20, "Synced again", synced_healthy)
        .await;

    // When a live object is edited, then it is self-healed.
    w.edit_settings_and_expect_healed("v2").await;

    // When a file is deleted from Git, then its object is pruned.
    w.commit(&[("web/config.yaml", None)], "remove the ConfigMap");
    w.expect_target(&cm_res(), "settings", 20, "pruned", |v| v.is_none())
        .await;
    w.expect_target(&deploy_res(), "web", 1, "still there", |v| v.is_some())
        .await;
    let s = w
        .expect_app("web", 20, "Synced with one resource", |s| {
            synced_healthy(s) && s["resources"].as_array().map(Vec::len) == Some(1)
        })
        .await;
    assert!(
        s["history"].as_array().is_some_and(|h| h.len() >= 3),
        "history records the syncs: {s:#}"
    );

    // When the YAML breaks, then a condition names the file and nothing is removed.
    w.commit(
        &[(
            "web/deploy.yaml",
            Some("apiVersion: apps/v1\nkind: Deployment\nmetadata: [oops\n".into()),
        )],
        "break",
    );
    let s = w
        .expect_app("web", 20, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let msg = condition(&s, "ComparisonError")
        .unwrap_or_default()
        .to_owned();
    assert!(
        msg.contains("deploy.yaml"),
        "the condition names the file: {msg}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.expect_target(&deploy_res(), "web", 1, "untouched", |v| {
        v.is_some_and(|v| v["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25")
    })
    .await;

    // When Git is fixed again, the condition goes.
    w.commit(
        &[("web/deploy.yaml", Some(deployment("web", "nginx:1.26")))],
        "fix",
    );
    w.expect_app("web", 20, "the condition cleared", |s| {
        condition(s, "ComparisonError").is_none() && synced_healthy(s)
    })
    .await;
    w.expect_target(&deploy_res(), "web", 5, "the new image", |v| {
        v.is_some_and(|v| v["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26")
    })
    .await;

    // When the application is deleted (with Argo CD's finalizer), then its resources go.
    // (Deleted through the API, as `kubectl delete` would: the finalizer alone decides.)
    w.delete_mgmt(
        &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        true,
        "web",
    )
    .await;
    w.expect_target(
        &deploy_res(),
        "web",
        20,
        "deleted with the application",
        |v| v.is_none(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_cluster_is_unknown_and_nothing_is_deleted_meanwhile() {
    let w = World::new(&[("app/config.yaml", cm("keep", "1"))]).await;
    w.app("keeper", "app", true, false).await;
    w.expect_app("keeper", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When the cluster goes down, then the application is Unknown with a condition.
    w.fault(&["--unreachable", "true"]).await;
    let s = w
        .expect_app("keeper", 30, "Unknown", |s| {
            s["sync"]["status"] == "Unknown"
        })
        .await;
    assert!(
        condition(&s, "ComparisonError").is_some_and(|m| m.contains("target")),
        "{s:#}"
    );

    // When it comes back, then it is Synced again, and nothing was deleted in between.
    w.fault(&["--unreachable", "false"]).await;
    w.expect_app("keeper", 30, "Synced again", synced_healthy)
        .await;
    w.expect_target(&cm_res(), "keep", 1, "never deleted", |v| v.is_some())
        .await;

    // An emptied source never prunes everything without allowEmpty.
    w.commit(
        &[
            ("app/config.yaml", None),
            ("app/README.md", Some("nothing here".into())),
        ],
        "empty",
    );
    let s = w
        .expect_app("keeper", 20, "a SyncError about allowEmpty", |s| {
            condition(s, "SyncError").is_some()
        })
        .await;
    assert!(
        condition(&s, "SyncError").is_some_and(|m| m.contains("allowEmpty")),
        "{s:#}"
    );
    w.expect_target(&cm_res(), "keep", 1, "not pruned", |v| v.is_some())
        .await;

    // Deleting the application without the finalizer leaves its resources.
    let (ok, out) = w.ferry(&["delete", "keeper", "--cascade", "false"]).await;
    assert!(ok, "{out}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.expect_target(&cm_res(), "keep", 1, "left in place", |v| v.is_some())
        .await;
    drop(w.dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_sync_from_the_cli_and_bad_sources_get_conditions() {
    let mut w = World::new(&[("manual/config.yaml", cm("by-hand", "1"))]).await;
    w.app("manual", "manual", false, true).await;
    let s = w
        .expect_app("manual", 60, "OutOfSync and Missing", |s| {
            s["sync"]["status"] == "OutOfSync"
        })
        .await;
    assert_eq!(s["health"]["status"], "Missing", "{s:#}");
    assert!(
        w.target_get(&cm_res(), "by-hand").await.is_none(),
        "nothing is applied without a sync"
    );

    let (ok, out) = w.ferry(&["diff", "manual"]).await;
    assert!(
        !ok && out.contains("by-hand"),
        "diff shows the missing ConfigMap and exits 1:\n{out}"
    );
    let (ok, out) = w.ferry(&["sync", "manual", "--timeout", "30"]).await;
    if !ok {
        let (_, app) = w.ferry(&["get", "manual", "-o", "json"]).await;
        panic!("{out}\n{app}");
    }
    assert!(
        out.contains("Succeeded") && out.contains("by-hand"),
        "{out}"
    );
    w.expect_app("manual", 20, "Synced", synced_healthy).await;
    let (ok, out) = w.ferry(&["list"]).await;
    assert!(
        ok && out.contains("manual") && out.contains("Synced"),
        "{out}"
    );
    let (ok, out) = w.ferry(&["history", "manual"]).await;
    assert!(ok && out.lines().count() >= 2, "{out}");
    let (ok, out) = w.ferry(&["get", "manual", "-o", "json"]).await;
    assert!(ok && out.contains("\"repoURL\""), "{out}");

    // A revision that does not exist, and a path that escapes the repository.
    let apps = ar("ferry.dev", "v1alpha1", "Application", "applications");
    let api: Api<DynamicObject> = Api::namespaced_with(w.mgmt.clone(), "ferry", &apps);
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"source": {"targetRevision": "no-such-branch"}}})),
    )
    .await
    .expect("patch");
    let s = w
        .expect_app("manual", 20, "a condition about the revision", |s| {
            condition(s, "ComparisonError").is_some_and(|m| m.contains("no-such-branch"))
        })
        .await;
    assert_eq!(s["sync"]["status"], "Unknown");
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(
            json!({"spec": {"source": {"targetRevision": "main", "path": "../outside"}}}),
        ),
    )
    .await
    .expect("patch");
    w.expect_app("manual", 20, "a condition about the path", |s| {
        condition(s, "ComparisonError").is_some_and(|m| m.contains("outside"))
    })
    .await;
    w.expect_target(&cm_res(), "by-hand", 1, "untouched", |v| v.is_some())
        .await;

    // A kind the cluster does not serve names the kind and the file, and changes nothing.
    w.commit(
        &[(
            "manual/gizmo.yaml",
            Some("apiVersion: example.com/v1\nkind: Gizmo\nmetadata:\n  name: g\n".into()),
        )],
        "unknown kind",
    );
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"source": {"path": "manual"}}, "metadata": {"annotations": {"ferry.dev/refresh": "hard"}}})),
    )
    .await
    .expect("patch");
    w.expect_app("manual", 20, "a condition naming the kind", |s| {
        condition(s, "ComparisonError")
            .is_some_and(|m| m.contains("Gizmo") && m.contains("gizmo.yaml"))
    })
    .await;

    // The Git server going down is a condition too, and what is deployed stays.
    w.stop_git();
    w.commit(&[("manual/gizmo.yaml", None)], "fix");
    api.patch(
        "manual",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"annotations": {"ferry.dev/refresh": "hard"}}})),
    )
    .await
    .expect("patch");
    w.expect_app("manual", 30, "a condition about the repository", |s| {
        condition(s, "ComparisonError").is_some_and(|m| m.contains("127.0.0.1"))
    })
    .await;
    w.expect_target(&cm_res(), "by-hand", 1, "untouched", |v| v.is_some())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_refuses_ferry_is_a_condition_and_nothing_is_written() {
    // Given the target registered a second time with a user that RBAC gives nothing.
    let w = World::new(&[("denied/config.yaml", cm("denied", "1"))]).await;
    w.register_cluster("limited", "reader-token").await;

    // When an automated application is delivered through it, then a condition says why.
    w.create_app(
        "denied",
        json!({"source": {"path": "denied"}, "destination": {"name": "limited"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}),
    )
    .await;
    let s = w
        .expect_app("denied", 30, "a condition naming the refusal", |s| {
            condition(s, "ComparisonError")
                .is_some_and(|m| m.contains("limited") && m.contains("forbidden"))
        })
        .await;
    assert_eq!(s["sync"]["status"], "Unknown", "{s:#}");
    w.expect_target(&cm_res(), "denied", 1, "not created", |v| v.is_none())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_differences_are_not_drift_and_everything_else_still_heals() {
    // Given an automated application that ignores the Deployment's replicas (a JSON pointer),
    // and a controller default that ignores one ConfigMap key (a jq path expression).
    let w = World::new(&[
        ("web/deploy.yaml", deployment("web", "nginx:1.25")),
        (
            "web/config.yaml",
            format!("{}  tuned: \"no\"\n", cm("settings", "v1")),
        ),
        (
            "web/keep.yaml",
            cm_annotated(
                "keep",
                "v1",
                "argocd.argoproj.io/sync-options",
                "Prune=false",
            ),
        ),
    ])
    .await;
    let defaults = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "ferry-cm"},
        "data": {"resource.customizations.ignoreDifferences.ConfigMap":
            "jqPathExpressions:\n- .data.tuned\n"}});
    w.apply_mgmt(
        &ar("", "v1", "ConfigMap", "configmaps"),
        Some("ferry"),
        defaults,
    )
    .await;
    w.create_app(
        "web",
        json!({"source": {"path": "web"},
            "ignoreDifferences": [{"group": "apps", "kind": "Deployment", "jsonPointers": ["/spec/replicas"]}],
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}),
    )
    .await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When someone scales the Deployment and tunes the ConfigMap, then the application stays
    // Synced and nothing is reverted.
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(w.target.clone(), "demo", &deploy_res());
    deployments
        .patch(
            "web",
            &PatchParams::apply("hpa").force(),
            &Patch::Apply(json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web"}, "spec": {"replicas": 5}})),
        )
        .await
        .expect("scale");
    let cms: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &cm_res());
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"tuned": "yes"}})),
    )
    .await
    .expect("tune");
    tokio::time::sleep(Duration::from_secs(4)).await;
    let s = w.status("web").await;
    assert_eq!(s["sync"]["status"], "Synced", "{s:#}");
    let (ok, out) = w.ferry(&["diff", "web"]).await;
    assert!(
        ok && out.contains("no differences"),
        "the CLI ignores the same: {out}"
    );
    w.expect_target(&deploy_res(), "web", 1, "still scaled", |v| {
        v.is_some_and(|v| v["spec"]["replicas"] == 5)
    })
    .await;
    w.expect_target(&cm_res(), "settings", 1, "still tuned", |v| {
        v.is_some_and(|v| v["data"]["tuned"] == "yes")
    })
    .await;

    // When a field that is not ignored drifts, then it is healed as before.
    w.edit_settings_and_expect_healed("v1").await;

    // When a Prune=false object leaves Git, then it stays, the application says it needs
    // pruning, and the automated policy does not sync again and again because of it.
    w.commit(&[("web/keep.yaml", None)], "drop keep");
    let s = w
        .expect_app("web", 20, "keep requiring pruning", |s| {
            s["resources"].as_array().is_some_and(|rs| {
                rs.iter()
                    .any(|r| r["name"] == "keep" && r["requiresPruning"] == true)
            })
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = w.status("web").await["operationState"]["startedAt"].clone();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = w.status("web").await;
    assert_eq!(
        later["operationState"]["startedAt"], started,
        "no sync loop over an unprunable object: {later:#}"
    );
    assert_eq!(later["sync"]["status"], "OutOfSync", "{s:#}");
    w.expect_target(&cm_res(), "keep", 1, "kept", |v| v.is_some())
        .await;
}
