//! The API end to end, in process: the Kubernetes API emulator (a management cluster and
//! two target clusters, `blue` and `green`, labelled as generations), a Git repository on
//! disk, the controllers (`ferry_runtime`) and the server, talked to over HTTP as a client
//! would. Every endpoint is called, with bad input too, and no answer of the run holds a
//! Secret's value or a cluster's token.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ferry_cluster::api_resource as ar;
use ferry_core::Sensitive;
use ferry_emulator::{ClusterConfig, Emulator};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ADMIN: &str = "api-test-admin-token-4f2c";
const TOKEN: &str = "api-test-ferry-token-9b1d";
const SECRET_VALUE: &str = "hunter2-in-git-7e4a";

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

/// An HTTP/1.1 answer: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Client {
    addr: std::net::SocketAddr,
    /// Every answer's body, to look for leaks at the end.
    seen: std::sync::Mutex<String>,
}

impl Client {
    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("the server listens");
        let mut req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_owned()
        };
        self.seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_str(&body);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, path: &str) -> Answer {
        self.call(
            "GET",
            path,
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            "",
        )
        .await
    }

    async fn post(&self, path: &str, body: Value) -> Answer {
        let auth = format!("Bearer {TOKEN}");
        self.call(
            "POST",
            path,
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/json"),
            ],
            &body.to_string(),
        )
        .await
    }

    async fn eventually(
        &self,
        path: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let a = self.get(path).await;
            if a.status == 200 && ok(&a.json()) {
                return a.json();
            }
            assert!(
                Instant::now() < deadline,
                "{path}: not {what} within {secs}s: {}",
                a.body
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

fn app_named<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list["items"].as_array()?.iter().find(|a| a["name"] == name)
}

fn synced_healthy(a: Option<&Value>) -> bool {
    a.is_some_and(|a| a["sync"]["status"] == "Synced" && a["health"]["status"] == "Healthy")
}

async fn apply(
    client: &kube::Client,
    r: &kube::discovery::ApiResource,
    ns: Option<&str>,
    obj: Value,
) {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, r),
        None => Api::all_with(client.clone(), r),
    };
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.patch(
        &name,
        &PatchParams::apply("api-test").force(),
        &Patch::Apply(&obj),
    )
    .await
    .unwrap_or_else(|e| panic!("applying {name}: {e}"));
}

fn cluster_secret(emu: &Emulator, name: &str, generation: &str) -> Value {
    let c = emu.cluster(name).expect("cluster");
    let ca = base64::engine::general_purpose::STANDARD.encode(c.ca_pem());
    let config = json!({"bearerToken": c.admin_token(), "tlsClientConfig": {"caData": ca}});
    json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("cluster-{name}"),
            "labels": {"argocd.argoproj.io/secret-type": "cluster", "generation": generation}},
        "stringData": {"name": name, "server": c.url(), "config": config.to_string()}})
}

