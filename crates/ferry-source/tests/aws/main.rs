//! Secret references and plugin credentials through `Sources`, against moto's server with
//! three accounts (management 111111111111, where the process's web identity role is; prod
//! 222222222222; stg 333333333333, each reached by assuming its `ferry-deployer`):
//!
//! - a parameter that exists only in prod resolves for a prod access and fails for stg,
//!   naming the reference and the account, with one `GetParameters` for every reference of
//!   the render, values kept across renders and read again on a refresh, and the render cache
//!   holding references only;
//! - a plugin opted in sees the `AWS_*` variables (their lengths, never their values, come
//!   back through its output), one not opted in sees none;
//! - everything the test captured (errors, `Debug` output, every log line) holds no secret
//!   value and no credential.

mod moto;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use aws_sdk_ssm::types::ParameterType;
use ferry_api::{ApplicationSource, PluginSource};
use ferry_aws::{
    Aws, AwsAccess, AwsOptions, Lifetimes, RoleArn, RoleChain, RoleHop, SessionName,
    SharedConfigFiles,
};
use ferry_source::{AppAws, AppContext, Plugins, Resolved, SecretAccess, SourceError, Sources};

const PROD: &str = "222222222222";
const STG: &str = "333333333333";
const REGION: &str = "eu-west-1";
const CONTROLLER_ROLE: &str = "arn:aws:iam::111111111111:role/ferry-controller";

/// The values seeded in prod: none may show anywhere but in the rendered objects.
const PASSWORD: &str = "pw-prod-4c1e9b77";
const SECRET_PASSWORD: &str = "sm-prod-93ad20f5";
fn batch_value(i: usize) -> String {
    format!("batch-prod-value-{i}-e51b")
}

// === the test world ===

/// Every log line of the test process.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init();
        buf
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn expect<T, E: std::fmt::Display>(r: Result<T, E>, what: &str) -> T {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("git: {e}"));
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

fn deployer(account: &str, cluster: &str) -> AwsAccess {
    let arn = expect(
        RoleArn::parse(&format!("arn:aws:iam::{account}:role/ferry-deployer")),
        "ARN",
    );
    AwsAccess::with_chain(RoleChain::single(RoleHop::new(
        arn,
        SessionName::for_cluster(cluster),
    )))
    .region(REGION)
}

struct World {
    dir: tempfile::TempDir,
    url: String,
    aws: Aws,
    sources: Sources,
}

/// A script printing a ConfigMap of what the plugin's environment holds: the lengths of the
/// credentials (never the credentials) and the regions.
const ENV_PLUGIN: &str = r#"printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: env\ndata:\n  keyId: "%s"\n  secret: "%s"\n  token: "%s"\n  region: "%s"\n  defaultRegion: "%s"\n' "${#AWS_ACCESS_KEY_ID}" "${#AWS_SECRET_ACCESS_KEY}" "${#AWS_SESSION_TOKEN}" "${AWS_REGION:-none}" "${AWS_DEFAULT_REGION:-none}""#;

/// A helmfile-with-vals stand-in: the plugin reads an SSM parameter itself, with nothing but
/// the `AWS_*` variables Ferry hands it (boto3, which moto's server brings, as vals' AWS SDK
/// would), and prints it in a ConfigMap. Only the endpoint is the test's (moto's).
fn ssm_reader_plugin(endpoint: &str) -> String {
    let script = format!(
        "AWS_ENDPOINT_URL={endpoint} python3 -c 'import boto3, json; v = boto3.client(\"ssm\").get_parameter(Name=\"/ferry-source/db/password\", WithDecryption=True)[\"Parameter\"][\"Value\"]; print(json.dumps({{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {{\"name\": \"read-by-plugin\"}}, \"data\": {{\"password\": v}}}}))'"
    );
    format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: ssm-reader\nspec:\n  generate:\n    command: [sh, -c, {script:?}]\n"
    )
}

