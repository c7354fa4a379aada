//! Across AWS accounts (issue 11, the clusters): one controller in the management account
//! 111111111111, started from web-identity credentials, reaches EKS clusters of two other
//! accounts by assuming a role in each — `prod` (222222222222, its Secret gives server and
//! CA) and `stg` (333333333333, found by name through `DescribeCluster`). moto's server plays
//! STS and EKS; the emulator's clusters authenticate like EKS (the token's identity asked of
//! moto, mapped by `aws-auth`, then RBAC) and accept a token only [`TOKEN_LIFETIME`] after it
//! was signed, so that the run outlives its tokens.
//!
//! A role of the wrong account fails two ways, as it would on AWS: for a cluster found by
//! name, `DescribeCluster` in that account finds no such cluster (the Secret is unusable and
//! the last good config stays); for a cluster with a server, the cluster answers 401.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferry_cluster::api_resource as ar;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::Kubeconfig;
use serde_json::{Value, json};

use crate::world::*;

const MGMT_ROLE: &str = "arn:aws:iam::111111111111:role/ferry-controller";
pub(crate) const PROD: &str = "222222222222";
pub(crate) const STG: &str = "333333333333";
pub(crate) const REGION: &str = "eu-west-1";
/// How long the target clusters accept a token after it was signed (EKS: 15 minutes).
const TOKEN_LIFETIME: Duration = Duration::from_secs(20);
/// The controller's `--aws-token-renew-seconds`.
const RENEW_SECONDS: u64 = 5;
/// What the web-identity token file holds (moto accepts any).
const WEB_IDENTITY_TOKEN: &str = "e2e-web-identity-eyJhbGciOiJSUzI1NiJ9.e30.c2ln";

/// A trust policy that lets `principals` assume the role, with `sts:ExternalId` equal to
/// `external_id` when given.
pub(crate) fn trust_policy(principals: &[&str], external_id: Option<&str>) -> String {
    let mut statement = json!({"Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": principals}});
    if let Some(id) = external_id {
        statement["Condition"] = json!({"StringEquals": {"sts:ExternalId": id}});
    }
    json!({"Version": "2012-10-17", "Statement": [statement]}).to_string()
}

pub(crate) const MGMT: &str = MGMT_ROLE;

pub(crate) fn deployer(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/ferry-deployer")
}

/// The EKS name of an emulated cluster.
pub(crate) fn eks_name(cluster: &str) -> String {
    format!("{cluster}-euw1")
}

/// moto's server (`ferry_emulator::moto`), whose EKS clusters take their endpoint and CA from
/// the tags `ferry-test/endpoint` and `ferry-test/ca`: moto invents both, and a cluster found
/// by name must lead to the emulated one. Test infrastructure only; Ferry calls
/// `DescribeCluster` as it would on AWS.
pub(crate) struct Moto {
    _server: ferry_emulator::moto::Moto,
    url: String,
}

impl Moto {
    fn start() -> Moto {
        let server = ferry_emulator::moto::Moto::start(&ferry_emulator::moto::MotoOptions {
            presigned_sts: false,
            eks_endpoint_tags: Some("ferry-test".into()),
            trust_policies: true,
            faults: true,
        })
        .unwrap_or_else(|e| panic!("this test needs moto's server: {e}"));
        Moto {
            url: server.url(),
            _server: server,
        }
    }

    /// One request to moto: to the REST API of `service` acting in `account` when `scope`
    /// says `(service, account)`, else to moto's own API. Answers status and body.
    async fn call(
        &self,
        scope: Option<(&str, &str)>,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, String) {
        let json = "Content-Type: application/json\r\n";
        self.request(scope, json, method, path, body).await
    }

