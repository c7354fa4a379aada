//! The cluster generator: one parameter set per registered cluster whose labels match.

use std::collections::{BTreeMap, BTreeSet};

use ferry_api::{ClusterGenerator, IN_CLUSTER_SERVER, SECRET_TYPE_LABEL};
use serde_json::Value;

use super::{Ctx, GeneratorError, add_values};
use crate::params::Params;
use crate::{ClusterInfo, normalize};

/// Name of the management cluster when no Secret registers it.
const IN_CLUSTER_NAME: &str = "in-cluster";

pub(super) fn generate(g: &ClusterGenerator, ctx: Ctx<'_>) -> Result<Vec<Params>, GeneratorError> {
    let listed = ctx
        .sources
        .clusters()
        .map_err(|cause| GeneratorError::Source {
            what: "listing clusters".into(),
            cause,
        })?;
    let registered: Vec<&ClusterInfo> = listed
        .iter()
        .filter(|c| c.labels.get(SECRET_TYPE_LABEL).map(String::as_str) == Some("cluster"))
        .collect();

    // Duplicate names: the first in input order wins (deterministic, unlike Argo CD).
    let mut seen = BTreeSet::new();
    let mut chosen: Vec<&ClusterInfo> = registered
        .iter()
        .copied()
        .filter(|c| g.selector.matches(&c.labels))
        .filter(|c| seen.insert(c.name.clone()))
        .collect();
    chosen.sort_by(|a, b| a.name.cmp(&b.name));

    let in_cluster = ClusterInfo {
        name: IN_CLUSTER_NAME.into(),
        server: IN_CLUSTER_SERVER.into(),
        ..Default::default()
    };
    let add_in_cluster = g.selector.is_empty()
        && !registered.iter().any(|c| c.server == IN_CLUSTER_SERVER)
        && !seen.contains(IN_CLUSTER_NAME);
    if add_in_cluster {
        chosen.push(&in_cluster);
    }

    let mut sets = Vec::with_capacity(chosen.len());
    for cluster in chosen {
        let mut params = cluster_params(cluster, ctx.engine.is_go());
        add_values(&g.values, &mut params, ctx.engine)?;
        sets.push(params);
    }
    if g.flat_list {
        let all = sets.into_iter().map(Value::Object).collect();
        let mut flat = Params::new();
        flat.insert("clusters".into(), Value::Array(all));
        return Ok(vec![flat]);
    }
    Ok(sets)
}

