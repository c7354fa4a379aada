//! The environment a plugin's commands receive, built exactly as Argo CD builds it
//! (`reposerver/repository/repository.go`: `newEnv`, `getPluginEnvs`, `getPluginParamEnvs`;
//! `pkg/apis/application/v1alpha1/types.go`: `Env.Envsubst`,
//! `ApplicationSourcePluginParameters.Environ`, `ApplicationSourcePluginParameter.MarshalJSON`;
//! `cmpserver/plugin/plugin.go`: `environ`):
//!
//! 1. the build environment: `ARGOCD_APP_NAME`, `ARGOCD_APP_NAMESPACE`,
//!    `ARGOCD_APP_PROJECT_NAME`, `ARGOCD_APP_REVISION`, `ARGOCD_APP_REVISION_SHORT` (7
//!    characters), `ARGOCD_APP_REVISION_SHORT_8`, `ARGOCD_APP_SOURCE_REPO_URL`,
//!    `ARGOCD_APP_SOURCE_PATH`, `ARGOCD_APP_SOURCE_TARGET_REVISION`, `KUBE_VERSION` (with any
//!    `+` removed) and `KUBE_API_VERSIONS` (comma-separated);
//! 2. each `plugin.env` entry as `ARGOCD_ENV_<name>`, its value with `$VAR`/`${VAR}`
//!    references to the variables of step 1 expanded (Go's `os.Expand`; unknown names expand
//!    to nothing, `$$` is a literal `$`);
//! 3. `ARGOCD_APP_PARAMETERS`: the parameters as Go's `encoding/json` writes them (keys
//!    sorted, `<`, `>`, `&` escaped; `null` when there are none);
//! 4. `PARAM_<NAME>` for a string, `PARAM_<NAME>_<KEY>` per map entry and `PARAM_<NAME>_<i>`
//!    per array item, names uppercased with every character outside `[A-Z0-9_]` replaced by
//!    `_`.
//!
//! Variables whose value is empty are not set at all (the CMP server drops them). Later
//! entries win over earlier ones with the same name, as `os/exec` does.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::PluginSpec;

/// A plugin parameter from an Application's `spec.source.plugin.parameters`, with Argo CD's
/// field names: exactly one of `string`, `array` and `map` is normally set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PluginParameter {
    /// The parameter's name.
    pub name: String,
    /// The value of a string parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub string: Option<String>,
    /// The value of an array parameter (`Some(vec![])` is a set but empty array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array: Option<Vec<String>>,
    /// The value of a map parameter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<BTreeMap<String, String>>,
}

/// What an Application asks of a plugin: `spec.source.plugin`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PluginRequest {
    /// `name`: the plugin to use (`<name>` or `<name>-<version>`); `None` or empty to let
    /// discovery choose.
    pub name: Option<String>,
    /// `env`: name and value pairs, passed as `ARGOCD_ENV_<name>`.
    pub env: Vec<(String, String)>,
    /// `parameters`.
    pub parameters: Vec<PluginParameter>,
}

/// Argo CD's build environment of one render.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BuildEnv {
    /// The Application's name (`ARGOCD_APP_NAME`).
    pub app_name: String,
    /// The destination namespace (`ARGOCD_APP_NAMESPACE`).
    pub app_namespace: String,
    /// The Application's project (`ARGOCD_APP_PROJECT_NAME`).
    pub project: String,
    /// The resolved commit (`ARGOCD_APP_REVISION`, and its 7- and 8-character prefixes).
    pub revision: String,
    /// `spec.source.path` (`ARGOCD_APP_SOURCE_PATH`).
    pub source_path: String,
    /// `spec.source.repoURL` (`ARGOCD_APP_SOURCE_REPO_URL`).
    pub repo_url: String,
    /// `spec.source.targetRevision` (`ARGOCD_APP_SOURCE_TARGET_REVISION`).
    pub target_revision: String,
    /// The destination cluster's version as Argo CD's controller reports it, e.g. `1.24`
    /// (`KUBE_VERSION`); `+` characters are removed, as Argo CD's `text.SemVer` does for
    /// providers that report minor versions like `24+`.
    pub kube_version: String,
    /// The destination cluster's API versions, e.g. `apps/v1` (`KUBE_API_VERSIONS`).
    pub kube_api_versions: Vec<String>,
}

