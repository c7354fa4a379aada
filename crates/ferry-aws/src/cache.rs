//! [`FlightCache`]: the one cache behind credentials and EKS tokens. Per key it is
//! single-flight (concurrent callers of a key that needs fetching wait for one fetch and share
//! its result, error included), refreshes ahead (a value past its `refresh_at` but not yet
//! expired is still served to everyone but the one caller renewing it), remembers a failure
//! for a short backoff, and locks only its own key while fetching, so a slow or failing key
//! never blocks another.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use crate::error::AwsError;

/// A fetched value and when to renew it.
#[derive(Clone, Debug)]
pub(crate) struct Fetched<V> {
    pub value: V,
    /// From then on the next caller renews it (the others keep getting this value).
    pub refresh_at: SystemTime,
    /// After then it is never served. `None`: does not expire (static keys).
    pub expires_at: Option<SystemTime>,
}

/// What a cache did, for benchmarks and `ferry cluster get`.
#[derive(Debug, Default)]
pub(crate) struct CacheCounters {
    /// Served from the cache (fresh, or still valid while another caller renews it).
    pub hits: AtomicU64,
    /// A fetch was made.
    pub misses: AtomicU64,
    /// A fetch failed.
    pub failures: AtomicU64,
    /// Served a remembered failure without fetching (within the backoff).
    pub failure_hits: AtomicU64,
}

impl CacheCounters {
    fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

struct Slot<V> {
    state: Mutex<SlotState<V>>,
    /// Held by the one caller fetching this key.
    fetch: tokio::sync::Mutex<()>,
}

struct SlotState<V> {
    value: Option<Fetched<V>>,
    failure: Option<(AwsError, SystemTime)>,
    /// Bumped by every completed fetch, so that a caller who waited knows one happened.
    generation: u64,
}

impl<V: Clone> SlotState<V> {
    fn fresh(&self, now: SystemTime) -> Option<V> {
        self.value
            .as_ref()
            .filter(|f| now < f.refresh_at)
            .map(|f| f.value.clone())
    }

    fn usable(&self, now: SystemTime) -> Option<V> {
        self.value
            .as_ref()
            .filter(|f| f.expires_at.is_none_or(|e| now < e))
            .map(|f| f.value.clone())
    }

