//! The `ferry` binary end to end: the README's first command (`ferry quickstart`) gives a
//! kubeconfig that kubectl can use and hints that work, `ferry quickstart --aws` delivers to
//! EKS-like clusters of two accounts (or says how to install moto's server), and `ferry emulator` starts on fixed ports with fixed
//! tokens and takes faults from `ferry emulator fault`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

impl Drop for Running {
    /// SIGTERM first, so that ferry stops what it started (its git server), then SIGKILL.
    fn drop(&mut self) {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `ferry ARGS` and waits until it prints a line containing `until`.
fn start(args: &[&str], until: &str) -> (Running, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("ferry starts");
    let stdout = child.stdout.take().expect("stdout");
    let running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lines.iter().any(|l: &String| l.contains(until)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(_) => panic!(
                "ferry did not print {until:?}; it printed:\n{}",
                lines.join("\n")
            ),
        }
    }
    (running, lines)
}

fn http(port: u16, method: &str, path: &str, token: &str, body: &str) -> u16 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

#[test]
fn quickstart_prints_a_kubeconfig_kubectl_can_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("quickstart.kubeconfig");
    let path = kubeconfig.to_string_lossy().into_owned();
    let (_ferry, lines) = start(
        &[
            "quickstart",
            "--kubeconfig",
            &path,
            "--dir",
            &dir.path().join("work").to_string_lossy(),
        ],
        "Press Ctrl-C",
    );
    let text = lines.join("\n");
    assert!(
        text.contains("cluster prod-blue ready at https://127.0.0.1:"),
        "{text}"
    );
    let written = std::fs::read_to_string(&kubeconfig).expect("kubeconfig written");
    assert!(written.contains("certificate-authority-data:"), "{written}");
    assert!(
        text.contains("current-context: \"management\""),
        "the kubeconfig is printed too:\n{text}"
    );
    let outputs = run_ferry_hints(&lines).join("\n");
    assert!(outputs.contains("guestbook-prod-green"), "{outputs}");
    let Ok(out) = Command::new("kubectl")
        .args(["--kubeconfig", &path, "--context", "prod-blue", "get", "ns"])
        .output()
    else {
        assert!(
            std::env::var_os("FERRY_SKIP_KUBECTL").is_some(),
            "kubectl is not installed: run ./scripts/test"
        );
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl get ns failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("default") && stdout.contains("kube-system"),
        "{stdout}"
    );
}

