//! Config management plugins run for real: `sh` scripts in `plugin.yaml` files written into
//! temporary directories, rendering checkouts made in temporary directories.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ferry_render::{
    BuildEnv, DirectoryOptions, ExitKind, PluginCommandKind, PluginError, PluginLimits,
    PluginParameter, PluginRequest, PluginSpec, RenderError, RenderKey, Rendered, load_plugins,
    plugin_cache_variant, run_plugin, select_plugin,
};
use serde_json::{Value, json};
use tempfile::TempDir;

// === fixtures ===

struct Fixture {
    repo: TempDir,
    plugins: TempDir,
    scratch: TempDir,
    /// Files plugins may write reports to (an absolute path written into their scripts).
    reports: TempDir,
    limits: PluginLimits,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let repo = tempfile::tempdir().expect("temp dir");
        for (path, content) in files {
            let full = repo.path().join(path);
            fs::create_dir_all(full.parent().expect("files live in a directory")).expect("mkdir");
            fs::write(full, content).expect("write fixture");
        }
        Fixture {
            repo,
            plugins: tempfile::tempdir().expect("temp dir"),
            scratch: tempfile::tempdir().expect("temp dir"),
            reports: tempfile::tempdir().expect("temp dir"),
            limits: PluginLimits::default(),
        }
    }

    /// Writes a plugin configuration file and returns it parsed.
    fn plugin(&self, file: &str, yaml: &str) -> PluginSpec {
        let path = self.plugins.path().join(file);
        fs::create_dir_all(path.parent().expect("in a directory")).expect("mkdir");
        fs::write(&path, yaml).expect("write plugin.yaml");
        PluginSpec::from_yaml(yaml, &path.display().to_string()).expect("valid plugin.yaml")
    }

    fn load(&self) -> Vec<PluginSpec> {
        load_plugins(self.plugins.path()).expect("plugins load")
    }

    fn select(
        &self,
        plugins: &[PluginSpec],
        name: Option<&str>,
        path: &str,
    ) -> Result<String, PluginError> {
        let request = PluginRequest {
            name: name.map(str::to_string),
            ..Default::default()
        };
        select_plugin(
            plugins,
            &request,
            self.repo.path(),
            path,
            &build_env(path),
            &self.limits,
            self.scratch.path(),
        )
        .map(PluginSpec::full_name)
    }

    fn run(
        &self,
        spec: &PluginSpec,
        path: &str,
        request: &PluginRequest,
    ) -> Result<Rendered, PluginError> {
        let result = run_plugin(
            spec,
            self.repo.path(),
            path,
            request,
            &build_env(path),
            &self.limits,
            self.scratch.path(),
        );
        assert!(
            self.scratch_is_empty(),
            "the scratch directory was not removed"
        );
        result
    }

    fn scratch_is_empty(&self) -> bool {
        fs::read_dir(self.scratch.path())
            .expect("read scratch")
            .next()
            .is_none()
    }

    fn report(&self, name: &str) -> PathBuf {
        self.reports.path().join(name)
    }
}

fn build_env(path: &str) -> BuildEnv {
    BuildEnv {
        app_name: "guestbook".into(),
        app_namespace: "web".into(),
        project: "default".into(),
        revision: "0123456789abcdef0123456789abcdef01234567".into(),
        source_path: path.into(),
        repo_url: "https://git.example/repo.git".into(),
        target_revision: "main".into(),
        kube_version: "1.24.17+k3s1".into(),
        kube_api_versions: vec!["v1".into(), "apps/v1".into()],
    }
}

fn indent(script: &str, by: usize) -> String {
    script
        .lines()
        .map(|line| {
            if line.is_empty() {
                "\n".to_string()
            } else {
                format!("{}{line}\n", " ".repeat(by))
            }
        })
        .collect()
}

/// A `ConfigManagementPlugin` whose `init` (optional) and `generate` are `sh -c` scripts;
/// `spec_extra` is YAML under `spec:` (indented two spaces).
fn plugin_yaml(name: &str, spec_extra: &str, init: Option<&str>, generate: &str) -> String {
    let mut out = format!(
        "apiVersion: argoproj.io/v1alpha1\nkind: ConfigManagementPlugin\nmetadata:\n  name: {name}\nspec:\n"
    );
    out.push_str(spec_extra);
    if let Some(init) = init {
        out.push_str("  init:\n    command: [sh, -c]\n    args:\n      - |\n");
        out.push_str(&indent(init, 8));
    }
    out.push_str("  generate:\n    command: [sh, -c]\n    args:\n      - |\n");
    out.push_str(&indent(generate, 8));
    out
}

