//! Per-cluster client-side limits that protect API servers: a token bucket for the request
//! rate and a semaphore for the requests in flight. Watches hold neither.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

/// Limits of one cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Sustained requests per second.
    pub qps: f64,
    /// Requests allowed in a burst above `qps`.
    pub burst: u32,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for Limits {
    /// 20 requests in flight, at most 500 per second with bursts of 1,000.
    ///
    /// The requests in flight are what protects an API server: its priority and fairness
    /// (stable since Kubernetes 1.29) meters load in seats, one per executing request, and
    /// a default server has 600 (`--max-requests-inflight` 400 plus
    /// `--max-mutating-requests-inflight` 200) shared among its priority levels; 20 is a
    /// small part of what its workload levels get, and a server that is busy answers 429,
    /// which is retried after the time it asks for. The rate is a ceiling against a runaway
    /// loop, not the pace of normal work: at Argo CD's 50 requests per second, 1,000
    /// applications of three objects take a minute however idle the API server is.
    fn default() -> Self {
        Self {
            qps: 500.0,
            burst: 1000,
            concurrency: 20,
        }
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// A cluster's limiter. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Limiter {
    limits: Limits,
    bucket: Arc<Mutex<Bucket>>,
    in_flight: Arc<Semaphore>,
}

/// Held while one request runs.
#[derive(Debug)]
pub struct Permit(#[allow(dead_code)] OwnedSemaphorePermit);

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            bucket: Arc::new(Mutex::new(Bucket {
                tokens: f64::from(limits.burst),
                last: Instant::now(),
            })),
            in_flight: Arc::new(Semaphore::new(limits.concurrency.max(1))),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Waits for a token and a slot.
    pub async fn acquire(&self) -> Permit {
        loop {
            let wait = {
                let mut b = self.bucket.lock().await;
                let now = Instant::now();
                let refill = now.duration_since(b.last).as_secs_f64() * self.limits.qps;
                b.tokens = (b.tokens + refill).min(f64::from(self.limits.burst.max(1)));
                b.last = now;
                if b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    None
                } else {
                    Some(Duration::from_secs_f64(
                        (1.0 - b.tokens) / self.limits.qps.max(0.001),
                    ))
                }
            };
            match wait {
                None => break,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
        match self.in_flight.clone().acquire_owned().await {
            Ok(p) => Permit(p),
            // The semaphore is never closed.
            Err(_) => unreachable_permit(),
        }
    }
}

fn unreachable_permit() -> Permit {
    let s = Arc::new(Semaphore::new(1));
    match s.try_acquire_owned() {
        Ok(p) => Permit(p),
        Err(_) => panic!("a fresh semaphore has a permit"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_is_held_after_the_burst() {
        let l = Limiter::new(Limits {
            qps: 10.0,
            burst: 5,
            concurrency: 100,
        });
        let start = tokio::time::Instant::now();
        for _ in 0..15 {
            drop(l.acquire().await);
        }
        // 5 from the burst, then 10 at 10/s: about one second.
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(900), "{took:?}");
    }

    #[tokio::test]
    async fn concurrency_is_bounded() {
        let l = Limiter::new(Limits {
            qps: 1000.0,
            burst: 1000,
            concurrency: 2,
        });
        let a = l.acquire().await;
        let _b = l.acquire().await;
        assert!(
            tokio::time::timeout(Duration::from_millis(50), l.acquire())
                .await
                .is_err()
        );
        drop(a);
        assert!(
            tokio::time::timeout(Duration::from_millis(500), l.acquire())
                .await
                .is_ok()
        );
    }
}