/// `ferry ARGS` run to completion: its standard output, asserted successful.
fn ferry_ok(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("ferry runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ferry {args:?}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The `ferry ...` hints the quickstart printed, run as printed (without the `(or: ...)`).
fn run_ferry_hints(lines: &[String]) -> Vec<String> {
    let hints: Vec<Vec<String>> = lines
        .iter()
        .map(|l| l.trim_start_matches("try:").trim())
        .filter(|l| l.starts_with("ferry "))
        .map(|l| {
            l.split("   (or:").next().unwrap_or_default()["ferry ".len()..]
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .collect();
    assert!(
        hints.len() >= 2,
        "the quickstart prints ferry hints: {lines:?}"
    );
    hints
        .iter()
        .map(|h| ferry_ok(&h.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect()
}

#[test]
fn quickstart_aws_is_documented() {
    let help = ferry_ok(&["quickstart", "--help"]);
    assert!(help.contains("--aws"), "{help}");
    assert!(
        help.contains("222222222222") && help.contains("moto[server]"),
        "{help}"
    );
}

#[test]
fn quickstart_aws_delivers_to_two_accounts_or_says_how_to_install_moto() {
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("quickstart.kubeconfig");
    let path = kubeconfig.to_string_lossy().into_owned();
    let work = dir.path().join("work").to_string_lossy().into_owned();
    let args = [
        "--log",
        "warn",
        "quickstart",
        "--aws",
        "--kubeconfig",
        &path,
        "--dir",
        &work,
    ];
    let moto = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !moto {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .output()
            .expect("ferry runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "without moto it fails");
        assert!(
            stderr.contains("python3 -m pip install 'moto[server]>=5,<6'"),
            "{stderr}"
        );
        return;
    }
    let (_ferry, lines) = start(&args, "Press Ctrl-C");
    let text = lines.join("\n");
    assert!(
        lines
            .iter()
            .any(|l| l.contains("guestbook-prod-blue Synced/Healthy")
                && l.contains("guestbook-stg-blue Synced/Healthy")),
        "{text}"
    );
    assert!(
        text.contains("account 222222222222") && text.contains("account 333333333333"),
        "{text}"
    );
    // The controller reports a cluster's account once it has reached it: the hints are run
    // again until `ferry cluster list` says so (bounded).
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let outputs = run_ferry_hints(&lines).join("\n");
        let listed = outputs.lines().any(|l| {
            l.starts_with("stg-blue ") && l.contains("333333333333") && l.contains("true")
        }) && outputs.lines().any(|l| {
            l.starts_with("prod-blue ") && l.contains("222222222222") && l.contains("true")
        });
        if listed && outputs.contains("guestbook-stg-blue") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "ferry cluster list names both accounts, reachable:\n{outputs}"
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

#[test]
fn emulator_runs_on_fixed_ports_with_fixed_tokens_and_takes_faults() {
    let (https, plain, control) = (free_port(), free_port(), free_port());
    let cluster = format!("blue,version=v1.30.2,port={https},http-port={plain}");
    let control_arg = control.to_string();
    let (_ferry, lines) = start(
        &[
            "emulator",
            "--cluster",
            &cluster,
            "--admin-token",
            "s3cret",
            "--user",
            "alice:alice-token:dev",
            "--control-port",
            &control_arg,
        ],
        "fault control endpoint at",
    );
    assert!(
        lines.iter().any(|l| l
            == &format!("cluster blue ready at https://127.0.0.1:{https} (Kubernetes v1.30.2)")),
        "{lines:?}"
    );
    assert_eq!(http(plain, "GET", "/api/v1/namespaces", "s3cret", ""), 200);
    assert_eq!(http(plain, "GET", "/api/v1/namespaces", "wrong", ""), 401);
    assert_eq!(
        http(plain, "GET", "/api/v1/namespaces", "alice-token", ""),
        403,
        "alice has no RBAC grants yet"
    );

    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "emulator",
            "fault",
            "--control",
            &format!("http://127.0.0.1:{control}"),
            "--cluster",
            "blue",
            "--admin-token",
            "s3cret",
            "--fail-next",
            "2",
            "--status",
            "503",
        ])
        .output()
        .expect("fault command runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(http(plain, "GET", "/version", "s3cret", ""), 503);
    assert_eq!(http(plain, "GET", "/version", "s3cret", ""), 503);
    assert_eq!(http(plain, "GET", "/version", "s3cret", ""), 200);

    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "emulator",
            "fault",
            "--control",
            &format!("http://127.0.0.1:{control}"),
            "--cluster",
            "blue",
            "--admin-token",
            "nope",
            "--drop-watches",
        ])
        .output()
        .expect("fault command runs");
    assert!(!out.status.success(), "a wrong admin token is refused");
}

#[test]
fn bench_runs_end_to_end_and_reports_its_figures() {
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "--log",
            "warn",
            "bench",
            "--apps",
            "4",
            "--clusters",
            "2",
            "--skip-kubectl",
            "--json-only",
        ])
        .output()
        .expect("ferry bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value =
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("a JSON line");
    assert_eq!(v["apps"], 4);
    assert_eq!(v["clusters"], 2);
    assert!(v["cold_sync_s"].as_f64().is_some_and(|s| s > 0.0), "{v}");
    // Each application writes at least its Deployment and its Service.
    assert!(
        v["writes_per_app"].as_f64().is_some_and(|w| w >= 2.0),
        "{v}"
    );
    assert_eq!(
        v["noop_resync_requests"], 0,
        "a no-op resync makes no request: {v}"
    );
    assert!(v["cached_objects"].as_u64().is_some_and(|n| n >= 8), "{v}");
    // A registered cluster got one generated application per directory, all synced.
    assert_eq!(v["appset_apps"], 4, "{v}");
    assert!(
        v["appset_synced_s"].as_f64().is_some_and(|s| s > 0.0),
        "{v}"
    );
    assert!(
        v["cold_sync_server_cpu_s"].as_f64().is_some(),
        "the emulator's CPU is read: {v}"
    );
}
