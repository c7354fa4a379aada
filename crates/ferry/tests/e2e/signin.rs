//! Sign-in and permissions end to end, on `ferry all` and the emulator: the local admin's
//! password, project-role API tokens (scoped, revocable), RBAC from `ferry-rbac-cm` on every
//! route and list, audit events, and forged, expired, unsigned and replayed input refused in
//! words with nothing leaked. The browser flows (OIDC through `oidc-provider`, GitHub through
//! the stand-in) are in `signin_browser`.

use base64::Engine as _;
use ferry_cluster::api_resource as ar;
use serde_json::{Value, json};

use crate::http;
use crate::world::*;

const ADMIN_TOKEN: &str = "signin-admin-token";

pub(crate) fn project_res() -> kube::core::ApiResource {
    ar("ferry.dev", "v1alpha1", "AppProject", "appprojects")
}

/// The project `team-a`: anything from anywhere, with roles `ci` (get and sync its own
/// applications) and `viewer` (nothing of its own; `ferry-rbac-cm` makes it read-only).
pub(crate) fn team_a() -> Value {
    json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "team-a"},
        "spec": {"sourceRepos": ["*"],
            "destinations": [{"server": "*", "name": "*", "namespace": "*"}],
            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
            "roles": [
                {"name": "ci", "description": "CI of team A",
                 "policies": ["p, proj:team-a:ci, applications, get, team-a/*, allow",
                              "p, proj:team-a:ci, applications, sync, team-a/*, allow"]},
                {"name": "viewer"}]}})
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An HS256 JWT of `claims` signed with `key` (or, with `alg: none`, unsigned).
fn jwt(alg: &str, claims: &Value, key: &[u8]) -> String {
    let head = b64(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
    let body = b64(claims.to_string().as_bytes());
    let input = format!("{head}.{body}");
    if alg == "none" {
        return format!("{input}.");
    }
    let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    format!(
        "{input}.{}",
        b64(ring::hmac::sign(&k, input.as_bytes()).as_ref())
    )
}

pub(crate) async fn secret_value(w: &World, secret: &str, key: &str) -> Option<Vec<u8>> {
    let s = w
        .mgmt_get(&ar("", "v1", "Secret", "secrets"), secret)
        .await?;
    base64::engine::general_purpose::STANDARD
        .decode(s["data"][key].as_str()?)
        .ok()
}

/// Polls `fetch` until `ok` holds of what it answers (for at most `secs`); answers that.
pub(crate) async fn until<T: std::fmt::Debug, F, Fut>(
    secs: u64,
    what: &str,
    fetch: F,
    ok: impl Fn(&T) -> bool,
) -> T
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let v = fetch().await;
        if ok(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expected {what} within {secs}s; got {v:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_scoped_and_revocable_rbac_guards_every_route_and_forgeries_are_refused() {
    // Given `ferry all`, the project team-a with its roles, an application in it and one in
    // the default project, and a policy that makes team-a's viewer read-only everywhere.
    let mut w = World::new_stopped(&[
        ("a/cm.yaml", cm("team-a-settings", "v1")),
        ("b/cm.yaml", cm("billing-settings", "v1")),
    ])
    .await;
    let port = free_port();
    w.capture_log = true;
    w.start_all(port, "/", &["--admin-token".into(), ADMIN_TOKEN.into()])
        .await;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    w.apply_mgmt(&project_res(), Some("ferry"), team_a()).await;
    w.apply_mgmt(
        &ar("", "v1", "ConfigMap", "configmaps"),
        Some("ferry"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ferry-rbac-cm"},
            "data": {"policy.csv": "g, proj:team-a:viewer, role:readonly\n"}}),
    )
    .await;
    w.create_app(
        "web-a",
        json!({"project": "team-a", "source": {"path": "a"}}),
    )
    .await;
    w.create_app("billing", json!({"source": {"path": "b"}}))
        .await;
    w.expect_app("web-a", 60, "compared", |s| !s["sync"]["status"].is_null())
        .await;

    // When nobody signs in, then every guarded route answers 401 in words.
    let a = http::get(&format!("{base}/applications"), &[]).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("sign in"), "{}", a.body);
    let a = http::get(
        &format!("{base}/applications"),
        &[("cookie", "ferry_session=forged")],
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);

    // When the admin signs in with the generated first password (from the Secret the
    // server made), then a session is answered; a wrong password is refused.
    let password = until(
        30,
        "ferry-initial-admin-secret made by the server",
        || secret_value(&w, "ferry-initial-admin-secret", "password"),
        |p| p.is_some(),
    )
    .await
    .map(|p| String::from_utf8(p).expect("text"))
    .expect("the first password");
    let post = |body: Value| {
        let base = base.clone();
        async move {
            http::request(
                "POST",
                &format!("{base}/session"),
                &[("content-type", "application/json")],
                Some(body.to_string()),
            )
            .await
        }
    };
    let a = post(json!({"username": "admin", "password": "not-it"})).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("wrong username or password"), "{}", a.body);
    let a = post(json!({"username": "admin", "password": password})).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.header("set-cookie")
            .is_some_and(|c| c.contains("HttpOnly"))
    );
    let session = a.json()["token"]
        .as_str()
        .expect("a session token")
        .to_owned();
    let admin = format!("Bearer {session}");
    let me = http::get(&format!("{base}/session"), &[("authorization", &admin)]).await;
    assert_eq!(me.json()["user"], "admin", "{}", me.body);

    // When the admin makes an API token of team-a's role ci, then it is answered once and
    // the project records only its id.
    let made = http::request(
        "POST",
        &format!("{base}/projects/team-a/roles/ci/token"),
        &[
            ("authorization", &admin),
            ("content-type", "application/json"),
        ],
        Some(json!({"expiresIn": "1h", "id": "ci-1"}).to_string()),
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let ci_token = made.json()["token"].as_str().expect("the token").to_owned();
    let project = w.mgmt_get(&project_res(), "team-a").await.expect("team-a");
    assert_eq!(
        project["spec"]["roles"][0]["jwtTokens"][0]["id"], "ci-1",
        "{project}"
    );
    assert!(
        !project.to_string().contains(&ci_token),
        "the token is not stored"
    );
    let listed = until(
        20,
        "GET /projects listing ci-1",
        || async {
            http::get(&format!("{base}/projects"), &[("authorization", &admin)])
                .await
                .body
        },
        |b| b.contains("ci-1"),
    )
    .await;
    assert!(!listed.contains(&ci_token), "{listed}");
    let ci = format!("Bearer {ci_token}");

    // Then the token sees its project's application only, may sync it, and nothing else.
    let list = http::get(&format!("{base}/applications"), &[("authorization", &ci)]).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let names: Vec<String> = list.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(names, ["web-a"], "{}", list.body);
    assert_eq!(
        list.json()["items"][0]["can"],
        json!({"sync": true, "delete": false})
    );
    let a = http::get(
        &format!("{base}/applications/billing"),
        &[("authorization", &ci)],
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body
            .contains("permission denied: applications, get, default/billing"),
        "{}",
        a.body
    );
    let sync = |name: &str, auth: String| {
        let url = format!("{base}/applications/{name}/sync");
        async move {
            http::request(
                "POST",
                &url,
                &[
                    ("authorization", &auth),
                    ("content-type", "application/json"),
                ],
                Some("{}".into()),
            )
            .await
        }
    };
    let a = sync("billing", ci.clone()).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = http::request(
        "DELETE",
        &format!("{base}/applications/web-a"),
        &[("authorization", &ci)],
        None,
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    // A missing application tells a project-scoped token nothing (403, not 404).
    let a = http::get(
        &format!("{base}/applications/nope"),
        &[("authorization", &ci)],
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = http::get(
        &format!("{base}/applications/nope"),
        &[("authorization", &admin)],
    )
    .await;
    assert_eq!(a.status, 404, "{}", a.body);
    let a = sync("web-a", ci.clone()).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let can = http::get(
        &format!("{base}/account/can-i/applications/sync/team-a/web-a"),
        &[("authorization", &ci)],
    )
    .await;
    assert_eq!(can.json()["value"], "yes", "{}", can.body);

    // And the sync is recorded: who asked, on the operation and as an event.
    w.expect_app("web-a", 60, "synced by the token", |s| {
        op_state(s)["operation"]["initiatedBy"]["username"] == "proj:team-a:ci"
    })
    .await;
    let events = http::get(
        &format!("{base}/applications/web-a/events"),
        &[("authorization", &admin)],
    )
    .await;
    assert!(
        events.body.contains("proj:team-a:ci initiated sync"),
        "{}",
        events.body
    );

    // When a read-only role's token (viewer, made read-only by ferry-rbac-cm) is used, then
    // it reads its project's applications and may change none; another project's stay
    // closed to it (a project's token acts in its project only, as in Argo CD).
    let made = http::request(
        "POST",
        &format!("{base}/projects/team-a/roles/viewer/token"),
        &[("authorization", &admin)],
        None,
    )
    .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let viewer = format!("Bearer {}", made.json()["token"].as_str().expect("token"));
    until(
        20,
        "the viewer token reading web-a",
        || async {
            http::get(
                &format!("{base}/applications/web-a"),
                &[("authorization", &viewer)],
            )
            .await
            .status
        },
        |s| *s == 200,
    )
    .await;
    let a = sync("web-a", viewer.clone()).await;
    assert_eq!(a.status, 403, "{}", a.body);
    let a = http::get(
        &format!("{base}/applications/billing"),
        &[("authorization", &viewer)],
    )
    .await;
    assert_eq!(a.status, 403, "{}", a.body);

    // When tokens are forged — signed with another key, unsigned (`alg: none`), expired,
    // made for another purpose, or naming an id the role does not list — then each is 401.
    let key = secret_value(&w, "ferry-secret", "server.secretkey")
        .await
        .expect("the server's key");
    let session_claims = |exp: i64| {
        json!({"iss": "ferry", "aud": "ferry-session", "sub": "admin", "iat": now() - 10,
            "exp": exp, "via": "oidc", "name": "admin", "groups": ["role:admin"]})
    };
    let forged = [
        (
            "another key",
            jwt(
                "HS256",
                &session_claims(now() + 600),
                b"not the server's key",
            ),
        ),
        ("alg none", jwt("none", &session_claims(now() + 600), &key)),
        ("expired", jwt("HS256", &session_claims(now() - 600), &key)),
        (
            "another purpose",
            jwt(
                "HS256",
                &json!({"iss": "ferry", "aud": "ferry-flow", "sub": "admin",
                "iat": now(), "exp": now() + 600}),
                &key,
            ),
        ),
        (
            "an unlisted id",
            jwt(
                "HS256",
                &json!({"iss": "ferry", "aud": "ferry-api", "sub": "proj:team-a:ci",
                "iat": now(), "jti": "never-issued"}),
                &key,
            ),
        ),
    ];
    for (what, token) in &forged {
        let a = http::get(
            &format!("{base}/applications"),
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        assert!(
            !a.body.contains(token.as_str()),
            "{what}: the token is not echoed"
        );
    }
    let expired = http::get(
        &format!("{base}/applications"),
        &[("authorization", &format!("Bearer {}", forged[2].1))],
    )
    .await;
    assert!(expired.body.contains("expired"), "{}", expired.body);

    // When the ci token is revoked, then it stops working.
    let a = http::request(
        "DELETE",
        &format!("{base}/projects/team-a/roles/ci/token/ci-1"),
        &[("authorization", &admin)],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let refused = until(
        20,
        "the revoked token refused",
        || async { http::get(&format!("{base}/applications"), &[("authorization", &ci)]).await },
        |a| a.status == 401,
    )
    .await;
    assert!(refused.body.contains("revoked"), "{}", refused.body);

    // And a callback without a sign-in in progress (a replayed or forged state) is refused.
    let a = http::get(
        &format!("http://127.0.0.1:{port}/auth/callback?state=abc&code=def"),
        &[],
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("no sign-in is in progress"), "{}", a.body);

    // And the CLI signs in with the password and works through the session it stored.
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.json");
    let login = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env_remove("KUBECONFIG")
        .env("FERRY_CONFIG", &config)
        .env("FERRY_PASSWORD", &password)
        .args([
            "login",
            &format!("http://127.0.0.1:{port}"),
            "--username",
            "admin",
        ])
        .output()
        .await
        .expect("ferry login");
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&login.stdout),
        String::from_utf8_lossy(&login.stderr)
    );
    assert!(login.status.success() && out.contains("as admin"), "{out}");
    assert!(
        !out.contains(&password),
        "the password is not printed: {out}"
    );
    let list = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env_remove("KUBECONFIG")
        .env("FERRY_CONFIG", &config)
        .args(["app", "list"])
        .output()
        .await
        .expect("ferry app list");
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(out.contains("web-a") && out.contains("billing"), "{out}");

    // And `ferry admin can-i` answers from the cluster's policy as the server does.
    let can = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "admin",
            "can-i",
            "proj:team-a:viewer",
            "get",
            "applications",
            "team-a/web-a",
        ])
        .arg("--kubeconfig")
        .arg(&w.kubeconfig)
        .args(["--context", "management"])
        .output()
        .await
        .expect("ferry admin can-i");
    assert!(
        can.status.success(),
        "{}",
        String::from_utf8_lossy(&can.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&can.stdout).trim(), "yes");
    let cannot = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "admin",
            "can-i",
            "proj:team-a:viewer",
            "sync",
            "applications",
            "team-a/web-a",
        ])
        .arg("--kubeconfig")
        .arg(&w.kubeconfig)
        .args(["--context", "management"])
        .output()
        .await
        .expect("ferry admin can-i");
    assert!(!cannot.status.success());
    assert_eq!(String::from_utf8_lossy(&cannot.stdout).trim(), "no");

    // Nothing of the secrets reached the server's log.
    let log = w.controller_log();
    for secret in [password.as_str(), ci_token.as_str(), session.as_str()] {
        assert!(!log.contains(secret), "a secret in the log");
    }
}

