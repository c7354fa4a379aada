//! Config management plugin renders, kept off the reconcile workers.
//!
//! A plugin is someone else's program: it may hang until its timeout, fail on every commit or
//! print without end. Three rules keep one such plugin from slowing anything else down:
//!
//! - **A bounded pool.** A render runs as a task of its own that holds a slot of its plugin
//!   ([`PluginRunConfig::per_plugin`]) and one of the pool
//!   ([`PluginRunConfig::parallelism`]), taken in that order, so that a render waiting for
//!   its plugin holds nothing another plugin needs. The plugin is known before anything
//!   waits whenever no `discover.find.command` has to decide
//!   ([`ferry_render::preselect_plugin`]); renders that need one share the slots of the group
//!   `discovery`.
//! - **Workers do not wait for the pool.** The reconcile that starts a render waits for it
//!   at most [`PluginRunConfig::wait`], and only when both slots were free at once: at most
//!   `parallelism` workers wait for plugins at any time, each for a bounded time. Otherwise
//!   (the slots taken, the wait over, or a render of the same source already running) the
//!   caller gets [`PluginRunError::Queued`] or [`PluginRunError::Running`] at once; the
//!   reconcile writes it into the `ComparisonError` condition and applies nothing. When the
//!   render ends, every application that asked for it is woken (the callback given to
//!   [`PluginRuns::on_settled`]), and finds the result cached.
//! - **Backoff.** Per source (repository, path, plugin request and build environment: one
//!   application's source; the commit is not part of it), after a failure (a timeout, an
//!   output over the limit) the next attempt comes no earlier than
//!   `backoff_base` × 2^(failures − 1), at most `backoff_max`. Meanwhile the remembered
//!   error is the answer, with the time of the next attempt ([`PluginRunError::Failed`]), and
//!   the application is woken at that time. A new commit starts afresh; a refresh (the
//!   refresh annotation, or an operation) tries again at once.
//!
//! Which plugin a commit selected is remembered after a success, so that a reconcile of an
//! unchanged commit finds its render in the `RenderCache` without reading the checkout.

use ferry_core::locks;
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime};

use ferry_render::{
    BuildEnv, DirectoryOptions, PluginError, PluginLimits, PluginRequest, PluginSpec, RenderCache,
    RenderKey, Rendered,
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

/// Entries beyond which remembered successes are forgotten (they only save a lookup).
const MAX_ENTRIES: usize = 4096;

/// The slot group of renders whose plugin only a `discover.find.command` can tell.
const DISCOVERY: &str = "";

/// How plugin renders are scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginRunConfig {
    /// Renders running at once, all plugins together.
    pub parallelism: usize,
    /// Renders of one plugin running at once.
    pub per_plugin: usize,
    /// How long the reconcile that starts a render (with free slots) waits for it before it
    /// answers that the render is running.
    pub wait: Duration,
    /// The wait before the second attempt after a failure; it doubles with each failure.
    pub backoff_base: Duration,
    /// The longest wait between two attempts.
    pub backoff_max: Duration,
}

impl Default for PluginRunConfig {
    /// 4 renders at once, 2 per plugin (below the 8 reconcile workers, so that plugins never
    /// hold most of them), a 5 s wait (most plugins finish within it, so their applications
    /// sync in one reconcile), backoff from 10 s to 5 min.
    fn default() -> Self {
        PluginRunConfig {
            parallelism: 4,
            per_plugin: 2,
            wait: Duration::from_secs(5),
            backoff_base: Duration::from_secs(10),
            backoff_max: Duration::from_secs(300),
        }
    }
}

impl PluginRunConfig {
    /// The wait after the `failures`-th failure in a row (1 or more).
    pub fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_max)
    }
}

/// Config management plugins, where they run, and how.
#[derive(Debug, Default)]
pub struct Plugins {
    pub specs: Vec<PluginSpec>,
    /// Parent of each run's scratch copy of the checkout.
    pub scratch: PathBuf,
    pub limits: PluginLimits,
    pub runs: PluginRunConfig,
}

