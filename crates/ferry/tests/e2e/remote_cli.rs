//! `ferry app`, `appset` and `cluster` through Ferry's API (`--server URL`, or what `ferry
//! login` stored) instead of a kubeconfig: the same answers, from the server of `ferry all`.

use ferry_cluster::api_resource as ar;
use serde_json::Value;
use std::path::Path;

use crate::world::*;

const ADMIN_TOKEN: &str = "remote-admin-token";

fn settings_set(repo_url: &str) -> String {
    format!(
        "apiVersion: ferry.dev/v1alpha1
kind: ApplicationSet
metadata:
  name: settings
spec:
  generators:
    - clusters: {{}}
  template:
    metadata:
      name: 'settings-{{{{name}}}}'
    spec:
      project: default
      source:
        repoURL: {repo_url}
        targetRevision: main
        path: settings
      destination:
        name: '{{{{name}}}}'
        namespace: demo
      syncPolicy:
        automated:
          prune: true
        syncOptions:
          - CreateNamespace=true
"
    )
}

/// `ferry ARGS` with no kubeconfig in reach (only the server, the environment `env` and the
/// config file `config`): success and stdout with stderr.
async fn ferry_remote(config: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env_remove("KUBECONFIG")
        .env_remove("FERRY_SERVER")
        .env_remove("FERRY_TOKEN")
        .env("FERRY_CONFIG", config)
        .env("HOME", config.parent().expect("the config's directory"))
        .envs(env.iter().copied())
        .args(["--log", "warn"])
        .args(args)
        .output()
        .await
        .expect("ferry runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_talks_to_the_server_with_a_flag_or_after_ferry_login() {
    // Given `ferry all` with an admin token, and a set that generates one application per
    // cluster (target, and in-cluster), synced.
    let mut w = World::new_stopped(&[("settings/settings.yaml", cm("settings", "v1"))]).await;
    let port = free_port();
    w.start_all(port, "/", &["--admin-token".into(), ADMIN_TOKEN.into()])
        .await;
    let set_yaml = settings_set(&w.repo_url);
    let set: Value = serde_saphyr::from_str(&set_yaml).expect("the set parses");
    w.apply_mgmt(
        &ar("ferry.dev", "v1alpha1", "ApplicationSet", "applicationsets"),
        Some("ferry"),
        set,
    )
    .await;
    w.expect_app("settings-target", 60, "Synced and Healthy", synced_healthy)
        .await;
    let url = format!("http://127.0.0.1:{port}");
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.json");
    let with_flags = |rest: &[&str]| -> Vec<String> {
        let mut v = vec![
            "--server".to_owned(),
            url.clone(),
            "--token".to_owned(),
            ADMIN_TOKEN.to_owned(),
        ];
        v.extend(rest.iter().map(|s| s.to_string()));
        v
    };
    let run = |args: Vec<String>| {
        let config = config.clone();
        async move {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            ferry_remote(&config, &[], &refs).await
        }
    };

    // When the applications are listed through the server (flags before the subcommand),
    // then the generated one shows, Synced and Healthy.
    let (ok, out) = run(with_flags(&["app", "list"])).await;
    assert!(ok, "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("settings-target"))
        .unwrap_or_else(|| panic!("no settings-target row in:\n{out}"));
    assert!(row.contains("Synced") && row.contains("Healthy"), "{out}");
    // And `app get` names its resource; a name the server does not know is refused in
    // words with the closest one.
    let (ok, out) = run(with_flags(&["app", "get", "settings-target"])).await;
    assert!(
        ok && out.contains("ConfigMap") && out.contains("settings"),
        "{out}"
    );
    let (ok, out) = run(with_flags(&["app", "get", "settings-targt"])).await;
    assert!(!ok && out.contains("did you mean settings-target"), "{out}");

    // When the sets are listed and one is shown, then the set and what it generated show.
    let (ok, out) = run(with_flags(&["appset", "list"])).await;
    assert!(ok, "{out}");
    let row = out
        .lines()
        .find(|l| l.starts_with("settings"))
        .unwrap_or_else(|| panic!("no settings row in:\n{out}"));
    // (Two: target, and the management cluster itself as `in-cluster`, as in Argo CD.)
    assert!(row.split_whitespace().nth(1) == Some("2"), "{out}");
    let (ok, out) = run(with_flags(&["appset", "get", "settings", "-o", "json"])).await;
    assert!(ok, "{out}");
    let got: Value = serde_json::from_str(&out).expect("appset get -o json is JSON");
    assert_eq!(
        got["spec"]["template"]["spec"]["source"]["path"],
        "settings"
    );

    // When a changed set is previewed from a file, then the server answers per cluster:
    // the application is updated and its resource named; nothing changes.
    let changed = home.path().join("set.yaml");
    std::fs::write(
        &changed,
        set_yaml.replace("namespace: demo", "namespace: demo2"),
    )
    .expect("write the set");
    let changed_arg = changed.display().to_string();
    let (ok, out) = run(with_flags(&[
        "appset",
        "preview",
        "-f",
        &changed_arg,
        "--details",
    ]))
    .await;
    assert!(ok, "{out}");
    assert!(out.contains("cluster target"), "{out}");
    assert!(
        out.contains("update") && out.contains("settings-target"),
        "{out}"
    );
    assert!(out.contains("ConfigMap/demo2/settings"), "{out}");
    let still = w.status("settings-target").await;
    assert!(synced_healthy(&still), "{still}");

    // When the clusters are listed, then target shows, reachable, with its version (once
    // the controller has published what it found: within seconds).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (ok, out) = run(with_flags(&["cluster", "list"])).await;
        assert!(ok, "{out}");
        let row = out
            .lines()
            .find(|l| l.starts_with("target"))
            .unwrap_or_else(|| panic!("no target row in:\n{out}"))
            .to_owned();
        if row.contains("true") && row.contains("v1.29") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "target not shown reachable with its version within 30 s:\n{out}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    // And registering a cluster through the server is refused in words (not built yet).
    let (ok, out) = run(with_flags(&[
        "cluster",
        "add",
        "eks",
        "x",
        "--role-arn",
        "arn",
    ]))
    .await;
    assert!(!ok && out.contains("not built yet"), "{out}");

    // When the token is wrong, then the command fails naming the cause, and the token is
    // never printed.
    let (ok, out) = run(vec![
        "app".into(),
        "list".into(),
        "--server".into(),
        url.clone(),
        "--token".into(),
        "wrong-token".into(),
    ])
    .await;
    assert!(!ok, "{out}");
    assert!(out.to_lowercase().contains("token"), "{out}");
    assert!(!out.contains("wrong-token"), "{out}");

    // When the user logs in once, then later commands need no flags; a typed kubeconfig
    // still wins over what was stored.
    let (ok, out) = run(vec![
        "login".into(),
        url.clone(),
        "--token".into(),
        ADMIN_TOKEN.into(),
    ])
    .await;
    assert!(ok, "{out}");
    assert!(!out.contains(ADMIN_TOKEN), "{out}");
    let (ok, out) = run(vec!["app".into(), "list".into()]).await;
    assert!(ok && out.contains("settings-target"), "{out}");
    let (ok, out) = run(vec!["cluster".into(), "get".into(), "target".into()]).await;
    assert!(ok && out.contains("Reachable:"), "{out}");
    let kubeconfig = w.kubeconfig.display().to_string();
    let (ok, out) = run(vec![
        "app".into(),
        "list".into(),
        "--kubeconfig".into(),
        kubeconfig,
        "--context".into(),
        "management".into(),
    ])
    .await;
    assert!(ok && out.contains("settings-target"), "{out}");
    let (ok, out) = run(vec!["logout".into()]).await;
    assert!(ok, "{out}");
}
