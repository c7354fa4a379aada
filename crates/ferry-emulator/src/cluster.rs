//! One emulated cluster: its configuration, its state behind one lock, its fault switches and
//! the queue of background work (garbage collection, namespace termination, CRD
//! establishment, workload simulation) that its controller loop runs.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};

use crate::auth::{User, Users};
use crate::eks_auth::{EksAuth, EksConfig};
use crate::resources::Registry;
use crate::store::{ObjKey, ResKey, Store};

/// How one cluster behaves.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Name used in the kubeconfig (context, cluster and user names).
    pub name: String,
    /// `gitVersion` served at `/version`, e.g. `v1.29.4` or `v1.30.2-eks-1234`.
    pub kubernetes_version: String,
    /// Port to listen on for HTTPS (0 picks a free one).
    pub port: u16,
    /// Also serve plain HTTP on this port (0 picks a free one); `None` serves HTTPS only.
    pub http_port: Option<u16>,
    /// Serve aggregated discovery (`apidiscovery.k8s.io/v2`) when a client asks for it.
    pub aggregated_discovery: bool,
    /// Users and their bearer tokens. The first is the one the kubeconfig uses.
    pub users: Vec<User>,
    /// How long a workload takes to become ready after a change.
    pub workload_ready_delay: Duration,
    /// How long the stand-ins for kube-controller-manager (garbage collector, namespace
    /// controller) and the CRD controller take to act.
    pub controller_delay: Duration,
    /// Watch events kept for resuming watches; older resourceVersions get `410 Gone`.
    pub watch_history: usize,
    /// Authenticate EKS tokens as this EKS cluster (besides the users' bearer tokens).
    pub eks: Option<EksConfig>,
}

impl ClusterConfig {
    /// A cluster with an admin user (`system:masters`) holding `admin_token`.
    pub fn new(name: &str, admin_token: &str) -> Self {
        Self {
            name: name.to_owned(),
            kubernetes_version: "v1.24.0".to_owned(),
            port: 0,
            http_port: None,
            aggregated_discovery: true,
            users: vec![User::new("admin", &["system:masters"], admin_token)],
            workload_ready_delay: Duration::from_millis(300),
            controller_delay: Duration::from_millis(600),
            watch_history: 10_000,
            eks: None,
        }
    }

    pub fn version(mut self, v: &str) -> Self {
        self.kubernetes_version = v.to_owned();
        self
    }

    pub fn user(mut self, name: &str, groups: &[&str], token: &str) -> Self {
        self.users.push(User::new(name, groups, token));
        self
    }

    /// Makes this an EKS cluster: it accepts `k8s-aws-v1.` tokens (see [`EksConfig`]).
    pub fn eks(mut self, eks: EksConfig) -> Self {
        self.eks = Some(eks);
        self
    }
}

/// Background work a cluster's controllers do, due at a time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// Finish deleting an object with `foregroundDeletion` or `orphan` finalizers.
    Finalize(ResKey, ObjKey),
    /// Delete dependents whose owners are all gone.
    CollectDependents(String),
    /// Empty and then remove a terminating namespace.
    TerminateNamespace(String),
    /// Mark a CRD established and accepted.
    EstablishCrd(String),
    /// Remove a deleted CRD's objects, then the CRD.
    CleanupCrd(String),
    /// Bring a workload's status up to date with its spec.
    Simulate(ResKey, ObjKey),
}

/// Faults that tests and the command line can switch on.
#[derive(Debug, Default)]
pub struct Faults {
    latency_ms: AtomicU64,
    fail_count: AtomicU32,
    fail_code: AtomicU32,
    unreachable: AtomicBool,
    watch_generation: AtomicU64,
    watch_drops: Option<watch::Sender<u64>>,
}

impl Faults {
    fn new() -> Self {
        let (tx, _) = watch::channel(0);
        Self {
            watch_drops: Some(tx),
            ..Self::default()
        }
    }

    /// Adds this much latency to every request.
    pub fn set_latency(&self, d: Duration) {
        self.latency_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))
    }

    /// The next `n` requests fail with `code` (429, 500, 503, ...).
    pub fn fail_next(&self, n: u32, code: u16) {
        self.fail_code.store(u32::from(code), Ordering::SeqCst);
        self.fail_count.store(n, Ordering::SeqCst);
    }

    /// Takes one injected failure, if any are pending.
    pub fn take_failure(&self) -> Option<u16> {
        let taken = self
            .fail_count
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        taken.then(|| self.fail_code.load(Ordering::SeqCst) as u16)
    }

    /// While set, connections are refused: the cluster looks down.
    pub fn set_unreachable(&self, down: bool) {
        self.unreachable.store(down, Ordering::SeqCst);
        if down {
            self.drop_watches();
        }
    }

    pub fn is_unreachable(&self) -> bool {
        self.unreachable.load(Ordering::SeqCst)
    }

    /// Ends every open watch stream (clients must re-watch).
    pub fn drop_watches(&self) {
        let g = self.watch_generation.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(tx) = &self.watch_drops {
            tx.send_replace(g);
        }
    }

    pub fn watch_drops(&self) -> watch::Receiver<u64> {
        match &self.watch_drops {
            Some(tx) => tx.subscribe(),
            None => watch::channel(0).1,
        }
    }
}

