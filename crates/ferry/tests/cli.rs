//! The `ferry` binary end to end: the README's first command (`ferry quickstart`) gives a
//! kubeconfig that kubectl can use, and `ferry emulator` starts on fixed ports with fixed
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
