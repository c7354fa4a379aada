//! Decoding a YAML node tree to JSON as go-yaml v2 decodes into `interface{}` and
//! `sigs.k8s.io/yaml` converts the result: aliases expanded (counted against go-yaml's
//! "excessive aliasing" ratio and the render's [`AliasBudget`]), `<<` merges applied in
//! go-yaml v2's order, scalars resolved by [`crate::resolve`], and duplicate keys refused.

use std::collections::HashMap;
use std::rc::Rc;

use granit_parser::Marker;
use serde_json::{Map, Value};

use crate::resolve::{self, ScalarTag};
use crate::yaml::{AliasBudget, Node, YamlError};

/// go-yaml v2's `excessive aliasing` rule: the share of decoded nodes that may come from
/// alias expansion, from 99% for small documents down to 10% past four million nodes.
fn allowed_alias_ratio(decode_count: u64) -> f64 {
    const LOW: u64 = 400_000;
    const HIGH: u64 = 4_000_000;
    if decode_count <= LOW {
        0.99
    } else if decode_count >= HIGH {
        0.10
    } else {
        0.99 - 0.89 * ((decode_count - LOW) as f64 / (HIGH - LOW) as f64)
    }
}

pub(crate) struct Decoder<'b> {
    decode_count: u64,
    alias_count: u64,
    alias_depth: u32,
    budget: &'b mut AliasBudget,
}

impl<'b> Decoder<'b> {
    pub(crate) fn new(budget: &'b mut AliasBudget) -> Self {
        Decoder {
            decode_count: 0,
            alias_count: 0,
            alias_depth: 0,
            budget,
        }
    }

    /// Counts one decoded node, failing on excessive aliasing.
    fn count(&mut self, node: &Node<'_>) -> Result<(), YamlError> {
        self.decode_count += 1;
        if self.alias_depth == 0 {
            return Ok(());
        }
        self.alias_count += 1;
        if self.budget.remaining == 0 {
            return Err(YamlError::at(
                node.mark(),
                format!(
                    "document contains excessive aliasing: alias expansion exceeds the limit of {} nodes",
                    self.budget.limit
                ),
            ));
        }
        self.budget.remaining -= 1;
        if self.alias_count > 100
            && self.decode_count > 1000
            && self.alias_count as f64 / self.decode_count as f64
                > allowed_alias_ratio(self.decode_count)
        {
            return Err(YamlError::at(
                node.mark(),
                format!(
                    "document contains excessive aliasing: {} of {} nodes come from aliases",
                    self.alias_count, self.decode_count
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn value(&mut self, node: &Node<'_>) -> Result<Value, YamlError> {
        self.count(node)?;
        match node {
            Node::Scalar {
                value,
                plain,
                tag,
                mark,
            } => {
                let resolved =
                    resolve::resolve(value, *plain, *tag).map_err(|m| YamlError::at(*mark, m))?;
                resolve::to_json(resolved, value).map_err(|m| YamlError::at(*mark, m))
            }
            Node::Sequence { items, .. } => items
                .iter()
                .map(|item| self.value(item))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Node::Mapping { pairs, .. } => {
                let mut map = Map::new();
                self.mapping_into(pairs, &mut map)?;
                Ok(Value::Object(map))
            }
            Node::Alias { target, .. } => {
                self.alias_depth += 1;
                let value = self.value(target);
                self.alias_depth -= 1;
                value
            }
        }
    }

    /// Decodes a mapping's pairs into `out`, in order, as go-yaml v2's `mapping` does.
    fn mapping_into(
        &mut self,
        pairs: &[(Rc<Node<'_>>, Rc<Node<'_>>)],
        out: &mut Map<String, Value>,
    ) -> Result<(), YamlError> {
        let mut explicit: HashMap<String, Marker> = HashMap::new();
        for (key, value) in pairs {
            if is_merge_key(key) {
                self.merge(value, out)?;
                continue;
            }
            let name = self.key(key)?;
            let decoded = self.value(value)?;
            if let Some(first) = explicit.get(&name) {
                return Err(YamlError::at(
                    key.mark(),
                    format!(
                        "duplicate key {name:?} in a mapping (first defined at line {}, column {})",
                        first.line(),
                        first.col() + 1
                    ),
                ));
            }
            explicit.insert(name.clone(), key.mark());
            out.insert(name, decoded);
        }
        Ok(())
    }

    /// A map key: a scalar (possibly through an alias), stringified as `sigs.k8s.io/yaml` does.
    fn key(&mut self, node: &Node<'_>) -> Result<String, YamlError> {
        self.count(node)?;
        match node {
            Node::Scalar {
                value,
                plain,
                tag,
                mark,
            } => {
                let resolved =
                    resolve::resolve(value, *plain, *tag).map_err(|m| YamlError::at(*mark, m))?;
                resolve::key_string(resolved).map_err(|m| YamlError::at(*mark, m))
            }
            Node::Alias { target, .. } => {
                self.alias_depth += 1;
                let key = self.key(target);
                self.alias_depth -= 1;
                key
            }
            Node::Sequence { mark, .. } | Node::Mapping { mark, .. } => Err(YamlError::at(
                *mark,
                format!("invalid map key: {} cannot be a key", node.describe()),
            )),
        }
    }

    /// go-yaml v2's `merge`: a mapping, an alias to one, or a sequence of those (the earlier
    /// entries win, so they are applied last).
    fn merge(&mut self, node: &Node<'_>, out: &mut Map<String, Value>) -> Result<(), YamlError> {
        let want_map = || {
            YamlError::at(
                node.mark(),
                "map merge requires map or sequence of maps as the value",
            )
        };
        match node {
            Node::Mapping { .. } | Node::Alias { .. } => self.merge_one(node, out, want_map),
            Node::Sequence { items, .. } => {
                for item in items.iter().rev() {
                    self.merge_one(item, out, want_map)?;
                }
                Ok(())
            }
            Node::Scalar { .. } => Err(want_map()),
        }
    }

    fn merge_one(
        &mut self,
        node: &Node<'_>,
        out: &mut Map<String, Value>,
        want_map: impl Fn() -> YamlError,
    ) -> Result<(), YamlError> {
        match node {
            Node::Mapping { pairs, .. } => {
                self.count(node)?;
                self.mapping_into(pairs, out)
            }
            Node::Alias { target, .. } => {
                let Node::Mapping { pairs, .. } = target.as_ref() else {
                    return Err(want_map());
                };
                self.count(node)?;
                self.alias_depth += 1;
                let merged = self
                    .count(target)
                    .and_then(|()| self.mapping_into(pairs, out));
                self.alias_depth -= 1;
                merged
            }
            _ => Err(want_map()),
        }
    }
}

/// go-yaml's `isMerge`: a `<<` key written plain, or tagged `!!merge`.
fn is_merge_key(node: &Node<'_>) -> bool {
    matches!(node, Node::Scalar { value, plain, tag, .. }
        if value == "<<" && ((*plain && *tag == ScalarTag::None) || *tag == ScalarTag::Merge))
}