    /// An IAM (query protocol) action in `account`: its status and answer.
    async fn iam(&self, account: &str, params: &[(&str, &str)]) -> (u16, String) {
        let encode = |v: &str| {
            v.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        let mut form = String::from("Version=2010-05-08");
        for (k, v) in params {
            form.push_str(&format!("&{k}={}", encode(v)));
        }
        let headers = "Content-Type: application/x-www-form-urlencoded\r\n";
        self.request(Some(("iam", account)), headers, "POST", "/", &form)
            .await
    }

    /// From now on, STS answers `fault` (moto's `/_ferry/faults`, see
    /// `ferry_emulator::moto::MotoOptions::faults`).
    pub(crate) async fn fault(&self, fault: Value) {
        let (status, answer) = self
            .call(None, "POST", "/_ferry/faults", &fault.to_string())
            .await;
        assert_eq!(status, 200, "{answer}");
    }

    /// Every fault ends; answers how often each was hit.
    pub(crate) async fn clear_faults(&self) -> Value {
        let (_, before) = self.call(None, "GET", "/_ferry/faults", "").await;
        let (status, answer) = self.call(None, "DELETE", "/_ferry/faults", "").await;
        assert_eq!(status, 200, "{answer}");
        serde_json::from_str(&before).unwrap_or(Value::Null)
    }

    /// [`Moto::call`] with these `headers` (each line ending in `\r\n`), such as the
    /// `Content-Type` and `X-Amz-Target` of a JSON protocol service.
    pub(crate) async fn request(
        &self,
        scope: Option<(&str, &str)>,
        headers: &str,
        method: &str,
        path: &str,
        body: &str,
    ) -> (u16, String) {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let authority = self.url.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .expect("moto listens");
        // moto routes by the credential scope and checks no signature.
        let scope = scope
            .map(|(service, account)| {
                format!(
                    "x-moto-account-id: {account}\r\nAuthorization: AWS4-HMAC-SHA256 \
                     Credential=AKIAE2ETEST/20250101/{REGION}/{service}/aws4_request, \
                     SignedHeaders=host, Signature=00\r\n"
                )
            })
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.0\r\nHost: {authority}\r\n{scope}{headers}\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        let raw = String::from_utf8_lossy(&raw);
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_owned())
    }
}

/// The world of this scenario: moto, an emulator with a management cluster and the EKS-like
/// clusters `prod` and `stg`, a Git repository, and the controller with AWS credentials.
pub(crate) struct AwsWorld {
    pub(crate) moto: Moto,
    _emulator: Killed,
    control: String,
    dir: tempfile::TempDir,
    pub(crate) repo: PathBuf,
    pub(crate) repo_url: String,
    _daemon: Killed,
    pub(crate) kubeconfig: PathBuf,
    controller: Option<Killed>,
    pub(crate) mgmt: kube::Client,
    pub(crate) prod: kube::Client,
    pub(crate) stg: kube::Client,
}

impl AwsWorld {
    /// Given moto, the clusters (each mapping its own account's `ferry-deployer` role to
    /// `cluster-admin`) and a repository of `files`; the controller not started yet.
    pub(crate) async fn new(files: &[(&str, String)]) -> AwsWorld {
        let moto = Moto::start();
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        let eks = |cluster: &str, account: &str| {
            format!(
                "{cluster},version=v1.30.2-eks-1,port={},eks={},account={account},\
                 region={REGION},sts={},sts-dialect=moto,token-lifetime={}",
                free_port(),
                eks_name(cluster),
                moto.url,
                TOKEN_LIFETIME.as_secs()
            )
        };
        let control_port = free_port();
        let emulator = start_emulator(
            &[
                "--cluster".into(),
                format!("management,version=v1.30.2,port={}", free_port()),
                "--cluster".into(),
                eks("prod", PROD),
                "--cluster".into(),
                eks("stg", STG),
            ],
            control_port,
            &kubeconfig,
        )
        .await;
        let (repo, repo_url, daemon) = serve_git(dir.path(), files);
        let w = AwsWorld {
            _emulator: emulator,
            control: format!("http://127.0.0.1:{control_port}"),
            repo,
            repo_url,
            _daemon: daemon,
            controller: None,
            mgmt: client_of(&kubeconfig, "management").await,
            prod: client_of(&kubeconfig, "prod").await,
            stg: client_of(&kubeconfig, "stg").await,
            kubeconfig,
            dir,
            moto,
        };
        w.map_deployers(&w.prod, PROD).await;
        w.map_deployers(&w.stg, STG).await;
        for account in [PROD, STG] {
            w.create_deployer_role(account).await;
        }
        w
    }

