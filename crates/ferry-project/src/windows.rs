//! Sync windows as Argo CD evaluates them (`SyncWindows.Matches`, `Active`,
//! `InactiveAllows`, `CanSync` in `pkg/apis/application/v1alpha1/types.go`), at a time the
//! caller passes in.
//!
//! A window is active at `now` when its schedule (5-field cron, in its `timeZone`, UTC by
//! default) fired at some `s` with `now - duration < s < now`. For the windows matching an
//! application: an active `deny` blocks (a manual sync passes when every active deny has
//! `manualSync`); else an active `allow` permits; else, when allow windows exist but none
//! is active, syncs are blocked (a manual sync passes when every inactive allow has
//! `manualSync`); with no window at all everything may sync. An operation that was allowed
//! when it started goes on through a change when the windows that now block it all have
//! `syncOverrun`.

use chrono::{DateTime, TimeDelta, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use ferry_api::SyncWindow;

use crate::glob::glob_match;

/// A window that cannot be evaluated: named by its kind, schedule and duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sync window {window}: {reason}")]
pub struct WindowError {
    pub window: String,
    pub reason: String,
}

/// Whether a sync may run now, and if not, which windows say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncVerdict {
    Allowed,
    Blocked(String),
}

impl SyncVerdict {
    pub fn is_allowed(&self) -> bool {
        matches!(self, SyncVerdict::Allowed)
    }
}

/// The windows that apply to one application.
#[derive(Debug, Clone, Default)]
pub struct Windows<'a> {
    pub windows: Vec<&'a SyncWindow>,
}

/// How a window is shown: `deny '0 22 * * *' for 1h`.
pub fn describe(w: &SyncWindow) -> String {
    let tz = if w.time_zone.is_empty() {
        String::new()
    } else {
        format!(" ({})", w.time_zone)
    };
    format!("{} '{}' for {}{tz}", w.kind, w.schedule, w.duration)
}

/// The windows of `all` that apply to an application named `app` whose destination (as its
/// spec says) is cluster `dest_name` or `dest_server` and namespace `dest_ns`: any of the
/// selectors it sets matches (all of them, with `andOperator`).
pub fn matching<'a>(
    all: &'a [SyncWindow],
    app: &str,
    dest_server: &str,
    dest_name: &str,
    dest_ns: &str,
) -> Windows<'a> {
    let selected = |w: &&SyncWindow| {
        let apps = (!w.applications.is_empty()).then(|| {
            w.applications
                .iter()
                .any(|a| glob_match(a, app, false, &[]))
        });
        let clusters = (!w.clusters.is_empty()).then(|| {
            w.clusters.iter().any(|c| {
                (!dest_name.is_empty() && glob_match(c, dest_name, false, &[]))
                    || (!dest_server.is_empty() && glob_match(c, dest_server, false, &[]))
            })
        });
        let namespaces = (!w.namespaces.is_empty()).then(|| {
            w.namespaces
                .iter()
                .any(|n| glob_match(n, dest_ns, false, &[]))
        });
        let set = [apps, clusters, namespaces];
        if w.use_and_operator {
            set.iter().any(Option::is_some) && set.iter().flatten().all(|m| *m)
        } else {
            set.iter().flatten().any(|m| *m)
        }
    };
    Windows {
        windows: all.iter().filter(selected).collect(),
    }
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build()
}

fn invalid(w: &SyncWindow, reason: String) -> WindowError {
    WindowError {
        window: describe(w),
        reason,
    }
}

