//! A real OpenID provider for the sign-in tests: `tests/idp/provider.mjs` (panva's
//! `oidc-provider` on Node.js) on loopback, started by [`TestIdp`] with the clients, users and
//! signing keys a test names. The tests here prove the provider works end to end without Ferry:
//! discovery, the JWKS, the authorization code flow with PKCE and a nonce in headless Chromium
//! through its login form, the code exchanged over plain HTTP, RS256 ID tokens carrying the
//! user's groups, key rotation by restart, and RP-initiated logout.

use serde_json::{Value, json};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::world::free_port;

// === config ===

/// A user of the test provider: signs in with `username` and `password`; the ID token carries
/// `email` (scope `email`), `name` and `preferred_username` (scope `profile`) and `groups`
/// (scope `groups`).
#[derive(Clone, Debug)]
pub(crate) struct IdpUser {
    pub(crate) username: String,
    pub(crate) password: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) groups: Vec<String>,
}

impl IdpUser {
    pub(crate) fn new(username: &str, password: &str, name: &str, groups: &[&str]) -> IdpUser {
        IdpUser {
            username: username.to_owned(),
            password: password.to_owned(),
            email: format!("{username}@example.com"),
            name: name.to_owned(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
}

/// alice (`alice-password`, groups `platform`, `sre`), bob (`bob-password`, `dev`) and mallory
/// (`mallory-password`, `other`), each `<name>@example.com`.
pub(crate) fn default_users() -> Vec<IdpUser> {
    vec![
        IdpUser::new(
            "alice",
            "alice-password",
            "Alice Anders",
            &["platform", "sre"],
        ),
        IdpUser::new("bob", "bob-password", "Bob Brown", &["dev"]),
        IdpUser::new("mallory", "mallory-password", "Mallory Mayer", &["other"]),
    ]
}

/// A client registered with the provider. Consent is granted automatically for every client.
#[derive(Clone, Debug)]
pub(crate) struct IdpClient {
    pub(crate) client_id: String,
    /// `None`: a public client (token endpoint auth `none`, PKCE only).
    pub(crate) client_secret: Option<String>,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) post_logout_redirect_uris: Vec<String>,
    /// `client_secret_basic` (the default with a secret) or `client_secret_post`.
    pub(crate) token_endpoint_auth_method: Option<String>,
    /// A native client: any port on a loopback redirect URI matches (RFC 8252 7.3), as a CLI's
    /// `http://127.0.0.1:<any port>/callback` needs.
    pub(crate) native: bool,
}

impl IdpClient {
    /// A confidential web client (Ferry's server), secret sent with HTTP Basic.
    pub(crate) fn web(client_id: &str, secret: &str, redirect_uri: &str) -> IdpClient {
        IdpClient {
            client_id: client_id.to_owned(),
            client_secret: Some(secret.to_owned()),
            redirect_uris: vec![redirect_uri.to_owned()],
            post_logout_redirect_uris: Vec::new(),
            token_endpoint_auth_method: None,
            native: false,
        }
    }

    /// A public native client (Ferry's CLI) whose `redirect_uri` on 127.0.0.1 may use any port.
    pub(crate) fn native(client_id: &str, redirect_uri: &str) -> IdpClient {
        IdpClient {
            client_id: client_id.to_owned(),
            client_secret: None,
            redirect_uris: vec![redirect_uri.to_owned()],
            post_logout_redirect_uris: Vec::new(),
            token_endpoint_auth_method: None,
            native: true,
        }
    }

    pub(crate) fn post_logout_redirect_uri(mut self, uri: &str) -> IdpClient {
        self.post_logout_redirect_uris.push(uri.to_owned());
        self
    }

    fn to_json(&self) -> Value {
        let mut c = json!({
            "client_id": self.client_id,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": self.post_logout_redirect_uris,
            "application_type": if self.native { "native" } else { "web" },
        });
        if let Some(s) = &self.client_secret {
            c["client_secret"] = json!(s);
        }
        if let Some(m) = &self.token_endpoint_auth_method {
            c["token_endpoint_auth_method"] = json!(m);
        }
        c
    }
}

/// What the provider is started with.
#[derive(Clone, Debug)]
pub(crate) struct IdpConfig {
    pub(crate) clients: Vec<IdpClient>,
    pub(crate) users: Vec<IdpUser>,
    /// Key ids: the first signs, the others are only published in the JWKS. A key is made on
    /// first use and kept (in the provider's temporary directory) across restarts.
    pub(crate) signing_keys: Vec<String>,
}

impl Default for IdpConfig {
    fn default() -> IdpConfig {
        IdpConfig {
            clients: Vec::new(),
            users: default_users(),
            signing_keys: vec!["key-1".to_owned()],
        }
    }
}

impl IdpConfig {
    pub(crate) fn client(mut self, c: IdpClient) -> IdpConfig {
        self.clients.push(c);
        self
    }
}

// === impl TestIdp ===

/// `node tests/idp/provider.mjs` on 127.0.0.1 (its own process group, killed on drop).
pub(crate) struct TestIdp {
    child: Child,
    port: u16,
    config: IdpConfig,
    dir: tempfile::TempDir,
}

impl Drop for TestIdp {
    fn drop(&mut self) {
        self.stop();
    }
}

fn idp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/idp")
}

/// `npm ci` in `tests/idp` when its `node_modules` is missing: once per test run, under a file
/// lock so that test binaries running at once do not install over each other.
fn ensure_node_modules() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dir = idp_dir();
        let installed = || dir.join("node_modules/oidc-provider/package.json").exists();
        if installed() {
            return;
        }
        let lock = std::fs::File::create(std::env::temp_dir().join("ferry-test-idp-npm.lock"))
            .expect("the npm lock file");
        lock.lock().expect("the npm lock");
        if !installed() {
            let out = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .output()
                .expect("npm runs: install Debian's nodejs and npm (scripts/test does)");
            assert!(
                out.status.success(),
                "npm ci in {} failed:\n{}{}",
                dir.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

impl TestIdp {
    /// The provider with `config`, on a free port, once it answers.
    pub(crate) async fn start(config: IdpConfig) -> TestIdp {
        ensure_node_modules();
        let dir = tempfile::tempdir().expect("the provider's directory");
        let port = free_port();
        let child = spawn(dir.path(), port, &config).await;
        TestIdp {
            child,
            port,
            config,
            dir,
        }
    }

    /// `http://127.0.0.1:<port>`, the `iss` of its tokens.
    pub(crate) fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Restarts the provider on the same port with `keys` (the first signs, the others are
    /// published only): `["key-2", "key-1"]` rotates to a new key keeping the old one
    /// verifiable, `["key-2"]` then retires it. Sessions, codes and tokens do not survive a
    /// restart (the provider keeps them in memory); keys do.
    pub(crate) async fn restart_with_keys(&mut self, keys: &[&str]) {
        self.stop();
        self.config.signing_keys = keys.iter().map(|k| k.to_string()).collect();
        self.child = spawn(self.dir.path(), self.port, &self.config).await;
    }

    /// What the provider wrote on stderr.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("provider.log")).unwrap_or_default()
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Writes the config into `dir` and starts the provider; answers once it printed `READY`.
async fn spawn(dir: &Path, port: u16, config: &IdpConfig) -> Child {
    use std::os::unix::process::CommandExt as _;
    let file = dir.join("config.json");
    let body = json!({
        "port": port,
        "keys_dir": dir.join("keys"),
        "signing_keys": config.signing_keys,
        "clients": config.clients.iter().map(IdpClient::to_json).collect::<Vec<_>>(),
        "users": config.users.iter().map(|u| json!({
            "username": u.username, "password": u.password, "email": u.email,
            "name": u.name, "groups": u.groups,
        })).collect::<Vec<_>>(),
    });
    std::fs::write(&file, body.to_string()).expect("the provider's config");
    let log = std::fs::File::create(dir.join("provider.log")).expect("the provider's log");
    let mut child = Command::new("node")
        .arg(idp_dir().join("provider.mjs"))
        .arg(&file)
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("node runs: install Debian's nodejs (scripts/test does)");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = tokio::sync::oneshot::channel();
    // Reads the READY line, then drains stdout for as long as the provider lives.
    std::thread::spawn(move || {
        let mut lines = std::io::BufReader::new(stdout).lines();
        let first = lines.next().and_then(Result::ok);
        let _ = tx.send(first);
        for _ in lines {}
    });
    let expected = format!("READY http://127.0.0.1:{port}");
    match tokio::time::timeout(Duration::from_secs(30), rx).await {
        Ok(Ok(Some(line))) if line == expected => child,
        other => {
            let log = std::fs::read_to_string(dir.join("provider.log")).unwrap_or_default();
            panic!("the provider did not print {expected:?} (got {other:?}); its log:\n{log}")
        }
    }
}

// === what a relying party does ===

/// A PKCE pair (RFC 7636, S256): the verifier kept, the challenge sent.
pub(crate) struct Pkce {
    pub(crate) verifier: String,
    pub(crate) challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Pkce {
        let verifier = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        Pkce {
            challenge: b64url(digest.as_ref()),
            verifier,
        }
    }
}

fn b64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_else(|e| panic!("not base64url ({e}): {s}"))
}

/// The header and claims of the JWT `token` once its RS256 signature verifies with the key of
/// `jwks` its `kid` names; panics otherwise.
pub(crate) fn verify_jwt(token: &str, jwks: &Value) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form: {token}");
    let header: Value = serde_json::from_slice(&b64url_decode(parts[0])).expect("the header");
    let claims: Value = serde_json::from_slice(&b64url_decode(parts[1])).expect("the claims");
    assert_eq!(header["alg"], "RS256", "signed with RS256: {header}");
    let kid = header["kid"].as_str().expect("a kid");
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid))
        .unwrap_or_else(|| panic!("the JWKS has no key {kid}: {jwks}"));
    let n = b64url_decode(key["n"].as_str().expect("n"));
    let e = b64url_decode(key["e"].as_str().expect("e"));
    ring::signature::RsaPublicKeyComponents { n: &n, e: &e }
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{}.{}", parts[0], parts[1]).as_bytes(),
            &b64url_decode(parts[2]),
        )
        .unwrap_or_else(|_| panic!("the signature of the token verifies with key {kid}"));
    (header, claims)
}