    /// IAM of `account` has the role `ferry-deployer`, whose trust policy lets the
    /// controller's role assume it (moto enforces trust policies here, as STS does).
    async fn create_deployer_role(&self, account: &str) {
        let policy = trust_policy(&[MGMT_ROLE], None);
        let (status, answer) = self
            .moto
            .iam(
                account,
                &[
                    ("Action", "CreateRole"),
                    ("RoleName", "ferry-deployer"),
                    ("AssumeRolePolicyDocument", &policy),
                ],
            )
            .await;
        assert_eq!(status, 200, "CreateRole in {account}: {answer}");
    }

    /// Someone changes the trust policy of `account`'s `ferry-deployer` role.
    pub(crate) async fn set_deployer_trust(&self, account: &str, policy: &str) {
        let (status, answer) = self
            .moto
            .iam(
                account,
                &[
                    ("Action", "UpdateAssumeRolePolicy"),
                    ("RoleName", "ferry-deployer"),
                    ("PolicyDocument", policy),
                ],
            )
            .await;
        assert_eq!(status, 200, "UpdateAssumeRolePolicy in {account}: {answer}");
    }

    /// The cluster's `aws-auth` maps `account`'s deployer role to the group
    /// `ferry-deployers`, which RBAC makes cluster admins (applied with the admin token).
    async fn map_deployers(&self, admin: &kube::Client, account: &str) {
        let map_roles = format!(
            "- rolearn: {}\n  username: ferry:{{{{SessionName}}}}\n  groups:\n    - ferry-deployers\n",
            deployer(account)
        );
        let aws_auth = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": map_roles}});
        apply_object(admin, &cm_res(), Some("kube-system"), aws_auth).await;
        let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "ferry-deployers"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "ferry-deployers", "apiGroup": "rbac.authorization.k8s.io"}]});
        let crb = ar(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        );
        apply_object(admin, &crb, None, binding).await;
    }

    /// The controller starts with the AWS configuration of [`AwsWorld::ferry_with_aws`];
    /// its log goes to a file.
    pub(crate) fn start_controller(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("controller.log"))
            .expect("controller log");
        let mut cmd = self.ferry_with_aws();
        cmd.env_remove("FERRY_AWS_TOKEN_RENEW_SECONDS")
            .args(["--log", "ferry=debug,warn", "controller"])
            .args(["--context", "management", "--workers", "4"])
            .args(["--poll-seconds", "2"])
            .args(["--aws-token-renew-seconds", &RENEW_SECONDS.to_string()])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--git-cache")
            .arg(self.dir.path().join("cache"))
            .stdout(Stdio::null())
            .stderr(Stdio::from(log));
        self.controller = Some(Killed(cmd.spawn().expect("ferry controller")));
    }

    /// The `ferry` binary with the controller's AWS configuration: web-identity credentials
    /// of the management account and moto as every AWS endpoint, configured only the
    /// standard way (no access key, nothing of the test's own environment, no shared
    /// config files).
    pub(crate) fn ferry_with_aws(&self) -> Command {
        let token_file = self.dir.path().join("web-identity-token");
        std::fs::write(&token_file, WEB_IDENTITY_TOKEN).expect("token file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("AWS_") {
                cmd.env_remove(k);
            }
        }
        // Empty shared config and credentials files: nothing of the host's `~/.aws`.
        let none = self.dir.path().join("empty-aws-config");
        std::fs::write(&none, "").expect("empty AWS config");
        cmd.env("AWS_ROLE_ARN", MGMT_ROLE)
            .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
            .env("AWS_ROLE_SESSION_NAME", "ferry-controller")
            .env("AWS_REGION", REGION)
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_CONFIG_FILE", &none)
            .env("AWS_SHARED_CREDENTIALS_FILE", &none)
            .env("AWS_EC2_METADATA_DISABLED", "true");
        cmd
    }

    pub(crate) fn controller_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("controller.log")).unwrap_or_default()
    }

    /// An emulated cluster's server URL and CA (base64 PEM), from the emulator's kubeconfig.
    fn endpoint_of(&self, cluster: &str) -> (String, String) {
        let kc = Kubeconfig::read_from(&self.kubeconfig).expect("kubeconfig");
        let c = kc
            .clusters
            .iter()
            .find(|c| c.name == cluster)
            .and_then(|c| c.cluster.clone())
            .unwrap_or_else(|| panic!("cluster {cluster} in the kubeconfig"));
        (
            c.server.expect("server"),
            c.certificate_authority_data.expect("CA data"),
        )
    }

    /// The EKS cluster of the emulated `cluster` exists in moto, in `account`, and
    /// `DescribeCluster` answers its endpoint and CA.
    pub(crate) async fn create_eks_cluster(&self, cluster: &str, account: &str) {
        let (server, ca) = self.endpoint_of(cluster);
        let body = json!({"name": eks_name(cluster), "version": "1.30",
            "roleArn": format!("arn:aws:iam::{account}:role/eks-cluster"),
            "resourcesVpcConfig": {},
            "tags": {"ferry-test/endpoint": server, "ferry-test/ca": ca}});
        let (status, answer) = self
            .moto
            .call(
                Some(("eks", account)),
                "POST",
                "/clusters",
                &body.to_string(),
            )
            .await;
        assert_eq!(status, 200, "CreateCluster: {answer}");
        let path = format!("/clusters/{}", eks_name(cluster));
        let (status, answer) = self
            .moto
            .call(Some(("eks", account)), "GET", &path, "")
            .await;
        let described: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
        assert!(
            status == 200 && described["cluster"]["endpoint"] == server.as_str(),
            "DescribeCluster: {status} {answer}"
        );
    }

    /// The cluster Secret of `cluster` says `config` (the Secret is applied whole).
    pub(crate) async fn cluster_secret(&self, cluster: &str, server: Option<&str>, config: Value) {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ferry"}});
        apply_object(
            &self.mgmt,
            &ar("", "v1", "Namespace", "namespaces"),
            None,
            ns,
        )
        .await;
        let mut data = json!({"name": cluster, "config": config.to_string()});
        if let Some(s) = server {
            data["server"] = json!(s);
        }
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("cluster-{cluster}"),
                "labels": {"argocd.argoproj.io/secret-type": "cluster"}},
            "stringData": data});
        apply_object(
            &self.mgmt,
            &ar("", "v1", "Secret", "secrets"),
            Some("ferry"),
            secret,
        )
        .await;
    }

    /// When `prod` is registered with its server and CA and `role` (Argo CD's fields only).
    pub(crate) async fn register_prod(&self, role: &str) {
        self.register_prod_with(role, None).await;
    }

    /// [`AwsWorld::register_prod`], sending `external_id` with `AssumeRole` when given.
    pub(crate) async fn register_prod_with(&self, role: &str, external_id: Option<&str>) {
        let (server, ca) = self.endpoint_of("prod");
        let mut config = json!({"awsAuthConfig": {"clusterName": eks_name("prod"),
            "roleARN": role}, "tlsClientConfig": {"caData": ca}});
        if let Some(id) = external_id {
            config["awsAuthConfig"]["externalId"] = json!(id);
        }
        self.cluster_secret("prod", Some(&server), config).await;
    }

    /// When `stg` is registered by name only: its EKS name, `role` and the region.
    pub(crate) async fn register_stg(&self, role: &str) {
        let config = json!({"awsAuthConfig": {"clusterName": eks_name("stg"), "roleARN": role,
            "region": REGION}});
        self.cluster_secret("stg", None, config).await;
    }

    /// When an application of `path` to `cluster`'s namespace `demo` is created, automated
    /// with prune and self-heal.
    pub(crate) async fn app(&self, name: &str, path: &str, cluster: &str) {
        let app = json!({"apiVersion": "ferry.dev/v1alpha1", "kind": "Application",
            "metadata": {"name": name},
            "spec": {"project": "default",
                "source": {"repoURL": self.repo_url, "targetRevision": "main", "path": path},
                "destination": {"name": cluster, "namespace": "demo"},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true},
                    "syncOptions": ["CreateNamespace=true"]}}});
        apply_object(
            &self.mgmt,
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
            Some("ferry"),
            app,
        )
        .await;
    }

    pub(crate) async fn expect_app(
        &self,
        name: &str,
        secs: u64,
        what: &str,
        ok: impl Fn(&Value) -> bool,
    ) -> Value {
        expect_app_status(&self.mgmt, name, secs, what, ok).await
    }

    /// The value of the ConfigMap `demo/settings` in a cluster (read with the admin token).
    pub(crate) async fn settings(&self, cluster: &kube::Client) -> Option<String> {
        get_object(cluster, "demo", &cm_res(), "settings")
            .await
            .and_then(|v| v["data"]["value"].as_str().map(str::to_owned))
    }

    /// Then, within `secs`, the ConfigMap `demo/settings` of a cluster says `value`.
    pub(crate) async fn expect_settings(&self, cluster: &kube::Client, secs: u64, value: &str) {
        let res = cm_res();
        let fetch = || get_object(cluster, "demo", &res, "settings");
        eventually(secs, "ConfigMap demo/settings", value, fetch, |v| {
            v.is_some_and(|v| v["data"]["value"] == value)
        })
        .await;
    }

    /// Someone edits the ConfigMap `demo/settings` of a cluster by hand.
    pub(crate) async fn hand_edit(&self, cluster: &kube::Client) {
        let cms: Api<DynamicObject> = Api::namespaced_with(cluster.clone(), "demo", &cm_res());
        cms.patch(
            "settings",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"value": "hand-edited"}})),
        )
        .await
        .expect("hand edit");
    }

    /// The emulator's EKS counts of a cluster (STS calls, tokens accepted and refused).
    pub(crate) async fn eks_stats(&self, cluster: &str) -> Value {
        self.control_call("GET", &format!("/clusters/{cluster}/stats"), "")
            .await["eks"]
            .clone()
    }

    /// The secret access keys and session tokens moto handed out (to the controller).
    pub(crate) async fn session_secrets(&self) -> Vec<String> {
        let (status, body) = self.moto.call(None, "GET", "/moto-api/data.json", "").await;
        assert_eq!(status, 200, "{body}");
        let data: Value = serde_json::from_str(&body).expect("moto's data");
        let roles = data["sts"]["AssumedRole"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut secrets = Vec::new();
        for r in roles {
            for key in ["secret_access_key", "session_token"] {
                if let Some(v) = r[key].as_str() {
                    secrets.push(v.to_owned());
                }
            }
        }
        secrets
    }

    /// The emulator's request counts of a cluster (reads, watches, writes, dry runs).
    pub(crate) async fn requests(&self, cluster: &str) -> Value {
        self.control_call("GET", &format!("/clusters/{cluster}/stats"), "")
            .await["requests"]
            .clone()
    }

    /// Every open watch of a cluster ends (they are then started again by their clients).
    async fn drop_watches(&self, cluster: &str) {
        let answer = self
            .control_call(
                "POST",
                &format!("/clusters/{cluster}/faults"),
                r#"{"dropWatches":true}"#,
            )
            .await;
        assert_eq!(answer["applied"], true, "{answer}");
    }

    async fn control_call(&self, method: &str, path: &str, body: &str) -> Value {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let authority = self.control.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .expect("control endpoint listens");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.expect("read");
        let body = raw
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{method} {path}: {e}: {raw}"))
    }

    /// `ferry COMMAND ARGS` against the management cluster: its output.
    pub(crate) async fn ferry(&self, command: &str, args: &[&str]) -> String {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--log", "warn", command, "--context", "management"])
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .await
            .expect("ferry app runs");
        assert!(out.status.success(), "ferry {command} {args:?}: {out:?}");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    /// The Applications as stored, statuses and all.
    pub(crate) async fn applications(&self) -> String {
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.mgmt.clone(),
            "ferry",
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
        );
        let list = api.list(&Default::default()).await.expect("applications");
        serde_json::to_string_pretty(&list.items).expect("json")
    }
}

