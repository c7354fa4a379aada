//! Running a plugin: init before generate, failures, time and output limits, the scratch copy.

use std::fs;
use std::time::{Duration, Instant};

use ferry_render::{
    ExitKind, PluginCommandKind, PluginError, PluginRequest, PluginSpec, RenderError,
};

use crate::support::*;

#[test]
fn init_runs_before_generate_and_its_output_is_not_manifests() {
    let fx = Fixture::new(&[("app/x.txt", "")]);
    let spec = fx.plugin(
        "two.yaml",
        &plugin_yaml(
            "two",
            "",
            Some("echo initialized > .init-marker\necho 'init output is ignored: {'\n"),
            "test -f .init-marker || exit 7\ncat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marker\ndata:\n  marker: $(cat .init-marker)\nEOF\n",
        ),
    );
    let rendered = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect("renders");
    assert_eq!(rendered.len(), 1);
    assert_eq!(
        rendered.objects()[0].object["data"]["marker"],
        "initialized"
    );
}

#[test]
fn a_failing_command_reports_its_exit_code_and_stderr() {
    let fx = Fixture::new(&[("app/x.txt", "")]);
    let spec = fx.plugin(
        "fail.yaml",
        &plugin_yaml(
            "fail",
            "",
            None,
            "echo 'rendering...' >&2\necho 'Error: values file envs/qa/values.yaml not found' >&2\nexit 3\n",
        ),
    );
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("fails");
    assert!(
        matches!(
            &err,
            PluginError::CommandFailed {
                command: PluginCommandKind::Generate,
                exit: ExitKind::Code(3),
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert_eq!(
        message,
        "plugin \"fail\": generate command failed with exit code 3: rendering...\nError: values file envs/qa/values.yaml not found"
    );

    // init failures name init; long stderr is cut to its tail.
    let spec = fx.plugin(
        "noisy.yaml",
        &plugin_yaml(
            "noisy",
            "",
            Some("i=0\nwhile [ $i -lt 3000 ]; do echo \"noise line $i\" >&2; i=$((i+1)); done\necho 'the real problem' >&2\nexit 1\n"),
            "true",
        ),
    );
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("fails");
    let message = err.to_string();
    assert!(
        matches!(
            &err,
            PluginError::CommandFailed {
                command: PluginCommandKind::Init,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(message.ends_with("the real problem"), "{message}");
    assert!(message.len() < 5 * 1024, "{} bytes", message.len());
    assert!(!message.contains("noise line 0\n"));

    // A program that does not exist.
    let spec = PluginSpec::from_yaml(
        "kind: ConfigManagementPlugin\nmetadata: {name: missing}\nspec: {generate: {command: [ferry-no-such-program]}}\n",
        "missing.yaml",
    )
    .expect("valid");
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("cannot start");
    assert!(
        err.to_string().starts_with(
            "plugin \"missing\": cannot start the generate command \"ferry-no-such-program\""
        ),
        "{err}"
    );
}

/// Whether the process is gone (or a zombie nobody reaped yet).
fn is_dead(pid: &str) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_command_over_its_time_limit_is_killed_with_its_process_group() {
    let mut fx = Fixture::new(&[("app/x.txt", "")]);
    fx.limits.timeout = Duration::from_secs(1);
    let pid_file = fx.report("background.pid");
    let script = "sleep 30 &\necho $! > 'PIDFILE'\necho 'still working' >&2\nsleep 30\n"
        .replace("PIDFILE", &pid_file.display().to_string());
    let spec = fx.plugin("slow.yaml", &plugin_yaml("slow", "", None, &script));
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("times out");
    assert!(
        matches!(
            &err,
            PluginError::Timeout {
                command: PluginCommandKind::Generate,
                ..
            }
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("did not finish within 1s") && message.contains("still working"),
        "{message}"
    );
    // The background child was in the group, so it was killed too.
    let pid = fs::read_to_string(&pid_file).expect("pid written");
    let pid = pid.trim();
    let until = Instant::now() + Duration::from_secs(20);
    while !is_dead(pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(is_dead(pid), "background process {pid} survived");
}

#[test]
fn output_over_the_limit_is_an_error() {
    let mut fx = Fixture::new(&[("app/x.txt", "")]);
    fx.limits.max_output_bytes = 1024;
    // `yes` never ends by itself: it must be killed.
    // (A plugin named `yes` would be refused: YAML 1.1 reads `name: yes` as a boolean.)
    let spec = fx.plugin(
        "flood.yaml",
        &plugin_yaml("flood", "", None, "yes 'a: b'\n"),
    );
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("too large");
    assert!(
        matches!(&err, PluginError::OutputTooLarge { limit: 1024, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "plugin \"flood\": generate command wrote more than 1024 bytes to stdout"
    );
}

/// The peak resident memory of this process since the last reset, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn endless_plugin_output_is_cut_without_buffering_the_limit() {
    let mut fx = Fixture::new(&[("app/x.txt", "")]);
    // The old default: what the issue saw the controller's memory jump by on every attempt.
    let limit: u64 = 64 * 1024 * 1024;
    fx.limits.max_output_bytes = limit;
    let spec = fx.plugin(
        "flood.yaml",
        &plugin_yaml(
            "flood",
            "",
            None,
            "yes 'a: bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'\n",
        ),
    );
    // Start counting the peak from here (writing 5 to clear_refs resets VmHWM).
    let reset = fs::write("/proc/self/clear_refs", "5").is_ok();
    let before = peak_rss_kib();
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("too large");
    assert!(
        matches!(&err, PluginError::OutputTooLarge { limit: l, .. } if *l == limit),
        "{err:?}"
    );
    if let (true, Some(before), Some(after)) = (reset, before, peak_rss_kib()) {
        // Buffering the output would have held at least the limit; spooling holds a chunk.
        let grown = after.saturating_sub(before) * 1024;
        assert!(
            grown < limit / 4,
            "the peak memory grew by {grown} bytes for a limit of {limit}"
        );
    }

    // Output within the limit is still read whole.
    fx.limits.max_output_bytes = 1024 * 1024;
    let spec = fx.plugin(
        "many.yaml",
        &plugin_yaml(
            "many",
            "",
            None,
            "i=0\nwhile [ $i -lt 2000 ]; do printf -- '---\\napiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: cm-%d\\n' $i; i=$((i+1)); done\n",
        ),
    );
    let rendered = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect("renders");
    assert_eq!(rendered.len(), 2000);
}

#[test]
fn plugins_work_on_a_copy_and_the_checkout_is_unchanged() {
    let fx = Fixture::new(&[
        ("README.md", "top\n"),
        ("envs/staging/values.yaml", "replicas: 1\n"),
        ("apps/web/kustomization.yaml", "resources: []\n"),
    ]);
    std::os::unix::fs::symlink(
        "../../envs/staging/values.yaml",
        fx.repo.path().join("apps/web/values.yaml"),
    )
    .expect("symlink");
    std::os::unix::fs::symlink("nowhere", fx.repo.path().join("apps/web/dangling"))
        .expect("symlink");
    let before = snapshot(fx.repo.path());
    let spec = fx.plugin(
        "writer.yaml",
        &plugin_yaml(
            "writer",
            "",
            None,
            "set -e\nmkdir -p out\necho generated > out/file.txt\nreplicas=$(sed -n 's/^replicas: *//p' values.yaml)\necho 'replicas: 9' > values.yaml\necho changed > ../../README.md\nrm -f kustomization.yaml\nchmod 555 out\ncat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copy\ndata:\n  replicas: \"$replicas\"\n  written: $(cat out/file.txt)\n  through-link: \"$(cat ../../envs/staging/values.yaml)\"\nEOF\n",
        ),
    );
    let rendered = fx
        .run(&spec, "apps/web", &PluginRequest::default())
        .expect("renders");
    let data = &rendered.objects()[0].object["data"];
    assert_eq!(data["replicas"], "1");
    assert_eq!(data["written"], "generated");
    // The copy's link points into the copy.
    assert_eq!(data["through-link"], "replicas: 9");
    assert_eq!(snapshot(fx.repo.path()), before);
}

#[test]
fn a_symlink_out_of_the_checkout_is_refused() {
    let fx = Fixture::new(&[("app/x.txt", "")]);
    let outside = fx.report("secret.txt");
    fs::write(&outside, "token").expect("write");
    std::os::unix::fs::symlink(&outside, fx.repo.path().join("app/token")).expect("symlink");
    let spec = fx.plugin("p.yaml", &plugin_yaml("p", "", None, &print_cm("p")));
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("refused");
    assert!(
        matches!(&err, PluginError::Source { source: RenderError::SymlinkEscapes { link, .. } } if link == "app/token"),
        "{err:?}"
    );
}