/// A script printing one ConfigMap named `name`.
fn print_cm(name: &str) -> String {
    format!("cat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\nEOF\n")
}

fn object<'r>(rendered: &'r Rendered, kind: &str) -> &'r Value {
    &rendered
        .objects()
        .iter()
        .find(|o| o.object["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", rendered.objects()))
        .object
}

/// Every file, directory and link below `root` with its content, target or mode.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("below root")
                .display()
                .to_string();
            let meta = fs::symlink_metadata(&path).expect("metadata");
            let mode = meta.permissions().mode();
            let what = if meta.file_type().is_symlink() {
                format!("link -> {}", fs::read_link(&path).expect("link").display())
            } else if meta.is_dir() {
                stack.push(path);
                format!("dir {mode:o}")
            } else {
                format!(
                    "file {mode:o} {}",
                    fs::read_to_string(&path).expect("text file")
                )
            };
            out.insert(rel, what);
        }
    }
    out
}

// === selecting a plugin ===

#[test]
fn a_named_plugin_renders() {
    let fx = Fixture::new(&[("apps/web/README.md", "hello\n")]);
    let spec = fx.plugin(
        "echo.yaml",
        &plugin_yaml(
            "echo",
            "",
            None,
            "cat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: $ARGOCD_APP_NAME-config\n  namespace: $ARGOCD_APP_NAMESPACE\nEOF\n",
        ),
    );
    let plugins = fx.load();
    assert_eq!(
        fx.select(&plugins, Some("echo"), "apps/web")
            .expect("found"),
        "echo"
    );
    let rendered = fx
        .run(&spec, "apps/web", &PluginRequest::default())
        .expect("renders");
    assert_eq!(rendered.len(), 1);
    let object = &rendered.objects()[0];
    assert_eq!(object.file, "echo output");
    assert_eq!(object.document, 1);
    assert_eq!(
        object.object,
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "guestbook-config", "namespace": "web"}})
    );
    assert!(rendered.content_hash().starts_with("sha256:"));
}

#[test]
fn a_versioned_plugin_is_named_name_dash_version() {
    let fx = Fixture::new(&[("app/x.txt", "")]);
    fx.plugin(
        "tmpl.yaml",
        &plugin_yaml("tmpl", "  version: v1.0\n", None, &print_cm("a")),
    );
    fx.plugin(
        "other.yaml",
        &plugin_yaml("other", "", None, &print_cm("b")),
    );
    let plugins = fx.load();
    assert_eq!(
        fx.select(&plugins, Some("tmpl-v1.0"), "app")
            .expect("found"),
        "tmpl-v1.0"
    );
    let err = fx
        .select(&plugins, Some("tmpl"), "app")
        .expect_err("the bare name does not match a versioned plugin");
    assert!(
        matches!(&err, PluginError::NotFound { name, known } if name == "tmpl" && known.contains(&"tmpl-v1.0".to_string())),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("\"tmpl\" is not installed") && message.contains("other, tmpl-v1.0"),
        "{message}"
    );
}

