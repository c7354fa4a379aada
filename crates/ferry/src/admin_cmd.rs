//! `ferry admin`: the operator's tools that need no server — `can-i` answers from the RBAC
//! policy (`ferry-rbac-cm` and the projects' roles of the management cluster, or a policy
//! file) as the server would, and `hash-password` makes the argon2 hash the admin password is
//! stored as.

use std::io::Read as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ferry_server::auth::rbac::Rbac;
use ferry_server::auth::settings::{RBAC_CM, RbacConfig, parse_rbac};

use crate::mgmt::MgmtArgs;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(flatten)]
    pub mgmt: MgmtArgs,
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Whether SUBJECT (a role such as `role:readonly`, a group, a user or `proj:P:R`) may
    /// ACTION the RESOURCE OBJECT, by the policy in force: prints `yes` or `no` and the rule
    /// that decided; exits 1 on `no` (as `kubectl auth can-i`).
    #[command(name = "can-i")]
    CanI {
        subject: String,
        /// `get`, `create`, `update`, `delete`, `sync`, `override`, `action/...`.
        action: String,
        /// `applications`, `applicationsets`, `clusters`, `projects`, `repositories`, ...
        resource: String,
        /// `PROJECT/APP` for applications (default `*`).
        #[arg(default_value = "*")]
        object: String,
        /// Read the policy from this file (a policy.csv, or an `argocd-rbac-cm` /
        /// `ferry-rbac-cm` ConfigMap as YAML) instead of the management cluster.
        #[arg(long, value_name = "FILE")]
        policy_file: Option<PathBuf>,
        /// With --policy-file holding a bare policy.csv: the default role.
        #[arg(long)]
        default_role: Option<String>,
    },
    /// Reads a password on standard input and prints its argon2id hash, for
    /// `ferry-secret`'s `admin.password` (set `admin.passwordMtime` too, to end sessions).
    HashPassword,
}

fn config_from_file(path: &PathBuf, default_role: Option<String>) -> anyhow::Result<RbacConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the policy file {}", path.display()))?;
    let as_cm: Option<serde_json::Value> = serde_saphyr::from_str(&text)
        .ok()
        .filter(|v: &serde_json::Value| v["kind"] == "ConfigMap");
    let mut config = match as_cm {
        Some(cm) => {
            let data = cm["data"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                        .collect()
                })
                .unwrap_or_default();
            parse_rbac(&data)
        }
        None => parse_rbac(&[("policy.csv".to_owned(), text)].into_iter().collect()),
    };
    if let Some(role) = default_role {
        config.data.insert("policy.default".to_owned(), role);
    }
    Ok(config)
}

async fn config_from_cluster(
    mgmt: &MgmtArgs,
) -> anyhow::Result<(
    RbacConfig,
    std::collections::BTreeMap<String, ferry_server::auth::projects::ProjectRoles>,
)> {
    use kube::api::{Api, DynamicObject, ListParams};
    let client = kube::Client::try_from(mgmt.config().await?).context("the management cluster")?;
    let cms: Api<DynamicObject> = Api::namespaced_with(
        client.clone(),
        &mgmt.namespace,
        &ferry_cluster::api_resource("", "v1", "ConfigMap", "configmaps"),
    );
    let data = cms
        .get_opt(RBAC_CM)
        .await
        .with_context(|| format!("reading {}/{RBAC_CM}", mgmt.namespace))?
        .and_then(|o| o.data.get("data").and_then(|d| d.as_object()).cloned())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let projects: Api<DynamicObject> = Api::namespaced_with(
        client,
        &mgmt.namespace,
        &ferry_cluster::api_resource(
            ferry_api::GROUP,
            ferry_api::VERSION,
            "AppProject",
            "appprojects",
        ),
    );
    let roles = projects
        .list(&ListParams::default())
        .await
        .with_context(|| format!("listing the AppProjects of {}", mgmt.namespace))?
        .items
        .iter()
        .filter_map(|o| serde_json::to_value(o).ok())
        .map(|v| ferry_server::auth::projects::roles_of(&v))
        .map(|p| (p.name.clone(), p))
        .collect();
    Ok((parse_rbac(&data), roles))
}

pub async fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::HashPassword => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the password from standard input")?;
            let password = text.trim_end_matches(['\n', '\r']);
            if password.len() < 8 {
                bail!("the password is shorter than 8 characters");
            }
            println!("{}", ferry_server::auth::local::hash_password(password)?);
            Ok(())
        }
        AdminCommand::CanI {
            subject,
            action,
            resource,
            object,
            policy_file,
            default_role,
        } => {
            let (config, projects) = match &policy_file {
                Some(p) => (config_from_file(p, default_role)?, Default::default()),
                None => config_from_cluster(&args.mgmt).await?,
            };
            let rbac = Rbac::build(&config, &projects);
            for p in rbac.problems() {
                eprintln!("warning: {p}");
            }
            let (allowed, why) = rbac.explain_role(&subject, &resource, &action, &object);
            println!("{}", if allowed { "yes" } else { "no" });
            eprintln!("{why}");
            if allowed {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
    }
}
