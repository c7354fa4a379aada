//! Safety defects found by trying to break Ferry, each pinned by the scenario named after it:
//! two applications claiming one object, a cluster Secret whose error would echo a
//! credential, cluster errors that hid their cause, and a deletion held by an unreachable
//! cluster that nobody could see.

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;

use crate::world::*;

fn apps_res() -> kube::discovery::ApiResource {
    ar("ferry.dev", "v1alpha1", "Application", "applications")
}

fn tracking_of(v: Option<&Value>) -> &str {
    v.and_then(|v| v.pointer("/metadata/annotations/ferry.dev~1tracking-id"))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_applications_never_fight_over_one_object() {
    // Given an application that delivers the ConfigMap `shared`.
    let w = World::new(&[
        ("owner/config.yaml", cm("shared", "mine")),
        ("claimer/config.yaml", cm("shared", "theirs")),
        ("claimer/other.yaml", cm("claimer-own", "1")),
    ])
    .await;
    w.app("owner", "owner", true, false).await;
    w.expect_app("owner", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When a second application declares the same object, then it does not write it: it
    // says which application tracks it, and the owner sees no change.
    w.app("claimer", "claimer", true, false).await;
    let s = w
        .expect_app("claimer", 30, "a SharedResourceWarning", |s| {
            condition(s, "SharedResourceWarning").is_some()
        })
        .await;
    let warning = condition(&s, "SharedResourceWarning").unwrap_or_default();
    assert!(
        warning.contains("ConfigMap demo/shared")
            && warning.contains("Application owner")
            && warning.contains("ferry.dev/take-over-from"),
        "{warning}"
    );
    // Its own objects are delivered all the same.
    w.expect_target(&cm_res(), "claimer-own", 20, "applied", |v| v.is_some())
        .await;
    // Several polls later (2 s each) nothing has flipped back and forth.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let live = w.target_get(&cm_res(), "shared").await;
    assert_eq!(
        live.as_ref().map(|v| &v["data"]["value"]),
        Some(&json!("mine"))
    );
    assert!(tracking_of(live.as_ref()).starts_with("owner:"), "{live:?}");
    let owner = w.status("owner").await;
    assert!(synced_healthy(&owner), "{owner:#}");
    assert!(
        condition(&owner, "SharedResourceWarning").is_none(),
        "{owner:#}"
    );
    let claimer = w.status("claimer").await;
    assert_eq!(claimer["sync"]["status"], "OutOfSync", "{claimer:#}");

    // `ferry app diff` says the same.
    let (_, out) = w.ferry(&["diff", "claimer"]).await;
    assert!(
        out.contains("ConfigMap demo/shared (shared") && out.contains("Application owner"),
        "{out}"
    );

    // With FailOnSharedResource=true, a sync fails naming the object and its owner.
    let api: Api<DynamicObject> = Api::namespaced_with(w.mgmt.clone(), "ferry", &apps_res());
    api.patch(
        "claimer",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"syncPolicy": {"syncOptions": ["CreateNamespace=true", "FailOnSharedResource=true"]}}})),
    )
    .await
    .expect("patch");
    let (ok, out) = w.ferry(&["sync", "claimer", "--timeout", "30"]).await;
    assert!(!ok, "the sync fails: {out}");
    let s = w
        .expect_app("claimer", 20, "a failed sync", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    let msg = op_state(&s)["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("Shared resource found") && msg.contains("owner"),
        "{msg}"
    );
    let live = w.target_get(&cm_res(), "shared").await;
    assert_eq!(
        live.as_ref().map(|v| &v["data"]["value"]),
        Some(&json!("mine"))
    );

    // When the claimer's manifest says it takes the object over from the owner, then it
    // does, and the former owner leaves it alone (it reports the new owner instead).
    w.commit(
        &[(
            "claimer/config.yaml",
            Some(cm_annotated(
                "shared",
                "theirs",
                "ferry.dev/take-over-from",
                "owner",
            )),
        )],
        "hand the ConfigMap over",
    );
    w.expect_target(&cm_res(), "shared", 30, "taken over", |v| {
        v.is_some_and(|v| v["data"]["value"] == "theirs") && tracking_of(v).starts_with("claimer:")
    })
    .await;
    w.expect_app("claimer", 30, "Synced without a warning", |s| {
        synced_healthy(s) && condition(s, "SharedResourceWarning").is_none()
    })
    .await;
    let s = w
        .expect_app("owner", 30, "a warning naming the new owner", |s| {
            condition(s, "SharedResourceWarning").is_some_and(|m| m.contains("Application claimer"))
        })
        .await;
    assert!(
        s["resources"]
            .as_array()
            .is_some_and(|r| r.iter().all(|r| r["requiresPruning"] != true))
    );
    tokio::time::sleep(Duration::from_secs(5)).await;
    let live = w.target_get(&cm_res(), "shared").await;
    assert_eq!(
        live.as_ref().map(|v| &v["data"]["value"]),
        Some(&json!("theirs"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_secret_with_a_wrong_field_type_is_shown_without_its_value() {
    // Given an application delivered to a cluster, and a controller whose log is kept.
    let mut w = World::new_stopped(&[("app/config.yaml", cm("kept", "1"))]).await;
    w.capture_log = true;
    w.start_controller();
    w.app("kept", "app", true, false).await;
    w.expect_app("kept", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When its cluster Secret gets a config with a credential in a field of the wrong type,
    let secrets = ar("", "v1", "Secret", "secrets");
    let secret = w
        .mgmt_get(&secrets, "cluster-target")
        .await
        .expect("cluster Secret");
    let config: Value = secret["data"]["config"]
        .as_str()
        .map(|c| {
            use base64::Engine as _;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(c)
                .expect("base64");
            serde_json::from_slice(&raw).expect("config")
        })
        .expect("config key");
    let leaked = "the-token-that-must-not-print";
    let mut broken = config.clone();
    broken["tlsClientConfig"]["insecure"] = json!(leaked);
    let api: Api<DynamicObject> = Api::namespaced_with(w.mgmt.clone(), "ferry", &secrets);
    api.patch(
        "cluster-target",
        &PatchParams::default(),
        &Patch::Merge(json!({"stringData": {"config": broken.to_string()}})),
    )
    .await
    .expect("patch the Secret");

    // then the application says so, naming the field and that the last good config is in
    // use, and it keeps being delivered; the value is nowhere.
    let s = w
        .expect_app("kept", 30, "a ClusterSecretWarning", |s| {
            condition(s, "ClusterSecretWarning").is_some()
        })
        .await;
    let warning = condition(&s, "ClusterSecretWarning").unwrap_or_default();
    assert!(
        warning.contains("ferry/cluster-target")
            && warning.contains("config.tlsClientConfig.insecure")
            && warning.contains("last good config of cluster target is still in use"),
        "{warning}"
    );
    let (ok, out) = w.ferry(&["get", "kept"]).await;
    assert!(ok && out.contains("ClusterSecretWarning"), "{out}");
    assert!(!out.contains(leaked), "{out}");
    assert!(!s.to_string().contains(leaked), "{s:#}");
    w.commit(&[("app/config.yaml", Some(cm("kept", "2")))], "change");
    w.expect_target(&cm_res(), "kept", 30, "still delivered", |v| {
        v.is_some_and(|v| v["data"]["value"] == "2")
    })
    .await;
    let log = w.controller_log();
    assert!(log.contains("cluster Secret not usable"), "{log}");
    assert!(!log.contains(leaked), "the value reached the log:\n{log}");

    // When the Secret is fixed, the warning goes.
    api.patch(
        "cluster-target",
        &PatchParams::default(),
        &Patch::Merge(json!({"stringData": {"config": config.to_string()}})),
    )
    .await
    .expect("fix the Secret");
    w.expect_app("kept", 30, "no ClusterSecretWarning", |s| {
        condition(s, "ClusterSecretWarning").is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_errors_name_the_cluster_its_url_and_the_cause() {
    let w = World::new(&[("app/config.yaml", cm("c", "1"))]).await;
    // Given a cluster at an address where nothing listens,
    let port = free_port();
    let server = format!("https://127.0.0.1:{port}");
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "cluster-nowhere", "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
        "stringData": {"name": "nowhere", "server": server,
            "config": json!({"bearerToken": "t", "tlsClientConfig": {"insecure": true}}).to_string()}});
    w.apply_mgmt(&ar("", "v1", "Secret", "secrets"), Some("ferry"), secret)
        .await;
    // and one that does not accept Ferry's token,
    w.register_cluster("stale", "no-such-token").await;

    // when applications are delivered to them, then their conditions say which cluster, at
    // which URL, what went wrong in words, and what to check.
    w.create_app(
        "to-nowhere",
        json!({"source": {"path": "app"}, "destination": {"name": "nowhere"}}),
    )
    .await;
    w.create_app(
        "to-stale",
        json!({"source": {"path": "app"}, "destination": {"name": "stale"}}),
    )
    .await;
    let s = w
        .expect_app("to-nowhere", 60, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let msg = condition(&s, "ComparisonError").unwrap_or_default();
    assert!(
        msg.contains("cluster nowhere")
            && msg.contains(&server)
            && msg.contains("connection refused")
            && msg.contains("host and port"),
        "{msg}"
    );
    let s = w
        .expect_app("to-stale", 60, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let msg = condition(&s, "ComparisonError").unwrap_or_default();
    assert!(
        msg.contains("cluster stale")
            && msg.contains("https://127.0.0.1:")
            && msg.contains("HTTP 401")
            && msg.contains("bearerToken"),
        "{msg}"
    );
    assert!(
        !msg.contains("Status {") && !msg.contains("ListMeta"),
        "{msg}"
    );

    // `ferry app diff` says it once, in the same words.
    let (ok, out) = w.ferry(&["diff", "to-stale"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("HTTP 401") && out.matches("HTTP 401").count() == 1,
        "{out}"
    );
    assert!(!out.contains("Status {"), "{out}");

    // `ferry cluster list|get` show what the controller found of each cluster.
    let mut listed = String::new();
    for _ in 0..150 {
        let (ok, out) = w.ferry_cmd("cluster", &["list"]).await;
        assert!(ok, "{out}");
        listed = out;
        if listed.contains("connection refused") && listed.contains("HTTP 401") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let row = |name: &str| {
        listed
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        row("target").contains("v1.29.4") && row("target").contains("true"),
        "{listed}"
    );
    assert!(
        row("nowhere").contains("false") && row("nowhere").contains("connection refused"),
        "{listed}"
    );
    assert!(row("stale").contains("HTTP 401"), "{listed}");
    let (ok, out) = w.ferry_cmd("cluster", &["get", "nowhere"]).await;
    assert!(
        ok && out.contains(&server)
            && out
                .lines()
                .any(|l| l.starts_with("Applications:") && l.ends_with(" 1")),
        "{out}"
    );
    let (ok, out) = w.ferry_cmd("cluster", &["get", "elsewhere"]).await;
    assert!(
        !ok && out.contains("no cluster elsewhere is registered"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_held_by_an_unreachable_cluster_is_shown_and_finishes_when_it_is_back() {
    // Given an application with the resources finalizer, delivered.
    let w = World::new(&[("app/config.yaml", cm("doomed", "1"))]).await;
    w.app("doomed", "app", true, true).await;
    w.expect_app("doomed", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When its cluster goes down and the application is deleted, then a DeletionError says
    // why the deletion waits, naming the cluster and its URL, and when it is tried again.
    w.fault(&["--unreachable", "true"]).await;
    w.delete_mgmt(&apps_res(), true, "doomed").await;
    let s = w
        .expect_app("doomed", 30, "a DeletionError", |s| {
            condition(s, "DeletionError").is_some()
        })
        .await;
    let msg = condition(&s, "DeletionError").unwrap_or_default();
    assert!(
        msg.contains("cluster target (https://127.0.0.1:") && msg.contains("next attempt at"),
        "{msg}"
    );
    assert_eq!(s["health"]["status"], "Unknown", "{s:#}");
    assert!(w.mgmt_get(&apps_res(), "doomed").await.is_some());

    // When the cluster is back, then the deletion finishes soon (the cluster's watch wakes
    // it), not after a long backoff.
    w.fault(&["--unreachable", "false"]).await;
    w.expect_mgmt(&apps_res(), "doomed", 20, "deleted", |v| v.is_none())
        .await;
    w.expect_target(&cm_res(), "doomed", 5, "deleted with it", |v| v.is_none())
        .await;
}