/// Requests a cluster answered, by kind (for benchmarks: what a client costs the server).
#[derive(Debug, Default)]
pub struct RequestStats {
    pub reads: AtomicU64,
    pub watches: AtomicU64,
    pub writes: AtomicU64,
    pub dry_runs: AtomicU64,
    /// DELETEs that were not dry runs (also counted in `writes`).
    pub deletes: AtomicU64,
    /// `GET /version`: a client's reachability probe, apart from `reads` (which count what
    /// a client reads of the cluster's objects and discovery).
    pub versions: AtomicU64,
}

impl RequestStats {
    pub fn count(&self, method: &str, path: &str, query: Option<&str>) {
        let q = query.unwrap_or_default();
        let counter = match method {
            "GET" if path == "/version" => &self.versions,
            "GET" if q.contains("watch=true") || q.contains("watch=1") => &self.watches,
            "GET" | "HEAD" => &self.reads,
            _ if q.contains("dryRun=All") => &self.dry_runs,
            _ => &self.writes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if method == "DELETE" && !q.contains("dryRun=All") {
            self.deletes.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `{reads, watches, writes, dryRuns, deletes, versions}` so far.
    pub fn snapshot(&self) -> serde_json::Value {
        serde_json::json!({
            "reads": self.reads.load(Ordering::Relaxed),
            "watches": self.watches.load(Ordering::Relaxed),
            "writes": self.writes.load(Ordering::Relaxed),
            "dryRuns": self.dry_runs.load(Ordering::Relaxed),
            "deletes": self.deletes.load(Ordering::Relaxed),
            "versions": self.versions.load(Ordering::Relaxed),
        })
    }
}

/// Mutable state of a cluster.
#[derive(Debug)]
pub struct State {
    pub store: Store,
    pub registry: Registry,
    pub users: Users,
    queue: BinaryHeap<Reverse<(Instant, Work)>>,
    next_ip: u32,
}

impl State {
    pub fn schedule(&mut self, after: Duration, work: Work) {
        self.queue.push(Reverse((Instant::now() + after, work)));
    }

    /// Work that is due now.
    pub fn due(&mut self) -> Vec<Work> {
        let now = Instant::now();
        let mut out = Vec::new();
        while let Some(Reverse((at, _))) = self.queue.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, w))) = self.queue.pop() {
                out.push(w);
            }
        }
        out
    }

    pub fn next_due(&self) -> Option<Instant> {
        self.queue.peek().map(|Reverse((at, _))| *at)
    }

    /// A free service cluster IP from 10.96.0.0/12.
    pub fn allocate_ip(&mut self) -> String {
        self.next_ip += 1;
        let n = self.next_ip;
        format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff)
    }
}

/// Shared parts of a cluster: what the server, the controllers and the test handle hold.
#[derive(Debug)]
pub struct ClusterInner {
    pub config: ClusterConfig,
    state: Mutex<State>,
    pub faults: Faults,
    pub stats: RequestStats,
    pub wake: Notify,
    /// PEM of the CA that signs this cluster's serving certificate.
    pub ca_pem: String,
    /// The EKS authenticator, when the cluster is an EKS cluster.
    pub eks: Option<EksAuth>,
}

impl ClusterInner {
    pub fn new(config: ClusterConfig, ca_pem: String, eks: Option<EksAuth>) -> Arc<Self> {
        let mut users = Users::default();
        for u in &config.users {
            users.add(u.clone());
        }
        let state = State {
            store: Store::new(config.watch_history),
            registry: Registry::builtin(),
            users,
            queue: BinaryHeap::new(),
            next_ip: 10,
        };
        Arc::new(Self {
            config,
            state: Mutex::new(state),
            faults: Faults::new(),
            stats: RequestStats::default(),
            wake: Notify::new(),
            ca_pem,
            eks,
        })
    }

    /// The cluster's state. Never held across an `.await`.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            // A panic while holding the lock leaves consistent data in this design (every
            // write is a single insert or remove), so carry on.
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}
