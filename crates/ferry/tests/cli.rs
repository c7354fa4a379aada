//! The `ferry` binary end to end: the README's first command (`ferry quickstart`) shows a
//! short screen (golden) whose hints run as printed, `ferry quickstart --aws` delivers to
//! EKS-like clusters of two accounts (or says how to install moto's server), a newcomer's
//! mistakes say what to do next, and `ferry emulator` starts on fixed ports with fixed tokens
//! and takes faults from `ferry emulator fault`.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Running(Child);

/// The tests that start a quickstart or a benchmark take turns: on a machine of two cores,
/// three demos at once made `ferry bench`'s no-op resync see requests of a late reconcile.
static ONE_DEMO_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_demo_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_DEMO_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for Running {
    /// SIGTERM first, so that ferry stops what it started (its git server), then SIGKILL.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.0.try_wait() {
            return;
        }
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

/// The directory of the `ferry` under test first on the `PATH`, as after `cargo install`.
fn path_with_ferry() -> std::ffi::OsString {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_ferry"))
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest))).expect("a PATH")
}

/// A running `ferry quickstart` in a directory: its standard output read line by line, its
/// standard error collected.
struct Quickstart {
    running: Running,
    lines: Vec<String>,
    rx: std::sync::mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Quickstart {
    fn start(dir: &std::path::Path, args: &[&str]) -> Quickstart {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .current_dir(dir)
            .env("PATH", path_with_ferry())
            .env_remove("NO_COLOR")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ferry starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            if let Ok(mut s) = sink.lock() {
                *s = text;
            }
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Quickstart {
            running: Running(child),
            lines: Vec::new(),
            rx,
            stderr,
        }
    }

    /// Reads until a line contains `until` (with `None`: until standard output ends).
    fn read_until(&mut self, until: Option<&str>) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Some(u) = until
                && self.lines.iter().any(|l| l.contains(u))
            {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(l) => self.lines.push(l),
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) if until.is_none() => return,
                Err(_) => panic!(
                    "ferry did not print {until:?}; it printed:\n{}\nand on stderr:\n{}",
                    self.lines.join("\n"),
                    self.stderr()
                ),
            }
        }
    }

    /// SIGTERM (as Ctrl-C), the rest of standard output, and the exit status.
    fn stop(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg(self.running.0.id().to_string())
            .status();
        self.read_until(None);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.running.0.try_wait() {
                // The reader thread has the rest of standard error once the pipe closes.
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(Instant::now() < deadline, "ferry quickstart did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The lines of the "Try" block that are commands (the notes in parentheses are not).
    fn hints(&self) -> Vec<String> {
        self.lines
            .iter()
            .skip_while(|l| !l.starts_with("Try, in another terminal"))
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .map(|l| l.trim().to_owned())
            .filter(|l| !l.starts_with('('))
            .collect()
    }
}

/// One hint run by a shell exactly as printed, in the quickstart's directory and with its
/// `PATH`: the standard output, asserted successful.
fn run_hint(dir: &std::path::Path, hint: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", hint])
        .current_dir(dir)
        .env("PATH", path_with_ferry())
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the hint `{hint}` failed ({}): {stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn kubectl_installed() -> bool {
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found || std::env::var_os("FERRY_SKIP_KUBECTL").is_some(),
        "kubectl is not installed: run ./scripts/test"
    );
    found
}

/// The screen with what differs between runs masked: the directory, ports, revisions and
/// the time it took.
fn masked(lines: &[String], dir: &std::path::Path) -> String {
    let dir = std::fs::canonicalize(dir).expect("canonical dir");
    let dir = dir.to_string_lossy();
    let mut out = String::new();
    for line in lines {
        let line = line.replace(&*dir, "DIR");
        let mut previous = "";
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                let masked = if let Some(at) = w.find("127.0.0.1:") {
                    let (head, tail) = w.split_at(at + "127.0.0.1:".len());
                    let rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
                    match rest.split_once("#token=") {
                        Some((path, _)) => format!("{head}PORT{path}#token=TOKEN"),
                        None => format!("{head}PORT{rest}"),
                    }
                } else if w.len() == 7 && w.chars().all(|c| c.is_ascii_hexdigit()) {
                    "#######".to_owned()
                } else if previous == "after" && w.parse::<f64>().is_ok() {
                    "T".to_owned()
                } else {
                    w.to_owned()
                };
                previous = w;
                masked
            })
            .collect();
        out += &words.join(" ");
        out.push('\n');
    }
    out
}

/// `GET URL+PATH` with the admin token: the answer's body (the status must be 200).
fn ui_get(url: &str, path: &str, token: &str) -> String {
    use std::io::{Read as _, Write as _};
    let authority = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut s = std::net::TcpStream::connect(&authority).expect("the UI's server listens");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read");
    assert!(raw.starts_with("HTTP/1.1 200"), "GET /{path}: {raw}");
    raw
}

/// The words of the line of `text` that starts with `first`.
fn row_of<'a>(text: &'a str, first: &str) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|w| w.first() == Some(&first))
        .unwrap_or_default()
}

