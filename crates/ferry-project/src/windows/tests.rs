//! Sync windows at fixed times.

use super::*;
use chrono::TimeZone;

fn at(h: u32, m: u32) -> DateTime<Utc> {
    // A Wednesday.
    Utc.with_ymd_and_hms(2026, 12, 2, h, m, 0)
        .single()
        .expect("time")
}

fn window(kind: &str, schedule: &str, duration: &str) -> SyncWindow {
    SyncWindow {
        kind: kind.into(),
        schedule: schedule.into(),
        duration: duration.into(),
        applications: vec!["*".into()],
        ..Default::default()
    }
}

fn manual(mut w: SyncWindow) -> SyncWindow {
    w.manual_sync = true;
    w
}

#[test]
fn a_window_is_active_from_its_schedule_for_its_duration() {
    let w = window("deny", "0 22 * * *", "1h");
    for (now, want) in [
        (at(21, 59), false),
        (at(22, 0), false), // Argo CD: strictly after the start
        (at(22, 1), true),
        (at(22, 59), true),
        (at(23, 0), false),
        (at(23, 1), false),
    ] {
        assert_eq!(active(&w, now), Ok(want), "{now}");
    }
    let every = window("allow", "* * * * *", "2m");
    assert_eq!(active(&every, at(3, 7)), Ok(true));
}

#[test]
fn the_schedule_is_read_in_the_windows_time_zone() {
    let mut w = window("deny", "0 22 * * *", "1h");
    w.time_zone = "Europe/Paris".into(); // UTC+1 in December
    assert_eq!(active(&w, at(21, 30)), Ok(true));
    assert_eq!(active(&w, at(22, 30)), Ok(false));
    w.time_zone = "Not/AZone".into(); // unknown: UTC, as Argo CD
    assert_eq!(active(&w, at(22, 30)), Ok(true));
}

#[test]
fn bad_windows_say_what_is_wrong() {
    let cases = [
        (window("maybe", "0 22 * * *", "1h"), "kind 'maybe'"),
        (window("deny", "0 22 * *", "1h"), "cannot parse schedule"),
        (window("deny", "@daily", "1h"), "cannot parse schedule"),
        (window("deny", "0 25 * * *", "1h"), "cannot parse schedule"),
        (
            window("deny", "0 22 * * *", "1 hour"),
            "cannot parse duration '1 hour'",
        ),
    ];
    for (w, want) in cases {
        let e = active(&w, at(1, 0)).expect_err("invalid");
        assert!(e.to_string().contains(want), "{e}");
    }
    let ws = [window("deny", "0 22 * *", "1h")];
    let v = matching(&ws, "a", "", "", "").can_sync(true, None, at(1, 0));
    assert!(matches!(v, SyncVerdict::Blocked(m) if m.starts_with("invalid sync windows")));
}

#[test]
fn go_durations_parse() {
    for (s, secs) in [
        ("1h", 3600),
        ("30m", 1800),
        ("1h30m", 5400),
        ("1.5h", 5400),
        ("90s", 90),
        ("0", 0),
    ] {
        assert_eq!(go_duration(s), Some(TimeDelta::seconds(secs)), "{s}");
    }
    for s in ["", "1", "h", "1d", "1h x"] {
        assert_eq!(go_duration(s), None, "{s}");
    }
}

