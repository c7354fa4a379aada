//! [`SecretResolver`]: the references of one render, resolved as one [`AwsAccess`] with as
//! few calls as AWS allows: one `GetParameters` per 10 distinct parameter names and region,
//! one `GetParametersByPath` walk per distinct path, one `GetSecretValue` per distinct secret,
//! each at most once for the resolver's life (make one per render).

use std::collections::{BTreeMap, HashMap, HashSet};

use ferry_core::Sensitive;
use futures::future::join_all;
use serde_json::Value;

use super::reference::{SecretRef, SecretSource};
use crate::access::AwsAccess;
use crate::error::AwsError;
use crate::{Aws, Parameters};

/// A reference that could not be resolved. It names the reference as written and, through
/// its cause, the parameter or secret and the account; never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("{reference}: {source}")]
    Aws { reference: String, source: AwsError },
    /// The value was found but is not what the reference asks for (not a document, no such
    /// key, not a scalar).
    #[error("{reference}: {reason}")]
    Value { reference: String, reason: String },
}

type SecretKey = (String, String, Option<String>, Option<String>);

/// Resolves references as one access, caching everything it read.
pub struct SecretResolver {
    aws: Aws,
    access: AwsAccess,
    /// (region, name as asked) → value.
    params: HashMap<(String, String), Sensitive<String>>,
    /// (region, name as asked) SSM does not have.
    missing: HashSet<(String, String)>,
    /// (region, path, recursive) → the parameters under it, as vals' tree.
    paths: HashMap<(String, String, bool), Sensitive<Value>>,
    secrets: HashMap<SecretKey, Sensitive<String>>,
    /// Fetches that failed, by what they fetched, shared by every reference that needs it.
    failed: HashMap<Group, AwsError>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Group {
    Parameters(String),
    Path(String, String, bool),
    Secret(SecretKey),
}

impl Aws {
    /// A resolver for the references of one render, read as `access`.
    pub fn resolver(&self, access: AwsAccess) -> SecretResolver {
        SecretResolver {
            aws: self.clone(),
            access,
            params: HashMap::new(),
            missing: HashSet::new(),
            paths: HashMap::new(),
            secrets: HashMap::new(),
            failed: HashMap::new(),
        }
    }
}

impl SecretResolver {
    pub fn access(&self) -> &AwsAccess {
        &self.access
    }

    /// The values of `refs`, in order; the first that fails fails the whole set (a render
    /// with an unresolved reference is not a render).
    pub async fn resolve(
        &mut self,
        refs: &[SecretRef],
    ) -> Result<Vec<Sensitive<String>>, ResolveError> {
        let default_region = self.default_region().await;
        let region_of = |r: &SecretRef| r.region.clone().or_else(|| default_region.clone());
        // A reference with no region at all fails on its own, below.
        self.fetch_parameters(refs, &region_of).await;
        self.fetch_paths(refs, &region_of).await;
        self.fetch_secrets(refs, &region_of).await;
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            out.push(self.value_of(r, region_of(r)).await?);
        }
        Ok(out)
    }

    async fn default_region(&self) -> Option<String> {
        let sdk = self.aws.base_config(&self.access).await;
        self.aws.region_of(&self.access, &sdk, "").ok()
    }

    async fn fetch_parameters(
        &mut self,
        refs: &[SecretRef],
        region_of: &impl Fn(&SecretRef) -> Option<String>,
    ) {
        let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in refs {
            let (SecretSource::SsmParameter { name, version, .. }, Some(region)) =
                (&r.source, region_of(r))
            else {
                continue;
            };
            let asked = asked_name(name, *version);
            let key = (region.clone(), asked.clone());
            let names = wanted.entry(region).or_default();
            if !self.params.contains_key(&key)
                && !self.missing.contains(&key)
                && !names.contains(&asked)
            {
                names.push(asked);
            }
        }
        wanted.retain(|region, names| {
            !names.is_empty() && !self.failed.contains_key(&Group::Parameters(region.clone()))
        });
        let (aws, access) = (&self.aws, &self.access);
        let answers = join_all(wanted.into_iter().map(|(region, names)| async move {
            let answer = aws.get_parameters(access, Some(&region), &names).await;
            (region, answer)
        }))
        .await;
        for (region, answer) in answers {
            match answer {
                Ok(Parameters { values, missing }) => {
                    for (name, value) in values {
                        self.params.insert((region.clone(), name), value);
                    }
                    for name in missing {
                        self.missing.insert((region.clone(), name));
                    }
                }
                Err(e) => {
                    self.failed.insert(Group::Parameters(region), e);
                }
            }
        }
    }