/// The README's first run as a newcomer makes it: `ferry quickstart` in an empty directory.
/// The screen is short and calm (golden, with directory, ports, revisions and times masked;
/// nothing on standard error, no colour codes in a pipe, no kubeconfig dump, the
/// controller's logs in the file it names); every hint runs as printed, by a shell (the
/// `ferry` lines with the flags first, as a kubectl user types them; the kubectl line; the
/// Git commit, which reaches both clusters); the last sync's count is what `ferry app get`
/// lists; Ctrl-C ends with one clean message.
#[test]
fn quickstart_screen_is_short_and_its_hints_run_as_printed() {
    let _turn = one_demo_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut qs = Quickstart::start(dir.path(), &["quickstart"]);
    qs.read_until(Some("Ctrl-C stops it all."));
    let text = qs.lines.join("\n");
    assert!(!text.contains('\x1b'), "no colour codes in a pipe:\n{text}");
    assert!(
        !text.contains("certificate-authority-data") && !text.contains("client-key-data"),
        "the kubeconfig is written, not printed:\n{text}"
    );
    let written = std::fs::read_to_string(dir.path().join("ferry-quickstart.kubeconfig"))
        .expect("kubeconfig written");
    assert!(written.contains("certificate-authority-data:"), "{written}");
    assert!(
        text.contains("logs in ferry-quickstart/ferry.log"),
        "the log file is named:\n{text}"
    );
    assert!(
        qs.lines.len() <= 30,
        "the screen fits a terminal ({} lines):\n{text}",
        qs.lines.len()
    );

    // The UI's URL, with its token, answers the fleet: both guestbooks.
    let ui = text
        .split_whitespace()
        .find(|w| w.contains("#token="))
        .unwrap_or_else(|| panic!("the UI's URL is on the screen:\n{text}"))
        .to_owned();
    let (url, token) = ui.split_once("#token=").expect("a token");
    let fleet = ui_get(url, "api/v1/applications", token);
    assert!(
        fleet.contains("\"name\":\"guestbook-prod-blue\"")
            && fleet.contains("\"name\":\"guestbook-prod-green\""),
        "{fleet}"
    );
    assert!(
        ui_get(url, "", token).contains("<html"),
        "the page is served"
    );

    let hints = qs.hints();
    assert!(
        hints
            .iter()
            .filter(|h| h.starts_with("ferry --kubeconfig"))
            .count()
            >= 3
            && hints.iter().any(|h| h.starts_with("kubectl "))
            && hints.iter().any(|h| h.contains("git -c")),
        "{hints:?}"
    );
    let kubectl = kubectl_installed();
    let mut outputs = String::new();
    for hint in hints.iter().filter(|h| !h.contains("git -c")) {
        if hint.starts_with("kubectl") && !kubectl {
            continue;
        }
        outputs += &run_hint(dir.path(), hint);
    }
    assert!(
        outputs.contains("guestbook-prod-blue") && outputs.contains("guestbook-prod-green"),
        "{outputs}"
    );
    // The count of the last sync is the count of what `ferry app get` lists.
    let get = hints
        .iter()
        .find(|h| h.contains(" app get "))
        .expect("an app get hint");
    let shown = run_hint(dir.path(), get);
    let synced: usize = shown
        .split("synced ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a sync count in:\n{shown}"));
    let listed = shown
        .lines()
        .skip_while(|l| !l.starts_with("KIND"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(synced, listed, "{shown}");
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("Namespace ") && l.contains("guestbook")),
        "the namespace CreateNamespace made is listed:\n{shown}"
    );
    if kubectl {
        let deploy = row_of(&outputs, "deployment.apps/guestbook");
        assert!(
            deploy.len() == 5 && deploy[1..4] == ["2/2", "2", "2"] && deploy[4].ends_with('s'),
            "kubectl shows the Deployment's READY UP-TO-DATE AVAILABLE AGE:\n{outputs}"
        );
        let svc = row_of(&outputs, "service/guestbook");
        assert!(
            svc.len() == 6 && svc[1] == "ClusterIP" && svc[3..5] == ["<none>", "80/TCP"],
            "kubectl shows the Service's TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE:\n{outputs}"
        );
    }

    // The edit-and-commit hint reaches both clusters within a poll (5 s).
    let commit = hints
        .iter()
        .find(|h| h.contains("git -c"))
        .expect("a commit hint");
    run_hint(dir.path(), commit);
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(dir.path().join("ferry-quickstart/examples"))
        .output()
        .expect("git runs");
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    let kubeconfig = dir.path().join("ferry-quickstart.kubeconfig");
    let kubeconfig = kubeconfig.to_string_lossy();
    let deadline = Instant::now() + Duration::from_secs(30);
    for app in ["guestbook-prod-blue", "guestbook-prod-green"] {
        loop {
            let v: serde_json::Value = serde_json::from_str(&ferry_ok(&[
                "--kubeconfig",
                &kubeconfig,
                "--context",
                "management",
                "app",
                "get",
                app,
                "-o",
                "json",
            ]))
            .unwrap_or_default();
            let field = |p: &str| v.pointer(p).and_then(|r| r.as_str()).map(str::to_owned);
            if field("/status/sync/revision").as_deref() == Some(head.as_str())
                && field("/status/sync/status").as_deref() == Some("Synced")
            {
                break;
            }
            assert!(Instant::now() < deadline, "{app} did not reach {head}: {v}");
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    // A newcomer's slips against the running demo say what to do next.
    let slip = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["--kubeconfig", &kubeconfig])
            .args(args)
            .output()
            .expect("ferry runs");
        assert!(!out.status.success(), "ferry {args:?} fails");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = slip(&[
        "--context",
        "management",
        "app",
        "get",
        "guestbok-prod-blue",
    ]);
    assert!(
        e.contains("did you mean guestbook-prod-blue?") && e.contains("`ferry app list`"),
        "{e}"
    );
    let e = slip(&["--context", "management", "appset", "get", "guestbok"]);
    assert!(e.contains("did you mean guestbook?"), "{e}");
    let e = slip(&["--context", "prod-blue", "app", "list"]);
    assert!(
        e.contains("is --kubeconfig/--context the management cluster?")
            && e.contains("the context is `management`"),
        "a target cluster is not the management cluster: {e}"
    );

    let status = qs.stop();
    assert!(status.success(), "ferry quickstart ends well: {status}");
    assert_eq!(qs.stderr(), "", "nothing on standard error");
    let log = std::fs::read_to_string(dir.path().join("ferry-quickstart/ferry.log"))
        .expect("the log file");
    assert!(log.contains("Application created"), "{log}");
    assert!(!log.contains("close_notify"), "{log}");

    let golden_path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/quickstart.txt");
    let screen = masked(&qs.lines, dir.path());
    if std::env::var_os("FERRY_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden_path, &screen).expect("golden written");
    }
    let golden = std::fs::read_to_string(&golden_path).unwrap_or_default();
    assert_eq!(
        screen,
        golden,
        "the quickstart's screen changed (FERRY_UPDATE_GOLDEN=1 rewrites {})",
        golden_path.display()
    );
}

