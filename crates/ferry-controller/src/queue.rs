//! A work queue of application names: each name at most once, due at a time, never worked
//! on by two workers at once (a name added while it is being worked on runs again after).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

#[derive(Default)]
struct State {
    due: BTreeSet<(Instant, String)>,
    at: HashMap<String, Instant>,
    running: HashSet<String>,
    /// Added while running: re-queue when done, at this time.
    again: HashMap<String, Instant>,
}

#[derive(Default)]
pub struct WorkQueue {
    state: Mutex<State>,
    notify: Notify,
}

impl WorkQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        ferry_core::locks::lock(&self.state)
    }

    /// Queues `name` after `delay`; an earlier pending time wins.
    pub fn add(&self, name: &str, delay: Duration) {
        let when = Instant::now() + delay;
        let mut s = self.lock();
        if s.running.contains(name) {
            let e = s.again.entry(name.to_owned()).or_insert(when);
            *e = (*e).min(when);
            return;
        }
        if let Some(old) = s.at.get(name).copied() {
            if old <= when {
                return;
            }
            s.due.remove(&(old, name.to_owned()));
        }
        s.at.insert(name.to_owned(), when);
        s.due.insert((when, name.to_owned()));
        drop(s);
        self.notify.notify_one();
    }

    /// Waits for the next due name and marks it running.
    pub async fn next(&self) -> String {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.due.first().cloned() {
                    Some((when, name)) if when <= now => {
                        s.due.remove(&(when, name.clone()));
                        s.at.remove(&name);
                        s.running.insert(name.clone());
                        return name;
                    }
                    Some((when, _)) => Some(when),
                    None => None,
                }
            };
            match wait {
                Some(when) => {
                    tokio::select! {
                        _ = tokio::time::sleep_until(when) => {}
                        _ = self.notify.notified() => {}
                    }
                }
                None => self.notify.notified().await,
            }
        }
    }

    /// Marks `name` done; queues it again if it was added meanwhile.
    pub fn done(&self, name: &str) {
        let again = {
            let mut s = self.lock();
            s.running.remove(name);
            s.again.remove(name)
        };
        if let Some(when) = again {
            self.add(name, when.saturating_duration_since(Instant::now()));
        }
        self.notify.notify_one();
    }

    /// Whether a name is being worked on or due now.
    pub fn busy(&self) -> bool {
        let s = self.lock();
        !s.running.is_empty()
            || s.due
                .first()
                .is_some_and(|(when, _)| *when <= Instant::now())
    }

    pub fn len(&self) -> usize {
        self.lock().due.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Runs `workers` tasks, each taking the next due name of `queue(ctx)` and handing it to
/// `work`, which answers when to look at it again (`None`: only when something asks), until
/// `stop` changes. The one worker loop of both controllers.
pub fn spawn_workers<C, Q, W, Fut>(
    ctx: &Arc<C>,
    workers: usize,
    stop: &watch::Receiver<bool>,
    queue: Q,
    work: W,
) where
    C: Send + Sync + 'static,
    Q: Fn(&C) -> &WorkQueue + Copy + Send + 'static,
    W: Fn(Arc<C>, String) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Option<Duration>> + Send,
{
    for _ in 0..workers.max(1) {
        let ctx = ctx.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            loop {
                let name = tokio::select! {
                    n = queue(&ctx).next() => n,
                    _ = stop.changed() => return,
                };
                let again = work(ctx.clone(), name.clone()).await;
                queue(&ctx).done(&name);
                if let Some(d) = again {
                    queue(&ctx).add(&name, d);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dedupes_and_reruns_names_added_while_running() {
        let q = WorkQueue::default();
        q.add("a", Duration::ZERO);
        q.add("a", Duration::ZERO);
        q.add("b", Duration::from_millis(20));
        assert_eq!(q.next().await, "a");
        q.add("a", Duration::ZERO);
        assert_eq!(q.next().await, "b");
        q.done("a");
        assert_eq!(q.next().await, "a");
        q.done("a");
        q.done("b");
        assert!(q.is_empty());
    }
}
