//! YAML streams to JSON values, the way `sigs.k8s.io/yaml` (go-yaml v2 underneath) turns a
//! manifest into the JSON an API server receives.
//!
//! Two passes per document, as go-yaml does: the parser's events (from `granit-parser`, the
//! event parser under serde-saphyr) become a node tree in which an alias points at its
//! anchored node (this file); then `crate::decode` turns the tree into a `serde_json::Value`,
//! expanding aliases, applying `<<` merge keys (order-dependent, as go-yaml v2: a later key
//! overwrites an earlier one, and in `<<: [a, b]` the earlier map wins) and resolving scalars
//! with `crate::resolve`.
//!
//! Beyond go-yaml, duplicate keys in one mapping are an error (as `YAMLToJSONStrict` and the
//! API server's strict field validation report), and alias expansion has a hard budget shared
//! by the whole render, in addition to go-yaml's "excessive aliasing" ratio, so that a
//! "billion laughs" document fails after about a thousand nodes instead of exhausting memory.
//! The parser itself refuses nesting deeper than 255 levels.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use granit_parser::{Event, Marker, Options, Parser, ScalarStyle, ScanError, Span, StrInput, Tag};
use serde_json::Value;

use crate::decode::Decoder;
use crate::resolve::ScalarTag;

const YAML_ORG_PREFIX: &str = "tag:yaml.org,2002:";

/// A problem at a place in a YAML stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl YamlError {
    pub(crate) fn at(mark: Marker, message: impl Into<String>) -> YamlError {
        YamlError {
            line: mark.line(),
            column: mark.col() + 1,
            message: message.into(),
        }
    }

    fn from_scan(err: &ScanError) -> YamlError {
        YamlError::at(*err.marker(), err.info())
    }
}

/// Why reading a stream stopped: a YAML problem in a document, or the consumer said stop.
#[derive(Debug)]
pub(crate) enum StreamError<E> {
    /// A parse or decode problem in the given document (1-based).
    Yaml { document: usize, error: YamlError },
    /// The document callback returned an error.
    Stopped(E),
}

/// How many nodes alias expansion may still produce in this render.
#[derive(Debug)]
pub(crate) struct AliasBudget {
    pub remaining: u64,
    pub limit: u64,
}

/// Parses every document of `text`, handing each one (1-based number, value) to `on_document`
/// as soon as it is decoded. Empty documents arrive as `Value::Null`.
pub(crate) fn for_each_document<E>(
    text: &str,
    budget: &mut AliasBudget,
    mut on_document: impl FnMut(usize, Value) -> Result<(), E>,
) -> Result<(), StreamError<E>> {
    let mut options = Options::default();
    options.emit_anchor_events = true;
    options.set_emit_comments(false);
    let mut builder = Builder {
        parser: Parser::new_from_str_with_options(text, options),
        anchors: HashMap::new(),
        names: HashMap::new(),
        open: HashSet::new(),
    };
    let mut document = 0;
    let yaml = |document: usize| move |error: YamlError| StreamError::Yaml { document, error };
    loop {
        let (event, span) = match builder.next() {
            Ok(Some(next)) => next,
            Ok(None) => return Ok(()),
            Err(error) => return Err(yaml(document.max(1))(error)),
        };
        match event {
            Event::StreamStart | Event::DocumentEnd => {}
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart(..) => {
                document += 1;
                builder.anchors.clear();
                builder.names.clear();
                let (event, span) = builder
                    .next()
                    .and_then(|next| {
                        next.ok_or_else(|| YamlError::at(span.end, "unexpected end of stream"))
                    })
                    .map_err(yaml(document))?;
                let root = match event {
                    // Some streams emit an empty document as an immediate end.
                    Event::DocumentEnd => None,
                    event => Some(builder.node(event, span).map_err(yaml(document))?),
                };
                let value = match root {
                    None => Value::Null,
                    Some(root) => Decoder::new(budget).value(&root).map_err(yaml(document))?,
                };
                on_document(document, value).map_err(StreamError::Stopped)?;
            }
            _ => {
                return Err(yaml(document.max(1))(YamlError::at(
                    span.start,
                    "unexpected content outside a document",
                )));
            }
        }
    }
}

// === impl Builder ===