/// On a terminal the table is redrawn in place as the applications change, in colour
/// unless `NO_COLOR` is set (a pseudo-terminal from util-linux's `script`).
#[test]
fn quickstart_on_a_terminal_redraws_its_table_and_respects_no_color() {
    let _turn = one_demo_at_a_time();
    let script = Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !script {
        assert!(
            std::env::var_os("FERRY_SKIP_PTY").is_some(),
            "util-linux's `script` is not installed (or set FERRY_SKIP_PTY=1)"
        );
        return;
    }
    for no_color in [false, true] {
        let dir = tempfile::tempdir().expect("tempdir");
        let inner = format!(
            "echo FERRY_PID=$$; exec {} quickstart",
            env!("CARGO_BIN_EXE_ferry")
        );
        let mut command = Command::new("script");
        command
            .args(["-qfec", &format!("sh -c '{inner}'"), "/dev/null"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if no_color {
            command.env("NO_COLOR", "1");
        } else {
            command.env_remove("NO_COLOR");
        }
        let mut child = command.spawn().expect("script starts");
        let mut stdout = child.stdout.take().expect("stdout");
        let _script = Running(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    return;
                }
            }
        });
        let mut seen = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !seen.contains("Ctrl-C stops it all.") {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(bytes) => seen += &String::from_utf8_lossy(&bytes),
                Err(_) => panic!("no Ctrl-C line on the terminal:\n{seen}"),
            }
        }
        let pid = seen
            .split("FERRY_PID=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("the pid")
            .to_owned();
        let _ = Command::new("kill").arg(&pid).status();
        assert!(
            seen.contains("\x1b[2K  guestbook-prod-blue"),
            "the rows are drawn with line clears:\n{seen:?}"
        );
        assert!(
            seen.contains("A\x1b[2K"),
            "the table is redrawn in place:\n{seen:?}"
        );
        let coloured = seen.contains("\x1b[32mSynced\x1b[0m");
        assert_eq!(coloured, !no_color, "NO_COLOR={no_color}:\n{seen:?}");
    }
}