    async fn fetch_paths(
        &mut self,
        refs: &[SecretRef],
        region_of: &impl Fn(&SecretRef) -> Option<String>,
    ) {
        let mut wanted = Vec::new();
        for r in refs {
            if let (SecretSource::SsmPath { path, recursive }, Some(region)) =
                (&r.source, region_of(r))
            {
                let key = (region, path.clone(), *recursive);
                let group = Group::Path(key.0.clone(), key.1.clone(), key.2);
                if !self.paths.contains_key(&key)
                    && !self.failed.contains_key(&group)
                    && !wanted.contains(&key)
                {
                    wanted.push(key);
                }
            }
        }
        let (aws, access) = (&self.aws, &self.access);
        let answers = join_all(wanted.into_iter().map(|key| async move {
            let answer = aws
                .get_parameters_by_path(access, Some(&key.0), &key.1, key.2)
                .await;
            (key, answer)
        }))
        .await;
        for ((region, path, recursive), answer) in answers {
            match answer {
                Ok(values) => {
                    let tree = path_tree(&path, &values);
                    self.paths
                        .insert((region, path, recursive), Sensitive::new(tree));
                }
                Err(e) => {
                    self.failed.insert(Group::Path(region, path, recursive), e);
                }
            }
        }
    }

    async fn fetch_secrets(
        &mut self,
        refs: &[SecretRef],
        region_of: &impl Fn(&SecretRef) -> Option<String>,
    ) {
        let mut wanted: Vec<SecretKey> = Vec::new();
        for r in refs {
            if let (
                SecretSource::Secret {
                    id,
                    version_stage,
                    version_id,
                },
                Some(region),
            ) = (&r.source, region_of(r))
            {
                let key = (
                    region,
                    id.clone(),
                    version_stage.clone(),
                    version_id.clone(),
                );
                if !self.secrets.contains_key(&key)
                    && !self.failed.contains_key(&Group::Secret(key.clone()))
                    && !wanted.contains(&key)
                {
                    wanted.push(key);
                }
            }
        }
        let (aws, access) = (&self.aws, &self.access);
        let answers = join_all(wanted.into_iter().map(|key| async move {
            let answer = aws
                .get_secret_value(
                    access,
                    Some(&key.0),
                    &key.1,
                    key.2.as_deref(),
                    key.3.as_deref(),
                )
                .await;
            (key, answer)
        }))
        .await;
        for (key, answer) in answers {
            match answer {
                Ok(v) => {
                    self.secrets.insert(key, v);
                }
                Err(e) => {
                    self.failed.insert(Group::Secret(key), e);
                }
            }
        }
    }

    async fn value_of(
        &self,
        r: &SecretRef,
        region: Option<String>,
    ) -> Result<Sensitive<String>, ResolveError> {
        let aws_err = |source: AwsError| ResolveError::Aws {
            reference: r.to_string(),
            source,
        };
        let value_err = |reason: String| ResolveError::Value {
            reference: r.to_string(),
            reason,
        };
        let Some(region) = region else {
            return Err(aws_err(AwsError::NoRegion {
                what: "the reference (add ?region=)".to_owned(),
            }));
        };
        match &r.source {
            SecretSource::SsmParameter {
                name,
                version,
                document,
            } => {
                let key = (region.clone(), asked_name(name, *version));
                if let Some(e) = self.failed.get(&Group::Parameters(region.clone())) {
                    return Err(aws_err(e.clone()));
                }
                let Some(value) = self.params.get(&key) else {
                    let account = self.aws.account_of(&self.access, &region).await;
                    return Err(aws_err(AwsError::ParameterNotFound {
                        names: vec![key.1],
                        account,
                        region,
                    }));
                };
                if *document {
                    let doc = parse_document(value.expose()).map_err(|reason| {
                        value_err(format!("the value of parameter {name} {reason}"))
                    })?;
                    dig(&doc, &r.keys).map(Sensitive::new).map_err(value_err)
                } else {
                    Ok(value.clone())
                }
            }
            SecretSource::SsmPath { path, recursive } => {
                let key = (region.clone(), path.clone(), *recursive);
                if let Some(e) = self
                    .failed
                    .get(&Group::Path(key.0.clone(), key.1.clone(), key.2))
                {
                    return Err(aws_err(e.clone()));
                }
                let tree = self.paths.get(&key).map(Sensitive::expose);
                let empty = tree.is_none_or(|t| t.as_object().is_none_or(|m| m.is_empty()));
                if empty {
                    let account = self.aws.account_of(&self.access, &region).await;
                    return Err(aws_err(AwsError::ParameterNotFound {
                        names: vec![format!("{path}/{}", r.keys.join("/"))],
                        account,
                        region,
                    }));
                }
                let tree = tree.unwrap_or(&Value::Null);
                dig(tree, &r.keys).map(Sensitive::new).map_err(|reason| {
                    value_err(format!("among the parameters under {path}: {reason}"))
                })
            }
            SecretSource::Secret {
                id,
                version_stage,
                version_id,
            } => {
                let key = (
                    region,
                    id.clone(),
                    version_stage.clone(),
                    version_id.clone(),
                );
                if let Some(e) = self.failed.get(&Group::Secret(key.clone())) {
                    return Err(aws_err(e.clone()));
                }
                let Some(value) = self.secrets.get(&key) else {
                    return Err(value_err(format!("secret {id} was not read")));
                };
                if r.keys.is_empty() {
                    return Ok(value.clone());
                }
                let doc = parse_document(value.expose())
                    .map_err(|reason| value_err(format!("the value of secret {id} {reason}")))?;
                dig(&doc, &r.keys).map(Sensitive::new).map_err(value_err)
            }
        }
    }
}