/// Why a plugin render gave no objects this time.
#[derive(Debug, thiserror::Error)]
pub enum PluginRunError {
    /// The last attempt failed; the next comes at `next_attempt` (RFC 3339), or sooner on a
    /// new commit or a refresh.
    #[error(
        "{failure} (attempt {failures} failed; next attempt at {next_attempt}, or at once on a new commit or with the {} annotation)",
        ferry_api::REFRESH_ANNOTATION
    )]
    Failed {
        failure: Arc<RunFailure>,
        /// Failures in a row at this commit.
        failures: u32,
        next_attempt: String,
    },
    /// A render of this source is running.
    #[error(
        "the render with {} is running since {since}; the application is looked at again when it ends",
        group_text(group)
    )]
    Running { group: String, since: String },
    /// A render of this source waits for a slot.
    #[error(
        "the render waits for a free slot ({} at a time for {}, {parallelism} for all plugins); the application is looked at again when it ends",
        per_plugin,
        group_text(group)
    )]
    Queued {
        group: String,
        per_plugin: usize,
        parallelism: usize,
    },
}

/// What made an attempt fail.
#[derive(Debug, thiserror::Error)]
pub enum RunFailure {
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error("the plugin render ended abnormally: {0}")]
    Task(String),
}

fn group_text(group: &str) -> String {
    if group == DISCOVERY {
        "the plugin a discover.find.command chooses".to_string()
    } else {
        format!("plugin {group:?}")
    }
}

/// One render: the checkout, the request and the build environment (whose `revision` is the
/// commit).
#[derive(Debug, Clone)]
pub(crate) struct RunInput {
    pub root: PathBuf,
    pub request: PluginRequest,
    pub build: BuildEnv,
    /// Added to the plugin's environment (AWS credentials); in no key.
    pub private_env: Vec<(&'static str, ferry_core::Sensitive<String>)>,
    /// Whose credentials those are (a digest), part of the render's cache key.
    pub aws_identity: Option<String>,
}

/// A source, whatever its commit: what backoff is counted for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct RunKey {
    request: PluginRequest,
    /// With `revision` empty.
    build: BuildEnv,
}

impl RunKey {
    fn of(input: &RunInput) -> RunKey {
        let mut build = input.build.clone();
        build.revision.clear();
        RunKey {
            request: input.request.clone(),
            build,
        }
    }
}

type Reply = Result<Arc<Rendered>, PluginRunError>;
type Wake = Arc<dyn Fn(&str) + Send + Sync>;

struct Entry {
    commit: String,
    /// Failures in a row at `commit`.
    failures: u32,
    state: State,
}

enum State {
    Running {
        job: u64,
        group: String,
        /// When it got its slots; `None` while it waits for them.
        started: Option<SystemTime>,
        /// Applications to wake when it ends.
        waiters: BTreeSet<String>,
        /// The reconcile that started it, while it may still be waiting.
        reply: Option<oneshot::Sender<Reply>>,
    },
    Failed {
        failure: Arc<RunFailure>,
        retry_at: Instant,
        retry_wall: SystemTime,
    },
    /// The last attempt succeeded with this plugin.
    Done { plugin: String },
}

/// What the table says of a source at a commit.
enum Verdict {
    Running,
    BackingOff,
    Done(String),
    Attempt,
}

/// What selection without commands found.
enum Preselected {
    /// The plugin, and its render in the cache.
    Cached(String, Arc<Rendered>),
    /// The plugin (`None`: a discover command must tell), not rendered yet.
    Plugin(Option<String>),
}

/// A render's two slots.
struct Permits {
    _group: OwnedSemaphorePermit,
    _pool: OwnedSemaphorePermit,
}

/// The pool, the backoff table and the plugins; shared by every clone of `Sources`.
pub struct PluginRuns {
    plugins: Plugins,
    cache: Arc<RenderCache>,
    pool: Arc<Semaphore>,
    groups: Mutex<HashMap<String, Arc<Semaphore>>>,
    table: Mutex<HashMap<RunKey, Entry>>,
    next_job: AtomicU64,
    wake: OnceLock<Wake>,
}

