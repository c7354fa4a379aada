//! A plugin like the helmfile plugin of the design brief.

use ferry_render::PluginRequest;

use crate::support::*;

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
