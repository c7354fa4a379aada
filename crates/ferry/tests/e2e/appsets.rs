//! ApplicationSets: a registered cluster gets its generated applications, a failing generator
//! changes nothing, policies limit what the set may do, and deleting a set keeps what was
//! deployed.

use ferry_cluster::api_resource as ar;
use kube::discovery::ApiResource;
use serde_json::{Value, json};
use std::time::Duration;

use crate::world::*;

fn appset_res() -> ApiResource {
    ar("ferry.dev", "v1alpha1", "ApplicationSet", "applicationsets")
}

fn app_res() -> ApiResource {
    ar("ferry.dev", "v1alpha1", "Application", "applications")
}

/// A set with a cluster generator selecting `env: prod`, one application per cluster:
/// `<cluster>-web` delivering `web/` into namespace `<cluster>-web`.
fn web_set(w: &World, extra_generators: Value, sync_policy: Value) -> Value {
    let mut generators = vec![json!({"clusters": {"selector": {"matchLabels": {"env": "prod"}}}})];
    if let Value::Array(more) = extra_generators {
        generators.extend(more);
    }
    json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "web"},
        "spec": {
            "generators": generators,
            "syncPolicy": sync_policy,
            "template": {
                "metadata": {"name": "{{name}}-web", "labels": {"team": "web"}},
                "spec": {"project": "default",
                    "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": "web"},
                    "destination": {"name": "{{name}}", "namespace": "{{name}}-web"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                        "syncOptions": ["CreateNamespace=true"]}}}}})
}

