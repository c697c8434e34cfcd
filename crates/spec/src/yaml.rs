//! A YAML tree that keeps the position of every node.
//!
//! Built from `saphyr-parser` events without recursion, so deep or hostile
//! input cannot overflow the stack. Duplicate keys are reported at the second
//! key; aliases are expanded under a node budget (no "billion laughs").

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diag::{Code, Pos, Sink};

/// Nesting deeper than this is refused: no workflow needs it.
const MAX_DEPTH: usize = 64;
/// Nodes allowed in one document, aliases expanded.
const MAX_NODES: usize = 200_000;

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A scalar; `plain` is false for quoted and block scalars, which are always strings.
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in file order; keys are scalars.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar's text when this is a scalar.
    pub fn as_scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// A plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, plain: true } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What a user would call this node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
            Kind::Scalar { .. } if self.is_null() => "nothing (null)",
            Kind::Scalar { .. } => "a scalar",
        }
    }

    /// Converts to JSON with YAML 1.2 core-schema typing of plain scalars.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            Kind::Scalar { value, plain: false } => Value::String(value.clone()),
            Kind::Scalar { value, plain: true } => plain_scalar_json(value),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries.iter().map(|(k, v)| (k.as_scalar().unwrap_or_default().to_string(), v.to_json())).collect(),
            ),
        }
    }
}

/// YAML 1.2 core schema resolution of a plain scalar.
pub fn plain_scalar_json(value: &str) -> serde_json::Value {
    use serde_json::Value;
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        _ => {}
    }
    if let Ok(i) = value.parse::<i64>() {
        return Value::from(i);
    }
    let looks_numeric = value.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
        && value.chars().any(|c| c.is_ascii_digit());
    if looks_numeric && let Ok(f) = value.parse::<f64>() {
        return serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number);
    }
    Value::String(value.to_string())
}

fn pos_of(span: &Span) -> Pos {
    Pos::new(span.start.line(), span.start.col() + 1)
}

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        anchor: usize,
    },
    /// `seen`: the keys so far, so a duplicate is found in O(1), not by a scan.
    Map {
        entries: Vec<(Node, Node)>,
        seen: HashSet<String>,
        key: Option<Node>,
        pos: Pos,
        anchor: usize,
        skip_value: bool,
    },
}

struct Builder<'s> {
    sink: &'s mut Sink,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

impl Builder<'_> {
    fn count(&mut self, node: &Node) -> bool {
        let mut n = 0usize;
        let mut todo = vec![node];
        while let Some(x) = todo.pop() {
            n += 1;
            match &x.kind {
                Kind::Seq(items) => todo.extend(items),
                Kind::Map(entries) => todo.extend(entries.iter().flat_map(|(k, v)| [k, v])),
                Kind::Scalar { .. } => {}
            }
        }
        self.nodes += n;
        self.nodes <= MAX_NODES
    }

    /// Attaches a finished node to its parent.
    fn finish(&mut self, node: Node, anchor: usize) -> Result<(), (Pos, String)> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, seen, key, skip_value, .. }) => match key.take() {
                None => {
                    let Some(name) = node.as_scalar() else {
                        return Err((node.pos, "mapping keys must be plain names, not lists or mappings".into()));
                    };
                    if !seen.insert(name.to_string()) {
                        self.sink.push(Code::DuplicateKey, node.pos, format!("duplicate key `{name}`"));
                        *skip_value = true;
                    }
                    *key = Some(node);
                }
                Some(k) => {
                    if std::mem::take(skip_value) {
                        return Ok(());
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }

    fn on_event(&mut self, ev: Event<'_>, span: Span) -> Result<(), (Pos, String)> {
        let pos = pos_of(&span);
        match ev {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err((pos, "one file holds one document: remove the second `---`".into()));
                }
            }
            Event::Scalar(value, style, anchor, _) => {
                let plain = style == ScalarStyle::Plain;
                // A quoted scalar's position is its first character, past the quote.
                let pos = match style {
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Pos::new(pos.line, pos.column + 1),
                    _ => pos,
                };
                let node = Node { kind: Kind::Scalar { value: Cow::into_owned(value), plain }, pos };
                self.nodes += 1;
                self.finish(node, anchor)?;
            }
            Event::Alias(id) => {
                let Some(mut node) = self.anchors.get(&id).cloned() else {
                    return Err((pos, "alias to an unknown anchor".into()));
                };
                if !self.count(&node) {
                    return Err((pos, format!("the document expands to more than {MAX_NODES} nodes")));
                }
                node.pos = pos;
                self.finish(node, 0)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err((pos, format!("nesting deeper than {MAX_DEPTH} levels")));
                }
                self.stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq { items: Vec::new(), pos, anchor }
                } else {
                    Frame::Map { entries: Vec::new(), seen: HashSet::new(), key: None, pos, anchor, skip_value: false }
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq { items, pos, anchor }) => (Node { kind: Kind::Seq(items), pos }, anchor),
                    Some(Frame::Map { entries, pos, anchor, .. }) => (Node { kind: Kind::Map(entries), pos }, anchor),
                    None => return Err((pos, "unbalanced collection".into())),
                };
                self.nodes += 1;
                self.finish(node, anchor)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        if self.nodes > MAX_NODES {
            return Err((pos, format!("the document has more than {MAX_NODES} nodes")));
        }
        Ok(())
    }
}

