//! Selecting a plugin: by name, by name and version, by discovery.

use std::fs;

use ferry_render::{PluginError, PluginRequest, PluginSpec, RenderError, load_plugins};
use serde_json::json;

use crate::support::*;

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

    // Preselection decides without running a command, or says that one must decide.
    let pre = |name: Option<&str>, path: &str| {
        let request = PluginRequest {
            name: name.map(str::to_string),
            ..Default::default()
        };
        ferry_render::preselect_plugin(
            &plugins,
            &request,
            fx.repo.path(),
            path,
            &build_env(path),
            fx.scratch.path(),
        )
        .map(|found| found.map(PluginSpec::full_name))
    };
    assert_eq!(
        pre(None, "apps/chart").expect("a").as_deref(),
        Some("a-chart")
    );
    assert_eq!(
        pre(None, "apps/hf").expect("b").as_deref(),
        Some("b-helmfile")
    );
    assert_eq!(pre(None, "apps/js").expect("c needs its command"), None);
    assert_eq!(pre(Some("c-jsonnet"), "apps/js").expect("c"), None);
    assert_eq!(
        pre(Some("d-named"), "apps/js").expect("d").as_deref(),
        Some("d-named")
    );
    assert!(matches!(
        pre(Some("a-chart"), "apps/js"),
        Err(PluginError::NotSupported { .. })
    ));
    assert!(fx.scratch_is_empty());

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
