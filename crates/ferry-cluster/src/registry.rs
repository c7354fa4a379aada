//! The cluster registry: clusters known from Secrets (and the in-cluster default), each with
//! a client, a limiter and discovery, replaced when its Secret changes, without a restart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use kube::api::{Api, DynamicObject};
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope};
use kube::{Client, Config};

use crate::limiter::{Limiter, Limits};
use crate::secret::{ClusterAuth, ClusterSpec};

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no cluster is registered with {what} {value:?}{unusable}")]
    Unknown {
        what: &'static str,
        value: String,
        /// Cluster Secrets that could not be read (one may be the one meant), or empty.
        unusable: String,
    },
    #[error("cluster {cluster}: invalid server URL {server:?}: {reason}")]
    BadServer {
        cluster: String,
        server: String,
        reason: String,
    },
    #[error("cluster {cluster}: {reason}")]
    Credentials { cluster: String, reason: String },
    /// An EKS cluster's AWS side failed: its role chain, token or `DescribeCluster`.
    #[error("cluster {cluster} (EKS {eks}): {source}")]
    Aws {
        cluster: String,
        eks: String,
        source: Box<ferry_aws::AwsError>,
    },
    // The kube-rs error is told in words and not chained as a source: its own Display is a
    // debug structure, and a chain would print the cause a second time.
    #[error("cluster {cluster}: building a client: {}", crate::explain::cause(.error))]
    Client { cluster: String, error: kube::Error },
    #[error("cluster {cluster} ({server}): discovery failed: {}", crate::explain::cause(.error))]
    Discovery {
        cluster: String,
        server: String,
        error: kube::Error,
    },
    #[error("cluster {cluster} does not serve {group}/{version} {kind}")]
    UnknownKind {
        cluster: String,
        group: String,
        version: String,
        kind: String,
    },
}

/// One usable cluster.
#[derive(Clone)]
pub struct Cluster {
    /// As used: for an EKS cluster registered by name, with the endpoint and CA that
    /// `DescribeCluster` gave.
    pub spec: ClusterSpec,
    /// As its Secret declares it.
    declared: ClusterSpec,
    pub client: Client,
    pub limiter: Limiter,
    discovery: Arc<tokio::sync::RwLock<Option<Arc<Discovery>>>>,
    /// For an EKS cluster: its token and what is known of its AWS side.
    eks: Option<Arc<crate::eks::EksState>>,
    /// Dropped with the last clone: stops the EKS token renewer.
    _renewer: Option<Arc<tokio::sync::watch::Sender<bool>>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("name", &self.spec.name)
            .field("server", &self.spec.server)
            .finish()
    }
}

impl Cluster {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// What is known of an EKS cluster's AWS side (`None` for other clusters).
    pub fn eks_status(&self) -> Option<crate::eks::EksStatus> {
        self.eks.as_ref().map(|s| s.status())
    }

    /// The cause of a failed watch of this cluster in words (see [`Cluster::cause`]).
    pub fn watch_cause(&self, e: &kube::runtime::watcher::Error) -> String {
        use kube::runtime::watcher::Error as W;
        match e {
            W::InitialListFailed(e) | W::WatchStartFailed(e) | W::WatchFailed(e) => self.cause(e),
            W::WatchError(status) => self.cause(&kube::Error::Api(status.clone())),
            other => crate::explain::watch_cause(other),
        }
    }

    /// The cause of a failed request to this cluster in words: for an EKS cluster a 401
    /// names the role and what to check in the cluster's mapping, and the last failure of
    /// its token.
    pub fn cause(&self, e: &kube::Error) -> String {
        let (Some(eks), ClusterAuth::Aws(auth), kube::Error::Api(status)) =
            (&self.eks, &self.spec.auth, e)
        else {
            return crate::explain::cause(e);
        };
        if status.code != 401 {
            return crate::explain::cause(e);
        }
        let who = eks
            .status()
            .identity
            .or_else(|| auth.access.chain.last().map(|r| r.as_str().to_owned()))
            .unwrap_or_else(|| "Ferry's base identity".into());
        let token = eks
            .problem()
            .map(|p| format!("; the last token renewal failed: {p}"))
            .unwrap_or_default();
        format!(
            "HTTP 401: EKS cluster {} did not accept the token of {who} — check the cluster's \
             access entry or aws-auth mapRoles entry for that role (and that it is the \
             cluster's account){token}",
            auth.cluster_name
        )
    }