impl std::fmt::Debug for PluginRuns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRuns")
            .field("plugins", &self.plugins)
            .finish_non_exhaustive()
    }
}

use ferry_core::timestamp::rfc3339;

// === impl PluginRuns ===

impl PluginRuns {
    pub(crate) fn new(plugins: Plugins, cache: Arc<RenderCache>) -> PluginRuns {
        PluginRuns {
            pool: Arc::new(Semaphore::new(plugins.runs.parallelism.max(1))),
            plugins,
            cache,
            groups: Mutex::new(HashMap::new()),
            table: Mutex::new(HashMap::new()),
            next_job: AtomicU64::new(0),
            wake: OnceLock::new(),
        }
    }

    /// Calls `wake` with an application's name when a render it waits for has ended, or
    /// when its backoff is over. Only the first call counts.
    pub fn on_settled(&self, wake: impl Fn(&str) + Send + Sync + 'static) {
        let _ = self.wake.set(Arc::new(wake));
    }

    fn table(&self) -> MutexGuard<'_, HashMap<RunKey, Entry>> {
        locks::lock(&self.table)
    }

    /// The objects of one render: cached, or rendered now (within the wait), or an error
    /// saying that it failed, is running or waits for a slot. Never waits for a slot.
    pub(crate) async fn render(self: &Arc<Self>, input: RunInput, refresh: bool) -> Reply {
        let key = RunKey::of(&input);
        let app = input.build.app_name.clone();
        if let Some(reply) = self.look(&key, &input, refresh, None) {
            return reply;
        }
        // Which plugin, when no command must tell; a cached render needs no run.
        let runs = self.clone();
        let pre_input = input.clone();
        let pre = tokio::task::spawn_blocking(move || runs.preselect(&pre_input))
            .await
            .map_err(|e| RunFailure::Task(e.to_string()))
            .and_then(|r| r.map_err(RunFailure::from));
        let plugin = match pre {
            Err(failure) => return Err(self.failed_now(&key, &input, failure)),
            Ok(Preselected::Cached(plugin, rendered)) => {
                self.remember_done(&key, &input, plugin);
                return Ok(rendered);
            }
            Ok(Preselected::Plugin(plugin)) => plugin,
        };
        let group = plugin.clone().unwrap_or_else(|| DISCOVERY.to_string());
        let (tx, mut rx) = oneshot::channel();
        let job = self.next_job.fetch_add(1, Ordering::Relaxed);
        if let Some(reply) = self.look(&key, &input, refresh, Some((job, &group, tx))) {
            return reply;
        }
        let permits = self.try_permits(&group);
        let waits = permits.is_some();
        tokio::spawn(self.clone().run(key.clone(), job, input, plugin, permits));
        if waits && let Ok(reply) = tokio::time::timeout(self.plugins.runs.wait, &mut rx).await {
            // A closed channel: the job was replaced by one for a newer commit.
            return reply.unwrap_or_else(|_| Err(self.running_error(&group, None)));
        }
        self.wait_later(&key, job, &app, &group, rx)
    }

    /// What the table answers for `input` before anything runs: its render (cached), its
    /// failure (while backing off), or that it is running (the application is then woken
    /// when it ends). `None`: an attempt is due; with `start`, it is marked running as that
    /// job.
    fn look(
        &self,
        key: &RunKey,
        input: &RunInput,
        refresh: bool,
        start: Option<(u64, &str, oneshot::Sender<Reply>)>,
    ) -> Option<Reply> {
        let commit = &input.build.revision;
        let app = &input.build.app_name;
        let mut table = self.table();
        let mut failures = 0;
        if let Some(entry) = table.get_mut(key).filter(|e| e.commit == *commit) {
            failures = entry.failures;
            let verdict = match &entry.state {
                State::Running { .. } => Verdict::Running,
                State::Failed { retry_at, .. } if !refresh && Instant::now() < *retry_at => {
                    Verdict::BackingOff
                }
                State::Done { plugin } if start.is_none() => Verdict::Done(plugin.clone()),
                _ => Verdict::Attempt,
            };
            match verdict {
                Verdict::Running => {
                    if let State::Running {
                        group,
                        started,
                        waiters,
                        ..
                    } = &mut entry.state
                    {
                        if !app.is_empty() {
                            waiters.insert(app.clone());
                        }
                        return Some(Err(self.running_error(group, *started)));
                    }
                }
                Verdict::BackingOff => return Some(Err(self.failed_error(entry))),
                Verdict::Done(plugin) => {
                    if let Some(rendered) = self.cached(&plugin, input) {
                        return Some(Ok(rendered));
                    }
                }
                Verdict::Attempt => {}
            }
        }
        let (job, group, reply) = start?;
        if table.len() >= MAX_ENTRIES {
            table.retain(|_, e| !matches!(e.state, State::Done { .. }));
        }
        let state = State::Running {
            job,
            group: group.to_string(),
            started: None,
            waiters: BTreeSet::new(),
            reply: Some(reply),
        };
        let commit = commit.clone();
        table.insert(
            key.clone(),
            Entry {
                commit,
                failures,
                state,
            },
        );
        None
    }

    /// The starter stops waiting: it is woken when the job ends, or has its answer if the
    /// job ended meanwhile.
    fn wait_later(
        &self,
        key: &RunKey,
        job: u64,
        app: &str,
        group: &str,
        mut rx: oneshot::Receiver<Reply>,
    ) -> Reply {
        let mut table = self.table();
        if let Some(Entry {
            state:
                State::Running {
                    job: running,
                    group,
                    started,
                    waiters,
                    ..
                },
            ..
        }) = table.get_mut(key)
            && *running == job
        {
            if !app.is_empty() {
                waiters.insert(app.to_string());
            }
            return Err(self.running_error(group, *started));
        }
        drop(table);
        // Settled: the reply was sent under the table's lock, as the state changed. None: the
        // job was replaced by an attempt at a newer commit, queued now.
        rx.try_recv()
            .unwrap_or_else(|_| Err(self.running_error(group, None)))
    }

    fn running_error(&self, group: &str, started: Option<SystemTime>) -> PluginRunError {
        match started {
            Some(since) => PluginRunError::Running {
                group: group.to_string(),
                since: rfc3339(since),
            },
            None => PluginRunError::Queued {
                group: group.to_string(),
                per_plugin: self.plugins.runs.per_plugin.max(1),
                parallelism: self.plugins.runs.parallelism.max(1),
            },
        }
    }

    /// The answer of a failed entry.
    fn failed_error(&self, entry: &Entry) -> PluginRunError {
        match &entry.state {
            State::Failed {
                failure,
                retry_wall,
                ..
            } => PluginRunError::Failed {
                failure: failure.clone(),
                failures: entry.failures,
                next_attempt: rfc3339(*retry_wall),
            },
            State::Running { group, started, .. } => self.running_error(group, *started),
            State::Done { .. } => self.running_error(DISCOVERY, None),
        }
    }

    /// The state after the `failures`-th failure in a row; wakes `app` when the backoff ends.
    fn failed_state(&self, failures: u32, failure: Arc<RunFailure>, app: &str) -> State {
        let delay = self.plugins.runs.backoff(failures);
        let retry_at = Instant::now() + delay;
        if !app.is_empty()
            && let Some(wake) = self.wake.get().cloned()
        {
            let app = app.to_string();
            tokio::spawn(async move {
                tokio::time::sleep_until(retry_at).await;
                wake(&app);
            });
        }
        State::Failed {
            failure,
            retry_at,
            retry_wall: SystemTime::now() + delay,
        }
    }

    /// A failure before any job started (selection failed, or its task did not run).
    fn failed_now(&self, key: &RunKey, input: &RunInput, failure: RunFailure) -> PluginRunError {
        let commit = &input.build.revision;
        let mut table = self.table();
        let previous = table.get(key).filter(|e| e.commit == *commit);
        if let Some(
            entry @ Entry {
                state: State::Running { .. },
                ..
            },
        ) = previous
        {
            // Another attempt began meanwhile: its result is the answer.
            return self.failed_error(entry);
        }
        let failures = previous.map_or(0, |e| e.failures).saturating_add(1);
        let state = self.failed_state(failures, Arc::new(failure), &input.build.app_name);
        let entry = Entry {
            commit: commit.clone(),
            failures,
            state,
        };
        let answer = self.failed_error(&entry);
        table.insert(key.clone(), entry);
        answer
    }

    fn remember_done(&self, key: &RunKey, input: &RunInput, plugin: String) {
        let commit = &input.build.revision;
        let mut table = self.table();
        if let Some(Entry {
            state: State::Running { .. },
            ..
        }) = table.get(key).filter(|e| e.commit == *commit)
        {
            return;
        }
        if table.len() >= MAX_ENTRIES {
            table.retain(|_, e| !matches!(e.state, State::Done { .. }));
        }
        let entry = Entry {
            commit: commit.clone(),
            failures: 0,
            state: State::Done { plugin },
        };
        table.insert(key.clone(), entry);
    }

    fn spec(&self, name: &str) -> Result<&PluginSpec, PluginError> {
        self.plugins
            .specs
            .iter()
            .find(|s| s.full_name() == name)
            .ok_or_else(|| PluginError::NotFound {
                name: name.to_string(),
                known: self
                    .plugins
                    .specs
                    .iter()
                    .map(PluginSpec::full_name)
                    .collect(),
            })
    }

    fn render_key(spec: &PluginSpec, input: &RunInput) -> RenderKey {
        let build = &input.build;
        let mut variant = ferry_render::plugin_cache_variant(spec, &input.request, build);
        if let Some(identity) = &input.aws_identity {
            variant = format!("{variant} {identity}");
        }
        RenderKey::new(
            build.repo_url.clone(),
            build.revision.clone(),
            &build.source_path,
            DirectoryOptions::default(),
        )
        .with_variant(variant)
    }

    /// The render of `input` by the plugin named `plugin`, if cached.
    fn cached(&self, plugin: &str, input: &RunInput) -> Option<Arc<Rendered>> {
        let spec = self.spec(plugin).ok()?;
        self.cache.get(&Self::render_key(spec, input))
    }

    /// Blocking: selection without commands, and the cache.
    fn preselect(&self, input: &RunInput) -> Result<Preselected, PluginError> {
        let spec = ferry_render::preselect_plugin(
            &self.plugins.specs,
            &input.request,
            &input.root,
            &input.build.source_path,
            &input.build,
            &self.plugins.scratch,
        )?;
        let Some(spec) = spec else {
            return Ok(Preselected::Plugin(None));
        };
        Ok(match self.cache.get(&Self::render_key(spec, input)) {
            Some(rendered) => Preselected::Cached(spec.full_name(), rendered),
            None => Preselected::Plugin(Some(spec.full_name())),
        })
    }

    fn group(&self, name: &str) -> Arc<Semaphore> {
        let mut groups = locks::lock(&self.groups);
        let per_plugin = self.plugins.runs.per_plugin.max(1);
        groups
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(per_plugin)))
            .clone()
    }

    /// Both slots, if both are free now.
    fn try_permits(&self, group: &str) -> Option<Permits> {
        let group = self.group(group).try_acquire_owned().ok()?;
        let pool = self.pool.clone().try_acquire_owned().ok()?;
        Some(Permits {
            _group: group,
            _pool: pool,
        })
    }

    /// Both slots, the plugin's first: waiting for it holds nothing of the pool.
    async fn permits(&self, group: &str) -> Result<Permits, tokio::sync::AcquireError> {
        let group = self.group(group).acquire_owned().await?;
        let pool = self.pool.clone().acquire_owned().await?;
        Ok(Permits {
            _group: group,
            _pool: pool,
        })
    }

    /// One job: its slots, the render (selection first when a command must tell), then
    /// the table, the starter and the waiters are told.
    async fn run(
        self: Arc<Self>,
        key: RunKey,
        job: u64,
        input: RunInput,
        plugin: Option<String>,
        permits: Option<Permits>,
    ) {
        let group = plugin.clone().unwrap_or_else(|| DISCOVERY.to_string());
        let permits = match permits {
            Some(p) => Ok(p),
            None => self.permits(&group).await,
        };
        let outcome = match permits {
            Err(e) => Err(RunFailure::Task(e.to_string())),
            Ok(permits) => {
                if !self.started(&key, job) {
                    // Replaced by an attempt at a newer commit while it waited.
                    return;
                }
                let runs = self.clone();
                let task = tokio::task::spawn_blocking(move || {
                    let _permits = permits;
                    runs.execute(&input, plugin.as_deref())
                });
                match task.await {
                    Ok(result) => result.map_err(RunFailure::from),
                    Err(e) => Err(RunFailure::Task(e.to_string())),
                }
            }
        };
        self.settle(&key, job, outcome);
    }

    /// Marks job `job` started; `false` when it is no longer the attempt of its source.
    fn started(&self, key: &RunKey, job: u64) -> bool {
        if let Some(Entry {
            state:
                State::Running {
                    job: running,
                    started,
                    ..
                },
            ..
        }) = self.table().get_mut(key)
            && *running == job
        {
            *started = Some(SystemTime::now());
            return true;
        }
        false
    }

    /// Blocking: selection (with commands) when needed, then the render through the cache.
    fn execute(
        &self,
        input: &RunInput,
        plugin: Option<&str>,
    ) -> Result<(String, Arc<Rendered>), PluginError> {
        let (plugins, build) = (&self.plugins, &input.build);
        let path = &build.source_path;
        let spec = match plugin {
            Some(name) => self.spec(name)?,
            None => ferry_render::select_plugin(
                &plugins.specs,
                &input.request,
                &input.root,
                path,
                build,
                &plugins.limits,
                &plugins.scratch,
            )?,
        };
        let rendered = self
            .cache
            .get_or_try_render(Self::render_key(spec, input), || {
                let run = ferry_render::PluginRun {
                    root: &input.root,
                    source_path: path,
                    request: &input.request,
                    build_env: build,
                    limits: &plugins.limits,
                    scratch_parent: &plugins.scratch,
                };
                run.with_private_env(spec, &input.private_env)
            })?;
        Ok((spec.full_name(), rendered))
    }

    /// Records how job `job` ended, answers its starter and wakes who waited.
    fn settle(&self, key: &RunKey, job: u64, outcome: Result<(String, Arc<Rendered>), RunFailure>) {
        let mut table = self.table();
        let Some(entry) = table.get_mut(key) else {
            return;
        };
        let State::Running {
            job: running,
            waiters,
            reply,
            ..
        } = &mut entry.state
        else {
            return;
        };
        if *running != job {
            // Replaced by an attempt at a newer commit, which will answer.
            return;
        }
        let waiters = std::mem::take(waiters);
        let reply_tx = reply.take();
        let answer = match outcome {
            Ok((plugin, rendered)) => {
                entry.failures = 0;
                entry.state = State::Done { plugin };
                Ok(rendered)
            }
            Err(failure) => {
                entry.failures = entry.failures.saturating_add(1);
                let app = &key.build.app_name;
                entry.state = self.failed_state(entry.failures, Arc::new(failure), app);
                Err(self.failed_error(entry))
            }
        };
        if let Some(tx) = reply_tx {
            let _ = tx.send(answer);
        }
        drop(table);
        if let Some(wake) = self.wake.get() {
            for app in &waiters {
                wake(app);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_up_to_the_cap() {
        let config = PluginRunConfig::default();
        let secs: Vec<u64> = (1..=8).map(|n| config.backoff(n).as_secs()).collect();
        assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300, 300]);
        assert_eq!(config.backoff(u32::MAX), config.backoff_max);
    }
}