#[test]
fn can_sync_follows_argo_cds_rules() {
    let deny = window("deny", "0 22 * * *", "1h");
    let allow = window("allow", "0 2 * * *", "1h");
    // (windows, manual, now, allowed)
    type Case = (Vec<SyncWindow>, bool, DateTime<Utc>, bool, &'static str);
    let cases: Vec<Case> = vec![
        (vec![], false, at(22, 30), true, "no window"),
        (vec![deny.clone()], false, at(22, 30), false, "active deny"),
        (vec![deny.clone()], false, at(12, 0), true, "inactive deny"),
        (
            vec![deny.clone()],
            true,
            at(22, 30),
            false,
            "manual without manualSync",
        ),
        (
            vec![manual(deny.clone())],
            true,
            at(22, 30),
            true,
            "manual with manualSync",
        ),
        (
            vec![manual(deny.clone())],
            false,
            at(22, 30),
            false,
            "automated with manualSync",
        ),
        (
            vec![manual(deny.clone()), deny.clone()],
            true,
            at(22, 30),
            false,
            "one deny without manualSync",
        ),
        (vec![allow.clone()], false, at(2, 30), true, "active allow"),
        (
            vec![allow.clone()],
            false,
            at(12, 0),
            false,
            "allow windows, none open",
        ),
        (
            vec![allow.clone()],
            true,
            at(12, 0),
            false,
            "manual outside allow",
        ),
        (
            vec![manual(allow.clone())],
            true,
            at(12, 0),
            true,
            "manual outside manualSync allow",
        ),
        (
            vec![allow.clone(), window("deny", "0 2 * * *", "1h")],
            false,
            at(2, 30),
            false,
            "deny beats allow",
        ),
        (
            vec![deny.clone(), allow.clone()],
            false,
            at(12, 0),
            false,
            "inactive deny, inactive allow",
        ),
    ];
    for (ws, is_manual, now, want, case) in cases {
        let v = matching(&ws, "app", "", "", "").can_sync(is_manual, None, now);
        assert_eq!(v.is_allowed(), want, "{case}: {v:?}");
    }
}

#[test]
fn a_refusal_names_the_window() {
    let ws = [window("deny", "0 22 * * *", "1h")];
    let v = matching(&ws, "app", "", "", "").can_sync(false, None, at(22, 30));
    assert_eq!(
        v,
        SyncVerdict::Blocked("blocked by sync window deny '0 22 * * *' for 1h".into())
    );
    let ws = [window("allow", "0 2 * * *", "1h")];
    let v = matching(&ws, "app", "", "", "").can_sync(false, None, at(12, 0));
    assert_eq!(
        v,
        SyncVerdict::Blocked(
            "blocked: no allow sync window is open (allow '0 2 * * *' for 1h)".into()
        )
    );
}

#[test]
fn an_operation_allowed_when_it_started_overruns_windows_that_allow_it() {
    let mut deny = window("deny", "0 22 * * *", "1h");
    let started = Some(at(21, 50));
    let ws = [deny.clone()];
    assert!(
        !matching(&ws, "a", "", "", "")
            .can_sync(false, started, at(22, 10))
            .is_allowed()
    );
    deny.sync_overrun = true;
    let ws = [deny.clone()];
    assert!(
        matching(&ws, "a", "", "", "")
            .can_sync(false, started, at(22, 10))
            .is_allowed()
    );
    // Started inside the deny window: not allowed then, not now.
    assert!(
        !matching(&ws, "a", "", "", "")
            .can_sync(false, Some(at(22, 5)), at(22, 10))
            .is_allowed()
    );
    let mut allow = window("allow", "0 2 * * *", "1h");
    allow.sync_overrun = true;
    let ws = [allow];
    assert!(
        matching(&ws, "a", "", "", "")
            .can_sync(false, Some(at(2, 50)), at(3, 10))
            .is_allowed()
    );
}

#[test]
fn windows_match_by_application_cluster_or_namespace() {
    let mut by_app = window("deny", "* * * * *", "1h");
    by_app.applications = vec!["web-*".into()];
    let mut by_cluster = window("deny", "* * * * *", "1h");
    by_cluster.applications.clear();
    by_cluster.clusters = vec!["prod-*".into()];
    let mut by_ns = window("deny", "* * * * *", "1h");
    by_ns.applications.clear();
    by_ns.namespaces = vec!["payments".into()];
    let mut both = by_cluster.clone();
    both.namespaces = vec!["payments".into()];
    both.use_and_operator = true;
    let mut none = by_ns.clone();
    none.namespaces.clear();
    let all = [by_app, by_cluster, by_ns, both, none];
    let names = |app: &str, server: &str, name: &str, ns: &str| -> Vec<usize> {
        let m = matching(&all, app, server, name, ns);
        m.windows
            .iter()
            .map(|w| {
                all.iter()
                    .position(|x| std::ptr::eq(x, *w))
                    .expect("one of all")
            })
            .collect()
    };
    assert_eq!(names("web-a", "", "", ""), vec![0]);
    assert_eq!(names("api", "", "prod-eu", "default"), vec![1]);
    assert_eq!(names("api", "prod-eu.example", "", "default"), vec![1]);
    assert_eq!(names("api", "", "stg", "payments"), vec![2]);
    assert_eq!(names("api", "", "prod-eu", "payments"), vec![1, 2, 3]);
    assert_eq!(names("api", "", "stg", "default"), Vec::<usize>::new());
}