#[test]
fn discovery_by_file_name_glob_and_command() {
    let fx = Fixture::new(&[
        ("apps/chart/Chart.yaml", "name: c\n"),
        ("apps/hf/sub/helmfile.yaml", "releases: []\n"),
        ("apps/js/main.jsonnet", "{}\n"),
        ("apps/plain/x.txt", "\n"),
    ]);
    fx.plugin(
        "a.yaml",
        &plugin_yaml(
            "a-chart",
            "  discover:\n    fileName: \"./Chart.y*ml\"\n",
            None,
            &print_cm("a"),
        ),
    );
    fx.plugin(
        "b/plugin.yaml",
        &plugin_yaml(
            "b-helmfile",
            "  discover:\n    find:\n      glob: \"**/helmfile.yaml\"\n",
            None,
            &print_cm("b"),
        ),
    );
    fx.plugin(
        "c.yml",
        &plugin_yaml(
            "c-jsonnet",
            "  discover:\n    find:\n      command: [sh, -c, \"find . -name '*.jsonnet'\"]\n",
            None,
            &print_cm("c"),
        ),
    );
    fx.plugin("d.yaml", &plugin_yaml("d-named", "", None, &print_cm("d")));
    let plugins = fx.load();
    let names: Vec<String> = plugins.iter().map(PluginSpec::full_name).collect();
    assert_eq!(names, ["a-chart", "b-helmfile", "c-jsonnet", "d-named"]);

    assert_eq!(
        fx.select(&plugins, None, "apps/chart").expect("a"),
        "a-chart"
    );
    assert_eq!(
        fx.select(&plugins, None, "apps/hf").expect("b"),
        "b-helmfile"
    );
    assert_eq!(
        fx.select(&plugins, None, "./apps/js/").expect("c"),
        "c-jsonnet"
    );
    assert_eq!(
        fx.select(&plugins, Some(""), "apps/js").expect("c"),
        "c-jsonnet"
    );
    assert!(fx.scratch_is_empty());

    let err = fx
        .select(&plugins, None, "apps/plain")
        .expect_err("nothing matches");
    let message = err.to_string();
    assert!(matches!(err, PluginError::NoneDiscovered { ref tried, .. } if tried.len() == 4));
    for expected in [
        "no plugin supports source path \"apps/plain\"",
        "a-chart: discover.fileName \"./Chart.y*ml\" matches nothing",
        "b-helmfile: discover.find.glob \"**/helmfile.yaml\" matches nothing",
        "c-jsonnet: discover.find.command printed nothing",
        "d-named: no discover rules, used only when named",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }

    // A named plugin with discovery rules must also match them, as in Argo CD; one without
    // rules is used whenever it is named.
    let err = fx
        .select(&plugins, Some("a-chart"), "apps/js")
        .expect_err("a-chart does not support apps/js");
    assert!(matches!(err, PluginError::NotSupported { .. }), "{err:?}");
    assert_eq!(
        fx.select(&plugins, Some("d-named"), "apps/js")
            .expect("named"),
        "d-named"
    );

    // A source path that is not there is an error, not a failed discovery.
    let err = fx
        .select(&plugins, None, "apps/missing")
        .expect_err("missing");
    assert!(
        matches!(
            err,
            PluginError::Source {
                source: RenderError::NotFound { .. }
            }
        ),
        "{err:?}"
    );
}

#[test]
fn plugin_files_load_in_discovery_order_and_names_are_unique() {
    let fx = Fixture::new(&[]);
    fx.plugin("z.yaml", &plugin_yaml("a", "  version: v2\n", None, "true"));
    fx.plugin("m/plugin.yaml", &plugin_yaml("a", "", None, "true"));
    fx.plugin("b.yml", &plugin_yaml("b", "", None, "true"));
    // A mounted ConfigMap's bookkeeping entries and other files are ignored.
    fx.plugin(
        "..data/plugin.yaml",
        &plugin_yaml("hidden", "", None, "true"),
    );
    fs::write(fx.plugins.path().join("notes.txt"), "not yaml").expect("write");
    let names: Vec<String> = fx.load().iter().map(PluginSpec::full_name).collect();
    // Sorted as Argo CD lists its sidecars' sockets: "a-v2.sock" < "a.sock" < "b.sock".
    assert_eq!(names, ["a-v2", "a", "b"]);

    fx.plugin("again.yaml", &plugin_yaml("b", "", None, "true"));
    let err = load_plugins(fx.plugins.path()).expect_err("duplicate");
    let message = err.to_string();
    assert!(
        message.contains("plugin \"b\" is defined twice")
            && message.contains("again.yaml")
            && message.contains("b.yml"),
        "{message}"
    );
}

// === the environment ===

