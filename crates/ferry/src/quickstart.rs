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

const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: guestbook
  labels:
    app: guestbook
spec:
  replicas: 2
  selector:
    matchLabels:
      app: guestbook
  template:
    metadata:
      labels:
        app: guestbook
    spec:
      containers:
        - name: web
          image: registry.example/guestbook:1.0
          ports:
            - containerPort: 8080
          envFrom:
            - configMapRef:
                name: guestbook
";

const SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: guestbook
spec:
  selector:
    app: guestbook
  ports:
    - port: 80
      targetPort: 8080
";

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
    if let Some(Moto { url: moto_url, .. }) = &moto {
        println!("moto's server (AWS STS and EKS) at {moto_url}");
    }
    for c in emu.clusters() {
        let account = AWS_TARGETS
            .iter()
            .find(|(name, ..)| *name == c.name())
            .filter(|_| args.aws)
            .map(|(_, account, _)| format!(", EKS-like in account {account}, {AWS_REGION}"))
            .unwrap_or_default();
        println!(
            "cluster {} ready at {} (Kubernetes {}{account})",
            c.name(),
            c.url(),
            c.kubernetes_version()
        );
    }

    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let base = std::fs::canonicalize(&args.dir)?;
    example_repo(&base).await?;
    let (_daemon, port) = git_daemon(&base).await?;
    let repo_url = format!("git://127.0.0.1:{port}/examples");
    println!(
        "git repository {} served at {repo_url}",
        base.join("examples").display()
    );

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
    let controller = tokio::spawn(ferry_runtime::run(config, controller_config, stop_rx));

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
    let deadline = Instant::now() + Duration::from_secs(60);
    for (ar, obj) in objects {
        loop {
            match apply(&client, ar, Some(ns), obj.clone()).await {
                Ok(()) => break,
                Err(_) if Instant::now() < deadline && !controller.is_finished() => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => {
                    return Err(e.context(
                        "creating the example applications (did the controller install its CRDs?)",
                    ));
                }
            }
        }
    }

    println!();
    println!("waiting for the applications to become Synced and Healthy...");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &apps);
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let list = api.list(&Default::default()).await?;
        let mut line = Vec::new();
        let mut done = list.items.len() == 2;
        for o in &list.items {
            let v = serde_json::to_value(o)?;
            let sync = v
                .pointer("/status/sync/status")
                .and_then(|s| s.as_str())
                .unwrap_or("-")
                .to_owned();
            let health = v
                .pointer("/status/health/status")
                .and_then(|s| s.as_str())
                .unwrap_or("-")
                .to_owned();
            done &= sync == "Synced" && health == "Healthy";
            line.push(format!(
                "{} {sync}/{health}",
                o.metadata.name.clone().unwrap_or_default()
            ));
        }
        let line = line.join("   ");
        if line != last {
            println!("  {:>5.1}s  {line}", started.elapsed().as_secs_f64());
            last = line;
        }
        if done {
            break;
        }
        if controller.is_finished() || started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the applications did not become Synced and Healthy; see `ferry app get` with the kubeconfig below:\n{}",
                emu.kubeconfig()
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    println!();
    println!("--- kubeconfig ({}) ---", args.kubeconfig.display());
    print!("{}", emu.kubeconfig());
    println!("---");
    let k = args.kubeconfig.display();
    println!();
    println!(
        "try:  ferry app --kubeconfig {k} --context management list   (or: cargo run -p ferry -- ...)"
    );
    println!("      ferry appset --kubeconfig {k} --context management get guestbook");
    if args.aws {
        println!("      ferry cluster --kubeconfig {k} --context management list");
    }
    println!("      kubectl --kubeconfig {k} --context prod-blue -n guestbook get deploy,svc,cm");
    println!(
        "      edit {}/examples/guestbook, `git commit -am ...`, and watch it reach both clusters",
        base.display()
    );
    if args.aws {
        println!(
            "the controller assumes arn:aws:iam::ACCOUNT:role/ferry-deployer in 222222222222 (prod-blue, \
             registered with server and CA) and 333333333333 (stg-blue, found by name through \
             DescribeCluster),\nfrom web-identity credentials of {AWS_CONTROLLER_ROLE} \
             (AWS config in {}/aws; moto plays STS and EKS)",
            base.display()
        );
    }
    println!("Press Ctrl-C to stop.");
    tokio::select! {
        r = controller => { r??; }
        _ = crate::emulator_cmd::wait_for_interrupt() => {}
    }
    stop_tx.send_replace(true);
    emu.shutdown().await;
    Ok(())
}
