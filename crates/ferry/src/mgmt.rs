//! Connecting to the management cluster the usual way: `--kubeconfig`/`KUBECONFIG` and
//! `--context`, or the in-cluster service account.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use kube::config::{KubeConfigOptions, Kubeconfig};

#[derive(Debug, Clone, Args)]
pub struct MgmtArgs {
    /// Kubeconfig of the management cluster (default: `KUBECONFIG`, `~/.kube/config`, or
    /// in-cluster).
    #[arg(long, env = "KUBECONFIG", global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig.
    #[arg(long, env = "FERRY_CONTEXT", global = true)]
    pub context: Option<String>,
    /// Ferry's namespace on the management cluster.
    #[arg(long, env = "FERRY_NAMESPACE", default_value = ferry_api::NAMESPACE, global = true)]
    pub namespace: String,
}

impl MgmtArgs {
    pub async fn config(&self) -> anyhow::Result<kube::Config> {
        let options = KubeConfigOptions {
            context: self.context.clone(),
            ..Default::default()
        };
        match &self.kubeconfig {
            Some(path) => {
                let kc = Kubeconfig::read_from(path).map_err(|e| {
                    let missing = std::error::Error::source(&e)
                        .and_then(|s| s.downcast_ref::<std::io::Error>())
                        .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound);
                    if missing {
                        anyhow::anyhow!(
                            "the kubeconfig {} does not exist (`ferry quickstart` writes \
                             ferry-quickstart.kubeconfig in the directory it runs in; without \
                             --kubeconfig, KUBECONFIG or ~/.kube/config is read)",
                            path.display()
                        )
                    } else {
                        anyhow::Error::new(e)
                            .context(format!("reading kubeconfig {}", path.display()))
                    }
                })?;
                check_context(&kc, self.context.as_deref(), &path.display().to_string())?;
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .with_context(|| format!("kubeconfig {}", path.display()))
            }
            None if self.context.is_some() => {
                let kc = Kubeconfig::read().context("reading the default kubeconfig")?;
                check_context(&kc, self.context.as_deref(), "KUBECONFIG or ~/.kube/config")?;
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .context("reading the default kubeconfig")
            }
            None => kube::Config::infer().await.context(
                "no kubeconfig found and not running in a cluster: name one with --kubeconfig \
                 (`ferry quickstart` writes ferry-quickstart.kubeconfig)",
            ),
        }
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(kube::Client::try_from(self.config().await?)?)
    }
}

/// A context that the kubeconfig does not have, or none chosen where it names no current
/// one: said with the contexts it has.
fn check_context(kc: &Kubeconfig, context: Option<&str>, file: &str) -> anyhow::Result<()> {
    let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
    let chosen = context.or(kc.current_context.as_deref().filter(|c| !c.is_empty()));
    match chosen {
        Some(c) if names.contains(&c) => Ok(()),
        Some(c) => anyhow::bail!(
            "the kubeconfig {file} has no context {c}; its contexts: {} (choose with --context)",
            names.join(", ")
        ),
        None => anyhow::bail!(
            "the kubeconfig {file} names no current context; choose one of {} with --context",
            names.join(", ")
        ),
    }
}