#[test]
fn plugins_get_argo_cd_variables_and_nothing_else() {
    let fx = Fixture::new(&[("apps/web/x.txt", "")]);
    let report = fx.report("env.txt");
    let script = "env > 'REPORT'\necho \"CWD=$(pwd)\" >> 'REPORT'\n"
        .replace("REPORT", &report.display().to_string())
        + &print_cm("env");
    let spec = fx.plugin("env.yaml", &plugin_yaml("env", "", None, &script));
    let request = PluginRequest {
        name: Some("env".into()),
        env: vec![
            ("X".into(), "hello world".into()),
            (
                "REV".into(),
                "rev-$ARGOCD_APP_REVISION_SHORT-${KUBE_VERSION}".into(),
            ),
            ("PRICE".into(), "5$$".into()),
            ("EMPTY".into(), String::new()),
        ],
        parameters: vec![
            PluginParameter {
                name: "image-tag".into(),
                string: Some("v1.2.3".into()),
                ..Default::default()
            },
            PluginParameter {
                name: "values-files".into(),
                array: Some(vec!["values.yaml".into(), "values-prod.yaml".into()]),
                ..Default::default()
            },
            PluginParameter {
                name: "helm-parameters".into(),
                map: Some(BTreeMap::from([
                    ("image.tag".to_string(), "v9".to_string()),
                    ("replicaCount".to_string(), "3".to_string()),
                ])),
                ..Default::default()
            },
        ],
    };
    fx.run(&spec, "apps/web", &request).expect("renders");
    let text = fs::read_to_string(&report).expect("the plugin wrote its environment");
    let vars: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|line| line.split_once('='))
        .collect();
    let expected = BTreeMap::from([
        ("ARGOCD_APP_NAME", "guestbook"),
        ("ARGOCD_APP_NAMESPACE", "web"),
        ("ARGOCD_APP_PROJECT_NAME", "default"),
        (
            "ARGOCD_APP_REVISION",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("ARGOCD_APP_REVISION_SHORT", "0123456"),
        ("ARGOCD_APP_REVISION_SHORT_8", "01234567"),
        ("ARGOCD_APP_SOURCE_PATH", "apps/web"),
        ("ARGOCD_APP_SOURCE_REPO_URL", "https://git.example/repo.git"),
        ("ARGOCD_APP_SOURCE_TARGET_REVISION", "main"),
        ("KUBE_VERSION", "1.24.17k3s1"),
        ("KUBE_API_VERSIONS", "v1,apps/v1"),
        ("ARGOCD_ENV_X", "hello world"),
        ("ARGOCD_ENV_REV", "rev-0123456-1.24.17k3s1"),
        ("ARGOCD_ENV_PRICE", "5$"),
        ("PARAM_IMAGE_TAG", "v1.2.3"),
        ("PARAM_VALUES_FILES_0", "values.yaml"),
        ("PARAM_VALUES_FILES_1", "values-prod.yaml"),
        ("PARAM_HELM_PARAMETERS_IMAGE_TAG", "v9"),
        ("PARAM_HELM_PARAMETERS_REPLICACOUNT", "3"),
        (
            "ARGOCD_APP_PARAMETERS",
            r#"[{"name":"image-tag","string":"v1.2.3"},{"array":["values.yaml","values-prod.yaml"],"name":"values-files"},{"map":{"image.tag":"v9","replicaCount":"3"},"name":"helm-parameters"}]"#,
        ),
    ]);
    for (name, value) in &expected {
        assert_eq!(vars.get(name), Some(value), "{name} in\n{text}");
    }
    let parsed: Value =
        serde_json::from_str(vars["ARGOCD_APP_PARAMETERS"]).expect("ARGOCD_APP_PARAMETERS is JSON");
    assert_eq!(parsed[2]["map"]["image.tag"], "v9");

    // HOME and TMPDIR are private to this run; the commands run in the copy's source path.
    let scratch = fx.scratch.path().display().to_string();
    assert!(vars["HOME"].starts_with(&scratch), "{}", vars["HOME"]);
    assert!(vars["TMPDIR"].starts_with(&scratch), "{}", vars["TMPDIR"]);
    assert!(vars["CWD"].starts_with(&scratch) && vars["CWD"].ends_with("/repo/apps/web"));
    assert_eq!(
        vars.get("PATH").copied(),
        std::env::var("PATH").ok().as_deref()
    );

    // Nothing else: not the test runner's CARGO_* and friends, not empty values.
    let allowed: BTreeSet<&str> = expected
        .keys()
        .copied()
        .chain([
            "PATH", "HOME", "TMPDIR", "CWD", "PWD", "OLDPWD", "SHLVL", "_",
        ])
        .collect();
    let extra: Vec<&&str> = vars.keys().filter(|k| !allowed.contains(**k)).collect();
    assert!(
        extra.is_empty(),
        "unexpected variables {extra:?} in\n{text}"
    );
    assert!(!vars.contains_key("ARGOCD_ENV_EMPTY"));
}

/// Runs [`secret_probe`] in a child test process whose own environment holds a secret
/// (tests cannot set variables in their own process without `unsafe`).
#[test]
fn the_controllers_environment_does_not_leak() {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args(["--exact", "secret_probe", "--nocapture", "--test-threads=1"])
        .env("FERRY_TEST_SECRET", "hunter2")
        .output()
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("secret_probe ... ok"),
        "the probe did not run: {stdout}"
    );
}

