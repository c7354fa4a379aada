//! A real browser for the end-to-end tests: headless Chromium (Debian's `chromium`), driven
//! over W3C WebDriver by Debian's `chromedriver`. Every step waits on what the page shows (the
//! DOM polled until a deadline), never on a fixed sleep. The web UI's test and the identity
//! providers' tests share it.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::world::free_port;

/// chromedriver and the browsers it started: one process group, killed as one.
pub(crate) struct Driver {
    child: Child,
    port: u16,
    _profiles: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group chromedriver leads (it and every Chromium process it started).
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

fn program(env: &str, default: &str) -> PathBuf {
    let p = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        p.exists(),
        "{} is missing: install Debian's chromium and chromium-driver (scripts/test does), or set {env}",
        p.display()
    );
    p
}

pub(crate) async fn start_driver() -> Driver {
    use std::os::unix::process::CommandExt as _;
    let driver = program("FERRY_CHROMEDRIVER", "/usr/bin/chromedriver");
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let d = Driver {
        child,
        port,
        _profiles: tempfile::tempdir().expect("profiles dir"),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver listens");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d
}

/// One browser window (a WebDriver session with a fresh profile).
pub(crate) struct Browser {
    pub(crate) client: Client,
}

pub(crate) async fn open_browser(driver: &Driver, profile: &str, extra_args: &[&str]) -> Browser {
    let chromium = program("FERRY_CHROMIUM", "/usr/bin/chromium");
    let profile: &Path = &driver._profiles.path().join(profile);
    // The machine's network is closed: without these Chromium reaches for the network (sync,
    // component updates, QUIC) and misbehaves.
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--disable-dev-shm-usage".to_owned(),
        "--window-size=1400,1000".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.extend(extra_args.iter().map(|a| a.to_string()));
    let caps = json!({"goog:chromeOptions": {"binary": chromium, "args": args}});
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session with headless Chromium");
    Browser { client }
}

impl Browser {
    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// `script` (a function body: `return ...`) run in the page.
    pub(crate) async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits until `expr` (a JavaScript expression) is truthy in the page, for at most `secs`;
    /// answers its value. On a timeout, says `what` was expected and what the page showed.
    pub(crate) async fn until(&self, secs: u64, what: &str, expr: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let script = format!("try {{ return ({expr}) || null; }} catch (e) {{ return null; }}");
        loop {
            let v = self.js(&script).await;
            if !v.is_null() {
                return v;
            }
            if Instant::now() >= deadline {
                let page = self
                    .js("return location.href + '\\n' + (document.getElementById('main')?.innerText || '').slice(0, 3000)")
                    .await;
                panic!(
                    "the page did not show {what} within {secs}s\n(waiting for: {expr})\npage: {}",
                    page.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Clicks `css` once it is on the page (for at most 20 s).
    pub(crate) async fn click(&self, css: &str) {
        let query = serde_json::to_string(css).expect("css as JSON");
        self.until(20, css, &format!("document.querySelector({query})"))
            .await;
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"));
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("type");
    }

    pub(crate) async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("selecting {value} in {css}: {e}"));
    }
}