    /// The API of resource `ar`: in `namespace` when the kind is namespaced, cluster-wide
    /// otherwise.
    pub fn api(&self, ar: &ApiResource, namespaced: bool, namespace: &str) -> Api<DynamicObject> {
        if namespaced {
            Api::namespaced_with(self.client.clone(), namespace, ar)
        } else {
            Api::all_with(self.client.clone(), ar)
        }
    }

    /// The API of a group/version/kind (resolved by discovery), in `namespace` when the kind
    /// is namespaced.
    pub async fn api_of(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: &str,
    ) -> Result<Api<DynamicObject>, ClusterError> {
        let (ar, caps) = self.resolve(group, version, kind).await?;
        Ok(self.api(&ar, caps.scope == Scope::Namespaced, namespace))
    }

    /// The cluster's version (`v1.29.4`, as `/version` says `gitVersion`) and every
    /// `group/version` it serves, as config management plugins see them in `KUBE_VERSION`
    /// and `KUBE_API_VERSIONS`. From the cached discovery; the version costs one request.
    pub async fn kube_versions(&self) -> Result<(String, Vec<String>), ClusterError> {
        let d = self.discovery(false).await?;
        let mut versions: Vec<String> = d
            .groups()
            .flat_map(|g| {
                g.versions()
                    .map(|v| {
                        if g.name().is_empty() {
                            v.to_owned()
                        } else {
                            format!("{}/{v}", g.name())
                        }
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        versions.sort();
        let _permit = self.limiter.acquire().await;
        let info =
            self.client
                .apiserver_version()
                .await
                .map_err(|error| ClusterError::Discovery {
                    cluster: self.spec.name.clone(),
                    server: self.spec.server.clone(),
                    error,
                })?;
        Ok((info.git_version, versions))
    }

    /// The resource of a group/version/kind, from discovery (refreshed once when the kind is
    /// not known yet, e.g. a CRD created since).
    pub async fn resolve(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), ClusterError> {
        let gvk = kube::api::GroupVersionKind::gvk(group, version, kind);
        for refresh in [false, true] {
            let d = self.discovery(refresh).await?;
            if let Some(found) = d.resolve_gvk(&gvk) {
                return Ok(found);
            }
        }
        Err(ClusterError::UnknownKind {
            cluster: self.spec.name.clone(),
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
        })
    }

    async fn discovery(&self, refresh: bool) -> Result<Arc<Discovery>, ClusterError> {
        if !refresh && let Some(d) = self.discovery.read().await.as_ref() {
            return Ok(d.clone());
        }
        let mut slot = self.discovery.write().await;
        let _permit = self.limiter.acquire().await;
        let d = Discovery::new(self.client.clone())
            .run()
            .await
            .map_err(|error| ClusterError::Discovery {
                cluster: self.spec.name.clone(),
                server: self.spec.server.clone(),
                error,
            })?;
        let d = Arc::new(d);
        *slot = Some(d.clone());
        Ok(d)
    }
}

fn pem_to_der(pem: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine as _;
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut inside = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN CERTIFICATE") {
            inside = true;
            cur.clear();
        } else if line.starts_with("-----END CERTIFICATE") {
            inside = false;
            if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(&cur) {
                out.push(der);
            }
        } else if inside {
            cur.push_str(line);
        }
    }
    out
}

/// Builds a client for a registered cluster. `in_cluster` is the management cluster's config;
/// `eks` the token state of an EKS cluster (its requests carry its current token).
pub fn client_for(
    spec: &ClusterSpec,
    in_cluster: &Config,
    eks: Option<&Arc<crate::eks::EksState>>,
) -> Result<Client, ClusterError> {
    let config = match &spec.auth {
        ClusterAuth::InCluster => in_cluster.clone(),
        auth => {
            let url: http::Uri = spec.server.parse().map_err(|e: http::uri::InvalidUri| {
                ClusterError::BadServer {
                    cluster: spec.name.clone(),
                    server: spec.server.clone(),
                    reason: e.to_string(),
                }
            })?;
            let mut c = Config::new(url);
            c.accept_invalid_certs = spec.tls.insecure;
            c.tls_server_name = spec.tls.server_name.clone();
            if let Some(pem) = &spec.tls.ca_pem {
                let der = pem_to_der(pem);
                if der.is_empty() {
                    return Err(ClusterError::Credentials {
                        cluster: spec.name.clone(),
                        reason: "tlsClientConfig.caData holds no PEM certificate".into(),
                    });
                }
                c.root_cert = Some(der);
            }
            if let ClusterAuth::Bearer(token) = auth {
                c.auth_info.token = Some(token.expose().clone().into());
            }
            if let (Some(cert), Some(key)) = (&spec.tls.cert_pem, &spec.tls.key_pem) {
                use base64::Engine as _;
                c.auth_info.client_certificate_data =
                    Some(base64::engine::general_purpose::STANDARD.encode(cert));
                c.auth_info.client_key_data = Some(
                    base64::engine::general_purpose::STANDARD
                        .encode(key.expose())
                        .into(),
                );
            }
            c
        }
    };
    let client_error = |error| ClusterError::Client {
        cluster: spec.name.clone(),
        error,
    };
    match eks {
        None => Client::try_from(config).map_err(client_error),
        Some(state) => Ok(kube::client::ClientBuilder::try_from(config)
            .map_err(client_error)?
            .with_layer(&crate::eks::TokenLayer(state.clone()))
            .build()),
    }
}

/// All clusters Ferry knows. Cheap to clone; updates are seen by every clone.
#[derive(Clone)]
pub struct Registry {
    in_cluster: Config,
    limits: Limits,
    /// AWS, for EKS clusters (shared with everything else that assumes roles).
    aws: ferry_aws::Aws,
    clusters: Arc<RwLock<HashMap<String, Cluster>>>,
    /// Why a cluster Secret could not be used, by the Secret (`ferry/cluster-blue`): the
    /// cluster it registered before, if any, keeps its last good config meanwhile.
    problems: Arc<RwLock<HashMap<String, String>>>,
    /// What each cluster Secret last declared (a failed registration is retried while the
    /// Secret still says the same).
    wanted: Arc<RwLock<HashMap<String, ClusterSpec>>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("clusters", &self.names())
            .finish()
    }
}

impl Registry {
    /// A registry with the in-cluster default (the management cluster, by `in_cluster`).
    pub fn new(in_cluster: Config, limits: Limits) -> Self {
        let r = Self {
            in_cluster,
            limits,
            aws: ferry_aws::Aws::new(ferry_aws::AwsOptions::default()),
            clusters: Arc::new(RwLock::new(HashMap::new())),
            problems: Arc::new(RwLock::new(HashMap::new())),
            wanted: Arc::new(RwLock::new(HashMap::new())),
        };
        if let Err(e) = r.upsert(crate::secret::in_cluster()) {
            tracing::warn!(error = %e, "the in-cluster default is unusable");
        }
        r
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Cluster>> {
        ferry_core::locks::read(&self.clusters)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Cluster>> {
        ferry_core::locks::write(&self.clusters)
    }

    /// Adds or replaces a cluster (by name). Unchanged specs keep their client and discovery.
    pub fn upsert(&self, spec: ClusterSpec) -> Result<(), ClusterError> {
        if self
            .read()
            .get(&spec.name)
            .is_some_and(|c| c.declared == spec)
        {
            return Ok(());
        }
        if let ClusterAuth::Aws(auth) = &spec.auth {
            return Err(ClusterError::Aws {
                cluster: spec.name.clone(),
                eks: auth.cluster_name.clone(),
                source: Box::new(ferry_aws::AwsError::Config(
                    "an EKS cluster is registered with Registry::register".into(),
                )),
            });
        }
        let client = client_for(&spec, &self.in_cluster, None)?;
        let cluster = Cluster {
            spec: spec.clone(),
            declared: spec.clone(),
            client,
            limiter: Limiter::new(self.limits),
            discovery: Arc::new(tokio::sync::RwLock::new(None)),
            eks: None,
            _renewer: None,
        };
        self.write().insert(spec.name.clone(), cluster);
        Ok(())
    }

    /// The AWS adapter EKS clusters are reached with (shared with the source service, so
    /// that every use of one role chain shares its credentials).
    pub fn with_aws(mut self, aws: ferry_aws::Aws) -> Self {
        self.aws = aws;
        self
    }

    pub fn aws(&self) -> &ferry_aws::Aws {
        &self.aws
    }

    /// Adds or replaces a cluster of any kind: an EKS cluster gets its first token (and, when
    /// registered by name, its endpoint and CA) before it is usable, and keeps it renewed.
    pub fn register(
        &self,
        spec: ClusterSpec,
    ) -> futures::future::BoxFuture<'static, Result<(), ClusterError>> {
        // Boxed and `Send` by its type: a replaced EKS cluster registers itself again from
        // its renewer, and the compiler cannot infer `Send` through that cycle.
        let this = self.clone();
        Box::pin(async move { this.register_now(spec).await })
    }

    async fn register_now(&self, spec: ClusterSpec) -> Result<(), ClusterError> {
        let ClusterAuth::Aws(auth) = &spec.auth else {
            return self.upsert(spec);
        };
        if self
            .read()
            .get(&spec.name)
            .is_some_and(|c| c.declared == spec)
        {
            return Ok(());
        }
        let auth = auth.clone();
        let aws_error = |source| ClusterError::Aws {
            cluster: spec.name.clone(),
            eks: auth.cluster_name.clone(),
            source: Box::new(source),
        };
        let mut used = spec.clone();
        let endpoint = if used.server.is_empty() {
            let found = crate::eks::describe(&self.aws, &auth)
                .await
                .map_err(aws_error)?;
            used.server = found.server.clone();
            if used.tls.ca_pem.is_none() {
                used.tls.ca_pem = found.ca_pem.clone();
            }
            Some(found)
        } else {
            None
        };
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let registry = self.clone();
        let declared = spec.clone();
        let state = crate::eks::start(
            self.aws.clone(),
            auth.clone(),
            endpoint,
            stop_rx,
            move |_| {
                // Replaced under the same name (blue/green): registered again, described anew.
                let registry = registry.clone();
                let declared = declared.clone();
                tokio::spawn(async move {
                    registry.forget_declared(&declared);
                    if let Err(e) = registry.register(declared.clone()).await {
                        tracing::warn!(cluster = %declared.name, error = %e, "registering the replaced EKS cluster failed");
                        registry.report_problem(&declared.source, e.to_string());
                    }
                });
            },
        )
        .await
        .map_err(aws_error)?;
        let client = client_for(&used, &self.in_cluster, Some(&state))?;
        let cluster = Cluster {
            spec: used,
            declared: spec.clone(),
            client,
            limiter: Limiter::new(self.limits),
            discovery: Arc::new(tokio::sync::RwLock::new(None)),
            eks: Some(state),
            _renewer: Some(Arc::new(stop_tx)),
        };
        self.write().insert(spec.name.clone(), cluster);
        Ok(())
    }

    /// Forgets the cluster registered as `declared` (if it still is).
    fn forget_declared(&self, declared: &ClusterSpec) {
        let mut map = self.write();
        if map
            .get(&declared.name)
            .is_some_and(|c| c.declared == *declared)
        {
            map.remove(&declared.name);
        }
    }

    /// Forgets the cluster registered by a Secret (the in-cluster default stays).
    pub fn remove_by_source(&self, source: &str) -> Option<String> {
        let mut map = self.write();
        let name = map
            .values()
            .find(|c| c.spec.source == source)
            .map(|c| c.spec.name.clone())?;
        map.remove(&name);
        if name == "in-cluster" {
            drop(map);
            let _ = self.upsert(crate::secret::in_cluster());
        }
        Some(name)
    }

    /// Records why the cluster Secret `source` could not be used (its parse error, which
    /// names fields, never values). A cluster it registered before stays as it was.
    pub fn report_problem(&self, source: &str, problem: String) {
        ferry_core::locks::write(&self.problems).insert(source.to_owned(), problem);
    }

    /// The cluster Secret `source` is usable again, or gone.
    pub fn clear_problem(&self, source: &str) {
        ferry_core::locks::write(&self.problems).remove(source);
    }

    /// Why the Secret that registered `cluster` cannot be used now, and that the cluster's
    /// last good config is still in use; `None` while the Secret is fine.
    pub fn problem_of(&self, cluster: &Cluster) -> Option<String> {
        let problems = ferry_core::locks::read(&self.problems);
        let problem = problems.get(&cluster.spec.source)?;
        Some(format!(
            "{problem}; the last good config of cluster {} is still in use",
            cluster.name()
        ))
    }

    /// The problems of Secrets that registered no cluster, for an unknown destination.
    fn unusable(&self) -> String {
        let registered: Vec<String> = self
            .read()
            .values()
            .map(|c| c.spec.source.clone())
            .collect();
        let problems = ferry_core::locks::read(&self.problems);
        let mut list: Vec<&str> = problems
            .iter()
            .filter(|(source, _)| !registered.contains(source))
            .map(|(_, p)| p.as_str())
            .collect();
        list.sort_unstable();
        if list.is_empty() {
            String::new()
        } else {
            format!(
                " (cluster Secrets that could not be read: {})",
                list.join("; ")
            )
        }
    }

    /// The cluster Secret `source` now declares `spec`.
    pub fn want(&self, source: &str, spec: &ClusterSpec) {
        ferry_core::locks::write(&self.wanted).insert(source.to_owned(), spec.clone());
    }

    /// The cluster Secret `source` is gone.
    pub fn unwant(&self, source: &str) {
        ferry_core::locks::write(&self.wanted).remove(source);
    }

    /// Whether the cluster Secret `source` still declares `spec`.
    pub fn still_wanted(&self, source: &str, spec: &ClusterSpec) -> bool {
        ferry_core::locks::read(&self.wanted).get(source) == Some(spec)
    }

    /// The clusters that cluster Secrets declare but that are not registered (yet), with
    /// why: `(name, source, problem)`, by name. A cluster still in use by an earlier config
    /// of its Secret is registered, and not listed.
    pub fn unregistered(&self) -> Vec<(String, String, String)> {
        let registered = self.read();
        let problems = ferry_core::locks::read(&self.problems);
        let mut out: Vec<(String, String, String)> = ferry_core::locks::read(&self.wanted)
            .iter()
            .filter(|(_, spec)| !registered.contains_key(&spec.name))
            .map(|(source, spec)| {
                let problem = problems
                    .get(source)
                    .cloned()
                    .unwrap_or_else(|| "being registered".to_owned());
                (spec.name.clone(), source.clone(), problem)
            })
            .collect();
        out.sort();
        out
    }

    /// Every registered cluster, by name.
    pub fn all(&self) -> Vec<Cluster> {
        let mut all: Vec<Cluster> = self.read().values().cloned().collect();
        all.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        all
    }

    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.read().keys().cloned().collect();
        n.sort();
        n
    }

