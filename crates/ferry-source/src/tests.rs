//! Plugin renders through `Sources`, as the reconcile workers call them, against a local
//! repository (issue 20, item 2): a hung plugin holds neither the caller nor other plugins'
//! slots, and failures back off until a new commit or a refresh.
//!
//! No assertion depends on timing: a hung plugin blocks on a FIFO that the test opens when it
//! wants the plugin to finish, and the backoff is long enough never to end during a test
//! (except where its end is what is awaited).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use ferry_api::{ApplicationSource, PluginSource};
use tokio::sync::mpsc;

use super::{AppContext, PluginRunConfig, PluginRunError, Plugins, SourceError, Sources};

/// Long enough never to pass unless something hangs.
const PATIENCE: Duration = Duration::from_secs(60);

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

struct World {
    dir: tempfile::TempDir,
    url: String,
    sources: Sources,
    woken: mpsc::UnboundedReceiver<String>,
}

impl World {
    /// A repository with `files`, and plugins from `(name, generate script)`.
    fn new(files: &[(&str, &str)], plugins: &[(&str, String)], runs: PluginRunConfig) -> World {
        let dir = tempfile::tempdir().expect("tempdir");
        let work = dir.path().join("repo");
        std::fs::create_dir_all(&work).expect("mkdir");
        git(&work, &["init", "--quiet"]);
        let url = format!("file://{}", work.display());
        let mut config = ferry_git::GitConfig::new(dir.path().join("cache"));
        config.allow_file_urls = true;
        let git_cache = ferry_git::GitCache::new(config).expect("git cache");
        let specs = plugins
            .iter()
            .map(|(name, script)| {
                let yaml = format!(
                    "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: {name}\nspec:\n  generate:\n    command: [sh, -c, {script:?}]\n"
                );
                ferry_render::PluginSpec::from_yaml(&yaml, name).expect("plugin.yaml")
            })
            .collect();
        let mut plugins = Plugins {
            specs,
            scratch: dir.path().join("scratch"),
            runs,
            ..Default::default()
        };
        plugins.limits.timeout = PATIENCE;
        let sources = Sources::new(
            git_cache,
            ferry_render::RenderCache::new(16),
            Duration::ZERO,
        )
        .with_plugins(plugins);
        let (tx, woken) = mpsc::unbounded_channel();
        sources.on_plugin_settled(move |app| {
            let _ = tx.send(app.to_string());
        });
        let world = World {
            dir,
            url,
            sources,
            woken,
        };
        world.commit(files);
        world
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn commit(&self, files: &[(&str, &str)]) {
        let work = self.path("repo");
        for (path, content) in files {
            let full = work.join(path);
            std::fs::create_dir_all(full.parent().expect("in a directory")).expect("mkdir");
            std::fs::write(full, content).expect("write");
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "--quiet", "-m", "change"]);
    }

