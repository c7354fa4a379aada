//! A Kubernetes API server emulator, faithful enough that code which works against it works
//! against EKS, kind or k3s unchanged. Used by Ferry's tests and benchmarks, by
//! `ferry emulator` and by `ferry quickstart`.
//!
//! One [`Emulator`] serves several clusters, each on its own loopback port with its own
//! Kubernetes version string, over HTTPS with a generated CA (and optionally plain HTTP).
//! Fidelity is checked by replaying recordings of a real API server (`tests/transcripts.rs`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), ferry_emulator::EmulatorError> {
//! use ferry_emulator::{ClusterConfig, Emulator};
//! let emu = Emulator::start(vec![ClusterConfig::new("dev", "admin-token").version("v1.30.2")]).await?;
//! let dev = emu.cluster("dev").expect("started");
//! println!("{}", dev.url());
//! std::fs::write("kubeconfig", emu.kubeconfig()).ok();
//! dev.faults().fail_next(2, 503);
//! # Ok(()) }
//! ```

mod api;
mod auth;
mod cluster;
mod control;
mod controllers;
mod delete;
mod discovery;
mod eks_auth;
mod hooks;
mod kinds;
pub mod moto;
mod read;
mod resources;
mod review;
mod route;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod tls;
mod validate;
mod write;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use cluster::{ClusterConfig, Faults};
pub use controllers::{FAIL, NEVER_READY};
pub use eks_auth::{
    AccessEntry, EksConfig, EksConfigError, EksStats, MappingError, PRESIGNED_LIFETIME, StsDialect,
};

use cluster::ClusterInner;

#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("cannot listen on 127.0.0.1:{port} for cluster {cluster}: {source}")]
    Listen {
        cluster: String,
        port: u16,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("two clusters are named {0}")]
    DuplicateName(String),
    #[error("cluster {0} has no users: it needs at least the admin user")]
    NoUsers(String),
    #[error(transparent)]
    Eks(#[from] EksConfigError),
}

/// A change to a cluster's EKS authentication that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EksChangeError {
    #[error("cluster {0} is not an EKS cluster")]
    NotEks(String),
    #[error("cluster {cluster}: {source}")]
    Invalid {
        cluster: String,
        source: MappingError,
    },
}

/// A running cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    inner: Arc<ClusterInner>,
    https: SocketAddr,
    http: Option<SocketAddr>,
}

impl Cluster {
    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// `https://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.https.port())
    }

    /// `http://127.0.0.1:PORT`, when plain HTTP was asked for.
    pub fn http_url(&self) -> Option<String> {
        self.http.map(|a| format!("http://127.0.0.1:{}", a.port()))
    }

    pub fn kubernetes_version(&self) -> &str {
        &self.inner.config.kubernetes_version
    }

    /// The admin user's bearer token.
    pub fn admin_token(&self) -> &str {
        self.inner
            .config
            .users
            .first()
            .map(|u| u.token.expose().as_str())
            .unwrap_or_default()
    }

    /// PEM of the CA that signed this cluster's serving certificate.
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// Requests answered so far: `{reads, watches, writes, dryRuns}`.
    pub fn request_stats(&self) -> serde_json::Value {
        self.inner.stats.snapshot()
    }

    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// Makes a token answer 401 from now on.
    pub fn revoke_token(&self, token: &str) -> bool {
        self.inner.lock().users.revoke(token)
    }

    /// The cluster's EKS configuration, when it is an EKS cluster.
    pub fn eks(&self) -> Option<&EksConfig> {
        self.inner.eks.as_ref().map(eks_auth::EksAuth::config)
    }

    /// What the EKS authentication did so far (STS calls, cache hits, refusals).
    pub fn eks_stats(&self) -> Option<EksStats> {
        self.inner.eks.as_ref().map(eks_auth::EksAuth::stats)
    }

    /// Adds an EKS access entry (replacing one for the same principal), effective at once.
    pub fn add_access_entry(&self, entry: AccessEntry) -> Result<(), EksChangeError> {
        let eks = self
            .inner
            .eks
            .as_ref()
            .ok_or_else(|| EksChangeError::NotEks(self.name().to_owned()))?;
        eks.add_access_entry(entry)
            .map_err(|source| EksChangeError::Invalid {
                cluster: self.name().to_owned(),
                source,
            })
    }

    /// Removes the EKS access entry of a principal; whether there was one.
    pub fn remove_access_entry(&self, principal_arn: &str) -> bool {
        self.inner
            .eks
            .as_ref()
            .is_some_and(|e| e.remove_access_entry(principal_arn))
    }

    /// Number of stored objects (all resources).
    pub fn object_count(&self) -> usize {
        let state = self.inner.lock();
        state
            .store
            .resources()
            .iter()
            .map(|r| state.store.count(r))
            .sum()
    }

    /// A kubeconfig for this cluster alone, as its admin.
    pub fn kubeconfig(&self) -> String {
        kubeconfig(std::slice::from_ref(self))
    }
}

