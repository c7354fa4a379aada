//! ferry-diff's integration tests: the golden fixtures under `tests/fixtures/`, the promise that
//! no Secret value reaches any output, and `ignoreDifferences` pointers.
//!
//! A fixture `NAME.json` holds `live` (`null` = missing), either `predicted` (a server-side-apply
//! dry run, compared with `compare`) or `desired` (compared with `compare_desired`), optional
//! `ignore_pointers` applied to both sides first, and the expected `in_sync`. An out-of-sync
//! fixture has its expected unified diff beside it in `NAME.diff`; a missing one is written
//! from the current output and the test fails, so that a person reviews it.

use std::fs;
use std::path::{Path, PathBuf};

use ferry_diff::{
    DiffError, ResourceDiff, compare, compare_desired, ignore_pointers, parse_pointer,
};
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

fn run_fixture(case: &Value) -> ResourceDiff {
    let pointers: Vec<String> = case
        .get("ignore_pointers")
        .map(|p| serde_json::from_value(p.clone()).expect("ignore_pointers is a list of strings"))
        .unwrap_or_default();
    let mut live = case["live"].clone();
    ignore_pointers(&mut live, &pointers);
    let live = (!live.is_null()).then_some(&live);
    if let Some(desired) = case.get("desired") {
        let mut desired = desired.clone();
        ignore_pointers(&mut desired, &pointers);
        compare_desired(live, &desired)
    } else {
        let mut predicted = case["predicted"].clone();
        ignore_pointers(&mut predicted, &pointers);
        compare(live, &predicted)
    }
}

#[test]
fn golden_fixtures() {
    let paths = fixtures();
    assert!(
        paths.len() >= 10,
        "expected the golden fixtures, found {paths:?}"
    );
    let mut failures = Vec::new();
    for path in &paths {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("?");
        let text = fs::read_to_string(path).expect("readable fixture");
        let case: Value = serde_json::from_str(&text).expect("fixture is JSON");
        let want = case["in_sync"].as_bool().expect("fixture has in_sync");
        let diff = run_fixture(&case);
        if diff.in_sync != want {
            failures.push(format!(
                "{name}: in_sync = {}, want {want}\n{}",
                diff.in_sync, diff.unified
            ));
            continue;
        }
        if want {
            if !diff.unified.is_empty() {
                failures.push(format!("{name}: in sync but unified diff is not empty"));
            }
            continue;
        }
        let golden = path.with_extension("diff");
        match fs::read_to_string(&golden) {
            Ok(expected) if expected == diff.unified => {}
            Ok(expected) => failures.push(format!(
                "{name}: unified diff differs\n--- expected\n{expected}\n--- got\n{}",
                diff.unified
            )),
            Err(_) => {
                fs::write(&golden, &diff.unified).expect("golden written");
                failures.push(format!("{name}: wrote {golden:?}; review it"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Every string a `ResourceDiff` carries, and its `Debug` form.
fn outputs(diff: &ResourceDiff) -> Vec<String> {
    vec![
        diff.live_yaml.clone(),
        diff.predicted_yaml.clone(),
        diff.unified.clone(),
        format!("{diff:?}"),
    ]
}

fn b64(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn secret_values_never_appear_in_any_output() {
    let old = "s3cr3t-old-value";
    let new = "s3cr3t-new-value";
    let shared = "s3cr3t-shared-value";
    let last_applied = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "db"}, "stringData": {"password": old, "user": shared}});
    let live = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "db", "annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": last_applied.to_string()}},
        "data": {"password": b64(old), "user": b64(shared), "gone": b64(old)},
    });
    let predicted = json!({
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "db"},
        "data": {"password": b64(new), "user": b64(shared), "added": b64(new)},
    });
    let desired = json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "stringData": {"password": new, "user": shared},
    });
    let not_a_map = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"},
        "data": b64(new), "stringData": new});

    let diffs = [
        compare(Some(&live), &predicted),
        compare(None, &predicted),
        compare(Some(&predicted), &live),
        compare_desired(Some(&live), &desired),
        compare_desired(None, &desired),
        compare(Some(&live), &not_a_map),
    ];
    for diff in &diffs {
        assert!(!diff.in_sync);
        for text in outputs(diff) {
            for secret in [old, new, shared] {
                assert!(!text.contains(secret), "{secret} leaked:\n{text}");
                assert!(
                    !text.contains(&b64(secret)),
                    "{secret} (base64) leaked:\n{text}"
                );
            }
        }
    }
    // The diff still tells which keys changed: equal values share a mask, others do not.
    let unified = &diffs[0].unified;
    assert!(unified.contains("-  password: ++++++++++++\n"), "{unified}");
    assert!(unified.contains("+  password: ++++++++\n"), "{unified}");
    assert!(unified.contains("   user: ++++++++\n"), "{unified}");
}

#[test]
fn secret_sync_is_decided_on_real_values_not_masks() {
    let secret = |v: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"k": b64(v)}});
    assert!(compare(Some(&secret("a")), &secret("a")).in_sync);
    assert!(!compare(Some(&secret("a")), &secret("b")).in_sync);
}

#[test]
fn ignore_pointers_removes_fields_list_items_and_escaped_keys() {
    let mut obj = json!({
        "metadata": {"annotations": {"a/b": "1", "c~d": "2", "keep": "3"}},
        "spec": {"replicas": 3, "containers": [{"name": "a"}, {"name": "b"}]},
    });
    let pointers: Vec<String> = [
        "/metadata/annotations/a~1b",
        "/metadata/annotations/c~0d",
        "/spec/replicas",
        "/spec/containers/0",
        "/spec/absent/deeper",
        "/spec/containers/7",
        "not-a-pointer",
        "",
    ]
    .map(String::from)
    .to_vec();
    ignore_pointers(&mut obj, &pointers);
    assert_eq!(
        obj,
        json!({
            "metadata": {"annotations": {"keep": "3"}},
            "spec": {"containers": [{"name": "b"}]},
        })
    );
}

#[test]
fn parse_pointer_explains_invalid_pointers() {
    assert_eq!(
        parse_pointer("/a~1b/~0/0").expect("valid"),
        vec!["a/b", "~", "0"]
    );
    assert_eq!(parse_pointer("").expect("valid"), Vec::<String>::new());
    let err = parse_pointer("spec/replicas").expect_err("no leading slash");
    assert!(matches!(err, DiffError::InvalidPointer { .. }));
    assert_eq!(
        err.to_string(),
        "invalid JSON pointer \"spec/replicas\": it must start with '/'"
    );
    assert!(parse_pointer("/a~2").is_err());
}

#[test]
fn server_fields_and_status_never_decide_sync() {
    let live = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "uid": "1", "resourceVersion": "1", "generation": 1,
                     "creationTimestamp": "t1", "selfLink": "/x", "managedFields": [{"manager": "a"}],
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "status": {"phase": "x"}});
    let predicted = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "c", "uid": "2", "resourceVersion": "2", "generation": 2,
                     "creationTimestamp": "t2", "selfLink": "/y", "managedFields": [{"manager": "b"}]},
        "status": {"phase": "y"}});
    let diff = compare(Some(&live), &predicted);
    assert!(diff.in_sync, "{}", diff.unified);
    assert_eq!(
        diff.live_yaml,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    );
}