/// The names of the applications the fleet page shows, in order.
const VISIBLE_APPS: &str = "[...document.querySelectorAll('#fleet-table tbody tr')].filter(r => !r.hidden).map(r => r.dataset.app).join(',')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_sign_in_with_oidc_or_github_in_a_browser_and_see_what_rbac_lets_them() {
    use crate::browser::{open_browser, start_driver};
    use crate::github::{FakeGitHub, GitHubApp};
    use crate::idp::{IdpClient, IdpConfig, TestIdp};
    use tokio::io::AsyncBufReadExt as _;

    // Given `ferry all` on a known port, a real OpenID provider and the GitHub stand-in,
    // each with Ferry's callback registered, and an application in team-a and one in default.
    let mut w = World::new_stopped(&[
        ("a/cm.yaml", cm("team-a-settings", "v1")),
        ("b/cm.yaml", cm("billing-settings", "v1")),
    ])
    .await;
    let port = free_port();
    let site = format!("http://127.0.0.1:{port}");
    let callback = format!("{site}/auth/callback");
    let mut idp = TestIdp::start(IdpConfig::default().client(IdpClient::web(
        "ferry",
        "ferry-test-secret",
        &callback,
    )))
    .await;
    let github = FakeGitHub::start(GitHubApp::new("ferry-gh", "gh-secret", &callback)).await;
    w.capture_log = true;
    w.start_all(port, "/", &["--admin-token".into(), ADMIN_TOKEN.into()])
        .await;
    w.apply_mgmt(&project_res(), Some("ferry"), team_a()).await;
    w.create_app(
        "web-a",
        json!({"project": "team-a", "source": {"path": "a"}}),
    )
    .await;
    w.create_app("billing", json!({"source": {"path": "b"}}))
        .await;

    // And sign-in configured as an Argo CD user would write it: oidc.config, a dex.config
    // GitHub connector, secrets by `$key`, and a policy by the providers' groups.
    let secrets = ar("", "v1", "Secret", "secrets");
    w.apply_mgmt(
        &secrets,
        Some("ferry"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "ferry-secret"},
            "stringData": {"oidc.clientSecret": "ferry-test-secret",
                "dex.github.clientSecret": "gh-secret"}}),
    )
    .await;
    let oidc = format!(
        "name: Test IdP\nissuer: {}\nclientID: ferry\nclientSecret: $oidc.clientSecret\nrequestedScopes: [openid, profile, email, groups]\n",
        idp.issuer()
    );
    let dex = format!(
        "connectors:\n- type: github\n  id: github\n  name: GitHub\n  config:\n    clientID: ferry-gh\n    clientSecret: $dex.github.clientSecret\n    baseURL: {}\n    apiURL: {}\n    orgs:\n    - name: acme\n    teamNameField: slug\n",
        github.base_url(),
        github.api_url()
    );
    let cms = ar("", "v1", "ConfigMap", "configmaps");
    w.apply_mgmt(
        &cms,
        Some("ferry"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ferry-cm"},
            "data": {"url": site, "oidc.config": oidc, "dex.config": dex}}),
    )
    .await;
    w.apply_mgmt(
        &cms,
        Some("ferry"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ferry-rbac-cm"},
            "data": {"policy.csv": "p, role:team-a, applications, *, team-a/*, allow\ng, sre, role:team-a\ng, acme:dev, role:readonly\n"}}),
    )
    .await;
    until(
        30,
        "both providers offered",
        || async {
            http::get(&format!("{site}/api/v1/settings"), &[])
                .await
                .json()
        },
        |s| s["providers"].as_array().is_some_and(|p| p.len() == 2),
    )
    .await;
    w.expect_app("billing", 60, "compared", |s| {
        !s["sync"]["status"].is_null()
    })
    .await;

    // When a callback comes with another sign-in's state, or with a code the provider never
    // issued, then it is refused in words and no session is made.
    let start = http::get(&format!("{site}/auth/login?provider=oidc"), &[]).await;
    assert_eq!(start.status, 303, "{}", start.body);
    let to = start
        .header("location")
        .expect("off to the provider")
        .to_owned();
    assert!(
        to.starts_with(&idp.issuer())
            && to.contains("code_challenge_method=S256")
            && to.contains("nonce="),
        "{to}"
    );
    let flow = start
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .expect("the sign-in cookie")
        .to_owned();
    let state = url::Url::parse(&to)
        .expect("a URL")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("a state");
    let a = http::get(
        &format!("{site}/auth/callback?state=not-{state}&code=x"),
        &[("cookie", &flow)],
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.body);
    assert!(a.body.contains("state does not match"), "{}", a.body);
    let a = http::get(
        &format!("{site}/auth/callback?state={state}&code=forged"),
        &[("cookie", &flow)],
    )
    .await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.contains("refused the sign-in"), "{}", a.body);
    assert!(
        a.header("set-cookie")
            .is_none_or(|c| !c.starts_with("ferry_session=e")),
        "no session"
    );

    let driver = start_driver().await;
    let b = open_browser(&driver, "signin", &[]).await;

    // When alice opens Ferry, then the sign-in page offers both providers and the password.
    b.goto(&format!("{site}/")).await;
    b.until(20, "the providers", "document.getElementById('signin-with-oidc') && document.getElementById('signin-with-github') && !document.getElementById('signin-password-form').hidden").await;

    // When she signs in with the OpenID provider (a wrong password first), then she is back
    // on Ferry, named, and sees team-a's application only, with its actions.
    b.click("#signin-with-oidc").await;
    b.until(
        20,
        "the provider's login form",
        "document.querySelector('input[name=login]')",
    )
    .await;
    b.type_into("input[name=login]", "alice").await;
    b.type_into("input[name=password]", "wrong").await;
    b.click("button[type=submit]").await;
    b.until(
        10,
        "the wrong password refused",
        "document.getElementById('login-error')",
    )
    .await;
    b.type_into("input[name=login]", "alice").await;
    b.type_into("input[name=password]", "alice-password").await;
    b.click("button[type=submit]").await;
    b.until(
        20,
        "team-a's application only",
        &format!("location.host === '127.0.0.1:{port}' && ({VISIBLE_APPS}) === 'web-a'"),
    )
    .await;
    b.until(
        10,
        "her name",
        "document.getElementById('whoami').innerText === 'alice@example.com'",
    )
    .await;
    b.goto(&format!("{site}/#/apps/web-a")).await;
    b.until(20, "the sync button", "document.getElementById('btn-sync') && !document.getElementById('btn-sync').hidden && document.getElementById('app-facts')?.innerText.includes('team-a')").await;
    let cookie = b
        .js("return document.cookie")
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !cookie.contains("ferry_session"),
        "the session cookie is HttpOnly: {cookie}"
    );

    // When she signs out, then the sign-in page is back.
    b.click("#signout").await;
    b.until(
        10,
        "the sign-in page",
        "document.getElementById('signin-providers')",
    )
    .await;

    // When bob signs in with GitHub (team dev of acme: read-only by the policy), then he sees
    // both applications and no sync button.
    b.click("#signin-with-github").await;
    b.click("#authorize-bob").await;
    // Back where he signed out from: the page of web-a, without a sync button.
    b.until(20, "web-a without a sync button", &format!("location.host === '127.0.0.1:{port}' && location.hash === '#/apps/web-a' && document.getElementById('app-facts')?.innerText.includes('team-a') && document.getElementById('btn-sync')?.hidden === true")).await;
    b.goto(&format!("{site}/#/apps")).await;
    b.until(
        20,
        "both applications",
        &format!("({VISIBLE_APPS}) === 'billing,web-a'"),
    )
    .await;
    b.click("#signout").await;
    b.until(
        10,
        "the sign-in page",
        "document.getElementById('signin-providers')",
    )
    .await;

    // When mallory (not in acme) tries GitHub, then she is refused in words.
    b.click("#signin-with-github").await;
    b.click("#authorize-mallory").await;
    b.until(
        20,
        "the refusal",
        "document.getElementById('signin-error')?.innerText.includes('mallory is not a member')",
    )
    .await;

    // When a sign-in is started with a return URL off the site, then it ends on the site.
    // The provider rotated its keys meanwhile (signing with a new one, the old one retired):
    // Ferry reads them again and the sign-in works.
    idp.restart_with_keys(&["key-2"]).await;
    b.goto(&format!(
        "{site}/auth/login?provider=oidc&return=%2F%2Fevil.example%2Fx"
    ))
    .await;
    b.until(
        20,
        "the provider's login form",
        "document.querySelector('input[name=login]')",
    )
    .await;
    b.type_into("input[name=login]", "alice").await;
    b.type_into("input[name=password]", "alice-password").await;
    b.click("button[type=submit]").await;
    b.until(
        20,
        "Ferry, not evil.example",
        &format!("location.host === '127.0.0.1:{port}' && ({VISIBLE_APPS}) === 'web-a'"),
    )
    .await;

    // When `ferry login --sso` waits for a browser, then the browser signed in at the
    // provider completes it, and the CLI lists what alice may see.
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.json");
    let mut login = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env_remove("KUBECONFIG")
        .env("FERRY_CONFIG", &config)
        .args([
            "login",
            &site,
            "--sso",
            "--provider",
            "oidc",
            "--no-browser",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("ferry login --sso");
    let mut lines = tokio::io::BufReader::new(login.stderr.take().expect("stderr")).lines();
    let url = loop {
        let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
            .await
            .expect("the sign-in URL within 20s")
            .expect("stderr")
            .expect("a line");
        if let Some(u) = line.trim().strip_prefix(&format!("{site}/auth/login?")) {
            break format!("{site}/auth/login?{u}");
        }
    };
    assert!(
        url.contains("cli_challenge=") && !url.contains("verifier"),
        "{url}"
    );
    b.goto(&url).await;
    b.until(
        20,
        "the CLI's page",
        "document.body.innerText.includes('Signed in')",
    )
    .await;
    let out = tokio::time::timeout(std::time::Duration::from_secs(20), login.wait_with_output())
        .await
        .expect("ferry login ends")
        .expect("its output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("as alice@example.com"),
        "{stdout}"
    );
    let list = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .env_remove("KUBECONFIG")
        .env("FERRY_CONFIG", &config)
        .args(["app", "list"])
        .output()
        .await
        .expect("ferry app list");
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("web-a") && !listed.contains("billing"),
        "{listed}"
    );

    // And no secret reached the server's log.
    let log = w.controller_log();
    for secret in ["ferry-test-secret", "gh-secret", "alice-password"] {
        assert!(!log.contains(secret), "{secret} in the log");
    }
    assert!(github.calls(crate::github::Endpoint::Teams) >= 2);
}