fn yaml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A kubeconfig with one context per cluster (the first is current), each as its admin.
pub fn kubeconfig(clusters: &[Cluster]) -> String {
    use base64::Engine as _;
    let mut out = String::from("apiVersion: v1\nkind: Config\npreferences: {}\n");
    if let Some(first) = clusters.first() {
        out.push_str(&format!("current-context: {}\n", yaml_str(first.name())));
    }
    out.push_str("clusters:\n");
    for c in clusters {
        let ca = base64::engine::general_purpose::STANDARD.encode(c.ca_pem());
        out.push_str(&format!(
            "- name: {}\n  cluster:\n    server: {}\n    certificate-authority-data: {}\n",
            yaml_str(c.name()),
            yaml_str(&c.url()),
            ca
        ));
    }
    out.push_str("users:\n");
    for c in clusters {
        out.push_str(&format!(
            "- name: {}\n  user:\n    token: {}\n",
            yaml_str(&format!("{}-admin", c.name())),
            yaml_str(c.admin_token())
        ));
    }
    out.push_str("contexts:\n");
    for c in clusters {
        out.push_str(&format!(
            "- name: {}\n  context:\n    cluster: {}\n    user: {}\n    namespace: default\n",
            yaml_str(c.name()),
            yaml_str(c.name()),
            yaml_str(&format!("{}-admin", c.name()))
        ));
    }
    out
}

/// Objects every new cluster has: the system namespaces and the `cluster-admin` ClusterRole.
fn bootstrap(cluster: &ClusterInner) {
    let params = route::Params::default();
    let create = |group: &str, plural: &str, obj: serde_json::Value| {
        let rt = cluster.lock().registry.find(group, "v1", plural).cloned();
        if let Some(rt) = rt {
            let req = write::WriteRequest {
                rt: &rt,
                namespace: None,
                name: None,
                sub: None,
                params: &params,
                manager: "kube-apiserver".into(),
            };
            if let Err(e) = write::write(cluster, &req, write::Body::Create(obj)) {
                tracing::warn!(error = %e.message, "bootstrapping {plural} failed");
            }
        }
    };
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        create(
            "",
            "namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        );
    }
    create(
        "rbac.authorization.k8s.io",
        "clusterroles",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "cluster-admin", "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}},
            "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}, {"nonResourceURLs": ["*"], "verbs": ["*"]}]}),
    );
    // A server that has been running a while no longer has the history of its first objects.
    cluster.lock().store.compact_history();
}

/// A running emulator: its clusters, and the tasks serving them. Dropping it stops them.
#[derive(Debug)]
pub struct Emulator {
    clusters: Vec<Cluster>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    control: Option<SocketAddr>,
}

impl Emulator {
    /// Starts every cluster and waits until each one listens.
    pub async fn start(configs: Vec<ClusterConfig>) -> Result<Self, EmulatorError> {
        Self::start_with_control(configs, None).await
    }

    /// As [`Emulator::start`], also serving the fault-injection control endpoint on
    /// `127.0.0.1:control_port` (used by `ferry emulator fault`).
    pub async fn start_with_control(
        configs: Vec<ClusterConfig>,
        control_port: Option<u16>,
    ) -> Result<Self, EmulatorError> {
        let ca = tls::Authority::generate()?;
        let (stop, _) = watch::channel(false);
        let mut clusters: Vec<Cluster> = Vec::new();
        let mut tasks = Vec::new();
        for config in configs {
            if clusters.iter().any(|c| c.name() == config.name) {
                return Err(EmulatorError::DuplicateName(config.name));
            }
            if config.users.is_empty() {
                return Err(EmulatorError::NoUsers(config.name));
            }
            let listen = |port: u16| {
                let name = config.name.clone();
                async move {
                    TcpListener::bind(("127.0.0.1", port))
                        .await
                        .map_err(|source| EmulatorError::Listen {
                            cluster: name,
                            port,
                            source,
                        })
                }
            };
            let https_listener = listen(config.port).await?;
            let http_listener = match config.http_port {
                Some(p) => Some(listen(p).await?),
                None => None,
            };
            let https = https_listener
                .local_addr()
                .map_err(|source| EmulatorError::Listen {
                    cluster: config.name.clone(),
                    port: config.port,
                    source,
                })?;
            let http = http_listener.as_ref().and_then(|l| l.local_addr().ok());
            let eks = config.eks.clone().map(eks_auth::EksAuth::new).transpose()?;
            let inner = ClusterInner::new(config, ca.pem().to_owned(), eks);
            bootstrap(&inner);
            tasks.push(tokio::spawn(server::run(
                https_listener,
                Some(ca.server_config()?),
                inner.clone(),
                stop.subscribe(),
            )));
            if let Some(l) = http_listener {
                tasks.push(tokio::spawn(server::run(
                    l,
                    None,
                    inner.clone(),
                    stop.subscribe(),
                )));
            }
            tasks.push(tokio::spawn(controllers::run(
                inner.clone(),
                stop.subscribe(),
            )));
            clusters.push(Cluster { inner, https, http });
        }
        let control = match control_port {
            Some(port) => {
                let listener = TcpListener::bind(("127.0.0.1", port))
                    .await
                    .map_err(|source| EmulatorError::Listen {
                        cluster: "control".into(),
                        port,
                        source,
                    })?;
                let addr = listener.local_addr().ok();
                tasks.push(tokio::spawn(control::serve(
                    listener,
                    clusters.clone(),
                    stop.subscribe(),
                )));
                addr
            }
            None => None,
        };
        Ok(Self {
            clusters,
            stop,
            tasks,
            control,
        })
    }

    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name() == name)
    }

    /// The control endpoint's address, when started with one.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control
    }

    /// A kubeconfig for every cluster.
    pub fn kubeconfig(&self) -> String {
        kubeconfig(&self.clusters)
    }

    /// Stops serving and waits for the tasks to end.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}