    async fn render(
        &self,
        app: &str,
        path: &str,
        plugin: Option<&str>,
        refresh: bool,
    ) -> Result<usize, SourceError> {
        let source = ApplicationSource {
            repo_url: self.url.clone(),
            path: path.into(),
            plugin: plugin.map(|name| PluginSource {
                name: name.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let context = AppContext {
            app_name: app.into(),
            ..Default::default()
        };
        let render = self.sources.render(&source, None, refresh, Some(&context));
        let resolved = tokio::time::timeout(PATIENCE, render)
            .await
            .unwrap_or_else(|_| panic!("rendering {app} held its caller"));
        resolved.map(|r| r.rendered.len())
    }

    async fn woken(&mut self) -> String {
        tokio::time::timeout(PATIENCE, self.woken.recv())
            .await
            .expect("an application is woken")
            .expect("the wake channel stays open")
    }
}

fn run_error(result: Result<usize, SourceError>) -> PluginRunError {
    match result {
        Err(SourceError::Plugin { source, .. }) => source,
        other => panic!("expected a plugin render error, got {other:?}"),
    }
}

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

/// Lets the plugin blocked on `fifo` print a ConfigMap and end.
async fn release(fifo: PathBuf) {
    tokio::task::spawn_blocking(move || std::fs::write(fifo, cm("hung")))
        .await
        .expect("joins")
        .expect("write the fifo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_plugin_does_not_delay_other_applications() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let fifo = scratch.path().join("gate");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let runs = PluginRunConfig {
        parallelism: 2,
        per_plugin: 1,
        wait: Duration::from_millis(200),
        ..Default::default()
    };
    let mut w = World::new(
        &[
            ("apps/hung/x.txt", ""),
            ("apps/quick/x.txt", ""),
            ("apps/plain/cm.yaml", &cm("plain")),
        ],
        &[
            ("hang", format!("cat {}", fifo.display())),
            (
                "quick",
                format!("printf '{}'", cm("quick").replace('\n', "\\n")),
            ),
        ],
        runs,
    );

    // Three applications of a plugin that hangs: the first holds the plugin's one slot,
    // the others queue behind it; none of them holds its caller.
    let first = run_error(w.render("hung-1", "apps/hung", Some("hang"), false).await);
    assert!(
        matches!(
            first,
            PluginRunError::Running { .. } | PluginRunError::Queued { .. }
        ),
        "{first}"
    );
    for app in ["hung-2", "hung-3"] {
        let queued = run_error(w.render(app, "apps/hung", Some("hang"), false).await);
        assert!(matches!(queued, PluginRunError::Queued { .. }), "{queued}");
        assert!(queued.to_string().contains("plugin \"hang\""), "{queued}");
    }
    // Asking again starts nothing new.
    let again = run_error(w.render("hung-1", "apps/hung", Some("hang"), false).await);
    assert!(matches!(again, PluginRunError::Running { .. }), "{again}");

    // Meanwhile another plugin's application and a plain directory render at once.
    let quick = w.render("quick", "apps/quick", Some("quick"), false).await;
    assert_eq!(quick.expect("another plugin renders"), 1);
    let plain = w.render("plain", "apps/plain", None, false).await;
    assert_eq!(plain.expect("a directory renders"), 1);

    // When the hung plugin ends, its application is woken and finds its render; the
    // queued ones run one after the other, each waking its application.
    release(fifo.clone()).await;
    assert_eq!(w.woken().await, "hung-1");
    let done = w.render("hung-1", "apps/hung", Some("hang"), false).await;
    assert_eq!(done.expect("rendered"), 1);
    let mut rest = Vec::new();
    for _ in 0..2 {
        release(fifo.clone()).await;
        rest.push(w.woken().await);
    }
    rest.sort();
    assert_eq!(rest, ["hung-2", "hung-3"]);
    for app in ["hung-2", "hung-3"] {
        let done = w.render(app, "apps/hung", Some("hang"), false).await;
        assert_eq!(done.expect("rendered"), 1);
    }
}

fn runs_of(counter: &Path) -> usize {
    std::fs::read_to_string(counter)
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_render_backs_off_and_resets_on_new_commit() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let counter = scratch.path().join("runs");
    let runs = PluginRunConfig {
        backoff_base: Duration::from_secs(3600),
        backoff_max: Duration::from_secs(4 * 3600),
        ..Default::default()
    };
    let script = format!(
        "echo run >> {}; echo 'flaky: broken' >&2; exit 1",
        counter.display()
    );
    let w = World::new(&[("app/x.txt", "1")], &[("flaky", script)], runs);

    // The first failure says what failed and when the next attempt comes.
    let first = run_error(w.render("app", "app", Some("flaky"), false).await);
    let PluginRunError::Failed {
        failures: 1,
        next_attempt: first_next,
        ..
    } = &first
    else {
        panic!("expected a failure, got {first}");
    };
    let message = first.to_string();
    assert!(message.contains("flaky: broken"), "{message}");
    assert!(
        message.contains(&format!("attempt 1 failed; next attempt at {first_next}")),
        "{message}"
    );
    assert_eq!(runs_of(&counter), 1);

    // Until then the failure is the answer, and the plugin does not run.
    let again = run_error(w.render("app", "app", Some("flaky"), false).await);
    assert_eq!(again.to_string(), message);
    assert_eq!(runs_of(&counter), 1);

    // A refresh tries at once; the next wait is longer.
    let refreshed = run_error(w.render("app", "app", Some("flaky"), true).await);
    let PluginRunError::Failed {
        failures: 2,
        next_attempt,
        ..
    } = &refreshed
    else {
        panic!("expected a second failure, got {refreshed}");
    };
    assert!(
        next_attempt > first_next,
        "{next_attempt} after {first_next}"
    );
    assert_eq!(runs_of(&counter), 2);

    // A new commit starts afresh.
    w.commit(&[("app/x.txt", "2")]);
    let fresh = run_error(w.render("app", "app", Some("flaky"), false).await);
    assert!(
        matches!(fresh, PluginRunError::Failed { failures: 1, .. }),
        "{fresh}"
    );
    assert_eq!(runs_of(&counter), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_of_a_backoff_wakes_the_application() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let counter = scratch.path().join("runs");
    let runs = PluginRunConfig {
        backoff_base: Duration::from_millis(50),
        ..Default::default()
    };
    let script = format!("echo run >> {}; exit 1", counter.display());
    let mut w = World::new(&[("app/x.txt", "1")], &[("flaky", script)], runs);
    let first = run_error(w.render("app", "app", Some("flaky"), false).await);
    assert!(matches!(first, PluginRunError::Failed { .. }), "{first}");
    assert_eq!(w.woken().await, "app");
    let second = run_error(w.render("app", "app", Some("flaky"), false).await);
    assert!(
        matches!(second, PluginRunError::Failed { failures: 2, .. }),
        "{second}"
    );
    assert_eq!(runs_of(&counter), 2);
}
