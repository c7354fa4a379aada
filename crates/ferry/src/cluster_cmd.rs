//! `ferry cluster list | get | add eks`: the clusters Ferry delivers to. Registrations are
//! cluster Secrets in Argo CD's format; what the controller knows of each (reachable, its
//! version, the last error, for EKS the account, the identity Ferry is seen as and the
//! token's expiry) is read from the ConfigMap the controller publishes, so this command
//! needs no credentials of the clusters themselves.

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ferry_cluster::api_resource;
use kube::api::{Api, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::mgmt::MgmtArgs;
use crate::output::{Output, emit, print_rows};
use crate::remote::{Remote, RemoteArgs};

#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(subcommand)]
    pub command: ClusterCommand,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Registered clusters: reachable, version, account, applications, last error.
    List {
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// One cluster in full.
    Get {
        name: String,
        #[arg(short, long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Register a cluster.
    #[command(subcommand)]
    Add(AddCommand),
}

#[derive(Debug, Subcommand)]
pub enum AddCommand {
    /// An EKS cluster reached by assuming a role: writes a cluster Secret with
    /// `awsAuthConfig`. Without `--endpoint`, its endpoint and CA come from `DescribeCluster`
    /// in the role's account.
    Eks(AddEks),
}

#[derive(Debug, Args)]
pub struct AddEks {
    /// The name applications use as `destination.name`.
    pub name: String,
    /// The EKS cluster's name in AWS (default: NAME).
    #[arg(long)]
    pub cluster_name: Option<String>,
    /// The role to assume in the cluster's account (mapped to a Kubernetes group there).
    #[arg(long)]
    pub role_arn: Option<String>,
    /// Roles assumed before `--role-arn`, in order (hub → spoke); repeatable.
    #[arg(long = "via-role-arn")]
    pub via_role_arns: Vec<String>,
    /// The external id the role's trust policy asks for.
    #[arg(long)]
    pub external_id: Option<String>,
    /// The region of the cluster (and of STS).
    #[arg(long)]
    pub region: Option<String>,
    /// The cluster's API server URL (default: from `DescribeCluster`). Not `--server`,
    /// which names Ferry's own server.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// A file with the cluster's CA (PEM), with `--endpoint`.
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
    /// A label for ApplicationSet cluster generators, `KEY=VALUE`; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
}

fn secrets(client: kube::Client, ns: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client, ns, &api_resource("", "v1", "Secret", "secrets"))
}

pub async fn run(args: ClusterArgs) -> anyhow::Result<()> {
    if let Some(r) = crate::remote::resolve(&args.remote, &args.mgmt)? {
        let where_ = format!("the server at {}", r.url());
        return match args.command {
            ClusterCommand::List { output } => list(remote_known(&r).await?, output),
            ClusterCommand::Get { name, output } => {
                get(remote_known(&r).await?, &where_, &name, output)
            }
            ClusterCommand::Add(_) => bail!(
                "`ferry cluster add` through the server is not built yet (the API has no \
                 endpoint that registers clusters): run it with --kubeconfig/--context of the \
                 management cluster"
            ),
        };
    }
    let client = args.mgmt.client().await?;
    let ns = &args.mgmt.namespace;
    let where_ = format!("namespace {ns}");
    match args.command {
        ClusterCommand::List { output } => list(known(&client, ns).await?, output),
        ClusterCommand::Get { name, output } => {
            get(known(&client, ns).await?, &where_, &name, output)
        }
        ClusterCommand::Add(AddCommand::Eks(add)) => add_eks(&client, ns, add).await,
    }
}

/// The clusters as `GET /api/v1/clusters` answers them, in the shape [`known`] gives.
async fn remote_known(r: &Remote) -> anyhow::Result<Vec<(String, Value)>> {
    let answer = r.get("clusters").await.context("listing clusters")?;
    let mut out = Vec::new();
    for item in answer["items"].as_array().into_iter().flatten() {
        let mut info = item.clone();
        let name = info
            .as_object_mut()
            .and_then(|m| m.remove("name"))
            .and_then(|n| n.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push((name, info));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The registered clusters (from their Secrets) with what the controller published.
async fn known(client: &kube::Client, ns: &str) -> anyhow::Result<Vec<(String, Value)>> {
    let list = secrets(client.clone(), ns)
        .list(&ListParams::default().labels(&format!("{}=cluster", ferry_api::SECRET_TYPE_LABEL)))
        .await
        .context("listing cluster Secrets")?;
    let configmaps: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        ns,
        &api_resource("", "v1", "ConfigMap", "configmaps"),
    );
    let published = configmaps
        .get_opt(ferry_controller::clusters::CLUSTERS_CONFIGMAP_NAME)
        .await
        .context("reading the controller's cluster status")?
        .map(|cm| cm.data["data"].clone())
        .unwrap_or(Value::Null);
    let mut out = Vec::new();
    for s in &list.items {
        let v = serde_json::to_value(s)?;
        let source = format!("{ns}/{}", s.metadata.name.clone().unwrap_or_default());
        let (name, mut info) = match ferry_cluster::parse_cluster_secret(&v) {
            Ok(spec) => (
                spec.name.clone(),
                json!({"server": spec.server, "source": source}),
            ),
            Err(e) => (
                source.clone(),
                json!({"source": source, "lastError": e.to_string()}),
            ),
        };
        if let Some(p) = published[&name]
            .as_str()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        {
            info = p;
        } else if info.get("lastError").is_none() {
            info["lastError"] = json!("not seen by a controller yet");
        }
        out.push((name, info));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn list(clusters: Vec<(String, Value)>, output: Output) -> anyhow::Result<()> {
    if output != Output::Table {
        let items: Vec<Value> = clusters
            .iter()
            .map(|(n, i)| json!({"name": n, "status": i}))
            .collect();
        emit(&json!({"items": items}), output);
        return Ok(());
    }
    let mut rows = vec![
        [
            "NAME",
            "SERVER",
            "AUTH",
            "VERSION",
            "REACHABLE",
            "ACCOUNT",
            "APPS",
            "LAST ERROR",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let text = |v: &Value| {
        v.as_str().map(str::to_owned).unwrap_or_else(|| match v {
            Value::Null => "-".into(),
            other => other.to_string(),
        })
    };
    for (name, i) in &clusters {
        rows.push(vec![
            name.clone(),
            text(&i["server"]),
            text(&i["auth"]),
            text(&i["version"]),
            text(&i["reachable"]),
            text(&i["eks"]["account"]),
            text(&i["applications"]),
            i["lastError"]
                .as_str()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect(),
        ]);
    }
    print_rows(&rows);
    Ok(())
}

fn get(
    clusters: Vec<(String, Value)>,
    where_: &str,
    name: &str,
    output: Output,
) -> anyhow::Result<()> {
    let Some((_, info)) = clusters.iter().find(|(n, _)| n == name) else {
        bail!(
            "no cluster {name} is registered in {where_} (registered: {})",
            clusters
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    if output != Output::Table {
        emit(&json!({"name": name, "status": info}), output);
        return Ok(());
    }
    let line = |label: &str, v: &Value| {
        if !v.is_null() {
            println!(
                "{label:<18}{}",
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            );
        }
    };
    line("Name:", &json!(name));
    line("Server:", &info["server"]);
    line("Registered by:", &info["source"]);
    line("Auth:", &info["auth"]);
    line("Reachable:", &info["reachable"]);
    line("Version:", &info["version"]);
    line("Applications:", &info["applications"]);
    line("EKS cluster:", &info["eks"]["clusterName"]);
    line("Account:", &info["eks"]["account"]);
    line("Seen by AWS as:", &info["eks"]["identity"]);
    line("Token expires:", &info["eks"]["tokenExpiresAt"]);
    line("Last error:", &info["lastError"]);
    Ok(())
}

async fn add_eks(client: &kube::Client, ns: &str, add: AddEks) -> anyhow::Result<()> {
    let cluster_name = add.cluster_name.clone().unwrap_or_else(|| add.name.clone());
    let mut aws = json!({"clusterName": cluster_name});
    if let Some(r) = &add.role_arn {
        aws["roleARN"] = json!(r);
    }
    if let Some(e) = &add.external_id {
        aws["externalId"] = json!(e);
    }
    if let Some(r) = &add.region {
        aws["region"] = json!(r);
    }
    if !add.via_role_arns.is_empty() {
        aws["roleChain"] = json!(
            add.via_role_arns
                .iter()
                .map(|r| json!({"roleARN": r}))
                .collect::<Vec<_>>()
        );
    }
    let mut config = json!({"awsAuthConfig": aws});
    let mut data = json!({"name": add.name});
    match (&add.endpoint, &add.ca_file) {
        (Some(server), ca) => {
            data["server"] = json!(server);
            if let Some(path) = ca {
                use base64::Engine as _;
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading the CA file {}", path.display()))?;
                config["tlsClientConfig"] =
                    json!({"caData": base64::engine::general_purpose::STANDARD.encode(pem)});
            }
        }
        (None, Some(_)) => bail!("--ca-file goes with --endpoint"),
        (None, None) => {}
    }
    data["config"] = json!(config.to_string());
    let mut labels = json!({ferry_api::SECRET_TYPE_LABEL: "cluster"});
    for l in &add.labels {
        let (k, v) = l
            .split_once('=')
            .with_context(|| format!("--label {l:?} is not KEY=VALUE"))?;
        labels[k] = json!(v);
    }
    // The Secret is checked as the controller will read it before it is written.
    let secret_name = format!("cluster-{}", add.name);
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": ns, "labels": labels},
        "type": "Opaque", "stringData": data});
    ferry_cluster::parse_cluster_secret(&secret)
        .with_context(|| format!("the cluster Secret for {}", add.name))?;
    secrets(client.clone(), ns)
        .patch(
            &secret_name,
            &PatchParams::apply("ferry-cli").force(),
            &Patch::Apply(&secret),
        )
        .await
        .with_context(|| format!("writing Secret {ns}/{secret_name}"))?;
    println!(
        "cluster {} registered (Secret {ns}/{secret_name}); `ferry cluster get {}` shows what the controller finds",
        add.name, add.name
    );
    Ok(())
}