impl BuildEnv {
    /// The variables of step 1, in Argo CD's order, empty values included.
    fn variables(&self) -> Vec<(String, String)> {
        let short = |n: usize| self.revision.chars().take(n).collect::<String>();
        [
            ("ARGOCD_APP_NAME", self.app_name.clone()),
            ("ARGOCD_APP_NAMESPACE", self.app_namespace.clone()),
            ("ARGOCD_APP_PROJECT_NAME", self.project.clone()),
            ("ARGOCD_APP_REVISION", self.revision.clone()),
            ("ARGOCD_APP_REVISION_SHORT", short(7)),
            ("ARGOCD_APP_REVISION_SHORT_8", short(8)),
            ("ARGOCD_APP_SOURCE_REPO_URL", self.repo_url.clone()),
            ("ARGOCD_APP_SOURCE_PATH", self.source_path.clone()),
            (
                "ARGOCD_APP_SOURCE_TARGET_REVISION",
                self.target_revision.clone(),
            ),
            ("KUBE_VERSION", self.kube_version.replace('+', "")),
            ("KUBE_API_VERSIONS", self.kube_api_versions.join(",")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }
}

/// The plugin-specific environment (steps 1 to 4 above), empty values dropped, in order.
pub(crate) fn plugin_env(request: &PluginRequest, build: &BuildEnv) -> Vec<(String, String)> {
    let build_vars = build.variables();
    let lookup: BTreeMap<&str, &str> = build_vars
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut env = build_vars.clone();
    for (name, value) in &request.env {
        let value = expand(value, |var| {
            if var == "$" {
                "$".to_string()
            } else {
                lookup.get(var).map(|v| v.to_string()).unwrap_or_default()
            }
        });
        env.push((format!("ARGOCD_ENV_{name}"), value));
    }
    env.push((
        "ARGOCD_APP_PARAMETERS".to_string(),
        parameters_json(&request.parameters),
    ));
    for param in &request.parameters {
        let base = format!("PARAM_{}", escaped(&param.name));
        if let Some(value) = &param.string {
            env.push((base.clone(), value.clone()));
        }
        if let Some(map) = &param.map {
            for (key, value) in map {
                env.push((format!("{base}_{}", escaped(key)), value.clone()));
            }
        }
        if let Some(array) = &param.array {
            for (i, value) in array.iter().enumerate() {
                env.push((format!("{base}_{i}"), value.clone()));
            }
        }
    }
    env.retain(|(_, value)| !value.is_empty());
    env
}

/// A stable digest of everything that makes one plugin render differ from another at the
/// same repository, commit and path: the plugin (name and configuration file), the
/// Application's plugin env and parameters, and the build environment. Use it as
/// [`RenderKey::with_variant`](crate::RenderKey::with_variant).
pub fn plugin_cache_variant(
    spec: &PluginSpec,
    request: &PluginRequest,
    build: &BuildEnv,
) -> String {
    let mut hasher = Sha256::new();
    let mut field = |s: &str| {
        hasher.update((s.len() as u64).to_le_bytes());
        hasher.update(s.as_bytes());
    };
    field("ferry-plugin-v1");
    field(&spec.full_name());
    field(spec.digest());
    for (name, value) in plugin_env(request, build) {
        field(&name);
        field(&value);
    }
    let digest = hasher.finalize();
    let mut out = format!("plugin {} sha256:", spec.full_name());
    for byte in digest.iter() {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Go's `os.Expand`: `$name` (letters, digits, `_`), `${name}`, and the one-character shell
/// specials (`$$`, `$1`, `$*`, ...); `${}` and an unclosed `${` are dropped; a `$` followed
/// by anything else, or at the end, stays.
pub(crate) fn expand(s: &str, mapping: impl Fn(&str) -> String) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0; // start of text not yet copied
    let mut j = 0;
    while j < bytes.len() {
        if bytes[j] == b'$' && j + 1 < bytes.len() {
            out.push_str(&s[i..j]);
            let (name, width) = shell_name(&s[j + 1..]);
            match name {
                None if width > 0 => {} // bad syntax: eaten
                None => out.push('$'),
                Some(name) => out.push_str(&mapping(name)),
            }
            j += width;
            i = j + 1;
        }
        j += 1;
    }
    out.push_str(&s[i.min(s.len())..]);
    out
}

fn is_shell_special(b: u8) -> bool {
    matches!(
        b,
        b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
    )
}

fn is_alnum(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphanumeric()
}

/// Go's `getShellName`: the name starting `s` and how many bytes it took.
fn shell_name(s: &str) -> (Option<&str>, usize) {
    let b = s.as_bytes();
    if b[0] == b'{' {
        if b.len() > 2 && is_shell_special(b[1]) && b[2] == b'}' {
            return (Some(&s[1..2]), 3);
        }
        for (i, &c) in b.iter().enumerate().skip(1) {
            if c == b'}' {
                if i == 1 {
                    return (None, 2);
                }
                return (Some(&s[1..i]), i + 1);
            }
        }
        return (None, 1);
    }
    if is_shell_special(b[0]) {
        return (Some(&s[0..1]), 1);
    }
    let n = b.iter().take_while(|c| is_alnum(**c)).count();
    if n == 0 {
        (None, 0)
    } else {
        (Some(&s[..n]), n)
    }
}

/// Argo CD's `escaped`: uppercase (one character for one, as Go's `unicode.ToUpper`), then
/// every character outside `[A-Z0-9_]` becomes `_`.
pub(crate) fn escaped(name: &str) -> String {
    name.chars()
        .map(|c| {
            let mut upper = c.to_uppercase();
            let c = match (upper.next(), upper.next()) {
                (Some(u), None) => u,
                _ => c,
            };
            if c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `ARGOCD_APP_PARAMETERS` as Go writes it.
pub(crate) fn parameters_json(parameters: &[PluginParameter]) -> String {
    /// Go marshals each parameter from a `map[string]any`: keys sorted.
    #[derive(Serialize)]
    struct GoParameter<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        array: Option<&'a [String]>,
        #[serde(skip_serializing_if = "Option::is_none")]
        map: Option<&'a BTreeMap<String, String>>,
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        string: Option<&'a str>,
    }
    if parameters.is_empty() {
        // Parameters arrive at the repo server over gRPC, where an empty list is nil.
        return "null".to_string();
    }
    let go: Vec<GoParameter<'_>> = parameters
        .iter()
        .map(|p| GoParameter {
            array: p.array.as_deref(),
            map: p.map.as_ref(),
            name: &p.name,
            string: p.string.as_deref(),
        })
        .collect();
    let json = serde_json::to_string(&go).unwrap_or_else(|_| "null".to_string());
    go_html_escape(&json)
}

/// Go's `encoding/json` escapes `<`, `>`, `&`, U+2028 and U+2029 (they only occur inside
/// strings in JSON text, so replacing them everywhere is exact).
fn go_html_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(name: &str) -> String {
        match name {
            "A" => "x".to_string(),
            "$" => "$".to_string(),
            "ARGOCD_APP_REVISION" => "abc".to_string(),
            _ => String::new(),
        }
    }

    #[test]
    fn expansion_follows_go_os_expand() {
        for (input, want) in [
            ("plain", "plain"),
            ("test-$ARGOCD_APP_REVISION", "test-abc"),
            ("${A}b", "xb"),
            ("$Ab", ""),
            ("$A-b", "x-b"),
            ("$$A", "$A"),
            ("cost: 5$", "cost: 5$"),
            ("$ x", "$ x"),
            ("${}", ""),
            ("a${b", "ab"),
            ("$1", ""),
            ("${A", "A"),
            ("ü$A€", "üx€"),
            ("$UNKNOWN", ""),
        ] {
            assert_eq!(expand(input, map), want, "{input}");
        }
    }

    #[test]
    fn names_are_escaped_as_argo_does() {
        assert_eq!(escaped("some-map-param"), "SOME_MAP_PARAM");
        assert_eq!(escaped("image.tag"), "IMAGE_TAG");
        assert_eq!(escaped("Ünits_1"), "_NITS_1");
        assert_eq!(escaped("straße"), "STRA_E");
    }

    #[test]
    fn parameters_are_marshalled_as_go_does() {
        assert_eq!(parameters_json(&[]), "null");
        let params = vec![
            PluginParameter {
                name: "values-files".into(),
                array: Some(vec!["values-dev.yaml".into()]),
                ..Default::default()
            },
            PluginParameter {
                name: "helm-parameters".into(),
                map: Some(BTreeMap::from([
                    ("z".to_string(), "1".to_string()),
                    ("image.tag".to_string(), "<v1&2>".to_string()),
                ])),
                ..Default::default()
            },
            PluginParameter {
                name: "s".into(),
                string: Some("v".into()),
                array: Some(Vec::new()),
                ..Default::default()
            },
        ];
        assert_eq!(
            parameters_json(&params),
            r#"[{"array":["values-dev.yaml"],"name":"values-files"},{"map":{"image.tag":"\u003cv1\u00262\u003e","z":"1"},"name":"helm-parameters"},{"array":[],"name":"s","string":"v"}]"#
        );
    }

    #[test]
    fn parameters_deserialize_from_argo_json() {
        let p: PluginParameter =
            serde_json::from_str(r#"{"name": "a", "map": {"k": "v"}}"#).expect("valid");
        assert_eq!(p.map.as_ref().map(|m| m.len()), Some(1));
        assert_eq!(
            serde_json::to_string(&p).expect("serializes"),
            r#"{"name":"a","map":{"k":"v"}}"#
        );
    }

    #[test]
    fn empty_values_are_dropped_and_env_is_prefixed() {
        let build = BuildEnv {
            app_name: "guestbook".into(),
            revision: "0123456789abcdef".into(),
            kube_version: "1.24.17+k3s1".into(),
            kube_api_versions: vec!["v1".into(), "apps/v1".into()],
            ..Default::default()
        };
        let request = PluginRequest {
            env: vec![
                ("FOO".into(), "bar".into()),
                ("REV".into(), "test-$ARGOCD_APP_REVISION_SHORT".into()),
                ("EMPTY".into(), String::new()),
            ],
            ..Default::default()
        };
        let env = plugin_env(&request, &build);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("ARGOCD_APP_NAME"), Some("guestbook"));
        assert_eq!(get("ARGOCD_APP_NAMESPACE"), None);
        assert_eq!(get("ARGOCD_APP_REVISION_SHORT"), Some("0123456"));
        assert_eq!(get("ARGOCD_APP_REVISION_SHORT_8"), Some("01234567"));
        assert_eq!(get("KUBE_VERSION"), Some("1.24.17k3s1"));
        assert_eq!(get("KUBE_API_VERSIONS"), Some("v1,apps/v1"));
        assert_eq!(get("ARGOCD_ENV_FOO"), Some("bar"));
        assert_eq!(get("ARGOCD_ENV_REV"), Some("test-0123456"));
        assert_eq!(get("ARGOCD_ENV_EMPTY"), None);
        assert_eq!(get("ARGOCD_APP_PARAMETERS"), Some("null"));
    }
}
