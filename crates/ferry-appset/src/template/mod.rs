//! The two template engines of an ApplicationSet, applied to every string (values and map
//! keys) of a JSON document:
//!
//! - **fasttemplate** (the default): `{{ key }}` is replaced by the string parameter `key` of
//!   a flat parameter map; whitespace inside the tag is ignored; a tag whose key is unknown,
//!   or whose value is not a string, is left exactly as written.
//! - **goTemplate** (`goTemplate: true`): Go `text/template` (through `gtmpl-ng`) over nested
//!   parameters, with the functions of [`funcs`]. A missing key renders `<no value>`, or is
//!   an error with the option `missingkey=error`.

mod funcs;

use serde_json::{Map, Value};

use crate::params::Params;

/// A template that could not be parsed or executed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (template {template:?})")]
pub struct TemplateError {
    /// The template text (shortened when long).
    pub template: String,
    pub message: String,
}

impl TemplateError {
    fn new(template: &str, message: impl Into<String>) -> Self {
        const MAX: usize = 200;
        let template = match template.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}...", &template[..cut]),
            None => template.to_owned(),
        };
        TemplateError {
            template,
            message: message.into(),
        }
    }
}

/// Which engine, with which options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    Fast,
    Go { missing_key_error: bool },
}

impl Engine {
    /// The engine of a set: `goTemplate` and its `goTemplateOptions`.
    pub(crate) fn new(go_template: bool, options: &[String]) -> Result<Engine, String> {
        if !go_template {
            return Ok(Engine::Fast);
        }
        let mut missing_key_error = false;
        for option in options {
            match option.trim() {
                "missingkey=error" => missing_key_error = true,
                // Go's other settings all render a missing key of a map of `any` as `<no value>`.
                "missingkey=default" | "missingkey=invalid" | "missingkey=zero" => {
                    missing_key_error = false
                }
                other => {
                    return Err(format!(
                        "unknown option {other:?} (Ferry knows missingkey=default|invalid|zero|error)"
                    ));
                }
            }
        }
        Ok(Engine::Go { missing_key_error })
    }

    pub(crate) fn is_go(self) -> bool {
        matches!(self, Engine::Go { .. })
    }

    /// The same engine, but a missing key is an error (goTemplate only).
    pub(crate) fn strict(self) -> Engine {
        match self {
            Engine::Fast => Engine::Fast,
            Engine::Go { .. } => Engine::Go {
                missing_key_error: true,
            },
        }
    }

    /// Binds the engine to one parameter set.
    pub(crate) fn with<'p>(self, params: &'p Params) -> Renderer<'p> {
        let data = match self {
            Engine::Fast => Data::Fast(params),
            Engine::Go { missing_key_error } => Data::Go(funcs::to_gtmpl(
                &Value::Object(params.clone()),
                missing_key_error,
            )),
        };
        Renderer { data }
    }
}

enum Data<'p> {
    Fast(&'p Params),
    Go(gtmpl_ng::Value),
}

/// An engine bound to one parameter set.
pub(crate) struct Renderer<'p> {
    data: Data<'p>,
}