fn set_condition<'a>(set: Option<&'a Value>, kind: &str) -> Option<(&'a str, &'a str)> {
    let c = set?["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)?;
    Some((
        c["status"].as_str()?,
        c["message"].as_str().unwrap_or_default(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_cluster_gets_its_applications_and_a_failing_generator_changes_nothing() {
    // Given a repository with one ConfigMap, and a set generating an application for every
    // cluster labelled env=prod (there is none yet).
    let mut w = World::new(&[("web/settings.yaml", cm("settings", "v1"))]).await;
    w.apply_mgmt(
        &appset_res(),
        Some("ferry"),
        web_set(&w, json!([]), json!({})),
    )
    .await;
    w.expect_mgmt(
        &appset_res(),
        "web",
        30,
        "parameters generated, no application",
        |s| {
            set_condition(s, "ParametersGenerated").is_some_and(|(t, _)| t == "True")
                && s.is_some_and(|s| {
                    s["status"]["resources"]
                        .as_array()
                        .is_none_or(Vec::is_empty)
                })
        },
    )
    .await;

    // When a cluster labelled env=prod is registered, then its application is generated,
    // owned by the set, and delivered.
    w.register_cluster_labelled("blue", TOKEN, json!({"env": "prod"}))
        .await;
    let app = w
        .expect_mgmt(&app_res(), "blue-web", 20, "generated", |a| a.is_some())
        .await
        .unwrap_or_default();
    assert_eq!(
        app["metadata"]["ownerReferences"][0]["kind"],
        "ApplicationSet"
    );
    assert_eq!(app["metadata"]["ownerReferences"][0]["controller"], true);
    assert_eq!(app["metadata"]["labels"]["team"], "web");
    assert!(
        app["metadata"]["finalizers"].is_null(),
        "resources are preserved by default, so no resources finalizer: {app:#}"
    );
    w.expect_app("blue-web", 60, "Synced and Healthy", synced_healthy)
        .await;
    assert!(w.target_cm("blue-web", "settings").await.is_some());

    // When a second prod cluster registers, then it gets its own; the set lists both.
    w.register_cluster_labelled("green", TOKEN, json!({"env": "prod"}))
        .await;
    w.expect_app("green-web", 60, "Synced and Healthy", synced_healthy)
        .await;
    w.expect_mgmt(
        &appset_res(),
        "web",
        20,
        "both applications listed, synced",
        |s| {
            s.and_then(|s| s["status"]["resources"].as_array())
                .is_some_and(|r| {
                    r.len() == 2
                        && r.iter()
                            .all(|r| r["status"] == "Synced" && r["health"]["status"] == "Healthy")
                })
        },
    )
    .await;

    // When the controller restarts (it lists the sets, cluster Secrets and Applications
    // anew), then nothing is lost or duplicated, and it goes on: a generated application
    // edited by hand is put back.
    w.kill_controller();
    w.start_controller();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let apps =
        kube::Api::<kube::api::DynamicObject>::namespaced_with(w.mgmt.clone(), "ferry", &app_res());
    apps.patch(
        "green-web",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"source": {"path": "elsewhere"}}})),
    )
    .await
    .expect("hand edit");
    w.expect_mgmt(
        &app_res(),
        "green-web",
        20,
        "the template's path again",
        |a| a.is_some_and(|a| a["spec"]["source"]["path"] == "web"),
    )
    .await;

    // When the generator of both applications starts failing (it becomes a matrix with an
    // unreachable repository: read as "nothing generated", it would delete both), then the
    // set says which generator and why, and nothing it generated is touched.
    let mut broken = web_set(&w, json!([]), json!({}));
    broken["spec"]["generators"] = json!([{"matrix": {"generators": [
        {"clusters": {"selector": {"matchLabels": {"env": "prod"}}}},
        {"git": {"repoURL": "git://127.0.0.1:1/nothing", "revision": "main",
            "directories": [{"path": "*"}]}}]}}]);
    broken["spec"]["syncPolicy"] = json!({"preserveResourcesOnDeletion": false});
    w.apply_mgmt(&appset_res(), Some("ferry"), broken).await;
    let s = w
        .expect_mgmt(&appset_res(), "web", 30, "ErrorOccurred", |s| {
            set_condition(s, "ErrorOccurred").is_some_and(|(t, _)| t == "True")
        })
        .await;
    let (_, message) = set_condition(s.as_ref(), "ErrorOccurred").unwrap_or_default();
    assert!(
        message.contains("generators[0] (matrix)") && message.contains("git://127.0.0.1:1/nothing"),
        "the condition names the generator and the repository: {message}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    for name in ["blue-web", "green-web"] {
        w.expect_mgmt(&app_res(), name, 1, "still there", |a| {
            a.is_some_and(|a| a["metadata"]["deletionTimestamp"].is_null())
        })
        .await;
    }

    // When it is fixed and a cluster no longer matches (relabelled, still registered), then
    // its application goes, and what was deployed on it stays (resources are preserved by
    // default: the application has no resources finalizer).
    w.apply_mgmt(
        &appset_res(),
        Some("ferry"),
        web_set(&w, json!([]), json!({})),
    )
    .await;
    w.expect_mgmt(&appset_res(), "web", 30, "no error", |s| {
        set_condition(s, "ErrorOccurred").is_some_and(|(t, _)| t == "False")
    })
    .await;
    w.register_cluster_labelled("green", TOKEN, json!({"env": "staging"}))
        .await;
    w.expect_mgmt(&app_res(), "green-web", 30, "deleted", |a| a.is_none())
        .await;
    assert!(
        w.target_cm("green-web", "settings").await.is_some(),
        "the resources of a deleted generated application stay"
    );

    // When the set itself is deleted, then its applications go, their resources stay.
    w.delete_mgmt(&appset_res(), true, "web").await;
    w.expect_mgmt(&app_res(), "blue-web", 30, "deleted with its set", |a| {
        a.is_none()
    })
    .await;
    w.expect_mgmt(&appset_res(), "web", 10, "gone", |s| s.is_none())
        .await;
    assert!(w.target_cm("blue-web", "settings").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_limit_what_a_set_may_change_and_nothing_is_adopted() {
    // Given an application `blue-web` created by hand, and a create-only set whose template
    // would generate the same name for cluster blue and another for cluster green.
    let w = World::new(&[("web/settings.yaml", cm("settings", "v1"))]).await;
    w.register_cluster_labelled("blue", TOKEN, json!({"env": "prod"}))
        .await;
    w.register_cluster_labelled("green", TOKEN, json!({"env": "prod"}))
        .await;
    w.create_app(
        "blue-web",
        json!({"source": {"path": "web"}, "destination": {"name": "blue", "namespace": "hand"}}),
    )
    .await;
    w.apply_mgmt(
        &appset_res(),
        Some("ferry"),
        web_set(
            &w,
            json!([]),
            json!({"applicationsSync": "create-only", "preserveResourcesOnDeletion": false}),
        ),
    )
    .await;

    // Then the hand-made application is not adopted: the set reports the conflict.
    let s = w
        .expect_mgmt(&appset_res(), "web", 30, "a conflict reported", |s| {
            set_condition(s, "ResourcesUpToDate")
                .is_some_and(|(t, m)| t == "False" && m.contains("blue-web"))
        })
        .await;
    let hand = w.mgmt_get(&app_res(), "blue-web").await.unwrap_or_default();
    assert!(
        hand["metadata"]["ownerReferences"].is_null(),
        "not adopted: {hand:#}"
    );
    assert_eq!(hand["spec"]["destination"]["namespace"], "hand");
    let green = w
        .expect_mgmt(&app_res(), "green-web", 20, "generated", |a| a.is_some())
        .await
        .unwrap_or_default();
    assert_eq!(
        green["metadata"]["finalizers"],
        json!(["ferry.dev/resources-finalizer"]),
        "preserveResourcesOnDeletion: false puts the resources finalizer on: {s:#?}"
    );
    w.expect_app("green-web", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When the template changes, then create-only leaves the existing application alone.
    let mut changed = web_set(
        &w,
        json!([]),
        json!({"applicationsSync": "create-only", "preserveResourcesOnDeletion": false}),
    );
    changed["spec"]["template"]["metadata"]["labels"]["team"] = json!("platform");
    w.apply_mgmt(&appset_res(), Some("ferry"), changed).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let green = w
        .mgmt_get(&app_res(), "green-web")
        .await
        .unwrap_or_default();
    assert_eq!(green["metadata"]["labels"]["team"], "web", "{green:#}");

    // When the set is deleted, then (create-only does not allow deletion) its application
    // is released and stays, with what it deployed.
    w.delete_mgmt(&appset_res(), true, "web").await;
    w.expect_mgmt(&appset_res(), "web", 20, "gone", |s| s.is_none())
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let green = w
        .expect_mgmt(&app_res(), "green-web", 5, "released and kept", |a| {
            a.is_some_and(|a| {
                a["metadata"]["ownerReferences"].is_null()
                    && a["metadata"]["deletionTimestamp"].is_null()
            })
        })
        .await;
    assert!(green.is_some());
    assert!(w.target_cm("green-web", "settings").await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_previews_what_a_set_would_do_and_shows_what_it_did() {
    // Given a prod cluster and a set written to a file, not applied yet.
    let w = World::new(&[("web/settings.yaml", cm("settings", "v1"))]).await;
    w.register_cluster_labelled("blue", TOKEN, json!({"env": "prod"}))
        .await;
    let file = w.dir.path().join("set.json");
    std::fs::write(&file, web_set(&w, json!([]), json!({})).to_string()).expect("write");
    let file = file.display().to_string();

    // When it is previewed, then it lists what it would create, and creates nothing.
    let (ok, out) = w.ferry_cmd("appset", &["preview", "-f", &file]).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("create  blue-web  -> blue / blue-web"),
        "{out}"
    );
    assert!(
        w.mgmt_get(&app_res(), "blue-web").await.is_none(),
        "a preview changes nothing"
    );

    // When it is applied, then `list` and `get` show it and what it generated.
    w.apply_mgmt(
        &appset_res(),
        Some("ferry"),
        web_set(&w, json!([]), json!({})),
    )
    .await;
    w.expect_app("blue-web", 60, "Synced and Healthy", synced_healthy)
        .await;
    w.expect_mgmt(
        &appset_res(),
        "web",
        20,
        "the application listed as synced",
        |s| {
            s.and_then(|s| s["status"]["resources"].as_array())
                .is_some_and(|r| r.len() == 1 && r[0]["status"] == "Synced")
        },
    )
    .await;
    let (ok, out) = w.ferry_cmd("appset", &["list"]).await;
    assert!(ok && out.contains("web") && out.contains("True"), "{out}");
    let (ok, out) = w.ferry_cmd("appset", &["get", "web"]).await;
    assert!(
        ok && out.contains("blue-web") && out.contains("Synced"),
        "{out}"
    );

    // When a changed template is previewed, then it names the update; a broken generator
    // fails the preview with its cause.
    let mut changed = web_set(&w, json!([]), json!({}));
    changed["spec"]["template"]["metadata"]["labels"]["team"] = json!("platform");
    std::fs::write(&file, changed.to_string()).expect("write");
    let (ok, out) = w.ferry_cmd("appset", &["preview", "-f", &file]).await;
    assert!(ok && out.contains("update  blue-web  (labels)"), "{out}");
    let broken = web_set(
        &w,
        json!([{"list": {"elements": [{"nested": {"not": "a string"}}]}}]),
        json!({}),
    );
    std::fs::write(&file, broken.to_string()).expect("write");
    let (ok, out) = w.ferry_cmd("appset", &["preview", "-f", &file]).await;
    assert!(!ok && out.contains("generators[1] (list)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pushed_directory_becomes_an_application_at_the_webhook() {
    // Given a controller that polls Git only every 10 minutes, with a GitHub webhook secret,
    // and a set generating an application per directory under apps/.
    let (w, port) =
        World::with_webhook(&[("apps/web/settings.yaml", cm("web-settings", "v1"))]).await;
    let set = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "dirs"},
        "spec": {
            "goTemplate": true,
            "goTemplateOptions": ["missingkey=error"],
            "generators": [{"git": {"repoURL": w.repo_url, "revision": "main",
                "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "dir-{{ .path.basename | normalize }}"},
                "spec": {"project": "default",
                    "source": {"repoURL": w.repo_url, "targetRevision": "main", "path": "{{ .path.path }}"},
                    "destination": {"name": "target", "namespace": "{{ .path.basename }}"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                        "syncOptions": ["CreateNamespace=true"]}}}}});
    w.apply_mgmt(&appset_res(), Some("ferry"), set).await;
    w.expect_app("dir-web", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When a new directory is pushed and announced, then its application is generated and
    // delivered within seconds (not at the next poll).
    w.commit(
        &[("apps/api/settings.yaml", Some(cm("api-settings", "v1")))],
        "a new application",
    );
    let http_url = w.repo_url.replacen("git://", "http://", 1);
    let payload = json!({"ref": "refs/heads/main",
        "repository": {"full_name": "apps", "html_url": http_url, "clone_url": w.repo_url, "default_branch": "main"},
        "commits": [{"id": "1".repeat(40), "modified": [], "added": ["apps/api/settings.yaml"], "removed": []}]})
    .to_string();
    let signature = ferry_webhook::signature_header_value(b"s3cret", payload.as_bytes());
    let headers = [
        ("X-GitHub-Event", "push".to_owned()),
        ("X-Hub-Signature-256", signature),
    ];
    assert_eq!(post_webhook(port, &headers, &payload).await, 200);
    w.expect_app("dir-api", 15, "generated and Synced", synced_healthy)
        .await;
    assert!(w.target_cm("api", "api-settings").await.is_some());
}
