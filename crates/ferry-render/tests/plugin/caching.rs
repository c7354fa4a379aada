//! Cache keys of plugin renders.

use ferry_render::{BuildEnv, DirectoryOptions, PluginRequest, RenderKey, plugin_cache_variant};

use crate::support::*;

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
