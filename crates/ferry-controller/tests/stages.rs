//! The controller's stages in process, against the Kubernetes API emulator and a Git
//! repository on disk: the comparison sees an object missing, then in sync once applied
//! (through the same apply adapter a sync uses), a drift once edited by hand, and an object
//! another application tracks as that application's, never this one's.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_api::{Application, SyncCode};
use ferry_cluster::secret::TlsConfig;
use ferry_cluster::{ClusterAuth, ClusterSpec, api_resource};
use ferry_controller::{ControllerConfig, ControllerCtx};
use ferry_core::Sensitive;
use ferry_emulator::{ClusterConfig, Emulator};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;

const ADMIN: &str = "stages-admin-token";

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

async fn config_of(emu: &Emulator, context: &str) -> kube::Config {
    let kc = kube::config::Kubeconfig::from_yaml(&emu.kubeconfig()).expect("kubeconfig");
    let options = kube::config::KubeConfigOptions {
        context: Some(context.into()),
        ..Default::default()
    };
    kube::Config::from_custom_kubeconfig(kc, &options)
        .await
        .expect("config")
}

fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value:?}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_sees_missing_then_synced_then_drift_and_leaves_another_applications_object() {
    // Given a management and a target cluster, and a repository with two ConfigMaps.
    let emu = Emulator::start(vec![
        ClusterConfig::new("management", ADMIN),
        ClusterConfig::new("target", ADMIN),
    ])
    .await
    .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("app")).expect("dir");
    std::fs::write(repo.join("app/a.yaml"), cm("settings", "1")).expect("write");
    std::fs::write(repo.join("app/b.yaml"), cm("theirs", "mine")).expect("write");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);

    let mgmt = config_of(&emu, "management").await;
    let client = kube::Client::try_from(mgmt.clone()).expect("client");
    let mut git_config = ferry_git::GitConfig::new(dir.path().join("cache"));
    git_config.allow_file_urls = true;
    let sources = ferry_source::Sources::new(
        ferry_git::GitCache::new(git_config).expect("git cache"),
        ferry_render::RenderCache::new(8),
        Duration::ZERO,
    );
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let ctx = ControllerCtx::new(
        &client,
        mgmt,
        ControllerConfig::default(),
        sources,
        ferry_aws::Aws::new(ferry_aws::AwsOptions::default()),
        &stop,
    );
    let target = emu.cluster("target").expect("target");
    ctx.registry
        .upsert(ClusterSpec {
            name: "target".into(),
            server: target.url(),
            namespaces: Vec::new(),
            cluster_resources: true,
            auth: ClusterAuth::Bearer(Sensitive::new(ADMIN.to_owned())),
            tls: TlsConfig {
                ca_pem: Some(target.ca_pem().as_bytes().to_vec()),
                ..Default::default()
            },
            labels: Vec::new(),
            source: "ferry/cluster-target".into(),
        })
        .expect("registered");
    let cluster = ctx.registry.find(None, Some("target")).expect("found");
    let cache = ctx.cache_for(&cluster);
    let app: Application = serde_json::from_value(json!({
        "apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "web", "namespace": "ferry"},
        "spec": {"project": "default",
            "source": {"repoURL": format!("file://{}", repo.display()), "targetRevision": "main", "path": "app"},
            "destination": {"name": "target", "namespace": "default"}}}))
    .expect("an Application");
    let compare =
        || ferry_controller::compare::compare(&ctx, &app, None, &cluster, &cache, true, None);

    // When nothing is deployed, then both objects are missing and the application OutOfSync.
    let cmp = compare().await.expect("compared");
    assert_eq!(cmp.sync, SyncCode::OutOfSync);
    assert_eq!(cmp.desired.len(), 2);
    assert!(
        cmp.resources
            .iter()
            .all(|r| r.status == SyncCode::OutOfSync)
    );

    // When another application already tracks `theirs`, and `settings` is applied as a sync
    // would, then `settings` is in sync and `theirs` is left to its owner.
    let cms: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        "default",
        &api_resource("", "v1", "ConfigMap", "configmaps"),
    );
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "theirs", "annotations": {
            ferry_api::TRACKING_ANNOTATION: ferry_api::tracking_id("other", "", "ConfigMap", "default", "theirs")}},
        "data": {"value": "other's"}});
    cms.patch(
        "theirs",
        &PatchParams::apply("other"),
        &Patch::Apply(&theirs),
    )
    .await
    .expect("the other application's object");
    let settings = cmp
        .desired
        .iter()
        .find(|d| d.key.name == "settings")
        .expect("settings");
    ferry_apply::apply(&cluster, settings, false)
        .await
        .expect("applied");
    let deadline = Instant::now() + Duration::from_secs(10);
    let cmp = loop {
        let cmp = compare().await.expect("compared");
        let seen = cmp
            .resources
            .iter()
            .any(|r| r.name == "settings" && r.status == SyncCode::Synced)
            && cmp.shared().count() == 1;
        if seen || Instant::now() > deadline {
            break cmp;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let status = |name: &str| {
        cmp.resources
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.status)
    };
    assert_eq!(
        status("settings"),
        Some(SyncCode::Synced),
        "{:?}",
        cmp.resources
    );
    let shared: Vec<(String, String)> = cmp
        .shared()
        .map(|(k, o)| (k.name.clone(), o.to_owned()))
        .collect();
    assert_eq!(shared, [("theirs".to_owned(), "other".to_owned())]);
    assert!(
        cmp.prunable.is_empty(),
        "another application's object is never this one's to prune"
    );

    // When `settings` is edited by hand, then the comparison sees the drift.
    cms.patch(
        "settings",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"value": "hand-edited"}})),
    )
    .await
    .expect("edited");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let cmp = compare().await.expect("compared");
        if cmp
            .resources
            .iter()
            .any(|r| r.name == "settings" && r.status == SyncCode::OutOfSync)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the drift was not seen: {:?}",
            cmp.resources
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