    fn recent_failure(&self, now: SystemTime, backoff: Duration) -> Option<AwsError> {
        self.failure
            .as_ref()
            .filter(|(_, at)| now < *at + backoff)
            .map(|(e, _)| e.clone())
    }
}

pub(crate) struct FlightCache<K, V> {
    slots: Mutex<HashMap<K, Arc<Slot<V>>>>,
    pub counters: CacheCounters,
}

impl<K: Eq + Hash + Clone, V: Clone> FlightCache<K, V> {
    pub fn new() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            counters: CacheCounters::default(),
        }
    }

    fn slot(&self, key: &K) -> Arc<Slot<V>> {
        let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
        slots
            .entry(key.clone())
            .or_insert_with(|| {
                Arc::new(Slot {
                    state: Mutex::new(SlotState {
                        value: None,
                        failure: None,
                        generation: 0,
                    }),
                    fetch: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    /// The value of `key`, fetching it with `fetch` when it is missing or due for renewal.
    pub async fn get<F, Fut>(&self, key: &K, backoff: Duration, fetch: F) -> Result<V, AwsError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Fetched<V>, AwsError>>,
    {
        let slot = self.slot(key);
        let now = SystemTime::now();
        let (generation, usable) = {
            let state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(v) = state.fresh(now) {
                CacheCounters::bump(&self.counters.hits);
                return Ok(v);
            }
            let usable = state.usable(now);
            if let Some(err) = state.recent_failure(now, backoff) {
                return match usable {
                    Some(v) => {
                        CacheCounters::bump(&self.counters.hits);
                        Ok(v)
                    }
                    None => {
                        CacheCounters::bump(&self.counters.failure_hits);
                        Err(err)
                    }
                };
            }
            (state.generation, usable)
        };

        let _fetching = match slot.fetch.try_lock() {
            Ok(guard) => guard,
            Err(_) => {
                // Someone is renewing it: the old value, while valid, is as good as theirs.
                if let Some(v) = usable {
                    CacheCounters::bump(&self.counters.hits);
                    return Ok(v);
                }
                slot.fetch.lock().await
            }
        };
        {
            let state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            if state.generation != generation {
                // A fetch finished while this caller waited: share its outcome.
                if let Some(v) = state.fresh(SystemTime::now()) {
                    CacheCounters::bump(&self.counters.hits);
                    return Ok(v);
                }
                if let Some((err, _)) = &state.failure {
                    CacheCounters::bump(&self.counters.failure_hits);
                    return Err(err.clone());
                }
            }
        }

        CacheCounters::bump(&self.counters.misses);
        let result = fetch().await;
        let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.generation += 1;
        match result {
            Ok(fetched) => {
                let value = fetched.value.clone();
                state.value = Some(fetched);
                state.failure = None;
                Ok(value)
            }
            Err(err) => {
                CacheCounters::bump(&self.counters.failures);
                state.failure = Some((err.clone(), SystemTime::now()));
                // Renewal ahead of expiry failed: what we had is still good for a while.
                match state.usable(SystemTime::now()) {
                    Some(v) => Ok(v),
                    None => Err(err),
                }
            }
        }
    }

    /// The failure of the last fetch of `key` when no fetch has succeeded since: a renewal
    /// that failed while the value it was renewing is still served.
    pub fn failure(&self, key: &K) -> Option<AwsError> {
        let slot = self
            .slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)?
            .clone();
        let state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.failure.as_ref().map(|(e, _)| e.clone())
    }

    /// Drops what is cached for every key `matches` accepts.
    pub fn invalidate_matching(&self, matches: impl Fn(&K) -> bool) {
        let slots: Vec<Arc<Slot<V>>> = {
            let slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
            slots
                .iter()
                .filter(|(k, _)| matches(k))
                .map(|(_, s)| s.clone())
                .collect()
        };
        for slot in slots {
            let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.value = None;
            state.failure = None;
        }
    }

    /// Drops what is cached for `key`, so that the next caller fetches (a token a server
    /// refused, say).
    pub fn invalidate(&self, key: &K) {
        let slot = self.slot(key);
        let mut state = slot.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.value = None;
        state.failure = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn fetched(v: u32, refresh_in: Duration, expires_in: Duration) -> Fetched<u32> {
        let now = SystemTime::now();
        Fetched {
            value: v,
            refresh_at: now + refresh_in,
            expires_at: Some(now + expires_in),
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = Arc::new(FlightCache::<&str, u32>::new());
        let calls = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, calls, mut gate) = (cache.clone(), calls.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(&"k", Duration::ZERO, || async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        let _ = gate.wait_for(|open| *open).await;
                        Ok(fetched(7, HOUR, HOUR))
                    })
                    .await
            }));
        }
        // Let every task reach the cache before the one fetch may finish.
        while cache.counters.misses.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        let _ = release.send(true);
        for t in tasks {
            assert_eq!(t.await.ok().and_then(Result::ok), Some(7));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.counters.misses.load(Ordering::SeqCst), 1);
        assert_eq!(cache.counters.hits.load(Ordering::SeqCst), 19);
    }

    #[tokio::test]
    async fn a_value_due_for_renewal_is_renewed_and_a_failed_renewal_keeps_it() {
        let cache = FlightCache::<&str, u32>::new();
        let v = cache
            .get(&"k", Duration::ZERO, || async {
                Ok(fetched(1, Duration::ZERO, HOUR))
            })
            .await;
        assert_eq!(v.ok(), Some(1));
        // Due for renewal: the next caller fetches...
        let v = cache
            .get(&"k", Duration::ZERO, || async {
                Err(AwsError::Config("sts down".into()))
            })
            .await;
        // ...and when that fails, the still-valid value is served, and the failure is
        // known (for the cluster's status) until a renewal succeeds.
        assert_eq!(v.ok(), Some(1));
        assert_eq!(
            cache.failure(&"k"),
            Some(AwsError::Config("sts down".into()))
        );
        assert_eq!(cache.failure(&"other"), None);
        let v = cache
            .get(&"k", Duration::ZERO, || async {
                Ok(fetched(2, HOUR, HOUR))
            })
            .await;
        assert_eq!(v.ok(), Some(2));
        assert_eq!(cache.failure(&"k"), None);
        assert_eq!(cache.counters.misses.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn failures_are_remembered_for_the_backoff_and_per_key() {
        let cache = FlightCache::<&str, u32>::new();
        let fail = || async { Err(AwsError::Config("denied".into())) };
        assert!(cache.get(&"bad", HOUR, fail).await.is_err());
        // Within the backoff: no new fetch.
        let again = cache
            .get(&"bad", HOUR, || async { Ok(fetched(1, HOUR, HOUR)) })
            .await;
        assert!(again.is_err());
        assert_eq!(cache.counters.failure_hits.load(Ordering::SeqCst), 1);
        // Another key is not affected.
        let good = cache
            .get(&"good", HOUR, || async { Ok(fetched(3, HOUR, HOUR)) })
            .await;
        assert_eq!(good.ok(), Some(3));
        // With no backoff the broken key is tried again and recovers.
        let fixed = cache
            .get(&"bad", Duration::ZERO, || async {
                Ok(fetched(4, HOUR, HOUR))
            })
            .await;
        assert_eq!(fixed.ok(), Some(4));
    }

    #[tokio::test]
    async fn an_expired_value_is_never_served() {
        let cache = FlightCache::<&str, u32>::new();
        let _ = cache
            .get(&"k", Duration::ZERO, || async {
                Ok(fetched(1, Duration::ZERO, Duration::ZERO))
            })
            .await;
        let v = cache
            .get(&"k", Duration::ZERO, || async {
                Err(AwsError::Config("down".into()))
            })
            .await;
        assert!(v.is_err());
    }
}
