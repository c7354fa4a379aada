//! ferry-health's integration tests: the golden fixtures under `tests/fixtures/` (each file
//! pairs an `object` with its `expected` health, `null` for "no health") and the aggregation
//! of an application's resources.

use std::fs;
use std::path::{Path, PathBuf};

use ferry_health::{Health, HealthStatus, aggregate, assess, resource_health};
use serde_json::{Value, json};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut paths: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/fixtures exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn golden_fixtures() {
    let paths = fixtures();
    assert!(
        paths.len() >= 60,
        "expected the golden fixtures, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let text = fs::read_to_string(path).expect("readable fixture");
        let case: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let expected: Option<Health> =
            serde_json::from_value(case["expected"].clone()).expect("expected is a health or null");
        let got = assess(&case["object"]);
        if got != expected {
            failures.push(format!("{name}: got {got:?}, want {expected:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_status_is_covered_by_some_fixture() {
    let mut seen = Vec::new();
    for path in fixtures() {
        let case: Value =
            serde_json::from_str(&fs::read_to_string(path).expect("readable")).expect("JSON");
        if let Some(status) = case["expected"]["status"].as_str() {
            seen.push(status.to_string());
        }
    }
    for &status in HealthStatus::ALL {
        if status != HealthStatus::Missing {
            assert!(
                seen.iter().any(|s| s == status.as_str()),
                "no fixture for {status}"
            );
        }
    }
}

#[test]
fn order_is_argo_cds_worst_last() {
    use HealthStatus::*;
    assert_eq!(
        HealthStatus::ALL,
        [Healthy, Suspended, Progressing, Missing, Degraded, Unknown]
    );
    assert!(Healthy.is_worse(Degraded));
    assert!(!Unknown.is_worse(Degraded));
    assert_eq!(HealthStatus::parse("Degraded"), Some(Degraded));
    assert_eq!(HealthStatus::parse("degraded"), None);
    assert_eq!(
        serde_json::to_value(Health::new(Suspended, "x")).expect("serialises"),
        json!({"status": "Suspended", "message": "x"})
    );
}

fn config_map() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}})
}

fn pvc(phase: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "d"},
           "status": {"phase": phase}})
}

fn paused_deployment() -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
           "spec": {"paused": true}})
}

#[test]
fn aggregate_takes_the_worst_live_health() {
    let (bound, pending, lost) = (pvc("Bound"), pvc("Pending"), pvc("Lost"));
    let paused = paused_deployment();
    assert_eq!(aggregate([Some(&bound)]), HealthStatus::Healthy);
    assert_eq!(
        aggregate([Some(&bound), Some(&paused)]),
        HealthStatus::Suspended
    );
    assert_eq!(
        aggregate([Some(&paused), Some(&pending), Some(&bound)]),
        HealthStatus::Progressing
    );
    assert_eq!(
        aggregate([Some(&pending), Some(&lost)]),
        HealthStatus::Degraded
    );
    let malformed = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "status": 3});
    assert_eq!(
        aggregate([Some(&lost), Some(&malformed)]),
        HealthStatus::Unknown
    );
}

#[test]
fn aggregate_ignores_kinds_without_health_and_marked_objects() {
    let cm = config_map();
    let lost = pvc("Lost");
    let mut ignored = lost.clone();
    ignored["metadata"]["annotations"] = json!({"ferry.dev/ignore-healthcheck": "true"});
    let mut ignored_argo = lost.clone();
    ignored_argo["metadata"]["annotations"] =
        json!({"argocd.argoproj.io/ignore-healthcheck": "true"});
    assert_eq!(aggregate([Some(&cm)]), HealthStatus::Healthy);
    assert_eq!(
        aggregate([Some(&cm), Some(&ignored), Some(&ignored_argo)]),
        HealthStatus::Healthy
    );
    let mut not_ignored = lost.clone();
    not_ignored["metadata"]["annotations"] = json!({"ferry.dev/ignore-healthcheck": "false"});
    assert_eq!(aggregate([Some(&not_ignored)]), HealthStatus::Degraded);
}

#[test]
fn one_missing_resource_does_not_lower_the_app_but_all_missing_is_missing() {
    let bound = pvc("Bound");
    let cm = config_map();
    assert_eq!(aggregate([Some(&bound), None]), HealthStatus::Healthy);
    assert_eq!(aggregate([None, None]), HealthStatus::Missing);
    // A live object without health still counts as live.
    assert_eq!(aggregate([Some(&cm), None]), HealthStatus::Healthy);
    // Worse than Missing stays worse.
    let lost = pvc("Lost");
    assert_eq!(aggregate([Some(&lost), None]), HealthStatus::Degraded);
    assert_eq!(
        aggregate(std::iter::empty::<Option<&Value>>()),
        HealthStatus::Healthy
    );
}

#[test]
fn resource_health_of_a_missing_resource_is_missing() {
    assert_eq!(
        resource_health(None),
        Some(Health::new(HealthStatus::Missing, ""))
    );
    assert_eq!(resource_health(Some(&config_map())), None);
    assert_eq!(
        resource_health(Some(&pvc("Bound"))).map(|h| h.status),
        Some(HealthStatus::Healthy)
    );
}

#[test]
fn a_non_object_is_unknown() {
    assert_eq!(
        assess(&json!("Deployment")),
        Some(Health::new(
            HealthStatus::Unknown,
            "object is not a JSON object"
        ))
    );
}
