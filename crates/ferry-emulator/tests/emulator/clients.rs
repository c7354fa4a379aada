//! Real clients against the emulator: kube-rs (discovery, dynamic objects, server-side apply,
//! the `watcher`) over HTTPS with the kubeconfig the emulator writes, and Debian's `kubectl`.

use std::time::Duration;

use futures::{StreamExt as _, TryStreamExt as _};
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use kube::discovery::Discovery;
use kube::runtime::{WatchStreamExt as _, watcher};
use serde_json::json;

use crate::support::{client, emulator};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_rs_discovers_applies_and_watches_over_https() {
    let emu = emulator().await;
    let client = client(&emu.kubeconfig()).await;

    let discovery = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery");
    let (ar, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .expect("deployments are discovered");
    assert!(caps.scope == kube::discovery::Scope::Namespaced);
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    assert!(
        aggregated
            .resolve_gvk(&GroupVersionKind::gvk("batch", "v1", "Job"))
            .is_some()
    );

    let ns_api: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &discovery
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
            .expect("ns")
            .0,
    );
    let ns: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}}),
    )
    .expect("object");
    ns_api
        .create(&PostParams::default(), &ns)
        .await
        .expect("namespace created");

    // Watch configmaps while creating one.
    let cm_ar = discovery
        .resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"))
        .expect("cm")
        .0;
    let cms: Api<DynamicObject> = Api::namespaced_with(client.clone(), "apps", &cm_ar);
    let mut stream = watcher(cms.clone(), watcher::Config::default())
        .applied_objects()
        .boxed();
    let cm: DynamicObject = serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "apps"}, "data": {"a": "1"}}))
    .expect("object");
    cms.patch("settings", &PatchParams::apply("ferry"), &Patch::Apply(&cm))
        .await
        .expect("apply");
    let seen = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(obj) = stream.try_next().await.expect("watch stream") {
            if obj.metadata.name.as_deref() == Some("settings") {
                return obj;
            }
        }
        panic!("watch ended")
    })
    .await
    .expect("the watcher sees the applied object");
    assert_eq!(seen.data["data"]["a"], "1");

    // Server-side apply of a Deployment through the dynamic API, then defaulting is visible.
    let deploys: Api<DynamicObject> = Api::namespaced_with(client.clone(), "apps", &ar);
    let d: DynamicObject = serde_json::from_value(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "apps"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]}}}}))
    .expect("object");
    let applied = deploys
        .patch(
            "web",
            &PatchParams::apply("ferry").force(),
            &Patch::Apply(&d),
        )
        .await
        .expect("apply");
    assert_eq!(applied.data["spec"]["replicas"], 1);
    assert_eq!(
        applied.data["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    let dry = deploys
        .patch(
            "web",
            &PatchParams::apply("ferry").force().dry_run(),
            &Patch::Apply(&d),
        )
        .await
        .expect("dry-run apply");
    assert_eq!(
        dry.metadata.resource_version,
        applied.metadata.resource_version
    );
}

pub fn kubectl_available() -> bool {
    std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_gets_applies_and_deletes() {
    if !kubectl_available() {
        assert!(
            std::env::var_os("FERRY_SKIP_KUBECTL").is_some(),
            "kubectl is not installed: run ./scripts/test (it installs Debian's kubernetes-client) or set FERRY_SKIP_KUBECTL=1"
        );
        return;
    }
    let emu = emulator().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, emu.kubeconfig()).expect("write kubeconfig");
    let manifest = dir.path().join("cm.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-kubectl\n  namespace: default\ndata:\n  greeting: hello\n")
        .expect("write manifest");
    let kubectl = |args: &[&str]| {
        let kubeconfig = kubeconfig.clone();
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        async move {
            let out = tokio::process::Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(&args)
                .output()
                .await
                .expect("kubectl runs");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(out.status.success(), "kubectl {args:?} failed:\n{text}");
            text
        }
    };
    let ns = kubectl(&["get", "ns"]).await;
    assert!(ns.contains("kube-system") && ns.contains("Active"), "{ns}");
    let manifest_path = manifest.to_string_lossy().into_owned();
    let applied = kubectl(&["apply", "--server-side", "-f", &manifest_path]).await;
    assert!(applied.contains("serverside-applied"), "{applied}");
    let got = kubectl(&[
        "get",
        "configmap",
        "from-kubectl",
        "-o",
        "jsonpath={.data.greeting}",
    ])
    .await;
    assert_eq!(got.trim(), "hello");
    let deleted = kubectl(&["delete", "configmap", "from-kubectl"]).await;
    assert!(deleted.contains("deleted"), "{deleted}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_emulator_serves_clusters_of_two_generations() {
    use ferry_emulator::{ClusterConfig, Emulator};
    let emu = Emulator::start(vec![
        ClusterConfig::new("blue", "blue-token").version("v1.29.4"),
        ClusterConfig::new("green", "green-token").version("v1.30.2-eks-1234"),
    ])
    .await
    .expect("emulator");
    for (name, want) in [("blue", "v1.29.4"), ("green", "v1.30.2-eks-1234")] {
        let cluster = emu.cluster(name).expect("cluster");
        let client = client(&cluster.kubeconfig()).await;
        let v = client.apiserver_version().await.expect("version");
        assert_eq!(v.git_version, want);
    }
    let both = emu.kubeconfig();
    assert!(
        both.contains("name: \"blue\"") && both.contains("name: \"green\""),
        "{both}"
    );
    assert_ne!(
        emu.cluster("blue").map(|c| c.url()),
        emu.cluster("green").map(|c| c.url())
    );
}