fn appset(repo_url: &str, clusters: &[&str]) -> Value {
    let elements: Vec<Value> = clusters.iter().map(|c| json!({"cluster": c})).collect();
    json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "ApplicationSet",
        "metadata": {"name": "guestbook", "namespace": "ferry"},
        "spec": {"generators": [{"list": {"elements": elements}}],
            "template": {"metadata": {"name": "guestbook-{{cluster}}",
                    "finalizers": ["resources-finalizer.argocd.argoproj.io"]},
                "spec": {"project": "default",
                    "source": {"repoURL": repo_url, "targetRevision": "main", "path": "guestbook"},
                    "destination": {"name": "{{cluster}}", "namespace": "guestbook"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                        "syncOptions": ["CreateNamespace=true"]}}}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_from_the_fleet_and_bad_input_gets_a_clear_error() {
    // Given a management cluster and the clusters blue and green (two generations).
    let emu = Emulator::start(vec![
        ClusterConfig::new("management", ADMIN),
        ClusterConfig::new("blue", "blue-admin-token-1a2b"),
        ClusterConfig::new("green", "green-admin-token-3c4d"),
    ])
    .await
    .expect("emulator");
    // And a repository: the guestbook (a ConfigMap and a Secret) and a legacy service.
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join("guestbook")).expect("dir");
    std::fs::create_dir_all(repo.join("legacy")).expect("dir");
    std::fs::write(
        repo.join("guestbook/settings.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n",
    )
    .expect("write");
    std::fs::write(
        repo.join("guestbook/secret.yaml"),
        format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {SECRET_VALUE}\n"),
    )
    .expect("write");
    std::fs::write(
        repo.join("legacy/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: legacy\ndata:\n  v: \"1\"\n",
    )
    .expect("write");
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "initial"]);
    let repo_url = format!("file://{}", repo.display());

    // And the controllers and the server, in this process.
    let mgmt = config_of(&emu, "management").await;
    let client = kube::Client::try_from(mgmt.clone()).expect("client");
    let mut runtime = ferry_runtime::Config::new(dir.path().join("git"));
    runtime.allow_file_urls = true;
    runtime.poll_interval = Duration::from_secs(1);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let _running = ferry_runtime::start(mgmt.clone(), runtime, stop.clone())
        .await
        .expect("the controllers start");
    let mut config = ferry_server::ServerConfig::new(
        "127.0.0.1:0".parse().expect("an address"),
        dir.path().join("server-git"),
    );
    config.allow_file_urls = true;
    let server = ferry_server::start(
        mgmt,
        config,
        Sensitive::new(TOKEN.to_owned()),
        None,
        stop.clone(),
    )
    .await
    .expect("the server starts");
    let http = Client {
        addr: server.addr,
        seen: std::sync::Mutex::new(String::new()),
    };

    let secrets = ar("", "v1", "Secret", "secrets");
    apply(
        &client,
        &secrets,
        Some("ferry"),
        cluster_secret(&emu, "blue", "blue"),
    )
    .await;
    apply(
        &client,
        &secrets,
        Some("ferry"),
        cluster_secret(&emu, "green", "green"),
    )
    .await;
    let sets = ar("ferry.dev", "v1alpha1", "ApplicationSet", "applicationsets");
    apply(
        &client,
        &sets,
        Some("ferry"),
        appset(&repo_url, &["blue", "green"]),
    )
    .await;
    let apps = ar("ferry.dev", "v1alpha1", "Application", "applications");
    let legacy = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "legacy-blue", "namespace": "ferry", "labels": {"team": "old"}},
        "spec": {"project": "default",
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "legacy"},
            "destination": {"name": "blue", "namespace": "legacy"},
            "syncPolicy": {"syncOptions": ["CreateNamespace=true"]}}});
    apply(&client, &apps, Some("ferry"), legacy).await;

    // Then without a token nothing is answered, and a wrong one is refused.
    let a = http.call("GET", "/api/v1/applications", &[], "").await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert_eq!(a.json()["error"]["code"], "unauthenticated");
    let a = http
        .call(
            "GET",
            "/api/v1/applications",
            &[("Authorization", "Bearer nope")],
            "",
        )
        .await;
    assert_eq!(a.status, 401);
    // And health, readiness and the OpenAPI document need none.
    assert_eq!(http.call("GET", "/healthz", &[], "").await.status, 200);
    let doc = http.call("GET", "/api/v1/openapi.json", &[], "").await;
    assert_eq!(doc.json()["openapi"], "3.1.0");

    // When the controllers have delivered, the list shows the generated guestbooks Synced
    // and Healthy, and legacy-blue (manual sync) OutOfSync.
    let list = http
        .eventually("/api/v1/applications", 60, "the guestbooks Synced", |l| {
            synced_healthy(app_named(l, "guestbook-blue"))
                && synced_healthy(app_named(l, "guestbook-green"))
                && app_named(l, "legacy-blue").is_some_and(|a| a["sync"]["status"] == "OutOfSync")
        })
        .await;
    assert_eq!(list["total"], 3);
    let blue = app_named(&list, "guestbook-blue")
        .cloned()
        .unwrap_or_default();
    assert_eq!(blue["cluster"], "blue");
    assert_eq!(blue["applicationSet"], "guestbook");
    assert_eq!(blue["resources"], 2, "the ConfigMap and the Secret: {blue}");
    // And the filters combine.
    let on_blue = http.get("/api/v1/applications?cluster=blue").await.json();
    assert_eq!(on_blue["total"], 2, "{on_blue}");
    let old = http
        .get("/api/v1/applications?selector=team%3Dold&sync=OutOfSync")
        .await
        .json();
    assert_eq!(old["total"], 1, "{old}");
    let a = http.get("/api/v1/applications?selector=team").await;
    assert_eq!(a.status, 400);
    assert!(
        a.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("key=value")
    );

    // And one application in full; an unknown one is a 404 naming it.
    let one = http.get("/api/v1/applications/guestbook-blue").await.json();
    let kinds: Vec<&str> = one["status"]["resources"]
        .as_array()
        .map(|r| r.iter().filter_map(|x| x["kind"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        kinds.contains(&"ConfigMap") && kinds.contains(&"Secret"),
        "{one}"
    );
    assert!(
        !one["status"]["history"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "{one}"
    );
    let a = http.get("/api/v1/applications/nope").await;
    assert_eq!(a.status, 404);
    assert!(
        a.body.contains("application \\\"nope\\\" not found"),
        "{}",
        a.body
    );

    // When someone edits blue's ConfigMap by hand (legacy has no self-heal; the guestbook
    // heals, so the diff is asked of legacy after a hand edit of its ConfigMap)...
    let blue_client = kube::Client::try_from(config_of(&emu, "blue").await).expect("client");
    let sync = http
        .post(
            "/api/v1/applications/legacy-blue/sync",
            json!({"prune": true}),
        )
        .await;
    assert_eq!(sync.status, 202, "{}", sync.body);
    http.eventually("/api/v1/applications/legacy-blue", 30, "Synced", |a| {
        a["summary"]["sync"]["status"] == "Synced"
            && a["summary"]["operation"]["phase"] == "Succeeded"
    })
    .await;
    let cms: Api<DynamicObject> = Api::namespaced_with(
        blue_client.clone(),
        "legacy",
        &ar("", "v1", "ConfigMap", "configmaps"),
    );
    cms.patch(
        "legacy",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "hand-edited"}})),
    )
    .await
    .expect("hand edit");
    // ...then its diff shows the change, live to desired.
    let diff = http.get("/api/v1/applications/legacy-blue/diff").await;
    assert_eq!(diff.status, 200, "{}", diff.body);
    let diff = diff.json();
    let item = diff["items"]
        .as_array()
        .and_then(|i| i.iter().find(|x| x["kind"] == "ConfigMap"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(item["status"], "OutOfSync", "{diff}");
    let text = item["diff"].as_str().unwrap_or_default();
    assert!(
        text.contains("hand-edited") && text.contains("\"1\""),
        "{text}"
    );
    // And the guestbook's diff (nothing differs) holds no Secret value.
    let gdiff = http.get("/api/v1/applications/guestbook-blue/diff").await;
    assert_eq!(gdiff.status, 200, "{}", gdiff.body);

    // When a sync is asked while one is not running: accepted, and the stream tells.
    let mut stream = tokio::net::TcpStream::connect(server.addr)
        .await
        .expect("connect");
    stream
        .write_all(
            format!(
                "GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    // Its head arrives before any change (not with the first keep-alive, 15 s later).
    let mut seen = String::new();
    while !seen.contains(": open") {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the stream's head within 10 s, before any event")
            .expect("read");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let a = http
        .post("/api/v1/applications/legacy-blue/sync", json!({}))
        .await;
    assert_eq!(a.status, 202, "{}", a.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !seen.contains("\"name\":\"legacy-blue\"") {
        let mut buf = [0u8; 4096];
        let n = tokio::time::timeout_at(deadline.into(), stream.read(&mut buf))
            .await
            .expect("an event within 20 s")
            .expect("read");
        assert!(n > 0, "the stream ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(
        seen.contains("text/event-stream") && seen.contains("event: change"),
        "{seen}"
    );
    // And bad action input is refused clearly.
    let a = http
        .post("/api/v1/applications/legacy-blue/sync", json!({"bogus": 1}))
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("unknown field `bogus`"), "{}", a.body);
    let a = http
        .post(
            "/api/v1/applications/guestbook-blue/rollback",
            json!({"id": 1}),
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(a.body.contains("automated sync is on"), "{}", a.body);
    http.eventually("/api/v1/applications/legacy-blue", 30, "done", |a| {
        a["summary"]["operation"]["phase"] == "Succeeded"
    })
    .await;
    let a = http
        .post("/api/v1/applications/legacy-blue/terminate", json!({}))
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    let a = http
        .post(
            "/api/v1/applications/legacy-blue/refresh",
            json!({"hard": true}),
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.body);
    let a = http.post("/api/v1/applications/nope/sync", json!({})).await;
    assert_eq!(a.status, 404);

    // And a session cookie works for reads, and for changes only with the request header.
    let a = http
        .call(
            "POST",
            "/api/v1/session",
            &[("Content-Type", "application/json")],
            &json!({"token": TOKEN}).to_string(),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let cookie = a
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap_or_default()
        .to_owned();
    assert!(cookie.starts_with("ferry_session="), "{cookie}");
    let a = http
        .call("GET", "/api/v1/session", &[("Cookie", &cookie)], "")
        .await;
    assert_eq!(a.json()["user"], "admin");
    let a = http
        .call(
            "POST",
            "/api/v1/applications/legacy-blue/refresh",
            &[("Cookie", &cookie)],
            "",
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = http
        .call(
            "POST",
            "/api/v1/applications/legacy-blue/refresh",
            &[("Cookie", &cookie), ("X-Ferry-Request", "1")],
            "",
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.body);

    // Then the ApplicationSet lists what it generated.
    let sets = http.get("/api/v1/applicationsets").await.json();
    let set = &sets["items"][0];
    assert_eq!(set["name"], "guestbook");
    assert_eq!(set["generators"], json!(["list"]));
    let mut generated: Vec<&str> = set["applications"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    generated.sort_unstable();
    assert_eq!(generated, ["guestbook-blue", "guestbook-green"]);
    assert_eq!(http.get("/api/v1/applicationsets/nope").await.status, 404);

    // When the set, changed to leave green, is previewed, the answer says guestbook-green
    // and its resources would leave green; blue is unchanged.
    let changed = serde_json::to_string(&appset(&repo_url, &["blue"])).expect("json");
    let auth = format!("Bearer {TOKEN}");
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/yaml"),
    ];
    let p = http
        .call(
            "POST",
            "/api/v1/applicationsets/preview",
            &headers,
            &changed,
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    let p = p.json();
    let cluster = |name: &str| {
        p["clusters"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["cluster"] == name))
            .cloned()
            .unwrap_or_default()
    };
    let green = cluster("green");
    let leaving = &green["applications"][0];
    assert_eq!(leaving["name"], "guestbook-green", "{p}");
    assert_eq!(leaving["action"], "delete", "{p}");
    let gone: Vec<(&str, &str)> = leaving["resources"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|x| Some((x["kind"].as_str()?, x["action"].as_str()?)))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        gone.contains(&("ConfigMap", "delete")) && gone.contains(&("Secret", "delete")),
        "{p}"
    );
    assert_eq!(
        cluster("blue")["applications"][0]["action"],
        "unchanged",
        "{p}"
    );
    // And a new set's preview renders what it would create.
    let mut new_set = appset(&repo_url, &["green"]);
    new_set["metadata"]["name"] = json!("guestbook-next");
    new_set["spec"]["template"]["metadata"]["name"] = json!("next-{{cluster}}");
    let p = http
        .call(
            "POST",
            "/api/v1/applicationsets/preview",
            &headers,
            &new_set.to_string(),
        )
        .await
        .json();
    let created = &p["clusters"][0]["applications"][0];
    assert_eq!(created["action"], "create", "{p}");
    assert!(
        created["resources"].as_array().is_some_and(|r| r
            .iter()
            .any(|x| x["kind"] == "ConfigMap" && x["action"] == "create")),
        "{p}"
    );
    // And bad input names what is wrong: malformed YAML its line, another kind its kind, too
    // much its size.
    let a = http
        .call("POST", "/api/v1/applicationsets/preview", &headers,
            "apiVersion: ferry.dev/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: x\n spec: [\n")
        .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("line"), "{}", a.body);
    let a = http
        .call(
            "POST",
            "/api/v1/applicationsets/preview",
            &headers,
            "kind: ConfigMap\n",
        )
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("ConfigMap, not an ApplicationSet"),
        "{}",
        a.body
    );
    let big = format!(
        "kind: ApplicationSet\nx: \"{}\"\n",
        "a".repeat(2 * 1024 * 1024)
    );
    let a = http
        .call("POST", "/api/v1/applicationsets/preview", &headers, &big)
        .await;
    assert_eq!(a.status, 413, "{}", &a.body[..a.body.len().min(300)]);

    // Then the clusters answer their labels and status, never their credentials.
    let clusters = http
        .eventually("/api/v1/clusters", 30, "both reachable", |c| {
            c["items"]
                .as_array()
                .is_some_and(|i| i.len() == 2 && i.iter().all(|c| c["reachable"] == true))
        })
        .await;
    assert_eq!(clusters["items"][0]["name"], "blue");
    assert_eq!(clusters["items"][0]["labels"]["generation"], "blue");

    // And the migration view: the guestbook is on both generations and Synced on green,
    // so blue's copy may go; legacy is only on blue, not moved.
    let m = http.get("/api/v1/migration").await.json();
    assert!(
        m["labels"]
            .as_array()
            .is_some_and(|l| l.contains(&json!("generation"))),
        "{m}"
    );
    let m = http.get("/api/v1/migration?label=generation").await.json();
    assert_eq!(m["generations"], json!(["blue", "green"]), "{m}");
    assert_eq!(m["to"], "green");
    let workload = |w: &str| {
        m["workloads"]
            .as_array()
            .and_then(|l| {
                l.iter()
                    .find(|x| x["workload"].as_str().is_some_and(|n| n.contains(w)))
            })
            .cloned()
            .unwrap_or_default()
    };
    let guestbook = workload("guestbook");
    assert_eq!(guestbook["moved"], true, "{m}");
    assert_eq!(guestbook["safeToRemove"], json!(["guestbook-blue"]), "{m}");
    let legacy = workload("legacy");
    assert_eq!(legacy["moved"], false, "{m}");
    assert_eq!(legacy["on"]["green"], json!([]), "{m}");
    let a = http
        .get("/api/v1/migration?label=generation&to=purple")
        .await;
    assert_eq!(a.status, 400);
    assert!(
        a.body.contains("purple") && a.body.contains("blue, green"),
        "{}",
        a.body
    );

    // When legacy-blue is deleted without its resources, it leaves the list and its
    // ConfigMap stays in blue.
    let a = http
        .call(
            "DELETE",
            "/api/v1/applications/legacy-blue?cascade=false",
            &[("Authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(a.status, 202, "{}", a.body);
    http.eventually("/api/v1/applications", 30, "without legacy-blue", |l| {
        app_named(l, "legacy-blue").is_none()
    })
    .await;
    assert!(cms.get_opt("legacy").await.expect("read").is_some());
    let a = http
        .call(
            "DELETE",
            "/api/v1/applications/x?cascade=maybe",
            &[("Authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(a.status, 404);

    // No answer of the run held a Secret's value or a cluster's token.
    let seen = http
        .seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    assert!(seen.contains("guestbook-blue"), "answers were read");
    let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET_VALUE);
    for secret in [
        SECRET_VALUE,
        b64.as_str(),
        ADMIN,
        "blue-admin-token-1a2b",
        "green-admin-token-3c4d",
        TOKEN,
    ] {
        assert!(!seen.contains(secret), "{secret} was in an answer");
    }
    stop_tx.send_replace(true);
}
