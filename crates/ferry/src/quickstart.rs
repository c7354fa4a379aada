//! `ferry quickstart`: the whole thing on one machine. Three emulated clusters (a management
//! cluster and two targets of different Kubernetes generations), a Git repository of
//! example applications served over the git protocol, the targets registered as Argo
//! CD-format cluster Secrets labelled `env: prod`, the controller, and an ApplicationSet
//! whose cluster generator makes one Application per prod cluster; both become Synced and
//! Healthy while you watch. Runs until interrupted.
//!
//! With `--aws`, the same demo across AWS accounts: moto's server (started here, a child
//! process) plays STS and EKS, the targets `prod-blue` (account 222222222222) and `stg-blue`
//! (333333333333) authenticate like EKS (the token's identity asked of moto, mapped by
//! `aws-auth`, then RBAC), and the controller, holding web-identity credentials of the
//! management account 111111111111, reaches each by assuming its `ferry-deployer` role:
//! prod-blue is registered with server and CA (and the ApplicationSet's env=prod makes its
//! guestbook), stg-blue by EKS name only, found through `DescribeCluster` (moto, patched to
//! answer the emulator's endpoint), with an Application of its own.

use ferry_cluster::api_resource as resource;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use clap::Args;
use ferry_emulator::{ClusterConfig, EksConfig, Emulator, StsDialect};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::discovery::ApiResource;
use serde_json::json;

#[derive(Debug, Args)]
pub struct QuickstartArgs {
    /// Where to write the kubeconfig of the demo clusters.
    #[arg(
        long,
        env = "FERRY_QUICKSTART_KUBECONFIG",
        default_value = "ferry-quickstart.kubeconfig"
    )]
    pub kubeconfig: PathBuf,
    /// Working directory: the example Git repository (edit, commit, watch it deploy) and the
    /// controller's Git cache.
    #[arg(long, env = "FERRY_QUICKSTART_DIR", default_value = "ferry-quickstart")]
    pub dir: PathBuf,
    /// Admin token of the demo clusters. Random if unset.
    #[arg(long, env = "FERRY_EMULATOR_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
    /// Seconds between polls of the Git repository.
    #[arg(long, default_value_t = 5)]
    pub poll_seconds: u64,
    /// Across AWS accounts: EKS-like targets prod-blue (account 222222222222, registered with
    /// server and CA) and stg-blue (333333333333, found by name through DescribeCluster),
    /// each reached by assuming its account's ferry-deployer role (awsAuthConfig), from
    /// web-identity credentials of account 111111111111; moto's server plays STS and EKS and
    /// is started here (install it with `python3 -m pip install 'moto[server]>=5,<6'`).
    #[arg(long)]
    pub aws: bool,
    /// Show the controller's logs on the terminal (standard error) instead of writing them
    /// to `ferry.log` in `--dir`.
    #[arg(long, short)]
    pub verbose: bool,
    /// Where to serve the web UI and the API (a free port if this one is taken).
    #[arg(
        long,
        env = "FERRY_QUICKSTART_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: std::net::SocketAddr,
}

impl QuickstartArgs {
    /// Where the controller's logs go without `--verbose`.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("ferry.log")
    }
}

/// The region of the `--aws` demo.
const AWS_REGION: &str = "eu-west-1";
/// The controller's role in the management account (its web-identity base credentials).
const AWS_CONTROLLER_ROLE: &str = "arn:aws:iam::111111111111:role/ferry-controller";
/// The `--aws` targets: name, account, `env` label.
const AWS_TARGETS: [(&str, &str, &str); 2] = [
    ("prod-blue", "222222222222", "prod"),
    ("stg-blue", "333333333333", "stg"),
];
const MOTO_INSTALL: &str = "python3 -m pip install 'moto[server]>=5,<6'";

fn deployer_role(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/ferry-deployer")
}