impl World {
    async fn new() -> World {
        logs();
        let moto = moto::shared();
        let dir = expect(tempfile::tempdir(), "tempdir");
        let token = dir.path().join("token");
        expect(
            std::fs::write(&token, "eyJhbGciOiJSUzI1NiJ9.e30.sig"),
            "token",
        );
        let config = dir.path().join("config");
        let text = format!(
            "[default]\nregion = {REGION}\nrole_arn = {CONTROLLER_ROLE}\nweb_identity_token_file = {}\nrole_session_name = ferry-controller\nendpoint_url = {}\n",
            token.display(),
            moto.url()
        );
        expect(std::fs::write(&config, text), "config");
        let aws = Aws::new(AwsOptions {
            shared_config: Some(SharedConfigFiles {
                config,
                credentials: None,
            }),
            lifetimes: Lifetimes {
                failure_backoff: Duration::ZERO,
                ..Lifetimes::default()
            },
            max_attempts: 1,
            ..AwsOptions::default()
        });

        let work = dir.path().join("repo");
        expect(std::fs::create_dir_all(work.join("app")), "mkdir");
        let batch: String = (0..8)
            .map(|i| format!("  p{i}: ref+awsssm://ferry-source/batch/p{i}\n"))
            .collect();
        let manifest = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\ndata:\n  password: ref+awsssm://ferry-source/db/password?region={REGION}\n  url: postgres://app:ref+awsssm://ferry-source/db/password?region={REGION}+@db:5432/app\n  plain: not a reference\n{batch}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: ref+awssecrets://ferry-source/db#/password\n"
        );
        expect(std::fs::write(work.join("app/db.yaml"), manifest), "write");
        expect(std::fs::create_dir_all(work.join("one")), "mkdir");
        let one = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\ndata:\n  password: ref+awsssm://ferry-source/db/password?region={REGION}\n"
        );
        expect(std::fs::write(work.join("one/cm.yaml"), one), "write");
        git(&work, &["init", "--quiet"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "--quiet", "-m", "app"]);

        let mut git_config = ferry_git::GitConfig::new(dir.path().join("cache"));
        git_config.allow_file_urls = true;
        let yaml = format!(
            "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: aws-env\nspec:\n  generate:\n    command: [sh, -c, {ENV_PLUGIN:?}]\n"
        );
        let plugins = Plugins {
            specs: vec![
                expect(
                    ferry_render::PluginSpec::from_yaml(&yaml, "aws-env"),
                    "plugin",
                ),
                expect(
                    ferry_render::PluginSpec::from_yaml(
                        &ssm_reader_plugin(&moto.url()),
                        "ssm-reader",
                    ),
                    "plugin",
                ),
            ],
            scratch: dir.path().join("scratch"),
            ..Default::default()
        };
        expect(std::fs::create_dir_all(&plugins.scratch), "scratch");
        let sources = Sources::new(
            expect(ferry_git::GitCache::new(git_config), "git cache"),
            ferry_render::RenderCache::new(16),
            Duration::from_secs(600),
        )
        .with_plugins(plugins)
        .with_aws(aws.clone());
        let world = World {
            url: format!("file://{}", work.display()),
            dir,
            aws,
            sources,
        };
        world.seed_prod().await;
        world
    }

    /// The parameters and the secret, in prod only (once per process).
    async fn seed_prod(&self) {
        static SEEDED: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
        SEEDED
            .get_or_init(|| async {
                let sdk = expect(
                    self.aws.sdk_config(&deployer(PROD, "seed"), None).await,
                    "sdk config",
                );
                let ssm = aws_sdk_ssm::Client::new(&sdk);
                let mut params =
                    vec![("/ferry-source/db/password".to_owned(), PASSWORD.to_owned())];
                params
                    .extend((0..8).map(|i| (format!("/ferry-source/batch/p{i}"), batch_value(i))));
                for (name, value) in params {
                    let put = ssm
                        .put_parameter()
                        .name(name)
                        .value(value)
                        .r#type(ParameterType::SecureString)
                        .send()
                        .await;
                    expect(put, "PutParameter");
                }
                let sm = aws_sdk_secretsmanager::Client::new(&sdk);
                let created = sm
                    .create_secret()
                    .name("ferry-source/db")
                    .secret_string(format!(
                        r#"{{"user":"app","password":"{SECRET_PASSWORD}"}}"#
                    ))
                    .send()
                    .await;
                expect(created, "CreateSecret");
            })
            .await;
    }

    fn source(&self, path: &str, plugin: bool) -> ApplicationSource {
        ApplicationSource {
            repo_url: self.url.clone(),
            path: path.into(),
            plugin: plugin.then(|| PluginSource {
                name: "aws-env".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    async fn render(
        &self,
        app: &str,
        plugin: bool,
        aws: AppAws,
        refresh: bool,
    ) -> Result<Resolved, SourceError> {
        self.render_path(app, "app", plugin, aws, refresh).await
    }

    async fn render_path(
        &self,
        app: &str,
        path: &str,
        plugin: bool,
        aws: AppAws,
        refresh: bool,
    ) -> Result<Resolved, SourceError> {
        let context = AppContext {
            app_name: app.into(),
            aws,
            ..Default::default()
        };
        self.sources
            .render(&self.source(path, plugin), None, refresh, Some(&context))
            .await
    }
}

fn access(a: AwsAccess) -> AppAws {
    AppAws {
        access: SecretAccess::Access(a),
        plugin_credentials: false,
    }
}

fn object<'a>(resolved: &'a Resolved, kind: &str) -> &'a serde_json::Value {
    let found = resolved
        .rendered
        .objects()
        .iter()
        .find(|o| o.object["kind"] == kind);
    &found.unwrap_or_else(|| panic!("no {kind} rendered")).object
}

/// Everything captured holds none of `secrets`.
fn assert_nothing_leaked(captured: &[String], secrets: &[String]) {
    let logs =
        String::from_utf8_lossy(&logs().lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert!(logs.contains("DEBUG"), "the log capture saw the run");
    for secret in secrets {
        assert!(!secret.is_empty());
        for (i, text) in captured.iter().chain([&logs]).enumerate() {
            assert!(
                !text.contains(secret.as_str()),
                "captured text {i} holds a secret value (not printed)"
            );
        }
    }
}

fn seeded_values() -> Vec<String> {
    let mut v = vec![PASSWORD.to_owned(), SECRET_PASSWORD.to_owned()];
    v.extend((0..8).map(batch_value));
    v
}

// === the tests ===

#[tokio::test]
async fn a_prod_only_parameter_resolves_for_prod_in_one_batch_and_fails_for_stg_by_name() {
    let w = World::new().await;
    let mut captured = Vec::new();
    let before = w.aws.stats();

    // Prod: every reference, whole or embedded, in one GetParameters (9 names) and one
    // GetSecretValue.
    let prod = expect(
        w.render("web", false, access(deployer(PROD, "prod")), false)
            .await,
        "prod render",
    );
    let cm = object(&prod, "ConfigMap");
    assert!(
        cm["data"]["password"] == PASSWORD,
        "the whole value is resolved"
    );
    let url = cm["data"]["url"].as_str().unwrap_or_default();
    assert!(
        url == format!("postgres://app:{PASSWORD}@db:5432/app"),
        "the embedded reference is resolved"
    );
    assert_eq!(cm["data"]["plain"], "not a reference");
    for i in 0..8 {
        assert!(cm["data"][format!("p{i}")] == batch_value(i).as_str());
    }
    assert!(object(&prod, "Secret")["stringData"]["password"] == SECRET_PASSWORD);
    let after = w.aws.stats();
    assert_eq!(
        after.ssm_get_parameters_calls - before.ssm_get_parameters_calls,
        1,
        "one batch for 9 names"
    );
    assert_eq!(
        after.secrets_get_secret_value_calls - before.secrets_get_secret_value_calls,
        1
    );

    // Redactions turn any text made from these objects back into references.
    let message = format!("admission webhook denied ConfigMap db: password {PASSWORD} and {url}");
    let redacted = prod.redactions.redact(&message);
    assert!(
        redacted.contains("<ref+awsssm://ferry-source/db/password?region=eu-west-1>"),
        "{redacted}"
    );
    captured.push(redacted);
    captured.push(format!("{prod:?}"));

    // Unchanged: the values are kept across renders; a refresh reads them again.
    let again = expect(
        w.render("web", false, access(deployer(PROD, "prod")), false)
            .await,
        "again",
    );
    assert!(object(&again, "ConfigMap")["data"]["password"] == PASSWORD);
    assert_eq!(
        w.aws.stats().ssm_get_parameters_calls,
        after.ssm_get_parameters_calls,
        "kept across renders"
    );
    expect(
        w.render("web", false, access(deployer(PROD, "prod")), true)
            .await,
        "refresh",
    );
    assert_eq!(
        w.aws.stats().ssm_get_parameters_calls,
        after.ssm_get_parameters_calls + 1,
        "a refresh reads again"
    );

    // Stg: the same (cached) render fails, naming the reference and the account; the
    // render cache held only references, so nothing of prod's is reused.
    let err = match w
        .render("web", false, access(deployer(STG, "stg")), false)
        .await
    {
        Ok(_) => panic!("stg has no such parameter"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert!(shown.contains(STG), "names the account: {shown}");
    captured.push(shown);
    captured.push(format!("{err:?}"));
    let err = match w
        .render_path("one", "one", false, access(deployer(STG, "stg")), false)
        .await
    {
        Ok(_) => panic!("stg has no such parameter"),
        Err(e) => e,
    };
    let shown = err.to_string();
    assert!(
        shown.contains("ref+awsssm://ferry-source/db/password?region=eu-west-1:"),
        "names the reference as written: {shown}"
    );
    assert!(
        shown.contains("/ferry-source/db/password") && shown.contains(STG),
        "names the parameter and the account: {shown}"
    );
    captured.push(shown);
    let one = w
        .render_path("one", "one", false, access(deployer(PROD, "prod")), false)
        .await;
    assert!(
        expect(one, "prod")
            .rendered
            .objects()
            .iter()
            .any(|o| o.object["data"]["password"] == PASSWORD)
    );

    // No AWS access at all (not an EKS destination, no role annotation): a clear error.
    let none = AppAws {
        access: SecretAccess::Unavailable(
            "the destination cluster in-cluster is not an EKS cluster".into(),
        ),
        plugin_credentials: false,
    };
    let err = match w.render("web", false, none, false).await {
        Ok(_) => panic!("no access, no values"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("not an EKS cluster"), "{err}");
    captured.push(err.to_string());

    assert_nothing_leaked(&captured, &seeded_values());
    drop(w.dir);
}

#[tokio::test]
async fn a_plugin_sees_the_accounts_credentials_only_when_opted_in() {
    let w = World::new().await;
    let mut captured = Vec::new();
    let prod = deployer(PROD, "prod");

    let opted = AppAws {
        plugin_credentials: true,
        ..access(prod.clone())
    };
    let with = expect(
        w.render("helmfile-app", true, opted, false).await,
        "opted-in render",
    );
    let env = &object(&with, "ConfigMap")["data"];
    for var in ["keyId", "secret", "token"] {
        let len: usize = env[var]
            .as_str()
            .and_then(|s| s.parse().ok())
            .unwrap_or_default();
        assert!(len >= 16, "{var} has {len} characters");
    }
    assert_eq!(env["region"], REGION);
    assert_eq!(env["defaultRegion"], REGION);
    captured.push(format!("{with:?}"));

    let without = expect(
        w.render("plain-app", true, access(prod.clone()), false)
            .await,
        "render",
    );
    let env = &object(&without, "ConfigMap")["data"];
    for var in ["keyId", "secret", "token"] {
        assert_eq!(env[var], "0", "{var} without the opt-in");
    }
    assert_eq!(env["region"], "none");

    // Opted in without any access: the render fails, saying why.
    let nowhere = AppAws {
        access: SecretAccess::Unavailable(
            "the destination cluster in-cluster is not an EKS cluster".into(),
        ),
        plugin_credentials: true,
    };
    let err = match w.render("lost-app", true, nowhere, false).await {
        Ok(_) => panic!("no credentials to hand"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("plugin-aws-credentials"), "{err}");
    captured.push(err.to_string());

    let credentials = expect(w.aws.credentials(&prod).await, "credentials");
    let mut secrets = vec![
        credentials.access_key_id.expose().clone(),
        credentials.secret_access_key.expose().clone(),
    ];
    secrets.extend(credentials.session_token.map(|t| t.expose().clone()));
    assert_nothing_leaked(&captured, &secrets);
}

#[tokio::test]
async fn a_helmfile_style_plugin_reads_ssm_in_the_destinations_account_with_the_handed_credentials()
{
    let w = World::new().await;
    let source = ApplicationSource {
        repo_url: w.url.clone(),
        path: "one".into(),
        plugin: Some(PluginSource {
            name: "ssm-reader".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let render = |access: AwsAccess, app: &str| {
        let context = AppContext {
            app_name: app.into(),
            aws: AppAws {
                plugin_credentials: true,
                ..self::access(access)
            },
            ..Default::default()
        };
        let sources = w.sources.clone();
        let source = source.clone();
        async move { sources.render(&source, None, true, Some(&context)).await }
    };
    // For a prod destination the plugin reads prod's parameter, as prod's role.
    let prod = expect(
        render(deployer(PROD, "prod"), "prod-app").await,
        "prod render",
    );
    assert_eq!(object(&prod, "ConfigMap")["data"]["password"], PASSWORD);
    // For stg, the same plugin asks stg's account, which has no such parameter: the render
    // fails, naming the plugin.
    match render(deployer(STG, "stg"), "stg-app").await {
        Ok(r) => panic!(
            "stg's account has no such parameter: {:?}",
            object(&r, "ConfigMap")
        ),
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("ssm-reader"), "{text}");
            assert!(!text.contains(PASSWORD), "{text}");
        }
    }
}