impl Renderer<'_> {
    /// Renders one string.
    pub(crate) fn string(&self, text: &str) -> Result<String, TemplateError> {
        if !text.contains("{{") {
            return Ok(text.to_owned());
        }
        match &self.data {
            Data::Fast(params) => Ok(fasttemplate(text, params)),
            Data::Go(data) => funcs::render(text, data),
        }
    }

    /// Renders every string and every map key of a JSON document.
    pub(crate) fn value(&self, value: &Value) -> Result<Value, TemplateError> {
        Ok(match value {
            Value::String(s) => Value::String(self.string(s)?),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|v| self.value(v))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (k, v) in map {
                    out.insert(self.string(k)?, self.value(v)?);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }
}

/// `{{ key }}` substitution over a flat map. Unknown keys, non-string values and an unclosed
/// `{{` are left as written.
fn fasttemplate(text: &str, params: &Params) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start + 2..].find("}}") else {
            break;
        };
        out.push_str(&rest[..start]);
        let tag = &rest[start + 2..start + 2 + len];
        match params.get(tag.trim()) {
            Some(Value::String(v)) if !tag.trim().is_empty() => out.push_str(v.as_str()),
            _ => {
                out.push_str("{{");
                out.push_str(tag);
                out.push_str("}}");
            }
        }
        rest = &rest[start + 2 + len + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(v: Value) -> Params {
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    #[test]
    fn fasttemplate_cases() {
        let p = params(json!({"name": "web", "path.basename": "b", "n": 3, "empty": ""}));
        let cases = [
            ("{{name}}", "web"),
            ("{{ name }}-{{path.basename}}", "web-b"),
            ("x{{ unknown }}y", "x{{ unknown }}y"),
            ("{{n}}", "{{n}}"),
            ("{{}}", "{{}}"),
            ("{{empty}}", ""),
            ("{{name", "{{name"),
            ("{{name}} {{name", "web {{name"),
            ("no tags", "no tags"),
            ("}}{{name}}{{", "}}web{{"),
        ];
        for (template, want) in cases {
            let got = Engine::Fast.with(&p).string(template);
            assert_eq!(got.as_deref(), Ok(want), "{template}");
        }
    }

    #[test]
    fn map_keys_are_templated() {
        let p = params(json!({"env": "prod"}));
        let doc = json!({"labels": {"team-{{env}}": "{{env}}", "n": 1, "list": ["{{env}}", true]}});
        let got = Engine::Fast.with(&p).value(&doc);
        assert_eq!(
            got,
            Ok(json!({"labels": {"team-prod": "prod", "n": 1, "list": ["prod", true]}}))
        );
        let go = Engine::new(true, &[]).expect("engine");
        let doc = json!({"labels": {"team-{{.env}}": "{{ .env | upper }}"}});
        assert_eq!(
            go.with(&p).value(&doc),
            Ok(json!({"labels": {"team-prod": "PROD"}}))
        );
    }

    #[test]
    fn go_template_cases() {
        let p = params(json!({
            "name": "Prod_Cluster", "server": "https://a",
            "metadata": {"labels": {"env": "prod", "x": "X"}},
            "list": ["a", "b"], "n": 3, "flag": true, "obj": {"k": "v"}
        }));
        let go = Engine::new(true, &[]).expect("engine");
        let cases = [
            ("{{.name}}", "Prod_Cluster"),
            ("{{ .metadata.labels.env }}", "prod"),
            (r#"{{ index .metadata.labels "x" }}"#, "X"),
            (r#"{{ index .metadata.labels "nope" }}"#, "<no value>"),
            ("{{ .missing }}", "<no value>"),
            ("{{ .metadata.labels.nope }}", "<no value>"),
            (
                r#"{{ if eq .metadata.labels.env "prod" }}p{{ else }}o{{ end }}"#,
                "p",
            ),
            (r#"{{ .missing | default "dflt" }}"#, "dflt"),
            (r#"{{ default "dflt" .name }}"#, "Prod_Cluster"),
            ("{{ normalize .name }}", "prod-cluster"),
            ("{{ .name | lower }}", "prod_cluster"),
            ("{{ toJson .obj }}", r#"{"k":"v"}"#),
            ("{{ toJson .list }}", r#"["a","b"]"#),
            ("{{ .n }}", "3"),
            ("{{ .flag }}", "true"),
            (r#"{{ join "," .list }}"#, "a,b"),
            (r#"{{ .server | trimPrefix "https://" }}"#, "a"),
            (r#"{{ replace "_" "-" .name }}"#, "Prod-Cluster"),
            ("{{ trunc 4 .name }}", "Prod"),
            (r#"{{ dig "metadata" "labels" "env" "none" . }}"#, "prod"),
            (r#"{{ dig "metadata" "labels" "zzz" "none" . }}"#, "none"),
            ("{{ .name | quote }}", r#""Prod_Cluster""#),
            (r#"{{ ternary "y" "n" .flag }}"#, "y"),
            ("{{ toYaml .obj }}", "k: v"),
            (r#"{{ (fromYaml "a: 1").a }}"#, "1"),
            (
                "{{ range $k, $v := .metadata.labels }}{{ $k }}={{ $v }};{{ end }}",
                "env=prod;x=X;",
            ),
        ];
        for (template, want) in cases {
            let got = go.with(&p).string(template);
            assert_eq!(got.as_deref(), Ok(want), "{template}");
        }
    }

    #[test]
    fn go_missingkey_error() {
        let p = params(json!({"name": "a", "metadata": {"labels": {"x": "X"}}}));
        let strict = Engine::new(true, &["missingkey=error".into()]).expect("engine");
        assert_eq!(strict.with(&p).string("{{.name}}").as_deref(), Ok("a"));
        let err = strict
            .with(&p)
            .string("{{ .nope }}")
            .expect_err("missing key");
        assert!(err.message.contains("nope"), "{err}");
        assert!(strict.with(&p).string("{{ .metadata.labels.y }}").is_err());
        // `index` answers a missing key with no value, as Go's does.
        assert_eq!(
            strict
                .with(&p)
                .string(r#"{{ index .metadata.labels "y" }}"#)
                .as_deref(),
            Ok("<no value>")
        );
        // Maps still behave as maps otherwise.
        let cases = [
            ("{{ len .metadata.labels }}", "1"),
            (
                "{{ range $k, $v := .metadata.labels }}{{ $k }}={{ $v }}{{ end }}",
                "x=X",
            ),
            ("{{ toJson .metadata }}", r#"{"labels":{"x":"X"}}"#),
            (r#"{{ dig "metadata" "labels" "y" "d" . }}"#, "d"),
            ("{{ with .metadata }}{{ .labels.x }}{{ end }}", "X"),
        ];
        for (template, want) in cases {
            assert_eq!(
                strict.with(&p).string(template).as_deref(),
                Ok(want),
                "{template}"
            );
        }
        assert!(Engine::new(true, &["missingkey=bogus".into()]).is_err());
        assert!(Engine::new(false, &["anything".into()]).is_ok());
    }

    #[test]
    fn go_errors_are_template_errors() {
        let go = Engine::new(true, &[]).expect("engine");
        let p = Params::new();
        let err = go.with(&p).string("{{ if }}").expect_err("parse error");
        assert_eq!(err.template, "{{ if }}");
        assert!(go.with(&p).string("{{ nosuchfunc 1 }}").is_err());
    }
}