    /// A destination names a cluster by `server` URL or by `name`.
    pub fn find(&self, server: Option<&str>, name: Option<&str>) -> Result<Cluster, ClusterError> {
        self.lookup(server, name).map_err(|e| match e {
            ClusterError::Unknown { what, value, .. } => ClusterError::Unknown {
                what,
                value,
                unusable: self.unusable(),
            },
            other => other,
        })
    }

    fn lookup(&self, server: Option<&str>, name: Option<&str>) -> Result<Cluster, ClusterError> {
        let map = self.read();
        match (
            server.filter(|s| !s.is_empty()),
            name.filter(|n| !n.is_empty()),
        ) {
            (Some(s), _) => map
                .values()
                .find(|c| c.spec.server.trim_end_matches('/') == s.trim_end_matches('/'))
                .cloned()
                .ok_or_else(|| ClusterError::Unknown {
                    what: "server",
                    value: s.into(),
                    unusable: String::new(),
                }),
            (None, Some(n)) => map.get(n).cloned().ok_or_else(|| ClusterError::Unknown {
                what: "name",
                value: n.into(),
                unusable: String::new(),
            }),
            (None, None) => Err(ClusterError::Unknown {
                what: "server or name",
                value: String::new(),
                unusable: String::new(),
            }),
        }
    }
}
