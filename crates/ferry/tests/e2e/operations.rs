//! Sync operations: phases, waves and hooks, a controller killed mid-sync, selective sync,
//! rollback, terminate, retries and per-resource sync options.

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

use crate::world::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_and_waves_run_in_order_and_a_killed_controller_resumes_the_same_operation() {
    // Given an application with a PreSync migration Job, a Deployment in wave 0 that stays
    // unready, a ConfigMap in wave 1 and a PostSync smoke test deleted when it succeeds.
    let mut w = World::new(&[
        (
            "waves/migrate.yaml",
            job(
                "migrate",
                "busybox:1",
                "    argocd.argoproj.io/hook: PreSync\n",
            ),
        ),
        (
            "waves/slow.yaml",
            deployment("slow", "nginx:1.25").replace(
                "metadata:\n  name: slow\n",
                "metadata:\n  name: slow\n  annotations:\n    emulator.ferry.dev/never-ready: \"true\"\n",
            ),
        ),
        (
            "waves/late.yaml",
            cm_annotated("late", "v1", "argocd.argoproj.io/sync-wave", "\"1\""),
        ),
        (
            "waves/smoke.yaml",
            job(
                "smoke",
                "busybox:1",
                "    argocd.argoproj.io/hook: PostSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded\n",
            ),
        ),
    ])
    .await;
    // Automated without self-heal: the test makes the Deployment ready by editing it, which
    // self-heal would (rightly) undo with a second operation.
    w.create_app(
        "waves",
        json!({"source": {"path": "waves"}, "syncPolicy": {"automated": {"prune": true}}}),
    )
    .await;

    // Then the migration runs first, wave 0 is applied, and wave 1 waits for it to be healthy.
    let s = w
        .expect_app("waves", 60, "waiting for the Deployment", |s| {
            op_state(s)["phase"] == "Running"
                && op_state(s)["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("healthy state of Deployment slow"))
        })
        .await;
    let sync_id = op_state(&s)["syncId"].as_str().expect("sync id").to_owned();
    w.expect_target(
        &job_res(),
        "migrate",
        5,
        "the migration Job, complete",
        |v| v.is_some_and(|v| v["status"]["succeeded"] == 1),
    )
    .await;
    w.expect_target(&cm_res(), "late", 1, "not applied yet", |v| v.is_none())
        .await;
    let results = op_state(&s)["syncResult"]["resources"].clone();
    assert!(
        results
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["name"] == "migrate"
                && r["hookType"] == "PreSync"
                && r["hookPhase"] == "Succeeded")),
        "the PreSync hook is recorded as succeeded: {results:#}"
    );

    // When the controller is killed between waves and comes back, then it resumes the same
    // operation (same sync id), still waiting.
    w.kill_controller();
    tokio::time::sleep(Duration::from_secs(1)).await;
    w.start_controller();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let s = w.status("waves").await;
    assert_eq!(op_state(&s)["phase"], "Running", "{s:#}");
    assert_eq!(op_state(&s)["syncId"], sync_id.as_str(), "{s:#}");
    w.expect_target(&cm_res(), "late", 1, "still not applied", |v| v.is_none())
        .await;

    // When the Deployment becomes ready, then wave 1 and the PostSync hook run, the hook is
    // deleted as it asked, and the operation that was started before the kill succeeds.
    let deployments: Api<DynamicObject> =
        Api::namespaced_with(w.target.clone(), "demo", &deploy_res());
    deployments
        .patch(
            "slow",
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"annotations": {"emulator.ferry.dev/never-ready": null}}}),
            ),
        )
        .await
        .expect("make it ready");
    let s = w
        .expect_app("waves", 60, "the operation to succeed", |s| {
            op_state(s)["phase"] == "Succeeded"
        })
        .await;
    assert_eq!(op_state(&s)["syncId"], sync_id.as_str(), "{s:#}");
    w.expect_target(&cm_res(), "late", 1, "applied", |v| v.is_some())
        .await;
    let results = op_state(&s)["syncResult"]["resources"].clone();
    let phases: Vec<String> = results
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            format!(
                "{}:{}",
                r["syncPhase"].as_str().unwrap_or(""),
                r["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let at = |n: &str| phases.iter().position(|p| p.ends_with(&format!(":{n}")));
    assert!(
        at("migrate") < at("slow") && at("slow") < at("late") && at("late") < at("smoke"),
        "results in order PreSync, wave 0, wave 1, PostSync: {phases:?}"
    );
    w.expect_target(&job_res(), "smoke", 10, "deleted after success", |v| {
        v.is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_presync_hook_stops_the_sync_and_runs_the_syncfail_hooks() {
    // Given an application whose PreSync migration fails, with a SyncFail hook.
    let w = World::new(&[
        (
            "app/migrate.yaml",
            job(
                "migrate",
                "busybox:fail",
                "    argocd.argoproj.io/hook: PreSync\n",
            ),
        ),
        (
            "app/alert.yaml",
            cm_annotated(
                "alert",
                "sync failed",
                "argocd.argoproj.io/hook",
                "SyncFail",
            ),
        ),
        ("app/web.yaml", deployment("web", "nginx:1.25")),
    ])
    .await;
    w.app("app", "app", true, false).await;

    // Then the sync fails naming the Job, the Deployment is never applied, the SyncFail hook
    // ran, and the failure is not retried for the same revision.
    let s = w
        .expect_app("app", 60, "a failed operation", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    let msg = op_state(&s)["message"].as_str().unwrap_or_default();
    assert!(msg.contains("Job demo/migrate"), "{msg}");
    assert!(
        condition(&s, "SyncError").is_some_and(|c| c.contains("migrate")),
        "{s:#}"
    );
    w.expect_target(&cm_res(), "alert", 5, "the SyncFail hook ran", |v| {
        v.is_some()
    })
    .await;
    w.expect_target(&deploy_res(), "web", 1, "never applied", |v| v.is_none())
        .await;
    let started = op_state(&s)["startedAt"].clone();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = w.status("app").await;
    assert_eq!(op_state(&s)["startedAt"], started, "not retried: {s:#}");
    assert_eq!(s["sync"]["status"], "OutOfSync", "{s:#}");
}

const WIDGET_CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_operations_selective_sync_rollback_terminate_and_resource_options() {
    // Given a manually synced application with a CRD and its custom resource, a ConfigMap
    // that must never be pruned or deleted, another ConfigMap, and a generateName hook.
    let mut w = World::new(&[
        ("ops/crd.yaml", WIDGET_CRD.into()),
        (
            "ops/widget.yaml",
            "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w1\nspec:\n  size: 3\n"
                .into(),
        ),
        (
            "ops/keep.yaml",
            cm_annotated(
                "keep",
                "precious",
                "argocd.argoproj.io/sync-options",
                "Prune=false,Delete=false",
            ),
        ),
        ("ops/one.yaml", cm("one", "v1")),
        (
            "ops/report.yaml",
            job("x", "busybox:1", "    argocd.argoproj.io/hook: PostSync\n")
                .replace("  name: x\n", "  generateName: report-\n"),
        ),
    ])
    .await;
    w.app("ops", "ops", false, true).await;

    // When it is synced from the CLI, then the CRD comes before its custom resource and the
    // hook gets a generated name.
    let (ok, out) = w.ferry(&["sync", "ops"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("Succeeded"), "{out}");
    let widgets = ar("example.com", "v1", "Widget", "widgets");
    w.expect_target(&widgets, "w1", 5, "the custom resource", |v| {
        v.is_some_and(|v| v["spec"]["size"] == 3)
    })
    .await;
    let s = w.status("ops").await;
    let report = op_state(&s)["syncResult"]["resources"]
        .as_array()
        .and_then(|rs| {
            rs.iter()
                .find(|r| r["hookType"] == "PostSync")
                .and_then(|r| r["name"].as_str())
                .map(str::to_owned)
        })
        .expect("the hook's result");
    assert!(
        report.starts_with("report-") && report.ends_with("-postsync-0"),
        "{report}"
    );
    w.expect_target(&job_res(), &report, 5, "the generated hook", |v| {
        v.is_some()
    })
    .await;
    let first = s["history"][0]["id"].as_i64().expect("history id");

    // When Git changes one ConfigMap and drops the other, and only the first is synced, then
    // nothing else is touched.
    w.commit(
        &[
            ("ops/one.yaml", Some(cm("one", "v2"))),
            ("ops/keep.yaml", None),
        ],
        "v2",
    );
    let (ok, out) = w.ferry(&["get", "ops", "--refresh", "-o", "json"]).await;
    assert!(ok, "{out}");
    let (ok, out) = w
        .ferry(&["sync", "ops", "--resource", ":ConfigMap:one"])
        .await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "one", 5, "v2", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v2")
    })
    .await;
    let s = w.status("ops").await;
    let synced: Vec<&str> = op_state(&s)["syncResult"]["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["kind"] != "Namespace")
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        synced,
        ["one"],
        "a selective sync syncs one resource: {s:#}"
    );

    // When a sync prunes, then the Prune=false ConfigMap stays and says why.
    let (ok, out) = w.ferry(&["sync", "ops", "--prune"]).await;
    assert!(ok, "{out}");
    assert!(out.contains("Prune=false"), "{out}");
    w.expect_target(&cm_res(), "keep", 1, "kept", |v| v.is_some())
        .await;

    // When rolled back to the first sync, then the first revision is live again.
    let (ok, out) = w.ferry(&["rollback", "ops", &first.to_string()]).await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "one", 5, "v1 again", |v| {
        v.is_some_and(|v| v["data"]["value"] == "v1")
    })
    .await;

    // When a sync waits on a hook that never finishes, then it can be terminated: the hook is
    // deleted and the operation fails, saying so; and a second sync meanwhile is refused.
    w.commit(
        &[(
            "ops/wait.yaml",
            Some(job(
                "wait",
                "busybox:never-ready",
                "    argocd.argoproj.io/hook: Sync\n",
            )),
        )],
        "a hook that never ends",
    );
    let (ok, out) = w.ferry(&["sync", "ops", "--timeout", "4"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("waiting for completion of hook Job wait"),
        "{out}"
    );
    let (ok, out) = w.ferry(&["sync", "ops"]).await;
    assert!(!ok && out.contains("operation in progress"), "{out}");
    let (ok, out) = w.ferry(&["terminate-op", "ops"]).await;
    assert!(ok, "{out}");
    let s = w
        .expect_app("ops", 20, "the operation terminated", |s| {
            op_state(s)["phase"] == "Failed"
        })
        .await;
    assert_eq!(op_state(&s)["message"], "operation terminated", "{s:#}");
    w.expect_target(&job_res(), "wait", 10, "the running hook deleted", |v| {
        v.is_none()
    })
    .await;

    // When a running hook is deleted by hand, then the sync fails and says so.
    let (ok, out) = w.ferry(&["sync", "ops", "--timeout", "3"]).await;
    assert!(!ok, "{out}");
    let jobs: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &job_res());
    jobs.delete("wait", &Default::default())
        .await
        .expect("delete the hook");
    let s = w
        .expect_app("ops", 20, "the operation failed", |s| {
            op_state(s)["phase"] == "Failed"
                && op_state(s)["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("deleted before it finished"))
        })
        .await;
    assert!(
        condition(&s, "SyncError").is_some_and(|c| c.contains("Job demo/wait")),
        "{s:#}"
    );

    // When the application is deleted with its resources, then the Delete=false ConfigMap
    // stays and the rest goes.
    let (ok, out) = w.ferry(&["delete", "ops"]).await;
    assert!(ok, "{out}");
    w.expect_target(&cm_res(), "one", 20, "deleted", |v| v.is_none())
        .await;
    w.expect_target(&cm_res(), "keep", 1, "kept", |v| v.is_some())
        .await;
    w.stop_git();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sync_is_retried_with_backoff_and_replace_writes_without_apply() {
    // Given an application whose ConfigMap goes into a namespace that does not exist yet,
    // with retries, and a ConfigMap that asks to be replaced rather than applied.
    let w = World::new(&[
        (
            "retry/late.yaml",
            cm("late", "v1").replace("  name: late\n", "  name: late\n  namespace: later\n"),
        ),
        (
            "retry/replaced.yaml",
            cm_annotated(
                "replaced",
                "v1",
                "argocd.argoproj.io/sync-options",
                "Replace=true",
            ),
        ),
    ])
    .await;
    w.create_app(
        "retry",
        json!({"source": {"path": "retry"},
            "syncPolicy": {"automated": {"prune": true},
                "retry": {"limit": 5, "backoff": {"duration": "1s", "factor": 2, "maxDuration": "4s"}}}}),
    )
    .await;

    // Then the first attempt fails and is retried, saying when.
    let s = w
        .expect_app("retry", 30, "a retry", |s| {
            op_state(s)["phase"] == "Running" && op_state(s)["retryCount"].as_i64() >= Some(1)
        })
        .await;
    assert!(
        op_state(&s)["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("retrying (attempt") && m.contains("later")),
        "{s:#}"
    );

    // When the namespace appears, then a retry succeeds.
    w.apply_target_namespace("later").await;
    let s = w
        .expect_app("retry", 30, "the operation to succeed", |s| {
            op_state(s)["phase"] == "Succeeded"
        })
        .await;
    assert!(op_state(&s)["retryCount"].as_i64() >= Some(1), "{s:#}");
    let cms: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "later", &cm_res());
    assert!(cms.get_opt("late").await.expect("read").is_some());

    // And the Replace=true ConfigMap was written by an update, not by server-side apply.
    let replaced: Api<DynamicObject> = Api::namespaced_with(w.target.clone(), "demo", &cm_res());
    let obj = replaced.get("replaced").await.expect("replaced exists");
    let ops: Vec<String> = obj
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter_map(|m| m.operation.clone())
        .collect();
    assert!(
        !ops.is_empty() && ops.iter().all(|o| o == "Update"),
        "no Apply operation on a replaced object: {ops:?}"
    );
}