/// Does its work only when started by [`the_controllers_environment_does_not_leak`].
#[test]
fn secret_probe() {
    let Ok(secret) = std::env::var("FERRY_TEST_SECRET") else {
        return;
    };
    let fx = Fixture::new(&[("app/x.txt", "")]);
    let script = "cat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\ndata:\n  secret: \"${FERRY_TEST_SECRET:-absent}\"\n  all: \"$(env | tr '\\n' ' ' | tr -d '\"')\"\nEOF\n";
    let spec = fx.plugin("probe.yaml", &plugin_yaml("probe", "", None, script));
    let rendered = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect("renders");
    let data = &rendered.objects()[0].object["data"];
    assert_eq!(data["secret"], "absent");
    let all = data["all"].as_str().expect("env dump");
    assert!(!all.contains(&secret), "{all}");
    assert!(!all.contains("FERRY_TEST_SECRET"), "{all}");
}

// === running ===

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

// === output ===

#[test]
fn json_output_and_lists_are_read_like_files() {
    let fx = Fixture::new(&[("app/x.txt", "")]);
    let stream = fx.plugin(
        "stream.yaml",
        &plugin_yaml(
            "stream",
            "",
            None,
            "echo '{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}'\necho '{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"b\"}}, {\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"c\"}}]}'\n",
        ),
    );
    let rendered = fx
        .run(&stream, "app", &PluginRequest::default())
        .expect("renders");
    let got: Vec<(usize, Option<usize>, String)> = rendered
        .objects()
        .iter()
        .map(|o| {
            (
                o.document,
                o.item,
                o.object["kind"].as_str().unwrap_or("?").to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, None, "ConfigMap".to_string()),
            (2, Some(0), "Secret".to_string()),
            (2, Some(1), "Service".to_string())
        ]
    );

    let array = fx.plugin(
        "array.yaml",
        &plugin_yaml(
            "array",
            "",
            None,
            "echo '[{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}, {\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"b\"}}]'\n",
        ),
    );
    assert_eq!(
        fx.run(&array, "app", &PluginRequest::default())
            .expect("renders")
            .len(),
        2
    );

    let invalid = fx.plugin(
        "invalid.yaml",
        &plugin_yaml(
            "invalid",
            "",
            None,
            "cat <<EOF\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\n---\napiVersion: v1\nmetadata:\n  name: no-kind\nEOF\n",
        ),
    );
    let err = fx
        .run(&invalid, "app", &PluginRequest::default())
        .expect_err("invalid");
    assert_eq!(
        err.to_string(),
        "plugin \"invalid\" generated invalid manifests: invalid output: document 2: object has no kind (apiVersion, kind and metadata.name are required)"
    );

    let empty = fx.plugin("empty.yaml", &plugin_yaml("empty", "", None, "true\n"));
    assert!(
        fx.run(&empty, "app", &PluginRequest::default())
            .expect("empty output renders nothing")
            .is_empty()
    );
}

// === a helmfile-like plugin ===

const HELMFILE_PLUGIN: &str = r#"apiVersion: argoproj.io/v1alpha1
kind: ConfigManagementPlugin
metadata:
  name: helmfile
spec:
  version: v1
  discover:
    fileName: "./helmfile.yaml"
  init:
    command: [sh, -c]
    args: ["test -f helmfile.yaml"]
  generate:
    command: [sh, -c]
    args:
      - |
        set -eu
        # helmfile --environment "$ARGOCD_ENV_ENVIRONMENT" template
        env="${ARGOCD_ENV_ENVIRONMENT:?set ENVIRONMENT in spec.source.plugin.env}"
        values="../../envs/$env/values.yaml"
        if [ ! -f "$values" ]; then
          echo "environment \"$env\" is not defined: $values is missing" >&2
          exit 1
        fi
        replicas=$(sed -n 's/^replicas: *//p' "$values")
        tag=$(sed -n 's/^imageTag: *//p' "$values")
        cat <<EOF
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: $ARGOCD_APP_NAME
          labels:
            environment: $env
        spec:
          replicas: $replicas
          selector:
            matchLabels:
              app: $ARGOCD_APP_NAME
          template:
            metadata:
              labels:
                app: $ARGOCD_APP_NAME
            spec:
              containers:
                - name: web
                  image: "registry.example/web:$tag"
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: $ARGOCD_APP_NAME
        spec:
          selector:
            app: $ARGOCD_APP_NAME
          ports:
            - port: 80
        EOF
