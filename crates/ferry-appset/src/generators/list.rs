//! The list generator: fixed parameter sets (`elements`, `elementsYaml`).

use ferry_api::ListGenerator;
use serde_json::Value;

use super::{Ctx, GeneratorError};
use crate::params::Params;

pub(super) fn generate(g: &ListGenerator, ctx: Ctx<'_>) -> Result<Vec<Params>, GeneratorError> {
    let mut elements: Vec<Value> = g.elements.clone();
    if let Some(yaml) = g.elements_yaml.as_deref().filter(|y| !y.trim().is_empty()) {
        let parsed: Value = serde_saphyr::from_str(yaml)
            .map_err(|e| GeneratorError::Invalid(format!("elementsYaml is not YAML: {e}")))?;
        match parsed {
            Value::Array(items) => elements.extend(items),
            Value::Null => {}
            _ => {
                return Err(GeneratorError::Invalid(
                    "elementsYaml must be a list of objects".into(),
                ));
            }
        }
    }
    elements
        .into_iter()
        .enumerate()
        .map(|(i, element)| {
            let Value::Object(element) = element else {
                return Err(GeneratorError::Invalid(format!(
                    "element {i} is not an object"
                )));
            };
            if ctx.engine.is_go() {
                Ok(element)
            } else {
                flat_element(i, element)
            }
        })
        .collect()
}

/// fasttemplate: every value is a string, except `values`, an object of strings that
/// becomes `values.<k>`.
fn flat_element(i: usize, element: Params) -> Result<Params, GeneratorError> {
    let mut out = Params::new();
    for (key, value) in element {
        match value {
            Value::String(_) => {
                out.insert(key, value);
            }
            Value::Object(values) if key == "values" => {
                for (k, v) in values {
                    if !v.is_string() {
                        return Err(GeneratorError::Invalid(format!(
                            "element {i}: values.{k} must be a string without goTemplate (is {v})"
                        )));
                    }
                    out.insert(format!("values.{k}"), v);
                }
            }
            other => {
                return Err(GeneratorError::Invalid(format!(
                    "element {i}: {key} must be a string without goTemplate (is {other})"
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::generators::fake::Fake;
    use crate::template::Engine;

    fn run(g: ListGenerator, go: bool) -> Result<Vec<Value>, GeneratorError> {
        let fake = Fake::default();
        let engine = Engine::new(go, &[]).map_err(GeneratorError::Invalid)?;
        let ctx = Ctx {
            engine,
            sources: &fake,
        };
        Ok(generate(&g, ctx)?.into_iter().map(Value::Object).collect())
    }

    fn list(elements: Value, yaml: Option<&str>) -> ListGenerator {
        ListGenerator {
            elements: elements.as_array().cloned().unwrap_or_default(),
            elements_yaml: yaml.map(str::to_owned),
            template: None,
        }
    }

    #[test]
    fn table() {
        let cases: Vec<(&str, ListGenerator, bool, Result<Value, &str>)> = vec![
            (
                "strings and values",
                list(json!([{"cluster": "a", "values": {"x": "1"}}]), None),
                false,
                Ok(json!([{"cluster": "a", "values.x": "1"}])),
            ),
            (
                "fasttemplate wants strings",
                list(json!([{"replicas": 3}]), None),
                false,
                Err("element 0: replicas must be a string without goTemplate (is 3)"),
            ),
            (
                "fasttemplate values must be strings",
                list(json!([{"values": {"n": 1}}]), None),
                false,
                Err("element 0: values.n must be a string without goTemplate (is 1)"),
            ),
            (
                "goTemplate keeps nesting",
                list(json!([{"replicas": 3, "nested": {"a": [1]}}]), None),
                true,
                Ok(json!([{"replicas": 3, "nested": {"a": [1]}}])),
            ),
            (
                "elementsYaml appended",
                list(json!([{"a": "1"}]), Some("- a: '2'\n- a: '3'\n")),
                false,
                Ok(json!([{"a": "1"}, {"a": "2"}, {"a": "3"}])),
            ),
            (
                "elementsYaml as JSON",
                list(json!([]), Some(r#"[{"a": {"b": "c"}}]"#)),
                true,
                Ok(json!([{"a": {"b": "c"}}])),
            ),
            (
                "elementsYaml not a list",
                list(json!([]), Some("a: b")),
                true,
                Err("elementsYaml must be a list of objects"),
            ),
            (
                "element not an object",
                list(json!(["x"]), None),
                true,
                Err("element 0 is not an object"),
            ),
        ];
        for (name, g, go, want) in cases {
            let got = run(g, go).map(Value::Array).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_owned), "{name}");
        }
    }
}
