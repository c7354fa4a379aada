//! Defaulting as a Kubernetes 1.24 API server does it, through create and through apply: the
//! `SetDefaults_*` functions of the kinds a CD tool deploys, transcribed as data in
//! `tests/fixtures/ssa/defaults.json` (each case names its Go function). Every case is created
//! with POST and applied as a new object with server-side apply, and each listed field must
//! then hold the default (`null`: absent). The score is printed; a failing case fails the test.

use std::time::Duration;

use ferry_emulator::{ClusterConfig, Emulator};
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

async fn start() -> (Emulator, kube::Client) {
    let mut config = ClusterConfig::new("test", "admin-token-for-tests");
    config.workload_ready_delay = Duration::from_millis(100);
    let emu = Emulator::start(vec![config])
        .await
        .expect("emulator starts");
    let kc = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig()).expect("kubeconfig");
    let config =
        kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
            .await
            .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    (emu, client)
}

fn resource(case: &Value) -> ApiResource {
    let api_version = case["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    let gvk = GroupVersionKind::gvk(group, version, case["kind"].as_str().unwrap_or_default());
    ApiResource::from_gvk_with_plural(&gvk, case["plural"].as_str().unwrap_or_default())
}

fn object(case: &Value, name: &str) -> Value {
    let mut obj = json!({
        "apiVersion": case["apiVersion"], "kind": case["kind"],
        "metadata": {"name": name, "namespace": "default"},
    });
    if let Some(spec) = case.get("spec") {
        obj["spec"] = spec.clone();
    }
    if let Some(Value::Object(top)) = case.get("top") {
        for (k, v) in top {
            obj[k] = v.clone();
        }
    }
    obj
}

/// What differs from the case's expectations, one line per field.
fn differences(case: &Value, live: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (pointer, want) in case["expect"].as_object().into_iter().flatten() {
        let got = live.pointer(pointer).unwrap_or(&Value::Null);
        if got != want {
            out.push(format!("{pointer}: want {want}, got {got}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn defaults_of_built_in_kinds_through_create_and_apply() {
    let (_emu, client) = start().await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ssa/defaults.json");
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json");
    let (mut total, mut passed) = (0, 0);
    let mut failures = Vec::new();
    for (i, case) in doc["cases"].as_array().into_iter().flatten().enumerate() {
        let api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), "default", &resource(case));
        let label = case["name"].as_str().unwrap_or_default();
        for how in ["create", "apply"] {
            total += 1;
            let name = format!("case-{i}-{how}");
            let obj = object(case, &name);
            let written = match how {
                "create" => {
                    let o: DynamicObject = serde_json::from_value(obj).expect("object");
                    api.create(&PostParams::default(), &o).await
                }
                _ => {
                    api.patch(&name, &PatchParams::apply("test"), &Patch::Apply(&obj))
                        .await
                }
            };
            let live = match written {
                Ok(o) => serde_json::to_value(o).expect("json"),
                Err(e) => {
                    failures.push(format!("{label} ({how}): refused: {e}"));
                    continue;
                }
            };
            let diffs = differences(case, &live);
            if diffs.is_empty() {
                passed += 1;
            } else {
                failures.push(format!("{label} ({how}):\n  {}", diffs.join("\n  ")));
            }
            // Applying the same configuration again changes nothing (defaults do not count as
            // changes of the manager's fields).
            if how == "apply" {
                let again = api
                    .patch(
                        &name,
                        &PatchParams::apply("test"),
                        &Patch::Apply(&object(case, &name)),
                    )
                    .await
                    .map(|o| serde_json::to_value(o).expect("json"));
                match again {
                    // (The resourceVersion may move with the workload controllers' status.)
                    Ok(v)
                        if v["spec"] == live["spec"]
                            && v["metadata"]["generation"] == live["metadata"]["generation"] => {}
                    Ok(v) => failures.push(format!(
                        "{label} (apply again): the object changed: {:#}",
                        v["spec"]
                    )),
                    Err(e) => failures.push(format!("{label} (apply again): refused: {e}")),
                }
            }
        }
    }
    println!("defaulting through create and apply: {passed}/{total} pass");
    assert!(total > 0, "no cases");
    // The score the README states is this run's.
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .expect("README");
    assert!(
        failures.is_empty() && readme.contains(&format!("{passed}/{total} pass")),
        "README.md does not state {passed}/{total}"
    );
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
