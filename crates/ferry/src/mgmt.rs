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
                let kc = Kubeconfig::read_from(path)
                    .with_context(|| format!("reading kubeconfig {}", path.display()))?;
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .with_context(|| format!("kubeconfig {}", path.display()))
            }
            None if self.context.is_some() => kube::Config::from_kubeconfig(&options)
                .await
                .context("reading the default kubeconfig"),
            None => kube::Config::infer()
                .await
                .context("no kubeconfig found and not running in a cluster"),
        }
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        Ok(kube::Client::try_from(self.config().await?)?)
    }
}