/// Starts moto's server on a free loopback port (killed when dropped). Its EKS clusters take
/// their endpoint and CA from the tags `ferry-quickstart/endpoint` and `ferry-quickstart/ca`:
/// moto invents both, and `stg-blue`, registered by name only, must lead to the emulated
/// cluster. Demo plumbing only; Ferry calls `DescribeCluster` as it would on AWS.
async fn moto_server() -> anyhow::Result<Moto> {
    let options = ferry_emulator::moto::MotoOptions {
        presigned_sts: false,
        eks_endpoint_tags: Some("ferry-quickstart".into()),
        ..Default::default()
    };
    let server = tokio::task::spawn_blocking(move || ferry_emulator::moto::Moto::start(&options))
        .await?
        .map_err(|e| match e {
            ferry_emulator::moto::MotoError::NotInstalled => anyhow::anyhow!(
                "`ferry quickstart --aws` needs moto's server (it plays AWS STS and EKS), and \
                 `python3 -c 'import moto.server'` failed; install it with:\n  {MOTO_INSTALL}"
            ),
            other => anyhow::anyhow!(other),
        })?;
    Ok(Moto {
        url: server.url(),
        _server: server,
    })
}

struct Moto {
    _server: ferry_emulator::moto::Moto,
    url: String,
}

impl Moto {
    /// Creates the EKS cluster `name` in moto, in `account`, answering `server` and `ca`
    /// (base64 PEM) to `DescribeCluster`. moto routes by the credential scope and checks no
    /// signature.
    async fn create_eks_cluster(
        &self,
        name: &str,
        account: &str,
        server: &str,
        ca: &str,
    ) -> anyhow::Result<()> {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let body = json!({"name": name, "version": "1.30",
            "roleArn": format!("arn:aws:iam::{account}:role/eks-cluster"),
            "resourcesVpcConfig": {},
            "tags": {"ferry-quickstart/endpoint": server, "ferry-quickstart/ca": ca}})
        .to_string();
        let authority = self.url.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .context("connecting to moto's server")?;
        let request = format!(
            "POST /clusters HTTP/1.0\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
             x-moto-account-id: {account}\r\nAuthorization: AWS4-HMAC-SHA256 \
             Credential=AKIAQUICKSTART/20250101/{AWS_REGION}/eks/aws4_request, \
             SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        let raw = String::from_utf8_lossy(&raw);
        let status = raw.split_whitespace().nth(1).unwrap_or_default();
        if status != "200" {
            bail!("creating the EKS cluster {name} in moto (account {account}): {raw}");
        }
        Ok(())
    }
}

/// The controller's AWS settings, the standard way: a shared config file whose default
/// profile names the management role, a web-identity token file and moto as the endpoint.
fn aws_options(base: &Path, moto_url: &str) -> anyhow::Result<ferry_aws::AwsOptions> {
    let dir = base.join("aws");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let token = dir.join("web-identity-token");
    // moto accepts any web identity token.
    std::fs::write(&token, "quickstart-eyJhbGciOiJSUzI1NiJ9.e30.c2ln")?;
    let config = dir.join("config");
    std::fs::write(
        &config,
        format!(
            "[default]\nregion = {AWS_REGION}\nrole_arn = {AWS_CONTROLLER_ROLE}\n\
             web_identity_token_file = {}\nrole_session_name = ferry-controller\n\
             endpoint_url = {moto_url}\n",
            token.display()
        ),
    )?;
    let credentials = dir.join("credentials");
    std::fs::write(&credentials, "")?;
    Ok(ferry_aws::AwsOptions {
        region: Some(AWS_REGION.to_owned()),
        endpoint_url: Some(moto_url.to_owned()),
        shared_config: Some(ferry_aws::SharedConfigFiles {
            config,
            credentials: Some(credentials),
        }),
        ..ferry_aws::AwsOptions::default()
    })
}

/// The target's `aws-auth` maps its own account's `ferry-deployer` role to the group
/// `ferry-deployers`, which RBAC makes cluster admins (applied with the admin token).
async fn map_deployers(client: &kube::Client, account: &str) -> anyhow::Result<()> {
    let map_roles = format!(
        "- rolearn: {}\n  username: ferry:{{{{SessionName}}}}\n  groups:\n    - ferry-deployers\n",
        deployer_role(account)
    );
    apply(
        client,
        &resource("", "v1", "ConfigMap", "configmaps"),
        Some("kube-system"),
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "aws-auth", "namespace": "kube-system"},
            "data": {"mapRoles": map_roles}}),
    )
    .await?;
    apply(
        client,
        &resource(
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRoleBinding",
            "clusterrolebindings",
        ),
        None,
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "ferry-deployers"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "Group", "name": "ferry-deployers", "apiGroup": "rbac.authorization.k8s.io"}]}),
    )
    .await
}

