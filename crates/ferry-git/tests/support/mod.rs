//! Test fixtures: real repositories made with the git CLI, served by `git daemon` (git://)
//! on a free loopback port, and a cache per test.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_git::{CommitId, GitCache, GitConfig};

/// Runs git for fixture work (not the code under test) with a clean, fixed identity.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Ferry Test")
        .env("GIT_AUTHOR_EMAIL", "test@ferry.dev")
        .env("GIT_COMMITTER_NAME", "Ferry Test")
        .env("GIT_COMMITTER_EMAIL", "test@ferry.dev")
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

pub fn commit_id(s: &str) -> CommitId {
    CommitId::parse(s).expect("a commit id")
}

/// A served bare repository `served/app.git` and a working clone to make commits in.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = Fixture { dir };
        std::fs::create_dir_all(f.served()).expect("served dir");
        git(
            &f.served(),
            &["init", "--quiet", "--bare", "-b", "main", "app.git"],
        );
        std::fs::create_dir_all(f.work()).expect("work dir");
        git(&f.work(), &["init", "--quiet", "-b", "main"]);
        f
    }

    pub fn served(&self) -> PathBuf {
        self.dir.path().join("served")
    }

    pub fn work(&self) -> PathBuf {
        self.dir.path().join("work")
    }

    pub fn cache_root(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    pub fn cache(&self) -> GitCache {
        self.cache_with(|_| {})
    }

    pub fn cache_with(&self, tweak: impl FnOnce(&mut GitConfig)) -> GitCache {
        let mut config = GitConfig::new(self.cache_root());
        config.command_timeout = Duration::from_secs(20);
        tweak(&mut config);
        GitCache::new(config).expect("cache")
    }

    /// Writes `files` (path, contents) in the working clone, commits, returns the commit.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, contents) in files {
            let path = self.work().join(path);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(path, contents).expect("write file");
        }
        git(&self.work(), &["add", "-A"]);
        git(&self.work(), &["commit", "--quiet", "-m", message]);
        git(&self.work(), &["rev-parse", "HEAD"])
    }

    /// Pushes refs from the working clone straight into the served repository.
    pub fn push(&self, refspecs: &[&str]) {
        let target = self.served().join("app.git");
        let target = target.to_string_lossy().into_owned();
        let mut args = vec!["push", "--quiet", "--force", target.as_str()];
        args.extend_from_slice(refspecs);
        git(&self.work(), &args);
    }
}

/// `git daemon` serving `base` on a free loopback port; killed on drop.
pub struct Daemon {
    child: Option<Child>,
    pub port: u16,
}

impl Daemon {
    pub fn start(base: &Path) -> Self {
        let port = free_port();
        // `git daemon` would run `git-daemon` as a child that outlives a killed `git`
        let exec_path = git(base, &["--exec-path"]);
        let child = Command::new(Path::new(&exec_path).join("git-daemon"))
            .args([
                "--export-all",
                &format!("--base-path={}", base.display()),
                &format!("--port={port}"),
                "--listen=127.0.0.1",
                "--reuseaddr",
                "--enable=receive-pack",
            ])
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", base)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("git daemon starts");
        let daemon = Daemon {
            child: Some(child),
            port,
        };
        wait_for_port(port);
        daemon
    }

    pub fn url(&self, repo: &str) -> String {
        format!("git://127.0.0.1:{}/{repo}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

fn wait_for_port(port: u16) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "git daemon did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a file of a checkout.
pub fn read(root: &Path, path: &str) -> String {
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}