"#;

#[test]
fn a_helmfile_like_plugin_renders_each_environment_from_shared_values() {
    let fx = Fixture::new(&[
        (
            "envs/staging/values.yaml",
            "replicas: 1\nimageTag: 1.5.0-rc.1\n",
        ),
        ("envs/prod/values.yaml", "replicas: 3\nimageTag: 1.4.2\n"),
        (
            "apps/web/helmfile.yaml",
            "environments:\n  staging:\n    values: [../../envs/staging/values.yaml]\n  prod:\n    values: [../../envs/prod/values.yaml]\n",
        ),
    ]);
    fx.plugin("helmfile/plugin.yaml", HELMFILE_PLUGIN);
    let plugins = fx.load();
    // Found by discovery: the Application names no plugin.
    let selected = fx.select(&plugins, None, "apps/web").expect("discovered");
    assert_eq!(selected, "helmfile-v1");
    let spec = &plugins[0];
    let render = |environment: &str| {
        let request = PluginRequest {
            env: vec![("ENVIRONMENT".into(), environment.into())],
            ..Default::default()
        };
        fx.run(spec, "apps/web", &request)
    };
    let staging = render("staging").expect("staging renders");
    let prod = render("prod").expect("prod renders");
    for rendered in [&staging, &prod] {
        let kinds: Vec<&str> = rendered
            .objects()
            .iter()
            .map(|o| o.object["kind"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(kinds, ["Deployment", "Service"]);
        assert!(
            rendered
                .objects()
                .iter()
                .all(|o| o.file == "helmfile-v1 output")
        );
        assert_eq!(object(rendered, "Service")["metadata"]["name"], "guestbook");
    }
    let (s, p) = (object(&staging, "Deployment"), object(&prod, "Deployment"));
    assert_eq!(s["spec"]["replicas"], 1);
    assert_eq!(p["spec"]["replicas"], 3);
    assert_eq!(
        s["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/web:1.5.0-rc.1"
    );
    assert_eq!(
        p["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example/web:1.4.2"
    );
    assert_eq!(s["metadata"]["labels"]["environment"], "staging");
    assert_eq!(p["metadata"]["labels"]["environment"], "prod");
    assert_ne!(staging.content_hash(), prod.content_hash());
    // The Services are equal: only what the values change differs.
    assert_eq!(object(&staging, "Service"), object(&prod, "Service"));

    let err = render("qa").expect_err("no such environment");
    let message = err.to_string();
    assert!(
        message.contains("plugin \"helmfile-v1\": generate command failed with exit code 1")
            && message.contains("environment \"qa\" is not defined"),
        "{message}"
    );
    let err = render("").expect_err("ENVIRONMENT is required");
    assert!(
        err.to_string()
            .contains("set ENVIRONMENT in spec.source.plugin.env"),
        "{err}"
    );
}

// === caching ===

#[test]
fn cache_variants_tell_plugin_inputs_apart() {
    let fx = Fixture::new(&[]);
    let spec = fx.plugin("v.yaml", &plugin_yaml("v", "", None, "true"));
    let build = build_env("apps/web");
    let request = |env: &str| PluginRequest {
        env: vec![("ENVIRONMENT".into(), env.into())],
        ..Default::default()
    };
    let staging = plugin_cache_variant(&spec, &request("staging"), &build);
    assert_eq!(
        staging,
        plugin_cache_variant(&spec, &request("staging"), &build)
    );
    assert!(staging.starts_with("plugin v sha256:"), "{staging}");
    assert_ne!(
        staging,
        plugin_cache_variant(&spec, &request("prod"), &build)
    );
    let other_cluster = BuildEnv {
        kube_version: "1.30.0".into(),
        ..build.clone()
    };
    assert_ne!(
        staging,
        plugin_cache_variant(&spec, &request("staging"), &other_cluster)
    );
    let changed = fx.plugin("v.yaml", &plugin_yaml("v", "", None, "false"));
    assert_ne!(
        staging,
        plugin_cache_variant(&changed, &request("staging"), &build)
    );
    let key = RenderKey::new("r", "c", "./apps/web", DirectoryOptions::default())
        .with_variant(staging.clone());
    assert_eq!(key.path, "apps/web");
    assert_eq!(key.variant, staging);
}