/// A YAML node with go-yaml's distinctions: a scalar keeps its text, whether it was plain,
/// and its tag; an alias keeps the node it refers to.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    Scalar {
        value: std::borrow::Cow<'a, str>,
        plain: bool,
        tag: ScalarTag,
        mark: Marker,
    },
    Sequence {
        items: Vec<Rc<Node<'a>>>,
        mark: Marker,
    },
    Mapping {
        pairs: Vec<(Rc<Node<'a>>, Rc<Node<'a>>)>,
        mark: Marker,
    },
    Alias {
        target: Rc<Node<'a>>,
        mark: Marker,
    },
}

impl Node<'_> {
    pub(crate) fn mark(&self) -> Marker {
        match self {
            Node::Scalar { mark, .. }
            | Node::Sequence { mark, .. }
            | Node::Mapping { mark, .. }
            | Node::Alias { mark, .. } => *mark,
        }
    }

    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Node::Scalar { .. } => "a scalar",
            Node::Sequence { .. } => "a sequence",
            Node::Mapping { .. } => "a mapping",
            Node::Alias { target, .. } => target.describe(),
        }
    }
}

struct Builder<'a> {
    parser: Parser<'a, StrInput<'a>>,
    /// Completed anchored nodes of the current document, by the parser's anchor id.
    anchors: HashMap<usize, Rc<Node<'a>>>,
    /// Anchor names, for messages.
    names: HashMap<usize, String>,
    /// Anchors whose node is still being built (an alias to one would contain itself).
    open: HashSet<usize>,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        self.parser
            .next_event()
            .transpose()
            .map_err(|err| YamlError::from_scan(&err))
    }

    fn expect_next(&mut self, after: Span) -> Result<(Event<'a>, Span), YamlError> {
        self.next()?
            .ok_or_else(|| YamlError::at(after.end, "unexpected end of stream"))
    }

    /// Consumes the `Anchor` event that follows an anchored node's first event, and marks the
    /// anchor open until its node is complete.
    fn open_anchor(&mut self, id: usize) -> Result<(), YamlError> {
        if id == 0 {
            return Ok(());
        }
        self.open.insert(id);
        match self.parser.peek() {
            Some(Err(err)) => return Err(YamlError::from_scan(&err)),
            Some(Ok((Event::Anchor(anchor_id, _), _))) if *anchor_id == id => {}
            _ => return Ok(()),
        }
        if let Some(Ok((Event::Anchor(_, name), _))) = self.parser.next_event() {
            self.names.insert(id, name.into_owned());
        }
        Ok(())
    }

    fn name(&self, id: usize) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    fn finish(&mut self, id: usize, node: Node<'a>) -> Rc<Node<'a>> {
        let node = Rc::new(node);
        if id != 0 {
            self.open.remove(&id);
            self.anchors.insert(id, Rc::clone(&node));
        }
        node
    }

    fn node(&mut self, event: Event<'a>, span: Span) -> Result<Rc<Node<'a>>, YamlError> {
        let mark = span.start;
        match event {
            Event::Scalar(value, style, anchor, tag) => {
                self.open_anchor(anchor)?;
                let node = Node::Scalar {
                    value,
                    plain: style == ScalarStyle::Plain,
                    tag: scalar_tag(tag.as_deref()),
                    mark,
                };
                Ok(self.finish(anchor, node))
            }
            Event::SequenceStart(_, anchor, _) => {
                self.open_anchor(anchor)?;
                let mut items = Vec::new();
                loop {
                    let (event, span) = self.expect_next(span)?;
                    if event == Event::SequenceEnd {
                        break;
                    }
                    items.push(self.node(event, span)?);
                }
                Ok(self.finish(anchor, Node::Sequence { items, mark }))
            }
            Event::MappingStart(_, anchor, _) => {
                self.open_anchor(anchor)?;
                let mut pairs = Vec::new();
                loop {
                    let (event, key_span) = self.expect_next(span)?;
                    if event == Event::MappingEnd {
                        break;
                    }
                    let key = self.node(event, key_span)?;
                    let (event, value_span) = self.expect_next(key_span)?;
                    let value = self.node(event, value_span)?;
                    pairs.push((key, value));
                }
                Ok(self.finish(anchor, Node::Mapping { pairs, mark }))
            }
            Event::Alias(id) => {
                if self.open.contains(&id) {
                    return Err(YamlError::at(
                        mark,
                        format!("anchor '{}' value contains itself", self.name(id)),
                    ));
                }
                let target = self.anchors.get(&id).cloned().ok_or_else(|| {
                    YamlError::at(
                        mark,
                        format!("unknown anchor '{}' referenced", self.name(id)),
                    )
                })?;
                Ok(Rc::new(Node::Alias { target, mark }))
            }
            other => Err(YamlError::at(
                mark,
                format!("unexpected YAML event {other:?}"),
            )),
        }
    }
}

fn scalar_tag(tag: Option<&Tag>) -> ScalarTag {
    match tag {
        None => ScalarTag::None,
        Some(tag) => ScalarTag::from_yaml_org(tag.suffix_in_namespace(YAML_ORG_PREFIX).as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn docs(text: &str) -> Result<Vec<Value>, (usize, YamlError)> {
        let mut budget = AliasBudget {
            remaining: 1_000_000,
            limit: 1_000_000,
        };
        let mut out = Vec::new();
        for_each_document(text, &mut budget, |_, v| {
            out.push(v);
            Ok::<(), ()>(())
        })
        .map_err(|e| match e {
            StreamError::Yaml { document, error } => (document, error),
            StreamError::Stopped(()) => unreachable!("the callback never stops"),
        })?;
        Ok(out)
    }

    fn one(text: &str) -> Value {
        let mut all = docs(text).expect("document parses");
        assert_eq!(all.len(), 1, "{all:?}");
        all.remove(0)
    }

    fn err(text: &str) -> YamlError {
        docs(text).expect_err("document is refused").1
    }

    #[test]
    fn documents_scalars_and_keys() {
        assert_eq!(
            docs("a: 1\n---\n---\n# only a comment\n---\nb: [yes, '0644', 0644]\n")
                .expect("parses"),
            vec![
                json!({"a": 1}),
                json!(null),
                json!(null),
                json!({"b": [true, "0644", 420]})
            ]
        );
        assert_eq!(docs("").expect("parses"), Vec::<Value>::new());
        assert_eq!(
            one("on: 1\n1.0: a\n0x10: b\n\"yes\": c\n"),
            json!({"true": 1, "1": "a", "16": "b", "yes": "c"})
        );
        assert_eq!(
            one("a: !!str 123\nb: !!float 1\nc: !foo 12\nd: ! 13\n"),
            json!({"a": "123", "b": 1, "c": "12", "d": "13"})
        );
        assert_eq!(
            one("a: |\n  x\n  y\nb: 1.5\nc: 1e3\n"),
            json!({"a": "x\ny\n", "b": 1.5, "c": 1000})
        );
    }

    #[test]
    fn merge_keys_follow_go_yaml_v2_order() {
        let text =
            "base: &b {a: 1, b: 2}\nother: &o {a: 9, c: 3}\nm:\n  a: 0\n  <<: [*b, *o]\n  b: 5\n";
        assert_eq!(one(text)["m"], json!({"a": 1, "b": 5, "c": 3}));
        // `y` is a YAML 1.1 boolean, also as a key.
        assert_eq!(one("y: 1\nx: 2\n"), json!({"true": 1, "x": 2}));
        assert!(
            err("a: &a 1\nb:\n  <<: *a\n")
                .message
                .contains("map merge requires")
        );
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_places() {
        let e = err("metadata:\n  name: a\n  name: b\n");
        assert_eq!((e.line, e.column), (3, 3));
        assert!(
            e.message.contains("duplicate key \"name\"") && e.message.contains("line 2"),
            "{e:?}"
        );
        // Keys that only collide after stringification collide too.
        assert!(err("1: a\n\"1\": b\n").message.contains("duplicate key"));
    }

    #[test]
    fn aliases_and_their_limits() {
        assert_eq!(
            one("a: &x [1, 2]\nb: *x\n"),
            json!({"a": [1, 2], "b": [1, 2]})
        );
        assert!(err("a: *nope\n").message.to_lowercase().contains("anchor"));
        assert!(err("a: &a\n  b: *a\n").message.contains("contains itself"));
        let mut bomb = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i"])
        {
            bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        assert!(err(&bomb).message.contains("excessive aliasing"));
    }

    #[test]
    fn non_json_values_are_refused() {
        assert!(err("a: .inf\n").message.contains("finite"));
        assert!(err("? [a]\n: b\n").message.contains("invalid map key"));
        assert!(err("~: a\n").message.contains("null map key"));
        assert!(err("a: [1, 2\n").line >= 1);
    }
}
