//! Behaviour a user of the emulator relies on beyond the transcripts: the workload
//! simulator, garbage collection, CRDs, fault injection, watch expiry.

use std::time::Duration;

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::discovery::ApiResource;
use serde_json::{Value, json};

use crate::support::{ADMIN, client, emulator, raw_request};

fn ar(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

fn obj(v: Value) -> DynamicObject {
    serde_json::from_value(v).expect("object")
}

/// Polls `f` until it returns `Some`, for at most `secs` seconds.
async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if let Some(v) = f().await {
            return Some(v);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn deployment(name: &str, annotations: Value) -> DynamicObject {
    obj(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": "default", "annotations": annotations},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}, "template": {"metadata": {"labels": {"app": name}},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}]}}}}))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workloads_become_ready_unless_told_not_to() {
    let emu = emulator().await;
    let client = client(&emu.kubeconfig()).await;
    let deploys: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ar("apps", "v1", "Deployment", "deployments"),
    );
    let pp = PatchParams::apply("test");
    deploys
        .patch("ok", &pp, &Patch::Apply(&deployment("ok", json!({}))))
        .await
        .expect("apply ok");
    deploys
        .patch(
            "stuck",
            &pp,
            &Patch::Apply(&deployment(
                "stuck",
                json!({"emulator.ferry.dev/never-ready": "true"}),
            )),
        )
        .await
        .expect("apply stuck");
    let ready = eventually(10, || async {
        let d = deploys.get("ok").await.ok()?;
        (d.data["status"]["readyReplicas"] == 2 && d.data["status"]["observedGeneration"] == 1)
            .then_some(d)
    })
    .await;
    assert!(ready.is_some(), "the deployment became ready");
    let stuck = deploys.get("stuck").await.expect("get");
    assert_eq!(
        stuck.data["status"]["unavailableReplicas"], 2,
        "{}",
        stuck.data["status"]
    );
    assert!(stuck.data["status"].get("readyReplicas").is_none());

    let jobs: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), "default", &ar("batch", "v1", "Job", "jobs"));
    let job = |name: &str, image: &str| {
        obj(
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"backoffLimit": 1, "template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "m", "image": image}]}}}}),
        )
    };
    jobs.create(&PostParams::default(), &job("good", "busybox:1"))
        .await
        .expect("job");
    jobs.create(&PostParams::default(), &job("bad", "busybox:fail"))
        .await
        .expect("job");
    let cond = |name: &'static str| {
        let jobs = jobs.clone();
        async move {
            eventually(10, || async {
                let j = jobs.get(name).await.ok()?;
                j.data["status"]["conditions"][0]["type"]
                    .as_str()
                    .map(str::to_owned)
            })
            .await
        }
    };
    assert_eq!(cond("good").await.as_deref(), Some("Complete"));
    assert_eq!(cond("bad").await.as_deref(), Some("Failed"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_deletion_collects_dependents() {
    let emu = emulator().await;
    let client = client(&emu.kubeconfig()).await;
    let cms: Api<DynamicObject> =
        Api::namespaced_with(client, "default", &ar("", "v1", "ConfigMap", "configmaps"));
    let owner = cms
        .create(
            &PostParams::default(),
            &obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})),
        )
        .await
        .expect("owner");
    let uid = owner.metadata.uid.expect("uid");
    cms.create(&PostParams::default(), &obj(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "child",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid}]}})))
        .await
        .expect("child");
    cms.delete("owner", &DeleteParams::background())
        .await
        .expect("delete owner");
    let gone = eventually(10, || async {
        cms.get_opt("child")
            .await
            .ok()
            .and_then(|c| c.is_none().then_some(()))
    })
    .await;
    assert!(gone.is_some(), "the dependent was garbage collected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_faults_and_revoked_tokens() {
    let emu = emulator().await;
    let cluster = emu.cluster("test").expect("cluster");
    let client = client(&emu.kubeconfig()).await;
    let cms: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ar("", "v1", "ConfigMap", "configmaps"),
    );

    // kube-rs retries 429 and 503 by itself, so count with 500s...
    cluster.faults().fail_next(2, 500);
    for _ in 0..2 {
        let err = cms
            .list(&Default::default())
            .await
            .expect_err("injected failure");
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 500),
            "{err:?}"
        );
    }
    cms.list(&Default::default())
        .await
        .expect("recovers after the injected failures");
    // ...and see that it does get through a burst of throttling.
    cluster.faults().fail_next(2, 429);
    cms.list(&Default::default())
        .await
        .expect("kube-rs retries 429 with Retry-After");

    // Without retries: the status code and the Retry-After header a throttled client sees.
    let http = cluster.http_url().expect("http");
    cluster.faults().fail_next(1, 429);
    let (code, head, body) = raw_request(&http, "GET", "/api/v1/namespaces", ADMIN, None);
    assert_eq!(code, 429, "{body}");
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    assert!(body.contains("\"reason\":\"TooManyRequests\""), "{body}");
    cluster.faults().fail_next(1, 503);
    assert_eq!(
        raw_request(&http, "GET", "/api/v1/namespaces", ADMIN, None).0,
        503
    );
    assert_eq!(
        raw_request(&http, "GET", "/api/v1/namespaces", ADMIN, None).0,
        200
    );

    cluster.faults().set_unreachable(true);
    let fresh = crate::support::client(&emu.kubeconfig()).await;
    let down: Api<DynamicObject> =
        Api::namespaced_with(fresh, "default", &ar("", "v1", "ConfigMap", "configmaps"));
    let err = down
        .list(&Default::default())
        .await
        .expect_err("unreachable");
    assert!(
        !matches!(err, kube::Error::Api(_)),
        "a transport error, not an API answer: {err:?}"
    );
    cluster.faults().set_unreachable(false);
    down.list(&Default::default())
        .await
        .expect("reachable again");

    cluster.revoke_token(cluster.admin_token());
    let err = cms.list(&Default::default()).await.expect_err("revoked");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 401),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_are_served_validated_and_removed_with_their_crd() {
    let emu = emulator().await;
    let client = client(&emu.kubeconfig()).await;
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ar(
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            "customresourcedefinitions",
        ),
    );
    let crd = obj(
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.test"},
        "spec": {"group": "example.test", "scope": "Namespaced", "names": {"kind": "Gadget", "plural": "gadgets"},
            "versions": [{"name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {"spec": {"type": "object",
                    "properties": {"size": {"type": "integer", "minimum": 1, "default": 3}}}}}}}]}}),
    );
    crds.patch(
        "gadgets.example.test",
        &PatchParams::apply("test"),
        &Patch::Apply(&crd),
    )
    .await
    .expect("crd");
    let established = eventually(10, || async {
        let c = crds.get("gadgets.example.test").await.ok()?;
        c.data["status"]["conditions"]
            .as_array()?
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
            .then_some(())
    })
    .await;
    assert!(established.is_some(), "the CRD is established");
    let gadgets: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        "default",
        &ar("example.test", "v1", "Gadget", "gadgets"),
    );
    let g = gadgets
        .create(&PostParams::default(), &obj(json!({"apiVersion": "example.test/v1", "kind": "Gadget", "metadata": {"name": "g"}, "spec": {}})))
        .await
        .expect("custom resource");
    assert_eq!(g.data["spec"]["size"], 3, "schema default applied");
    let err = gadgets
        .create(&PostParams::default(), &obj(json!({"apiVersion": "example.test/v1", "kind": "Gadget", "metadata": {"name": "h"}, "spec": {"size": 0}})))
        .await
        .expect_err("validation");
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 422),
        "{err:?}"
    );
    // An undeclared field: a create drops it (pruning); an apply is refused as a real API
    // server refuses it (kubernetes#139253: a 500 naming the field), and nothing changes.
    let pruned = gadgets
        .create(&PostParams::default(), &obj(json!({"apiVersion": "example.test/v1", "kind": "Gadget", "metadata": {"name": "p"}, "spec": {"size": 2, "colour": "red"}})))
        .await
        .expect("a create with an undeclared field");
    assert_eq!(pruned.data["spec"], json!({"size": 2}), "pruned");
    let err = gadgets
        .patch(
            "g",
            &PatchParams::apply("test"),
            &Patch::Apply(&json!({"apiVersion": "example.test/v1", "kind": "Gadget",
                "metadata": {"name": "g"}, "spec": {"size": 4, "colour": "red"}})),
        )
        .await
        .expect_err("an apply with an undeclared field");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 500, "{s:?}");
            assert_eq!(
                s.message,
                "failed to create typed patch object (default/g; example.test/v1, Kind=Gadget): .spec.colour: field not declared in schema"
            );
        }
        other => panic!("{other:?}"),
    }
    let g = gadgets.get("g").await.expect("g");
    assert_eq!(
        g.data["spec"]["size"], 3,
        "the refused apply changed nothing"
    );
    crds.delete("gadgets.example.test", &DeleteParams::default())
        .await
        .expect("delete crd");
    let gone = eventually(10, || async {
        gadgets
            .list(&Default::default())
            .await
            .is_err()
            .then_some(())
    })
    .await;
    assert!(gone.is_some(), "the custom resources stop being served");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let emu = emulator().await;
    let http = emu
        .cluster("test")
        .expect("cluster")
        .http_url()
        .expect("http");
    let req = |m: &str, p: &str, b: Option<&str>| raw_request(&http, m, p, ADMIN, b);
    let cm =
        r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep"},"data":{"k":"v"}}"#;
    assert_eq!(
        req("POST", "/api/v1/namespaces/default/configmaps", Some(cm)).0,
        201
    );
    let (_, _, before) = req("GET", "/api/v1/namespaces/default/configmaps/keep", None);

    let (code, _, body) = req(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some("{not json"),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("\"reason\":\"BadRequest\""), "{body}");
    let (code, _, body) = req(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        Some(r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("does not match the expected kind"), "{body}");
    assert_eq!(
        req("GET", "/apis/nosuch.example.com/v1/things", None).0,
        404
    );
    assert_eq!(req("GET", "/api/v1/nosuchthings", None).0, 404);
    let (code, _, body) = req(
        "PATCH",
        "/api/v1/namespaces/default/configmaps/keep",
        Some(r#"[{"op":"test","path":"/data/k","value":"other"}]"#),
    );
    assert_eq!(code, 415, "no content type given for a patch: {body}");
    let (code, _, body) = req(
        "GET",
        "/api/v1/namespaces/default/configmaps?fieldSelector=spec.nope%3D1",
        None,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("field label not supported"), "{body}");
    let (code, _, body) = req("POST", "/api/v1/namespaces/missing/configmaps", Some(cm));
    assert_eq!(code, 404, "{body}");

    let (_, _, after) = req("GET", "/api/v1/namespaces/default/configmaps/keep", None);
    assert_eq!(before, after, "a bad request changed a stored object");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watches_resume_expire_and_can_be_dropped() {
    let emu = emulator().await;
    let cluster = emu.cluster("test").expect("cluster");
    let http = cluster.http_url().expect("http");
    let (_, _, list) = raw_request(
        &http,
        "GET",
        "/api/v1/namespaces/default/configmaps",
        ADMIN,
        None,
    );
    let list: Value = serde_json::from_str(&list).expect("list");
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_owned();
    for i in 0..3 {
        let body =
            format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"w{i}"}}}}"#);
        assert_eq!(
            raw_request(
                &http,
                "POST",
                "/api/v1/namespaces/default/configmaps",
                ADMIN,
                Some(&body)
            )
            .0,
            201
        );
    }
    let (_, _, events) = raw_request(
        &http,
        "GET",
        &format!(
            "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"
        ),
        ADMIN,
        None,
    );
    let names: Vec<String> = events
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| {
            format!(
                "{} {}",
                e["type"].as_str().unwrap_or_default(),
                e["object"]["metadata"]["name"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(names, vec!["ADDED w0", "ADDED w1", "ADDED w2"], "{events}");
    let (_, _, expired) = raw_request(
        &http,
        "GET",
        "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1&timeoutSeconds=1",
        ADMIN,
        None,
    );
    assert!(
        expired.contains("\"code\":410"),
        "a compacted resourceVersion gives 410 Gone: {expired}"
    );

    // A dropped watch ends long before its timeout.
    let url = "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=30".to_owned();
    let started = std::time::Instant::now();
    let h = std::thread::spawn({
        let http = http.clone();
        move || raw_request(&http, "GET", &url, ADMIN, None)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    cluster.faults().drop_watches();
    let (code, _, _) = tokio::task::spawn_blocking(move || h.join().expect("join"))
        .await
        .expect("join");
    assert_eq!(code, 200);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the watch ended when dropped"
    );

    // Added latency is felt by every request.
    cluster.faults().set_latency(Duration::from_millis(300));
    let t = std::time::Instant::now();
    raw_request(&http, "GET", "/version", ADMIN, None);
    assert!(t.elapsed() >= Duration::from_millis(300));
    cluster.faults().set_latency(Duration::ZERO);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_with_continue_across_namespaces() {
    let emu = emulator().await;
    let http = emu
        .cluster("test")
        .expect("cluster")
        .http_url()
        .expect("http");
    for ns in ["a", "a-b", "b"] {
        let body =
            format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{ns}"}}}}"#);
        assert_eq!(
            raw_request(&http, "POST", "/api/v1/namespaces", ADMIN, Some(&body)).0,
            201
        );
        for i in 0..3 {
            let body = format!(
                r#"{{"apiVersion":"v1","kind":"Secret","metadata":{{"name":"s{i}","labels":{{"paged":"yes"}}}}}}"#
            );
            assert_eq!(
                raw_request(
                    &http,
                    "POST",
                    &format!("/api/v1/namespaces/{ns}/secrets"),
                    ADMIN,
                    Some(&body)
                )
                .0,
                201
            );
        }
    }
    let mut seen = Vec::new();
    let mut cont = String::new();
    loop {
        let path = format!("/api/v1/secrets?labelSelector=paged%3Dyes&limit=2&continue={cont}");
        let (code, _, body) = raw_request(&http, "GET", &path, ADMIN, None);
        assert_eq!(code, 200, "{body}");
        let page: Value = serde_json::from_str(&body).expect("json");
        for i in page["items"].as_array().expect("items") {
            seen.push(format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or_default(),
                i["metadata"]["name"].as_str().unwrap_or_default()
            ));
        }
        match page["metadata"]["continue"].as_str() {
            Some(c) => cont = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(
        seen,
        vec![
            "a/s0", "a/s1", "a/s2", "a-b/s0", "a-b/s1", "a-b/s2", "b/s0", "b/s1", "b/s2"
        ]
    );
}