fn asked_name(name: &str, version: Option<u64>) -> String {
    match version {
        Some(v) => format!("{name}:{v}"),
        None => name.to_owned(),
    }
}

/// A YAML (or JSON) mapping. The parser's own message is not kept: it may quote the value.
fn parse_document(text: &str) -> Result<Value, String> {
    match serde_saphyr::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("is not a YAML or JSON mapping".to_owned()),
        Err(_) => Err("is not valid YAML or JSON".to_owned()),
    }
}

/// The scalar at `keys` in `doc`, as text.
fn dig(doc: &Value, keys: &[String]) -> Result<String, String> {
    let mut at = doc;
    for (i, k) in keys.iter().enumerate() {
        let shown = || format!("#/{}", keys[..=i].join("/"));
        at = match at {
            Value::Object(m) => m.get(k).ok_or_else(|| format!("no key {}", shown()))?,
            _ => return Err(format!("{} is not inside a mapping", shown())),
        };
    }
    let shown = format!("#/{}", keys.join("/"));
    match at {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err(format!("the value at {shown} is null")),
        Value::Array(_) => Err(format!("the value at {shown} is a list, not a string")),
        Value::Object(_) => Err(format!("the value at {shown} is a mapping, not a string")),
    }
}

/// The parameters under `path` as vals nests them: `/foo/bar/a` under `/foo` is
/// `{"bar": {"a": …}}`; a name that is both a value and a prefix becomes the prefix.
fn path_tree(path: &str, values: &BTreeMap<String, Sensitive<String>>) -> Value {
    let mut root = serde_json::Map::new();
    for (name, value) in values {
        let Some(rest) = name.strip_prefix(path).and_then(|r| r.strip_prefix('/')) else {
            continue;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut node = &mut root;
        for (i, part) in parts.iter().enumerate() {
            if i == parts.len() - 1 {
                if !node.get(*part).is_some_and(Value::is_object) {
                    node.insert((*part).to_owned(), Value::String(value.expose().clone()));
                }
            } else {
                let entry = node
                    .entry((*part).to_owned())
                    .or_insert_with(|| Value::Object(serde_json::Map::new()));
                if !entry.is_object() {
                    *entry = Value::Object(serde_json::Map::new());
                }
                let Value::Object(next) = entry else {
                    break;
                };
                node = next;
            }
        }
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn digging_finds_scalars_and_says_what_is_wrong_without_values() {
        let doc =
            parse_document("db:\n  password: hunter2\n  port: 5432\n  tls: true\n  hosts: [a]\n")
                .unwrap_or_default();
        assert_eq!(
            dig(&doc, &keys(&["db", "password"])).ok().as_deref(),
            Some("hunter2")
        );
        assert_eq!(
            dig(&doc, &keys(&["db", "port"])).ok().as_deref(),
            Some("5432")
        );
        assert_eq!(
            dig(&doc, &keys(&["db", "tls"])).ok().as_deref(),
            Some("true")
        );
        for (k, why) in [
            (&["db", "user"][..], "no key #/db/user"),
            (&["db"][..], "mapping"),
            (&["db", "hosts"][..], "list"),
            (&["db", "password", "x"][..], "not inside a mapping"),
        ] {
            let err = dig(&doc, &keys(k)).err().unwrap_or_default();
            assert!(err.contains(why), "{k:?}: {err}");
            assert!(!err.contains("hunter2"), "{err}");
        }
        let json = parse_document(r#"{"apiKey":"k-123"}"#).unwrap_or_default();
        assert_eq!(
            dig(&json, &keys(&["apiKey"])).ok().as_deref(),
            Some("k-123")
        );
        let bad = parse_document("just: [unclosed hunter2")
            .err()
            .unwrap_or_default();
        assert!(!bad.contains("hunter2"), "{bad}");
        assert!(parse_document("plain text").is_err());
    }

    #[test]
    fn parameters_under_a_path_nest_as_vals_nests_them() {
        let values: BTreeMap<String, Sensitive<String>> = [
            ("/foo/bar", "V"),
            ("/foo/bar/a", "A"),
            ("/foo/bar/b", "B"),
            ("/foo/baz", "Z"),
            ("/other/x", "X"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Sensitive::new(v.to_owned())))
        .collect();
        let tree = path_tree("/foo", &values);
        assert_eq!(dig(&tree, &keys(&["bar", "a"])).ok().as_deref(), Some("A"));
        assert_eq!(dig(&tree, &keys(&["baz"])).ok().as_deref(), Some("Z"));
        assert!(dig(&tree, &keys(&["other"])).is_err());
        let direct = path_tree("/foo/bar", &values);
        assert_eq!(dig(&direct, &keys(&["b"])).ok().as_deref(), Some("B"));
    }
}