/// A loopback HTTP server standing in for a relying party's redirect URIs: every request's
/// path and query (`/callback?code=...`) goes to [`Catcher::next`].
pub(crate) struct Catcher {
    pub(crate) port: u16,
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Catcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Catcher {
    pub(crate) async fn start() -> Catcher {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let app = axum::Router::new().fallback(move |uri: http::Uri| {
            let tx = tx.clone();
            async move {
                // Not the browser's own request for an icon.
                if uri.path() != "/favicon.ico" {
                    let _ = tx.send(uri.to_string());
                }
                axum::response::Html("<main id=\"main\"><h1 id=\"caught\">caught</h1></main>")
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the catcher's port");
        let port = listener.local_addr().expect("its address").port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Catcher { port, rx, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request's path and query, within `secs`.
    pub(crate) async fn next(&mut self, secs: u64) -> String {
        tokio::time::timeout(Duration::from_secs(secs), self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no request reached the redirect URI within {secs}s"))
            .expect("the catcher runs")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::{open_browser, start_driver};
    use crate::http::{form_encode, get, param, post_form, query_of};

    const SECRET: &str = "ferry-test-secret";

    /// The authorization request of a relying party asking for everything Ferry asks for.
    fn authorize_url(issuer: &str, redirect_uri: &str, pkce: &Pkce, nonce: &str) -> String {
        format!(
            "{issuer}/auth?{}",
            form_encode(&[
                ("client_id", "ferry"),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", "openid email profile groups"),
                ("state", "state-1"),
                ("nonce", nonce),
                ("code_challenge", &pkce.challenge),
                ("code_challenge_method", "S256"),
            ])
        )
    }

    async fn jwks(idp: &TestIdp) -> Value {
        get(&format!("{}/jwks", idp.issuer()), &[]).await.json()
    }

    fn kids(jwks: &Value) -> Vec<String> {
        jwks["keys"]
            .as_array()
            .map(|k| {
                k.iter()
                    .filter_map(|k| k["kid"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The code exchanged with the client's secret over HTTP Basic, as Ferry's server will.
    async fn exchange(
        idp: &TestIdp,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> crate::http::Answer {
        use base64::Engine as _;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("ferry:{SECRET}"))
        );
        post_form(
            &format!("{}/token", idp.issuer()),
            &[("authorization", &basic), ("accept", "application/json")],
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn discovery_and_jwks_describe_a_provider_that_requires_pkce() {
        // Given the provider with Ferry's client.
        let redirect = "http://127.0.0.1:9/callback";
        let idp = TestIdp::start(
            IdpConfig::default()
                .client(IdpClient::web("ferry", SECRET, redirect))
                .client(IdpClient::native("ferry-cli", "http://127.0.0.1/callback")),
        )
        .await;
        assert_eq!(idp.issuer(), format!("http://127.0.0.1:{}", idp.port()));

        // When its discovery document is read, then it names itself and every endpoint a
        // relying party needs, S256 PKCE and the groups scope.
        let d = get(
            &format!("{}/.well-known/openid-configuration", idp.issuer()),
            &[],
        )
        .await
        .json();
        assert_eq!(d["issuer"], json!(idp.issuer()));
        for e in [
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        ] {
            assert!(
                d[e].as_str().is_some_and(|u| u.starts_with(&idp.issuer())),
                "{e} on the issuer: {d}"
            );
        }
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(d["id_token_signing_alg_values_supported"], json!(["RS256"]));
        assert!(
            d["scopes_supported"]
                .as_array()
                .is_some_and(|s| s.contains(&json!("groups"))),
            "{d}"
        );

        // Then the JWKS has one RS256 signing key, public only.
        let keys = get(d["jwks_uri"].as_str().unwrap_or_default(), &[])
            .await
            .json();
        assert_eq!(kids(&keys), ["key-1"]);
        let k = &keys["keys"][0];
        assert_eq!(
            (&k["kty"], &k["alg"], &k["use"]),
            (&json!("RSA"), &json!("RS256"), &json!("sig"))
        );
        assert!(k.get("d").is_none(), "no private part published: {k}");

        // When a code is asked for without PKCE, then the provider refuses, at the redirect URI.
        let no_pkce = get(
            &format!(
                "{}/auth?{}",
                idp.issuer(),
                form_encode(&[
                    ("client_id", "ferry"),
                    ("redirect_uri", redirect),
                    ("response_type", "code"),
                    ("scope", "openid"),
                    ("state", "s"),
                ])
            ),
            &[],
        )
        .await;
        let to = no_pkce.header("location").unwrap_or_default();
        assert!(
            to.starts_with(redirect)
                && param(query_of(to), "error").as_deref() == Some("invalid_request"),
            "PKCE refused: {} {to}",
            no_pkce.status
        );
        assert!(
            param(query_of(to), "error_description").is_some_and(|d| d.contains("PKCE")),
            "in words: {to}"
        );

        // When the CLI's native client asks with a loopback redirect on a port of its own,
        // then the provider accepts it and goes on to its login form.
        let pkce = Pkce::new();
        let cli = get(
            &format!(
                "{}/auth?{}",
                idp.issuer(),
                form_encode(&[
                    ("client_id", "ferry-cli"),
                    ("redirect_uri", "http://127.0.0.1:54321/callback"),
                    ("response_type", "code"),
                    ("scope", "openid groups"),
                    ("code_challenge", &pkce.challenge),
                    ("code_challenge_method", "S256"),
                ])
            ),
            &[],
        )
        .await;
        assert!(
            cli.header("location")
                .is_some_and(|l| l.starts_with("/interaction/")),
            "the CLI's loopback redirect accepted: {} {:?}",
            cli.status,
            cli.header("location")
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn alice_signs_in_through_the_login_form_and_her_id_token_carries_groups_nonce_and_audience()
     {
        // Given the provider with Ferry's client, whose redirect URIs a loopback catcher serves.
        let mut rp = Catcher::start().await;
        let callback = rp.url("/callback");
        let signed_out = rp.url("/signed-out");
        let mut idp = TestIdp::start(IdpConfig::default().client(
            IdpClient::web("ferry", SECRET, &callback).post_logout_redirect_uri(&signed_out),
        ))
        .await;
        let driver = start_driver().await;
        let b = open_browser(&driver, "idp", &[]).await;

        // When the browser is sent to authorize with PKCE and a nonce, then the login form
        // shows; a wrong password is refused in words.
        let pkce = Pkce::new();
        b.goto(&authorize_url(&idp.issuer(), &callback, &pkce, "nonce-1"))
            .await;
        b.until(20, "the login form", "document.querySelector('input[name=login]') && document.querySelector('input[name=password]')").await;
        b.type_into("input[name=login]", "alice").await;
        b.type_into("input[name=password]", "not-her-password")
            .await;
        b.click("button[type=submit]").await;
        b.until(10, "the wrong password refused", "document.getElementById('login-error')?.innerText.includes('Wrong username or password')").await;

        // When alice signs in with her password, then the browser lands on the redirect URI
        // with a code and the state (consent is automatic).
        b.type_into("input[name=login]", "alice").await;
        b.type_into("input[name=password]", "alice-password").await;
        b.click("button[type=submit]").await;
        let back = rp.next(20).await;
        let q = query_of(&back);
        assert!(back.starts_with("/callback?"), "{back}");
        assert_eq!(param(q, "state").as_deref(), Some("state-1"));
        assert_eq!(param(q, "iss"), Some(idp.issuer()));
        let code = param(q, "code").expect("a code");

        // When the code is exchanged with the wrong verifier, then it is refused.
        let wrong = exchange(&idp, &code, &callback, &Pkce::new().verifier).await;
        assert_eq!(
            (wrong.status, wrong.json()["error"].clone()),
            (400, json!("invalid_grant")),
            "{}",
            wrong.body
        );

        // Given a second sign-in (the session stands: no form this time).
        let pkce = Pkce::new();
        b.goto(&authorize_url(&idp.issuer(), &callback, &pkce, "nonce-2"))
            .await;
        let back = rp.next(20).await;
        let code = param(query_of(&back), "code").expect("a code without a second login");

        // When the code is exchanged with its verifier, then the ID token verifies with the
        // JWKS and carries alice's groups, the nonce and Ferry as its audience.
        let tokens = exchange(&idp, &code, &callback, &pkce.verifier).await;
        assert_eq!(tokens.status, 200, "{}", tokens.body);
        let tokens = tokens.json();
        let id_token = tokens["id_token"].as_str().expect("an ID token").to_owned();
        let (header, claims) = verify_jwt(&id_token, &jwks(&idp).await);
        assert_eq!(header["kid"], "key-1");
        assert_eq!(claims["iss"], json!(idp.issuer()));
        assert_eq!(claims["aud"], "ferry");
        assert_eq!(claims["nonce"], "nonce-2");
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["groups"], json!(["platform", "sre"]));
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["preferred_username"], "alice");
        // Userinfo answers the same groups to the access token.
        let access = tokens["access_token"].as_str().expect("an access token");
        let me = get(
            &format!("{}/me", idp.issuer()),
            &[("authorization", &format!("Bearer {access}"))],
        )
        .await;
        assert_eq!(
            me.json()["groups"],
            json!(["platform", "sre"]),
            "{}",
            me.body
        );
        // The same code a second time: refused (single use), and what it gave is revoked.
        let again = exchange(&idp, &code, &callback, &pkce.verifier).await;
        assert_eq!(again.json()["error"], "invalid_grant", "{}", again.body);
        let me = get(
            &format!("{}/me", idp.issuer()),
            &[("authorization", &format!("Bearer {access}"))],
        )
        .await;
        assert_eq!(me.status, 401, "{}", me.body);

        // When alice signs out at the end-session endpoint, then she is sent back with the
        // state, and the next authorization asks for her password again.
        b.goto(&format!(
            "{}/session/end?{}",
            idp.issuer(),
            form_encode(&[
                ("id_token_hint", &id_token),
                ("post_logout_redirect_uri", &signed_out),
                ("state", "bye")
            ])
        ))
        .await;
        b.click("#logout-confirm").await;
        let back = rp.next(20).await;
        assert!(back.starts_with("/signed-out?"), "{back}");
        assert_eq!(param(query_of(&back), "state").as_deref(), Some("bye"));
        let pkce = Pkce::new();
        b.goto(&authorize_url(&idp.issuer(), &callback, &pkce, "nonce-3"))
            .await;
        b.until(
            20,
            "the login form after signing out",
            "document.querySelector('input[name=password]')",
        )
        .await;

        // When the provider restarts with a new key first and the old one kept, then the JWKS
        // publishes both, a new ID token is signed with the new key, and the old token still
        // verifies.
        idp.restart_with_keys(&["key-2", "key-1"]).await;
        let keys = jwks(&idp).await;
        assert_eq!(kids(&keys), ["key-2", "key-1"]);
        verify_jwt(&id_token, &keys);
        let pkce = Pkce::new();
        b.goto(&authorize_url(&idp.issuer(), &callback, &pkce, "nonce-4"))
            .await;
        b.until(
            20,
            "the login form after the restart",
            "document.querySelector('input[name=password]')",
        )
        .await;
        b.type_into("input[name=login]", "alice").await;
        b.type_into("input[name=password]", "alice-password").await;
        b.click("button[type=submit]").await;
        let code = param(query_of(&rp.next(20).await), "code").expect("a code");
        let tokens = exchange(&idp, &code, &callback, &pkce.verifier)
            .await
            .json();
        let (header, claims) = verify_jwt(tokens["id_token"].as_str().unwrap_or_default(), &keys);
        assert_eq!(
            (header["kid"].clone(), claims["nonce"].clone()),
            (json!("key-2"), json!("nonce-4"))
        );

        // When the old key is retired, then the JWKS no longer has it.
        idp.restart_with_keys(&["key-2"]).await;
        assert_eq!(kids(&jwks(&idp).await), ["key-2"]);
        b.client.close().await.expect("close the browser");
        assert!(!idp.log().contains("server_error"), "{}", idp.log());
    }
}