/// Parses one YAML document. Syntax problems become `E001` in `sink`; a file
/// that is empty or only comments yields `None` without an error.
pub fn parse(source: &str, sink: &mut Sink) -> Option<Node> {
    let mut builder = Builder { sink, stack: Vec::new(), anchors: HashMap::new(), nodes: 0, root: None, documents: 0 };
    let mut parser = Parser::new_from_str(source);
    while let Some(next) = parser.next_event() {
        let result = match next {
            Ok((ev, span)) => builder.on_event(ev, span),
            Err(e) => {
                let m = e.marker();
                Err((Pos::new(m.line(), m.col() + 1), e.info().to_string()))
            }
        };
        if let Err((pos, message)) = result {
            let (pos, hint) = explain(source, pos, &message);
            builder.sink.push_hint(Code::YamlSyntax, pos, format!("invalid YAML: {message}"), hint);
            return None;
        }
    }
    builder.root
}

/// Where a syntax error really is, and what to do about it: the parser
/// reports a tab at the start of the token before it (point at the tab),
/// and an unquoted `{{ ... }}` as a strange mapping key (say to quote it).
fn explain(source: &str, pos: Pos, message: &str) -> (Pos, Option<String>) {
    let line_of = |n: usize| source.lines().nth(n.saturating_sub(1)).unwrap_or("");
    if message.contains("tab") {
        for (i, line) in source.lines().enumerate().skip(pos.line.saturating_sub(1)) {
            // The marker's column counts characters; find the byte it starts at.
            let from = match i + 1 == pos.line {
                true => line.char_indices().nth(pos.column.saturating_sub(1)).map_or(line.len(), |(b, _)| b),
                false => 0,
            };
            if let Some(col) = line.get(from..).and_then(|rest| rest.find('\t')) {
                let at = Pos::new(i + 1, line[..from + col].chars().count() + 1);
                return (at, Some("YAML indents with spaces only: replace the tab with spaces".into()));
            }
        }
        return (pos, Some("YAML indents with spaces only: replace the tab with spaces".into()));
    }
    let line = line_of(pos.line);
    let before = line.chars().take(pos.column.saturating_sub(1)).collect::<String>();
    if (message.contains("mapping keys") || line.contains("{{") && before.trim_end().ends_with('{'))
        && let Some(start) = line.find("{{")
    {
        let value = line[start..].trim_end();
        return (
            Pos::new(pos.line, line[..start].chars().count() + 1),
            Some(format!("a value that starts with `{{{{` must be quoted: \"{}\"", value.replace('"', "'"))),
        );
    }
    (pos, None)
}
