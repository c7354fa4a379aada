//! Objects Ferry applies that other controllers write too: a sidecar injector adding a
//! container, a webhook-like manager adding a port to Ferry's container, an autoscaler owning
//! `replicas`. Ferry stays Synced, never writes over them, and a field it stops applying is
//! released as a real API server releases it: removed when Ferry alone owned it, kept when
//! another manager owns it too.

use std::time::Duration;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};

use crate::world::*;

/// The deployment `web` as Git has it: `replicas` and two annotations optional.
fn web(image: &str, replicas: Option<u32>, annotations: bool) -> String {
    let mut doc = String::from("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n");
    if annotations {
        doc.push_str("  annotations:\n    team: payments\n    note: from-git\n");
    }
    doc.push_str("spec:\n");
    if let Some(r) = replicas {
        doc.push_str(&format!("  replicas: {r}\n"));
    }
    doc.push_str(&format!(
        "  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n        - name: main\n          image: {image}\n"
    ));
    doc
}

fn containers(v: Option<&Value>) -> Vec<String> {
    v.and_then(|v| v.pointer("/spec/template/spec/containers"))
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn main_image(v: Option<&Value>) -> Option<String> {
    v?.pointer("/spec/template/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| c["name"] == "main")?["image"]
        .as_str()
        .map(str::to_owned)
}

fn main_ports(v: Option<&Value>) -> Vec<i64> {
    v.and_then(|v| v.pointer("/spec/template/spec/containers"))
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == "main"))
        .and_then(|c| c["ports"].as_array())
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["containerPort"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

/// The fields `manager` owns by apply, as `fieldsV1`.
fn applied_by<'a>(v: Option<&'a Value>, manager: &str) -> Option<&'a Value> {
    v?.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == "Apply")
        .map(|e| &e["fieldsV1"])
}