/// With `--verbose` the controller's logs go to standard error (without colour in a pipe),
/// and stopping leaves no warnings behind.
#[test]
fn quickstart_verbose_logs_to_stderr_and_stops_cleanly() {
    let _turn = one_demo_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut qs = Quickstart::start(dir.path(), &["quickstart", "--verbose"]);
    qs.read_until(Some("Ctrl-C stops it all."));
    assert!(
        qs.lines
            .iter()
            .any(|l| l.contains("logs on standard error")),
        "{:?}",
        qs.lines
    );
    let status = qs.stop();
    assert!(status.success(), "{status}");
    let stderr = qs.stderr();
    assert!(stderr.contains(" INFO "), "{stderr}");
    assert!(!stderr.contains('\x1b'), "no colour in a pipe: {stderr}");
    assert!(
        !stderr.contains(" WARN ") && !stderr.contains(" ERROR "),
        "a clean stop:\n{stderr}"
    );
    assert!(
        qs.lines.last().is_some_and(|l| l.starts_with("Stopped: ")),
        "{:?}",
        qs.lines
    );
    assert!(
        !dir.path().join("ferry-quickstart/ferry.log").exists(),
        "no log file with --verbose"
    );
}

/// A newcomer's mistakes each say what to do next: a management flag before a command that
/// has none, a kubeconfig that is not there, a context it does not have, a cluster that does
/// not answer.
#[test]
fn first_run_mistakes_say_what_to_do_next() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fail = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .current_dir(dir.path())
            .env_remove("KUBECONFIG")
            .output()
            .expect("ferry runs");
        assert!(!out.status.success(), "ferry {args:?} fails");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fail(&["--context", "management", "quickstart"]);
    assert!(e.contains("`ferry quickstart` has none"), "{e}");
    let e = fail(&["--kubeconfig", "missing.kubeconfig", "app", "list"]);
    assert!(
        e.contains("missing.kubeconfig") && e.contains("ferry quickstart"),
        "names the file and where one comes from: {e}"
    );
    std::fs::write(
        dir.path().join("k"),
        "apiVersion: v1\nkind: Config\n\
         clusters: [{name: a, cluster: {server: 'https://127.0.0.1:1'}}]\n\
         users: [{name: a, user: {token: t}}]\n\
         contexts: [{name: mgmt, context: {cluster: a, user: a}}]\n\
         current-context: mgmt\n",
    )
    .expect("write");
    let e = fail(&["--kubeconfig", "k", "--context", "managment", "app", "list"]);
    assert!(
        e.contains("managment") && e.contains("mgmt"),
        "names the context and the ones there are: {e}"
    );
    let e = fail(&["--kubeconfig", "k", "app", "list"]);
    assert!(
        e.contains("https://127.0.0.1:1") && e.contains("running"),
        "an unreachable cluster is named, with what to check: {e}"
    );
    let help = ferry_ok(&["--help"]);
    assert!(
        help.contains("ferry quickstart") && help.contains("--kubeconfig"),
        "{help}"
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
    let _turn = one_demo_at_a_time();
    let dir = tempfile::tempdir().expect("tempdir");
    let args = ["--log", "warn", "quickstart", "--aws"];
    let moto = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !moto {
        let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(args)
            .current_dir(dir.path())
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
    let mut qs = Quickstart::start(dir.path(), &args);
    qs.read_until(Some("Ctrl-C stops it all."));
    let text = qs.lines.join("\n");
    for app in ["guestbook-prod-blue", "guestbook-stg-blue"] {
        let row = row_of(&text, app);
        assert!(
            row.get(2..4) == Some(&["Synced", "Healthy"][..]),
            "{app} Synced and Healthy:\n{text}"
        );
    }
    assert!(
        text.contains("account 222222222222") && text.contains("account 333333333333"),
        "{text}"
    );
    // The controller reports a cluster's account once it has reached it: the hints are run
    // again until `ferry cluster list` says so (bounded).
    let hints: Vec<String> = qs
        .hints()
        .into_iter()
        .filter(|h| h.starts_with("ferry "))
        .collect();
    assert!(
        hints.iter().any(|h| h.ends_with(" cluster list")),
        "{hints:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let outputs: String = hints.iter().map(|h| run_hint(dir.path(), h)).collect();
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
    assert!(qs.stop().success());
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
    let _turn = one_demo_at_a_time();
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
