//! Reading a plugin's output like manifest files.

use ferry_render::PluginRequest;

use crate::support::*;

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