/// `metadata.generation` and the managers' entries: what any write of the spec changes (the
/// resourceVersion also moves with the workload controllers' status writes).
fn spec_writes(v: Option<&Value>) -> (Value, Value) {
    let managed: Vec<Value> = v
        .and_then(|v| v.pointer("/metadata/managedFields"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|e| e.get("subresource").is_none())
        .cloned()
        .collect();
    (
        v.and_then(|v| v.pointer("/metadata/generation"))
            .cloned()
            .unwrap_or_default(),
        Value::Array(managed),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_managers_coown_what_ferry_applies_without_a_fight() {
    // Given a deployment delivered by an automated, self-healing application.
    let w = World::new(&[("web/deploy.yaml", web("web:1", Some(2), true))]).await;
    w.app("web", "web", true, false).await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;
    let deploys: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &deploy_res());

    // When a sidecar injector applies its container and the shared `team` annotation, and a
    // webhook-like manager applies a port on Ferry's container (neither forces: nothing of
    // theirs conflicts with Ferry's values).
    let injector = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "annotations": {"team": "payments"}},
        "spec": {"template": {"spec": {"containers": [
            {"name": "istio-proxy", "image": "proxy:1"}
        ]}}}
    });
    deploys
        .patch(
            "web",
            &PatchParams::apply("sidecar-injector"),
            &Patch::Apply(&injector),
        )
        .await
        .expect("the injector's apply is accepted without force");
    let porter = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"template": {"spec": {"containers": [
            {"name": "main", "ports": [{"containerPort": 15090, "name": "metrics"}]}
        ]}}}
    });
    deploys
        .patch(
            "web",
            &PatchParams::apply("port-webhook"),
            &Patch::Apply(&porter),
        )
        .await
        .expect("the port manager's apply is accepted without force");

    // Then Ferry stays Synced and Healthy across several polls (2 s each) and writes nothing:
    // the object keeps its generation, its managers' entries, the sidecar and the port.
    let before = w.target_get(&deploy_res(), "web").await;
    assert_eq!(
        containers(before.as_ref()),
        ["main", "istio-proxy"],
        "{before:#?}"
    );
    assert_eq!(main_ports(before.as_ref()), [15090]);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let s = w.status("web").await;
    assert!(synced_healthy(&s), "{s:#}");
    let after = w.target_get(&deploy_res(), "web").await;
    assert_eq!(
        spec_writes(before.as_ref()),
        spec_writes(after.as_ref()),
        "Ferry rewrote the object"
    );
    // Ferry's own fields are only its manifest's.
    let ferry = applied_by(after.as_ref(), "ferry")
        .cloned()
        .unwrap_or_default();
    let containers_of_ferry = &ferry["f:spec"]["f:template"]["f:spec"]["f:containers"];
    assert!(
        containers_of_ferry.get(r#"k:{"name":"main"}"#).is_some()
            && containers_of_ferry
                .get(r#"k:{"name":"istio-proxy"}"#)
                .is_none()
            && containers_of_ferry[r#"k:{"name":"main"}"#]
                .get("f:ports")
                .is_none(),
        "{ferry:#}"
    );

    // When Git hands `replicas` to an autoscaler (the manifest stops declaring it), then the
    // field Ferry alone owned is released: the server removes it and defaults it (1).
    w.commit(
        &[("web/deploy.yaml", Some(web("web:1", None, true)))],
        "let the autoscaler own replicas",
    );
    w.expect_target(
        &deploy_res(),
        "web",
        30,
        "replicas released to the default",
        |v| {
            v.and_then(|v| v.pointer("/spec/replicas")) == Some(&json!(1))
                && applied_by(v, "ferry").is_some_and(|f| f["f:spec"].get("f:replicas").is_none())
        },
    )
    .await;
    w.expect_app("web", 30, "Synced and Healthy", synced_healthy)
        .await;

    // When the autoscaler scales it (an update as manager horizontal-pod-autoscaler), then
    // Ferry stays Synced and leaves the count alone.
    let scale = json!({"spec": {"replicas": 4}});
    deploys
        .patch(
            "web",
            &PatchParams {
                field_manager: Some("horizontal-pod-autoscaler".into()),
                ..PatchParams::default()
            },
            &Patch::Merge(&scale),
        )
        .await
        .expect("scaled");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let live = w.target_get(&deploy_res(), "web").await;
    assert_eq!(
        live.as_ref().and_then(|v| v.pointer("/spec/replicas")),
        Some(&json!(4))
    );
    let s = w.status("web").await;
    assert!(synced_healthy(&s), "{s:#}");

    // When Git changes the image and stops declaring both annotations, then the image is
    // rolled out, the sidecar, the port and the scale stay, `note` (Ferry's alone) is removed
    // and `team` (the injector's too) is kept.
    w.commit(
        &[("web/deploy.yaml", Some(web("web:2", None, false)))],
        "new image, annotations dropped",
    );
    let deploy = deploy_res();
    let live = eventually(
        30,
        "Deployment web",
        "the new image applied",
        || w.target_get(&deploy, "web"),
        |v| main_image(v).as_deref() == Some("web:2"),
    )
    .await;
    let live = live.as_ref();
    assert_eq!(containers(live), ["main", "istio-proxy"], "{live:#?}");
    assert_eq!(main_ports(live), [15090]);
    assert_eq!(
        live.and_then(|v| v.pointer("/spec/replicas")),
        Some(&json!(4))
    );
    let annotations = live
        .and_then(|v| v.pointer("/metadata/annotations"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        annotations.get("team"),
        Some(&json!("payments")),
        "{annotations:#}"
    );
    assert!(annotations.get("note").is_none(), "{annotations:#}");
    w.expect_app("web", 30, "Synced and Healthy", synced_healthy)
        .await;

    // When the injector stops injecting (applies nothing of the containers), then its
    // container leaves and Ferry's stays; Ferry stays Synced.
    let nothing =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}});
    deploys
        .patch(
            "web",
            &PatchParams::apply("sidecar-injector"),
            &Patch::Apply(&nothing),
        )
        .await
        .expect("the injector's empty apply");
    let live = w.target_get(&deploy_res(), "web").await;
    assert_eq!(containers(live.as_ref()), ["main"], "{live:#?}");
    // `team` was the injector's and Ferry's; Ferry dropped it first, so it goes now.
    assert!(
        live.as_ref()
            .and_then(|v| v.pointer("/metadata/annotations/team"))
            .is_none(),
        "{live:#?}"
    );
    w.expect_app("web", 30, "Synced and Healthy", synced_healthy)
        .await;
}