pub(crate) fn count(stats: &Value, key: &str) -> u64 {
    stats[key].as_u64().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_controller_reaches_eks_clusters_of_two_accounts_by_role() {
    // Given moto, the management cluster and two EKS clusters, each mapping only its own
    // account's deployer role; stg exists in moto's EKS of its account.
    let mut w = AwsWorld::new(&[
        ("prod/settings.yaml", cm("settings", "prod-1")),
        ("stg/settings.yaml", cm("settings", "stg-1")),
    ])
    .await;
    w.create_eks_cluster("stg", STG).await;
    // And the controller, with web-identity credentials in the management account.
    w.start_controller();

    // When prod is registered with its server and CA, stg by its name only, and an
    // application is made for each.
    w.register_prod(&deployer(PROD)).await;
    w.register_stg(&deployer(STG)).await;
    w.app("prod-app", "prod", "prod").await;
    w.app("stg-app", "stg", "stg").await;

    // Then both sync, through one controller, as a role of each cluster's own account.
    for app in ["prod-app", "stg-app"] {
        w.expect_app(app, 60, "Synced and Healthy", synced_healthy)
            .await;
    }
    // A watch of prod was open before this instant, on a token signed before it.
    let watched_since = Instant::now();
    assert_eq!(w.settings(&w.prod).await.as_deref(), Some("prod-1"));
    assert_eq!(w.settings(&w.stg).await.as_deref(), Some("stg-1"));
    let (prod_stats, stg_stats) = (w.eks_stats("prod").await, w.eks_stats("stg").await);
    assert!(
        count(&prod_stats, "accepted") > 0 && count(&stg_stats, "accepted") > 0,
        "{prod_stats} {stg_stats}"
    );

    // When stg's Secret names prod's role (registered by name, stg is looked for in prod's
    // account), then the Secret is not usable: the warning names the cluster, the EKS name
    // and the account it was looked for in, and stg keeps its last good config.
    w.register_stg(&deployer(PROD)).await;
    let s = w
        .expect_app("stg-app", 30, "a ClusterSecretWarning", |s| {
            condition(s, "ClusterSecretWarning").is_some()
        })
        .await;
    let warning = condition(&s, "ClusterSecretWarning").unwrap_or_default();
    assert!(
        warning.contains("cluster stg")
            && warning.contains(&format!("EKS cluster {} not found", eks_name("stg")))
            && warning.contains(&format!("account {PROD}"))
            && warning.contains("last good config"),
        "{warning}"
    );
    assert!(synced_healthy(&s), "{s:#}");
    // And when it is fixed, the warning goes by itself.
    w.register_stg(&deployer(STG)).await;
    w.expect_app("stg-app", 30, "no ClusterSecretWarning", |s| {
        condition(s, "ClusterSecretWarning").is_none() && synced_healthy(s)
    })
    .await;

    // When more than a token's lifetime has passed since prod's watch began (the controller
    // renews every RENEW_SECONDS; the clusters refuse tokens older than TOKEN_LIFETIME)...
    let refused_before = count(&w.eks_stats("prod").await, "refused");
    let sts_before = count(&w.eks_stats("prod").await, "stsCalls");
    tokio::time::sleep_until((watched_since + TOKEN_LIFETIME + Duration::from_secs(2)).into())
        .await;
    // ...then a hand edit of prod is healed: the watch that outlived its token still tells,
    // and the write carries a fresh token.
    w.hand_edit(&w.prod).await;
    w.expect_settings(&w.prod, 20, "prod-1").await;
    // And a watch started again (as after a server's watch timeout) authenticates with a
    // fresh token and resumes: a second edit is healed too.
    let watches = w.requests("prod").await["watches"].clone();
    w.drop_watches("prod").await;
    w.hand_edit(&w.prod).await;
    w.expect_settings(&w.prod, 20, "prod-1").await;
    let again = w.requests("prod").await["watches"].clone();
    assert!(again.as_u64() > watches.as_u64(), "{watches} then {again}");
    // And a new commit reaches prod.
    commit_files(
        &w.repo,
        &[("prod/settings.yaml", Some(cm("settings", "prod-2")))],
        "prod-2",
    );
    w.expect_settings(&w.prod, 30, "prod-2").await;
    w.expect_app("prod-app", 20, "Synced and Healthy", synced_healthy)
        .await;
    // All of it without a refusal: tokens were renewed ahead of expiry, not after a 401.
    let after = w.eks_stats("prod").await;
    assert_eq!(count(&after, "refused"), refused_before, "{after}");
    assert!(count(&after, "stsCalls") > sts_before, "{after}");

    // When prod's Secret names stg's role (a role of the wrong account, not mapped in
    // prod), then prod-app reports the 401, naming the cluster, the role and the mapping to
    // check, and what is deployed in prod is untouched.
    let refused = count(&w.eks_stats("prod").await, "refused");
    let deployed = get_object(&w.prod, "demo", &cm_res(), "settings").await;
    w.register_prod(&deployer(STG)).await;
    let s = w
        .expect_app("prod-app", 30, "a ComparisonError", |s| {
            condition(s, "ComparisonError").is_some()
        })
        .await;
    let error = condition(&s, "ComparisonError").unwrap_or_default();
    assert!(
        error.contains("cluster prod")
            && error.contains("HTTP 401")
            && error.contains(&eks_name("prod"))
            && error.contains(&format!("{STG}:assumed-role/ferry-deployer"))
            && error.contains("aws-auth"),
        "{error}"
    );
    assert!(count(&w.eks_stats("prod").await, "refused") > refused);
    let live = get_object(&w.prod, "demo", &cm_res(), "settings").await;
    assert_eq!(
        live.as_ref().map(|v| &v["metadata"]["resourceVersion"]),
        deployed.as_ref().map(|v| &v["metadata"]["resourceVersion"]),
        "{live:?}"
    );
    // And when the Secret is fixed, prod-app recovers by itself, and Git reaches prod again.
    w.register_prod(&deployer(PROD)).await;
    w.expect_app("prod-app", 30, "Synced without an error", |s| {
        synced_healthy(s) && condition(s, "ComparisonError").is_none()
    })
    .await;
    commit_files(
        &w.repo,
        &[("prod/settings.yaml", Some(cm("settings", "prod-3")))],
        "prod-3",
    );
    w.expect_settings(&w.prod, 30, "prod-3").await;

    // No secret leaks: not in the log, the statuses, `ferry app get` or `ferry cluster list`.
    let mut seen = w.controller_log();
    seen.push_str(&w.applications().await);
    for app in ["prod-app", "stg-app"] {
        seen.push_str(&w.ferry("app", &["get", app]).await);
    }
    seen.push_str(&w.ferry("cluster", &["list", "-o", "json"]).await);
    assert!(
        seen.contains("prod-app"),
        "the log and statuses were read: {seen}"
    );
    let mut secrets = w.session_secrets().await;
    assert!(secrets.len() >= 6, "web identity, prod, stg: {secrets:?}");
    secrets.extend(
        [
            "k8s-aws-v1.",
            "aws_secret_access_key",
            "SecretAccessKey",
            "SessionToken",
            "X-Amz-Signature",
            "X-Amz-Security-Token",
            "X-Amz-Credential",
            WEB_IDENTITY_TOKEN,
        ]
        .map(String::from),
    );
    for secret in &secrets {
        if let Some(at) = seen.find(secret.as_str()) {
            let from = seen.floor_char_boundary(at.saturating_sub(300));
            let to = seen.ceil_char_boundary(at + secret.len() + 100);
            panic!("{secret} leaked:\n{}", &seen[from..to.min(seen.len())]);
        }
    }
}