fn cluster_params(c: &ClusterInfo, go: bool) -> Params {
    let mut p = Params::new();
    let s = |v: &str| Value::String(v.to_owned());
    p.insert("name".into(), s(&c.name));
    p.insert("nameNormalized".into(), s(&normalize(&c.name)));
    p.insert("server".into(), s(&c.server));
    p.insert("project".into(), s(&c.project));
    let as_object = |m: &BTreeMap<String, String>| {
        Value::Object(m.iter().map(|(k, v)| (k.clone(), s(v))).collect())
    };
    if go {
        let mut metadata = Params::new();
        if !c.labels.is_empty() {
            metadata.insert("labels".into(), as_object(&c.labels));
        }
        if !c.annotations.is_empty() {
            metadata.insert("annotations".into(), as_object(&c.annotations));
        }
        if !metadata.is_empty() {
            p.insert("metadata".into(), Value::Object(metadata));
        }
    } else {
        for (k, v) in &c.labels {
            p.insert(format!("metadata.labels.{k}"), s(v));
        }
        for (k, v) in &c.annotations {
            p.insert(format!("metadata.annotations.{k}"), s(v));
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use ferry_api::{LabelSelector, LabelSelectorRequirement, SelectorOperator};
    use serde_json::json;

    use super::*;
    use crate::generators::fake::{Fake, cluster};
    use crate::template::Engine;

    fn names(sets: &[Params]) -> Vec<&str> {
        sets.iter()
            .map(|p| p.get("name").and_then(Value::as_str).unwrap_or("?"))
            .collect()
    }

    fn run(g: &ClusterGenerator, fake: &Fake, go: bool) -> Result<Vec<Params>, GeneratorError> {
        let engine = Engine::new(go, &[]).map_err(GeneratorError::Invalid)?;
        generate(
            g,
            Ctx {
                engine,
                sources: fake,
            },
        )
    }

    fn selector(labels: &[(&str, &str)]) -> LabelSelector {
        LabelSelector {
            match_labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn selection_and_in_cluster() {
        let prod = cluster("prod", "https://prod", &[("env", "prod")]);
        let stg = cluster("stg", "https://stg", &[("env", "stg")]);
        let local = cluster("local", IN_CLUSTER_SERVER, &[]);
        let mut unlabelled = cluster("nolabel", "https://x", &[]);
        unlabelled.labels.clear();
        let expr = LabelSelector {
            match_expressions: vec![LabelSelectorRequirement {
                key: "env".into(),
                operator: SelectorOperator::NotIn,
                values: vec!["prod".into()],
            }],
            ..Default::default()
        };
        let table: Vec<(&str, Vec<crate::ClusterInfo>, LabelSelector, Vec<&str>)> = vec![
            (
                "empty selector adds in-cluster last",
                vec![stg.clone(), prod.clone(), unlabelled.clone()],
                LabelSelector::default(),
                vec!["prod", "stg", "in-cluster"],
            ),
            (
                "a registered in-cluster server replaces the synthetic one",
                vec![stg.clone(), local.clone()],
                LabelSelector::default(),
                vec!["local", "stg"],
            ),
            (
                "any selector excludes the synthetic in-cluster",
                vec![stg.clone(), prod.clone()],
                selector(&[(SECRET_TYPE_LABEL, "cluster")]),
                vec!["prod", "stg"],
            ),
            (
                "match labels",
                vec![stg.clone(), prod.clone()],
                selector(&[("env", "prod")]),
                vec!["prod"],
            ),
            (
                "match expressions",
                vec![stg.clone(), prod.clone(), local.clone()],
                expr,
                vec!["local", "stg"],
            ),
            (
                "no clusters, empty selector",
                vec![],
                LabelSelector::default(),
                vec!["in-cluster"],
            ),
        ];
        for (name, clusters, selector, want) in table {
            let fake = Fake {
                clusters,
                ..Default::default()
            };
            let g = ClusterGenerator {
                selector,
                ..Default::default()
            };
            let got = run(&g, &fake, false).expect(name);
            assert_eq!(names(&got), want, "{name}");
        }
    }

    #[test]
    fn duplicate_names_keep_the_first() {
        let a = cluster("prod", "https://a", &[]);
        let b = cluster("prod", "https://b", &[]);
        let fake = Fake {
            clusters: vec![a, b],
            ..Default::default()
        };
        let got = run(&ClusterGenerator::default(), &fake, false).expect("generates");
        assert_eq!(names(&got), ["prod", "in-cluster"]);
        assert_eq!(got[0]["server"], "https://a");
    }

    #[test]
    fn fast_and_go_params() {
        let mut c = cluster("Prod_EU", "https://prod", &[("env", "prod")]);
        c.project = "team".into();
        c.annotations.insert("owner".into(), "ops".into());
        let fake = Fake {
            clusters: vec![c],
            ..Default::default()
        };
        let g = ClusterGenerator {
            selector: selector(&[("env", "prod")]),
            values: [(
                "target".to_owned(),
                "{{name}}-{{metadata.labels.env}}".to_owned(),
            )]
            .into(),
            ..Default::default()
        };
        let got = run(&g, &fake, false).expect("generates");
        assert_eq!(
            Value::Object(got[0].clone()),
            json!({
                "name": "Prod_EU", "nameNormalized": "prod-eu", "server": "https://prod",
                "project": "team",
                "metadata.labels.argocd.argoproj.io/secret-type": "cluster",
                "metadata.labels.env": "prod",
                "metadata.annotations.owner": "ops",
                "values.target": "Prod_EU-prod",
            })
        );
        let g = ClusterGenerator {
            values: [(
                "target".to_owned(),
                "{{.name}}-{{.metadata.labels.env}}".to_owned(),
            )]
            .into(),
            ..g
        };
        let got = run(&g, &fake, true).expect("generates");
        assert_eq!(got[0]["metadata"]["labels"]["env"], "prod");
        assert_eq!(got[0]["metadata"]["annotations"]["owner"], "ops");
        assert_eq!(got[0]["values"], json!({"target": "Prod_EU-prod"}));
    }

    #[test]
    fn flat_list() {
        let fake = Fake {
            clusters: vec![
                cluster("b", "https://b", &[]),
                cluster("a", "https://a", &[]),
            ],
            ..Default::default()
        };
        let g = ClusterGenerator {
            flat_list: true,
            selector: selector(&[(SECRET_TYPE_LABEL, "cluster")]),
            ..Default::default()
        };
        let got = run(&g, &fake, true).expect("generates");
        assert_eq!(got.len(), 1);
        let clusters = got[0]["clusters"].as_array().cloned().unwrap_or_default();
        let names: Vec<&str> = clusters.iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn listing_errors_name_the_cause() {
        let fake = Fake {
            fail: Some("secrets are forbidden".into()),
            ..Default::default()
        };
        let err = run(&ClusterGenerator::default(), &fake, false).expect_err("fails");
        assert_eq!(err.to_string(), "listing clusters: secrets are forbidden");
    }
}