/// Whether `w` is open at `now`.
pub fn active(w: &SyncWindow, now: DateTime<Utc>) -> Result<bool, WindowError> {
    if w.kind != "allow" && w.kind != "deny" {
        return Err(invalid(
            w,
            format!("kind '{}' is neither allow nor deny", w.kind),
        ));
    }
    if w.schedule.contains('@') || w.schedule.split_whitespace().count() != 5 {
        return Err(invalid(
            w,
            format!(
                "cannot parse schedule '{}': 5 cron fields expected",
                w.schedule
            ),
        ));
    }
    let cron: Cron = parser()
        .parse(&w.schedule)
        .map_err(|e| invalid(w, format!("cannot parse schedule '{}': {e}", w.schedule)))?;
    let duration = go_duration(&w.duration)
        .ok_or_else(|| invalid(w, format!("cannot parse duration '{}'", w.duration)))?;
    // An unknown time zone is UTC, as Argo CD's (which logs it).
    let tz: chrono_tz::Tz = w.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let from = (now - duration).with_timezone(&tz);
    let next = cron
        .find_next_occurrence(&from, false)
        .map_err(|e| invalid(w, e.to_string()))?;
    Ok(next.with_timezone(&Utc) < now)
}

/// A Go `time.ParseDuration`: `1h`, `30m`, `1h30m`, `1.5h`, `90s`, `0`.
pub fn go_duration(s: &str) -> Option<TimeDelta> {
    let s = s.trim();
    if s == "0" {
        return Some(TimeDelta::zero());
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest.is_empty() {
        return None;
    }
    let mut nanos: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_end);
        let value: f64 = num.parse().ok()?;
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        nanos += value * scale;
        rest = tail;
    }
    let d = TimeDelta::nanoseconds(nanos as i64);
    Some(if neg { -d } else { d })
}

impl<'a> Windows<'a> {
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// The windows open at `now`.
    pub fn active(&self, now: DateTime<Utc>) -> Result<Vec<&'a SyncWindow>, WindowError> {
        let mut out = Vec::new();
        for w in &self.windows {
            if active(w, now)? {
                out.push(*w);
            }
        }
        Ok(out)
    }

    /// Argo CD's `CanSync(manual, operationStartTime)` at `now`, with the blocking windows
    /// named. A window that cannot be evaluated blocks every sync (with its error).
    pub fn can_sync(
        &self,
        manual: bool,
        started: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> SyncVerdict {
        match self.evaluate(manual, started, now) {
            Ok(v) => v,
            Err(e) => SyncVerdict::Blocked(format!("invalid sync windows: {e}")),
        }
    }

    fn evaluate(
        &self,
        manual: bool,
        started: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<SyncVerdict, WindowError> {
        if self.windows.is_empty() {
            return Ok(SyncVerdict::Allowed);
        }
        let active = self.active(now)?;
        let denies: Vec<&SyncWindow> = active
            .iter()
            .copied()
            .filter(|w| w.kind == "deny")
            .collect();
        let overrun_from = |blocking: &[&SyncWindow]| -> Result<bool, WindowError> {
            match started {
                Some(t) if blocking.iter().all(|w| w.sync_overrun) => {
                    Ok(self.evaluate(manual, None, t)?.is_allowed())
                }
                _ => Ok(false),
            }
        };
        if !denies.is_empty() {
            if manual && denies.iter().all(|w| w.manual_sync) {
                return Ok(SyncVerdict::Allowed);
            }
            if overrun_from(&denies)? {
                return Ok(SyncVerdict::Allowed);
            }
            return Ok(SyncVerdict::Blocked(format!(
                "blocked by sync window {}",
                list(&denies)
            )));
        }
        if active.iter().any(|w| w.kind == "allow") {
            return Ok(SyncVerdict::Allowed);
        }
        let allows: Vec<&SyncWindow> = self
            .windows
            .iter()
            .copied()
            .filter(|w| w.kind == "allow")
            .collect();
        if allows.is_empty() {
            return Ok(SyncVerdict::Allowed);
        }
        if manual && allows.iter().all(|w| w.manual_sync) {
            return Ok(SyncVerdict::Allowed);
        }
        if overrun_from(&allows)? {
            return Ok(SyncVerdict::Allowed);
        }
        Ok(SyncVerdict::Blocked(format!(
            "blocked: no allow sync window is open ({})",
            list(&allows)
        )))
    }
}

fn list(ws: &[&SyncWindow]) -> String {
    ws.iter()
        .map(|w| describe(w))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
