//! Where changes come from: a config management plugin, and a push webhook.

use serde_json::json;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::world::*;

/// A helmfile-like plugin: picks the environment from `ARGOCD_ENV_ENVIRONMENT`, reads that
/// environment's values file from the repository, prints a ConfigMap and a Deployment.
const HELMFILE_GENERATE: &str = r#"#!/bin/sh
set -eu
env_name="${ARGOCD_ENV_ENVIRONMENT:-default}"
values="../../envs/$env_name/values.env"
if [ ! -f "$values" ]; then
  echo "helmfile: environment \"$env_name\" has no values file $values" >&2
  exit 3
fi
. "$values"
cat <<EOF
apiVersion: v1
kind: ConfigMap
metadata:
  name: ${ARGOCD_APP_NAME}-settings
data:
  environment: "$env_name"
  replicas: "$REPLICAS"
  kubeVersion: "$KUBE_VERSION"
  revision: "$ARGOCD_APP_REVISION_SHORT"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${ARGOCD_APP_NAME}
spec:
  replicas: $REPLICAS
  selector:
    matchLabels: {app: ${ARGOCD_APP_NAME}}
  template:
    metadata:
      labels: {app: ${ARGOCD_APP_NAME}}
    spec:
      containers:
        - name: main
          image: nginx:$TAG
EOF
"#;

fn helmfile_plugin(script: &Path) -> String {
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: helmfile\nspec:\n  version: v1.0\n  init:\n    command: [sh, -c, 'test -f helmfile.yaml']\n  generate:\n    command: [sh, {}]\n  discover:\n    fileName: ./helmfile.yaml\n",
        script.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_management_plugin_renders_and_its_failure_changes_nothing() {
    // Given a helmfile-style plugin, and a repository with per-environment values files.
    let plugins = tempfile::tempdir().expect("tempdir");
    let script = plugins.path().join("generate.sh");
    std::fs::write(&script, HELMFILE_GENERATE).expect("script");
    std::fs::create_dir_all(plugins.path().join("helmfile")).expect("dir");
    std::fs::write(
        plugins.path().join("helmfile").join("plugin.yaml"),
        helmfile_plugin(&script),
    )
    .expect("plugin.yaml");
    let w = World::with_controller_args(
        &[
            ("envs/staging/values.env", "REPLICAS=1\nTAG=1.25\n".into()),
            ("envs/prod/values.env", "REPLICAS=3\nTAG=1.26\n".into()),
            ("apps/web/helmfile.yaml", "releases: [web]\n".into()),
        ],
        2,
        &["--plugins-dir".into(), plugins.path().display().to_string()],
    )
    .await;

    // When one application names the plugin for staging and another lets discovery find it
    // for prod, then each renders its environment.
    let automated = json!({"automated": {"prune": true, "selfHeal": true}});
    w.create_app(
        "web",
        json!({"source": {"path": "apps/web", "plugin": {"name": "helmfile-v1.0",
            "env": [{"name": "ENVIRONMENT", "value": "staging"}]}}, "syncPolicy": automated}),
    )
    .await;
    w.create_app(
        "web-prod",
        json!({"source": {"path": "apps/web", "plugin": {"env": [{"name": "ENVIRONMENT", "value": "prod"}]}},
            "syncPolicy": automated}),
    )
    .await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;
    w.expect_app("web-prod", 60, "Synced and Healthy", synced_healthy)
        .await;
    w.expect_target(&cm_res(), "web-settings", 5, "staging values", |v| {
        v.is_some_and(|v| {
            v["data"]["environment"] == "staging"
                && v["data"]["replicas"] == "1"
                && v["data"]["kubeVersion"] == "v1.29.4"
        })
    })
    .await;
    w.expect_target(&deploy_res(), "web-prod", 5, "prod replicas", |v| {
        v.is_some_and(|v| {
            v["spec"]["replicas"] == 3
                && v["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.26"
        })
    })
    .await;

    // When the staging values file disappears, then the plugin fails, its stderr is in the
    // condition, and what is deployed stays as it was.
    w.commit(&[("envs/staging/values.env", None)], "drop staging values");
    let s = w
        .expect_app("web", 30, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let msg = condition(&s, "ComparisonError").unwrap_or_default();
    assert!(
        msg.contains("has no values file") && msg.contains("helmfile"),
        "the condition carries the plugin's stderr: {msg}"
    );
    assert!(
        msg.contains("attempt 1 failed; next attempt at "),
        "the condition says when the plugin runs again: {msg}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.expect_target(&cm_res(), "web-settings", 1, "untouched", |v| {
        v.is_some_and(|v| v["data"]["environment"] == "staging")
    })
    .await;
    w.expect_target(&deploy_res(), "web", 1, "untouched", |v| v.is_some())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_webhook_makes_a_change_live_within_seconds_and_an_unsigned_one_is_refused() {
    // Given a controller that polls only every 10 minutes, with a GitHub webhook secret.
    let (w, port) = World::with_webhook(&[("web/config.yaml", cm("settings", "v1"))]).await;
    w.app("web", "web", true, false).await;
    w.expect_app("web", 60, "Synced and Healthy", synced_healthy)
        .await;

    // When a change is pushed and announced without a signature, or with a wrong one, then
    // it is refused and nothing changes.
    w.commit(&[("web/config.yaml", Some(cm("settings", "v2")))], "change");
    let http_url = w.repo_url.replacen("git://", "http://", 1);
    let payload = json!({"ref": "refs/heads/main", "before": "0".repeat(40), "after": "1".repeat(40),
        "repository": {"full_name": "apps", "html_url": http_url, "clone_url": w.repo_url, "default_branch": "main"},
        "commits": [{"id": "1".repeat(40), "modified": ["web/config.yaml"], "added": [], "removed": []}]})
    .to_string();
    let github = [("X-GitHub-Event", "push".to_owned())];
    assert_eq!(post_webhook(port, &github, &payload).await, 401);
    let wrong = ferry_webhook::signature_header_value(b"not-the-secret", payload.as_bytes());
    let mut headers = github.to_vec();
    headers.push(("X-Hub-Signature-256", wrong));
    assert_eq!(post_webhook(port, &headers, &payload).await, 401);
    tokio::time::sleep(Duration::from_secs(3)).await;
    w.expect_target(&cm_res(), "settings", 1, "unchanged", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v1")
    })
    .await;

    // When it is announced with the right signature, then it is live within seconds.
    let good = ferry_webhook::signature_header_value(b"s3cret", payload.as_bytes());
    let mut headers = github.to_vec();
    headers.push(("X-Hub-Signature-256", good));
    let sent = Instant::now();
    assert_eq!(post_webhook(port, &headers, &payload).await, 200);
    w.expect_target(&cm_res(), "settings", 10, "the pushed value", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v2")
    })
    .await;
    eprintln!("push webhook to applied: {:?}", sent.elapsed());
}