/// The example guestbook (`quickstart-examples/`, which the UI test reads too).
const DEPLOYMENT: &str = include_str!("../quickstart-examples/guestbook/deployment.yaml");

const SERVICE: &str = include_str!("../quickstart-examples/guestbook/service.yaml");

const CONFIGMAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: guestbook
data:
  GREETING: hello from Git
";

async fn git(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = tokio::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Ferry Quickstart")
        .env("GIT_AUTHOR_EMAIL", "quickstart@ferry.invalid")
        .env("GIT_COMMITTER_NAME", "Ferry Quickstart")
        .env("GIT_COMMITTER_EMAIL", "quickstart@ferry.invalid")
        .output()
        .await
        .context("running git (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Creates the example repository (once) under `base/examples`.
async fn example_repo(base: &Path) -> anyhow::Result<()> {
    let repo = base.join("examples");
    if repo.join(".git").exists() {
        return Ok(());
    }
    let app = repo.join("guestbook");
    std::fs::create_dir_all(&app).with_context(|| format!("creating {}", app.display()))?;
    std::fs::write(app.join("deployment.yaml"), DEPLOYMENT)?;
    std::fs::write(app.join("service.yaml"), SERVICE)?;
    std::fs::write(app.join("configmap.yaml"), CONFIGMAP)?;
    git(&repo, &["init", "-q", "-b", "main"]).await?;
    git(&repo, &["add", "."]).await?;
    git(
        &repo,
        &["commit", "-q", "-m", "Example application: guestbook"],
    )
    .await?;
    Ok(())
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Serves `base` over the git protocol on loopback.
async fn git_daemon(base: &Path) -> anyhow::Result<(tokio::process::Child, u16)> {
    let port = free_port()?;
    // `git daemon` forks `git-daemon` and exits; run the real one so that it stops with us.
    let exec_path = tokio::process::Command::new("git")
        .arg("--exec-path")
        .output()
        .await
        .context("running git --exec-path")?;
    let daemon =
        PathBuf::from(String::from_utf8_lossy(&exec_path.stdout).trim()).join("git-daemon");
    let child = tokio::process::Command::new(daemon)
        .args([
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
            &format!("--port={port}"),
        ])
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting git daemon")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("git daemon did not listen on port {port}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok((child, port))
}

async fn apply(
    client: &kube::Client,
    ar: &ApiResource,
    ns: Option<&str>,
    obj: serde_json::Value,
) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = match ns {
        Some(ns) => Api::namespaced_with(client.clone(), ns, ar),
        None => Api::all_with(client.clone(), ar),
    };
    let name = obj["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.patch(
        &name,
        &PatchParams::apply("ferry-quickstart").force(),
        &Patch::Apply(&obj),
    )
    .await
    .with_context(|| format!("applying {} {name}", ar.kind))?;
    Ok(())
}

pub async fn run(args: QuickstartArgs) -> anyhow::Result<()> {
    use crate::quickstart_screen::{AppRow, Screen, shell_word};
    use std::io::IsTerminal as _;

    let live = std::io::stdout().is_terminal();
    let mut screen = Screen::new(live, crate::cli::colour(live));
    let token = args
        .admin_token
        .clone()
        .unwrap_or_else(crate::emulator_cmd::random_token);
    let moto = if args.aws {
        Some(moto_server().await?)
    } else {
        None
    };
    let clusters = match &moto {
        None => vec![
            ClusterConfig::new("management", &token).version("v1.30.2"),
            ClusterConfig::new("prod-blue", &token).version("v1.29.4"),
            ClusterConfig::new("prod-green", &token).version("v1.30.2"),
        ],
        Some(Moto { url: moto_url, .. }) => {
            let mut v = vec![ClusterConfig::new("management", &token).version("v1.30.2")];
            for (name, account, _) in AWS_TARGETS {
                v.push(
                    ClusterConfig::new(name, &token)
                        .version("v1.30.2-eks-1")
                        .eks(
                            EksConfig::new(name, account, AWS_REGION)
                                .sts_endpoint(moto_url)
                                .sts_dialect(StsDialect::Moto),
                        ),
                );
            }
            v
        }
    };
    let emu = Emulator::start(clusters).await?;
    std::fs::write(&args.kubeconfig, emu.kubeconfig())
        .with_context(|| format!("writing kubeconfig {}", args.kubeconfig.display()))?;

    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let base = std::fs::canonicalize(&args.dir)?;
    example_repo(&base).await?;
    let (_daemon, port) = git_daemon(&base).await?;
    let repo_url = format!("git://127.0.0.1:{port}/examples");

    // The UI's address: the one asked for, or a free port when another program has it.
    let listen = match std::net::TcpListener::bind(args.listen) {
        Ok(l) => l.local_addr()?,
        Err(_) => std::net::TcpListener::bind((args.listen.ip(), 0))?.local_addr()?,
    };
    // The admin token of the demo's server, in a file only its owner reads.
    let ui_token = uuid::Uuid::new_v4().simple().to_string();
    let token_file = base.join("admin-token");
    write_private(&token_file, &ui_token)?;
    let ui_url = format!("http://{listen}/");

    // What runs where, in one aligned block.
    let mut place: Vec<[String; 3]> = Vec::new();
    for c in emu.clusters() {
        let what = match AWS_TARGETS.iter().find(|(name, ..)| *name == c.name()) {
            _ if c.name() == "management" => "Ferry's Applications (namespace ferry)".to_owned(),
            Some((_, account, env)) if args.aws => {
                format!("target, env={env}, EKS-like in account {account}")
            }
            _ => "target, env=prod".to_owned(),
        };
        place.push([
            c.name().to_owned(),
            format!("{} (Kubernetes {})", c.url(), c.kubernetes_version()),
            what,
        ]);
    }
    if let Some(Moto { url: moto_url, .. }) = &moto {
        place.push([
            "moto".into(),
            moto_url.clone(),
            "AWS STS and EKS of the accounts".into(),
        ]);
    }
    place.push([
        "git".into(),
        repo_url.clone(),
        format!("{}", base.join("examples").display()),
    ]);
    let logs = if args.verbose {
        "logs on standard error (--verbose)".to_owned()
    } else {
        format!("logs in {}", args.log_file().display())
    };
    place.push([
        "controller".into(),
        format!(
            "in this process, polling Git every {} s",
            args.poll_seconds.max(1)
        ),
        logs,
    ]);
    place.push([
        "ui".into(),
        format!("{ui_url}#token={ui_token}"),
        format!(
            "open in a browser (the token is also in {})",
            token_file.display()
        ),
    ]);
    let contexts: Vec<&str> = emu.clusters().iter().map(|c| c.name()).collect();
    place.push([
        "kubeconfig".into(),
        args.kubeconfig.display().to_string(),
        format!("contexts {}", contexts.join(", ")),
    ]);
    println!(
        "{}",
        screen.heading("Ferry quickstart: emulated clusters, a Git server and the controller")
    );
    println!();
    let w0 = place.iter().map(|p| p[0].len()).max().unwrap_or(0);
    // The UI's link (with its token) is long: it does not widen the others' column.
    let w1 = place
        .iter()
        .filter(|p| p[0] != "ui")
        .map(|p| p[1].len())
        .max()
        .unwrap_or(0);
    for [a, b, c] in &place {
        println!("  {a:<w0$}  {b:<w1$}  {c}");
    }

    let mgmt = emu.cluster("management").context("management cluster")?;
    let kc = Kubeconfig::from_yaml(&mgmt.kubeconfig())?;
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
    let client = kube::Client::try_from(config.clone())?;
    let ns = ferry_api::NAMESPACE;
    apply(
        &client,
        &resource("", "v1", "Namespace", "namespaces"),
        None,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await?;
    let targets: Vec<(&str, Option<&str>, &str)> = if args.aws {
        AWS_TARGETS
            .iter()
            .map(|(name, account, env)| (*name, Some(*account), *env))
            .collect()
    } else {
        vec![("prod-blue", None, "prod"), ("prod-green", None, "prod")]
    };
    for (target, account, env) in &targets {
        let c = emu.cluster(target).context("target cluster")?;
        let ca = base64::engine::general_purpose::STANDARD.encode(c.ca_pem());
        let mut data = json!({"name": target});
        let cfg = match (account, &moto) {
            // Argo CD's fields: the EKS cluster name and the role to assume in its account.
            (Some(account), Some(moto)) => {
                let kc = Kubeconfig::from_yaml(&c.kubeconfig())?;
                let admin = kube::Client::try_from(
                    kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?,
                )?;
                map_deployers(&admin, account)
                    .await
                    .with_context(|| format!("mapping the deployer role in {target}'s aws-auth"))?;
                let mut aws = json!({"clusterName": target, "roleARN": deployer_role(account)});
                if *env == "stg" {
                    // Found by name: DescribeCluster in its account gives server and CA.
                    moto.create_eks_cluster(target, account, &c.url(), &ca)
                        .await?;
                    aws["region"] = json!(AWS_REGION);
                    json!({"awsAuthConfig": aws})
                } else {
                    data["server"] = json!(c.url());
                    json!({"awsAuthConfig": aws, "tlsClientConfig": {"insecure": false, "caData": ca}})
                }
            }
            _ => {
                data["server"] = json!(c.url());
                json!({"bearerToken": c.admin_token(), "tlsClientConfig": {"insecure": false,
                    "caData": ca}})
            }
        };
        data["config"] = json!(cfg.to_string());
        apply(&client, &resource("", "v1", "Secret", "secrets"), Some(ns), json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": format!("cluster-{target}"), "labels": {ferry_api::SECRET_TYPE_LABEL: "cluster", "env": env}},
            "stringData": data,
        }))
        .await?;
    }

    let mut controller_config = ferry_runtime::Config::new(base.join("git-cache"));
    controller_config.poll_interval = Duration::from_secs(args.poll_seconds.max(1));
    if let Some(Moto { url: moto_url, .. }) = &moto {
        controller_config.aws = aws_options(&base, moto_url)?;
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut controller = tokio::spawn(ferry_runtime::run(
        config.clone(),
        controller_config,
        stop_rx.clone(),
    ));
    // The server beside it: the API and the web UI (its watches wait for the CRDs).
    let mut server_config = ferry_server::ServerConfig::new(listen, base.join("server-git"));
    server_config.namespace = ns.to_owned();
    ferry_server::start(
        config,
        server_config,
        ferry_core::Sensitive::new(ui_token.clone()),
        None,
        stop_rx,
    )
    .await
    .context("starting the web UI's server")?;

    // The controller installs the CRDs; then the example ApplicationSet goes in: one
    // guestbook for every cluster labelled env=prod (both targets are; with --aws, prod-blue,
    // and stg-blue, which has no server in its Secret and so is no cluster to generators,
    // gets an Application of its own).
    let apps = resource(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "Application",
        "applications",
    );
    let sets = resource(
        ferry_api::GROUP,
        ferry_api::VERSION,
        "ApplicationSet",
        "applicationsets",
    );
    let set = json!({"apiVersion": ferry_api::API_VERSION, "kind": "ApplicationSet",
        "metadata": {"name": "guestbook"},
        "spec": {
            "generators": [{"clusters": {"selector": {"matchLabels": {"env": "prod"}}}}],
            // Deleting the set (or a cluster's Secret) deletes the guestbooks too.
            "syncPolicy": {"preserveResourcesOnDeletion": false},
            "template": {
                "metadata": {"name": "guestbook-{{name}}"},
                "spec": {"project": "default",
                    "source": {"repoURL": repo_url, "targetRevision": "main", "path": "guestbook"},
                    "destination": {"name": "{{name}}", "namespace": "guestbook"},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}}}});
    let mut objects = vec![(&sets, set)];
    if args.aws {
        let stg = json!({"apiVersion": ferry_api::API_VERSION, "kind": "Application",
            "metadata": {"name": "guestbook-stg-blue"},
            "spec": {"project": "default",
                "source": {"repoURL": repo_url, "targetRevision": "main", "path": "guestbook"},
                "destination": {"name": "stg-blue", "namespace": "guestbook"},
                "syncPolicy": {"automated": {"prune": true, "selfHeal": true}, "syncOptions": ["CreateNamespace=true"]}}});
        objects.push((&apps, stg));
    }
    let log_hint = if args.verbose {
        String::new()
    } else {
        format!("; the controller's log is {}", args.log_file().display())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    for (ar, obj) in objects {
        loop {
            match apply(&client, ar, Some(ns), obj.clone()).await {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline && !controller.is_finished() => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => {
                    stop_tx.send_replace(true);
                    return Err(e.context(format!(
                        "creating the example applications (did the controller install its \
                         CRDs?{log_hint})"
                    )));
                }
            }
        }
    }

    // The two guestbooks: prod-blue's and prod-green's (with --aws, prod-blue's and stg-blue's).
    let expected = 2;
    println!();
    println!(
        "The ApplicationSet guestbook makes one Application per env=prod cluster{}:",
        if args.aws {
            "; guestbook-stg-blue is an Application of its own"
        } else {
            ""
        }
    );
    println!();
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &apps);
    let started = Instant::now();
    let patience = Duration::from_secs(120);
    let settled = loop {
        let list = api.list(&Default::default()).await?;
        let mut rows: Vec<AppRow> = Vec::new();
        for o in &list.items {
            rows.push(AppRow::from_application(&serde_json::to_value(o)?));
        }
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        let done = rows.len() == expected && rows.iter().all(AppRow::settled);
        let give_up = controller.is_finished() || started.elapsed() > patience;
        screen.show(&rows, done || give_up);
        if done {
            break true;
        }
        if give_up {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    println!();
    if controller.is_finished() {
        let outcome = (&mut controller).await;
        emu.shutdown().await;
        outcome??;
        bail!("the controller stopped{log_hint}");
    }
    if settled {
        println!(
            "All Synced and Healthy after {:.1} s.",
            started.elapsed().as_secs_f64()
        );
    } else {
        println!(
            "Not all Synced and Healthy after {} s: `ferry app get NAME` (below) says why{log_hint}.",
            patience.as_secs()
        );
    }

    let k = shell_word(&args.kubeconfig.display().to_string());
    let ferry_mgmt = format!("ferry --kubeconfig {k} --context management");
    println!();
    println!("{}", screen.heading("Try, in another terminal:"));
    println!("  {ferry_mgmt} app list");
    println!("  {ferry_mgmt} app get guestbook-prod-blue");
    println!("  {ferry_mgmt} appset get guestbook");
    if args.aws {
        println!("  {ferry_mgmt} cluster list");
    }
    println!("  kubectl --kubeconfig {k} --context prod-blue -n guestbook get deploy,svc,cm");
    let examples = shell_word(&base.join("examples").display().to_string());
    println!(
        "  cd {examples} && sed -i 's/replicas: 2/replicas: 3/' guestbook/deployment.yaml && \
         git -c user.name=me -c user.email=me@example.com commit -qam scale"
    );
    println!(
        "  (then `kubectl ... get deploy` shows 3 replicas on {} within a poll)",
        if args.aws {
            "prod-blue and stg-blue"
        } else {
            "both clusters"
        }
    );
    let exe = std::env::current_exe().ok();
    if let Some(note) =
        crate::quickstart_screen::path_note(exe.as_deref(), std::env::var_os("PATH").as_deref())
    {
        println!("  {note}");
    }
    if args.aws {
        println!();
        println!(
            "The controller has web-identity credentials of {AWS_CONTROLLER_ROLE} (AWS config in \
             {}/aws) and assumes arn:aws:iam::ACCOUNT:role/ferry-deployer in 222222222222 \
             (prod-blue, registered with server and CA) and 333333333333 (stg-blue, found by \
             name through DescribeCluster).",
            base.display()
        );
    }
    println!();
    println!("Ctrl-C stops it all.");
    let outcome = tokio::select! {
        r = &mut controller => Some(r),
        _ = crate::emulator_cmd::wait_for_interrupt() => None,
    };
    // The controller first, so that its watches end before the clusters they watch do.
    stop_tx.send_replace(true);
    let outcome = match outcome {
        Some(r) => r,
        None => match tokio::time::timeout(Duration::from_secs(5), &mut controller).await {
            Ok(r) => r,
            Err(_) => Ok(Ok(())),
        },
    };
    // Let the controller's tasks see the stop and close their connections.
    tokio::time::sleep(Duration::from_millis(300)).await;
    emu.shutdown().await;
    drop(_daemon);
    outcome??;
    println!();
    println!(
        "Stopped: the controller, the server, the Git server and the clusters ({k} no longer connects). \
         {examples} keeps the example repository and its commits; `ferry quickstart` starts \
         again from it."
    );
    Ok(())
}

/// Writes `text` to `path`, readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
