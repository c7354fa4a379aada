//! Fixtures: a checkout and a plugin directory in temporary directories, and helpers.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use ferry_render::{
    BuildEnv, PluginError, PluginLimits, PluginRequest, PluginSpec, Rendered, load_plugins,
    run_plugin, select_plugin,
};
use serde_json::Value;
use tempfile::TempDir;

pub(crate) struct Fixture {
    pub(crate) repo: TempDir,
    pub(crate) plugins: TempDir,
    pub(crate) scratch: TempDir,
    /// Files plugins may write reports to (an absolute path written into their scripts).
    pub(crate) reports: TempDir,
    pub(crate) limits: PluginLimits,
}

impl Fixture {
    pub(crate) fn new(files: &[(&str, &str)]) -> Fixture {
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
    pub(crate) fn plugin(&self, file: &str, yaml: &str) -> PluginSpec {
        let path = self.plugins.path().join(file);
        fs::create_dir_all(path.parent().expect("in a directory")).expect("mkdir");
        fs::write(&path, yaml).expect("write plugin.yaml");
        PluginSpec::from_yaml(yaml, &path.display().to_string()).expect("valid plugin.yaml")
    }

    pub(crate) fn load(&self) -> Vec<PluginSpec> {
        load_plugins(self.plugins.path()).expect("plugins load")
    }

    pub(crate) fn select(
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

    pub(crate) fn run(
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

    pub(crate) fn scratch_is_empty(&self) -> bool {
        fs::read_dir(self.scratch.path())
            .expect("read scratch")
            .next()
            .is_none()
    }

    pub(crate) fn report(&self, name: &str) -> PathBuf {
        self.reports.path().join(name)
    }
}

pub(crate) fn build_env(path: &str) -> BuildEnv {
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

pub(crate) fn indent(script: &str, by: usize) -> String {
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
pub(crate) fn plugin_yaml(
    name: &str,
    spec_extra: &str,
    init: Option<&str>,
    generate: &str,
) -> String {
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
pub(crate) fn print_cm(name: &str) -> String {
    format!("cat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\nEOF\n")
}

pub(crate) fn object<'r>(rendered: &'r Rendered, kind: &str) -> &'r Value {
    &rendered
        .objects()
        .iter()
        .find(|o| o.object["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:?}", rendered.objects()))
        .object
}

/// Every file, directory and link below `root` with its content, target or mode.
pub(crate) fn snapshot(root: &Path) -> BTreeMap<String, String> {
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
