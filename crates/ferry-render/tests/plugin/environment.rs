//! The environment a plugin runs with: Argo CD's variables and nothing of the controller's.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::process::Command;

use ferry_render::{PluginParameter, PluginRequest};
use serde_json::Value;

use crate::support::*;

#[test]
fn plugins_get_argo_cd_variables_and_nothing_else() {
    let fx = Fixture::new(&[("apps/web/x.txt", "")]);
    let report = fx.report("env.txt");
    let script = "env > 'REPORT'\necho \"CWD=$(pwd)\" >> 'REPORT'\n"
        .replace("REPORT", &report.display().to_string())
        + &print_cm("env");
    let spec = fx.plugin("env.yaml", &plugin_yaml("env", "", None, &script));
    let request = PluginRequest {
        name: Some("env".into()),
        env: vec![
            ("X".into(), "hello world".into()),
            (
                "REV".into(),
                "rev-$ARGOCD_APP_REVISION_SHORT-${KUBE_VERSION}".into(),
            ),
            ("PRICE".into(), "5$$".into()),
            ("EMPTY".into(), String::new()),
        ],
        parameters: vec![
            PluginParameter {
                name: "image-tag".into(),
                string: Some("v1.2.3".into()),
                ..Default::default()
            },
            PluginParameter {
                name: "values-files".into(),
                array: Some(vec!["values.yaml".into(), "values-prod.yaml".into()]),
                ..Default::default()
            },
            PluginParameter {
                name: "helm-parameters".into(),
                map: Some(BTreeMap::from([
                    ("image.tag".to_string(), "v9".to_string()),
                    ("replicaCount".to_string(), "3".to_string()),
                ])),
                ..Default::default()
            },
        ],
    };
    fx.run(&spec, "apps/web", &request).expect("renders");
    let text = fs::read_to_string(&report).expect("the plugin wrote its environment");
    let vars: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    let expected = BTreeMap::from([
        ("ARGOCD_APP_NAME", "guestbook"),
        ("ARGOCD_APP_NAMESPACE", "web"),
        ("ARGOCD_APP_PROJECT_NAME", "default"),
        (
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("ARGOCD_APP_REVISION_SHORT", "0123456"),
        ("ARGOCD_APP_REVISION_SHORT_8", "01234567"),
        ("ARGOCD_APP_SOURCE_PATH", "apps/web"),
        ("ARGOCD_APP_SOURCE_REPO_URL", "https://git.example/repo.git"),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
        ("KUBE_VERSION", "1.24.17k3s1"),
        ("KUBE_API_VERSIONS", "v1,apps/v1"),
        ("ARGOCD_ENV_X", "hello world"),
        ("ARGOCD_ENV_REV", "rev-0123456-1.24.17k3s1"),
        ("ARGOCD_ENV_PRICE", "5$"),
        ("PARAM_IMAGE_TAG", "v1.2.3"),
        ("PARAM_VALUES_FILES_0", "values.yaml"),
        ("PARAM_VALUES_FILES_1", "values-prod.yaml"),
        ("PARAM_HELM_PARAMETERS_IMAGE_TAG", "v9"),
        ("PARAM_HELM_PARAMETERS_REPLICACOUNT", "3"),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"image-tag","string":"v1.2.3"},{"array":["values.yaml","values-prod.yaml"],"name":"values-files"},{"map":{"image.tag":"v9","replicaCount":"3"},"name":"helm-parameters"}]"#,
        ),
    ]);
    for (name, value) in &expected {
        assert_eq!(vars.get(name), Some(value), "{name} in\n{text}");
    }
    let parsed: Value =
        serde_json::from_str(vars["ARGOCD_APP_PARAMETERS"]).expect("ARGOCD_APP_PARAMETERS is JSON");
    assert_eq!(parsed[2]["map"]["image.tag"], "v9");

    // HOME and TMPDIR are private to this run; the commands run in the copy's source path.
    let scratch = fx.scratch.path().display().to_string();
    assert!(vars["HOME"].starts_with(&scratch), "{}", vars["HOME"]);
    assert!(vars["TMPDIR"].starts_with(&scratch), "{}", vars["TMPDIR"]);
    assert!(vars["CWD"].starts_with(&scratch) && vars["CWD"].ends_with("/repo/apps/web"));
    assert_eq!(
        vars.get("PATH").copied(),
        std::env::var("PATH").ok().as_deref()
    );

    // Nothing else: not the test runner's CARGO_* and friends, not empty values.
    let allowed: BTreeSet<&str> = expected
        .keys()
        .copied()
        .chain([
            "PATH", "HOME", "TMPDIR", "CWD", "PWD", "OLDPWD", "SHLVL", "_",
        ])
        .collect();
    let extra: Vec<&&str> = vars.keys().filter(|k| !allowed.contains(**k)).collect();
    assert!(
        extra.is_empty(),
        "unexpected variables {extra:?} in\n{text}"
    );
    assert!(!vars.contains_key("ARGOCD_ENV_EMPTY"));
}

/// Runs [`secret_probe`] in a child test process whose own environment holds a secret
/// (tests cannot set variables in their own process without `unsafe`).
#[test]
fn the_controllers_environment_does_not_leak() {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([
            "--exact",
            "environment::secret_probe",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FERRY_TEST_SECRET", "hunter2")
        .output()
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("environment::secret_probe ... ok"),
        "the probe did not run: {stdout}"
    );
}

/// Does its work only when started by [`the_controllers_environment_does_not_leak`].
#[test]
fn secret_probe() {
    let Ok(secret) = std::env::var("FERRY_TEST_SECRET") else {
        return;
    };
    let fx = Fixture::new(&[("app/x.txt", "")]);
    let script = "cat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  secret: \"${FERRY_TEST_SECRET:-absent}\"\n  all: \"$(env | tr '\\n' ' ' | tr -d '\"')\"\nEOF\n";
    let spec = fx.plugin("probe.yaml", &plugin_yaml("probe", "", None, script));
    let rendered = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect("renders");
    let data = &rendered.objects()[0].object["data"];
    assert_eq!(data["secret"], "absent");
    let all = data["all"].as_str().expect("env dump");
    assert!(!all.contains(&secret), "{all}");
    assert!(!all.contains("FERRY_TEST_SECRET"), "{all}");
}
