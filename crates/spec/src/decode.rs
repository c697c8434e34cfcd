//! The decoding toolkit: typed reads from the YAML tree that record every
//! problem in the [`Sink`] and carry on, so one pass reports all of them.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};

use crate::diag::{Code, Pos, Sink, did_you_mean};
use crate::yaml::{Kind, Node};

/// A value with the position it was written at.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sp<T> {
    pub value: T,
    pub pos: Pos,
}

impl<T> Sp<T> {
    pub fn new(value: T, pos: Pos) -> Self {
        Sp { value, pos }
    }
}

impl<T> std::ops::Deref for Sp<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: JsonSchema> JsonSchema for Sp<T> {
    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// Reads the keys of one mapping; whatever is not read is reported as unknown.
pub struct MapReader<'n> {
    entries: &'n [(Node, Node)],
    used: Vec<bool>,
    asked: Vec<&'static str>,
    pub pos: Pos,
    what: &'static str,
}

impl<'n> MapReader<'n> {
    /// `what` names the mapping in messages ("a step", "a field spec").
    pub fn new(node: &'n Node, what: &'static str, sink: &mut Sink) -> Option<Self> {
        match &node.kind {
            Kind::Map(entries) => {
                Some(MapReader { entries, used: vec![false; entries.len()], asked: Vec::new(), pos: node.pos, what })
            }
            _ => {
                sink.push(
                    Code::WrongType,
                    node.pos,
                    format!("expected a mapping for {what}, found {}", node.type_name()),
                );
                None
            }
        }
    }

    /// Like [`MapReader::new`], but reports the problem at `owner` (the key that holds the mapping).
    pub fn at(node: &'n Node, what: &'static str, sink: &mut Sink, owner: Pos) -> Option<Self> {
        let mut r = Self::new(node, what, sink)?;
        r.pos = owner;
        Some(r)
    }

    fn index(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k.as_scalar() == Some(key))
    }

    /// The value of `key` if present. A plain `null` counts as absent.
    pub fn get(&mut self, key: &'static str) -> Option<&'n Node> {
        self.asked.push(key);
        let i = self.index(key)?;
        self.used[i] = true;
        let value = &self.entries[i].1;
        (!value.is_null()).then_some(value)
    }

    /// The key's own position and its value.
    pub fn get_entry(&mut self, key: &'static str) -> Option<(Pos, &'n Node)> {
        self.asked.push(key);
        let i = self.index(key)?;
        self.used[i] = true;
        let (k, v) = &self.entries[i];
        (!v.is_null()).then_some((k.pos, v))
    }

    pub fn has(&self, key: &str) -> bool {
        self.index(key).is_some_and(|i| !self.entries[i].1.is_null())
    }

    /// The value of a required key; a missing one is reported at the mapping's owner.
    pub fn required(&mut self, key: &'static str, sink: &mut Sink) -> Option<&'n Node> {
        let value = self.get(key);
        if value.is_none() {
            sink.push(Code::MissingKey, self.pos, format!("{} needs the key `{key}`", self.what));
        }
        value
    }

    /// Keys not read so far, with their positions (nothing is marked).
    pub fn unread(&self) -> Vec<(&'n str, Pos)> {
        self.entries
            .iter()
            .zip(&self.used)
            .filter(|(_, used)| !**used)
            .map(|((k, _), _)| (k.as_scalar().unwrap_or_default(), k.pos))
            .collect()
    }

    /// Marks a key as handled without reading it (it was reported otherwise).
    pub fn mark(&mut self, key: &str) {
        if let Some(i) = self.index(key) {
            self.used[i] = true;
        }
    }

    /// Keys nobody asked for, marking them as handled.
    pub fn take_rest(&mut self) -> Vec<&'n Node> {
        let mut rest = Vec::new();
        for (i, (k, _)) in self.entries.iter().enumerate() {
            if !self.used[i] {
                self.used[i] = true;
                rest.push(k);
            }
        }
        rest
    }

    /// Reports every key that was not read as unknown, with a "did you mean".
    pub fn finish(mut self, sink: &mut Sink) {
        let asked = std::mem::take(&mut self.asked);
        for key in self.take_rest() {
            let name = key.as_scalar().unwrap_or_default();
            let hint = did_you_mean(name, asked.iter().copied()).map(|s| format!("did you mean `{s}`?"));
            sink.push_hint(Code::UnknownKey, key.pos, format!("unknown key `{name}` in {}", self.what), hint);
        }
    }
}

/// Any non-null scalar, as text.
pub fn string(node: &Node, sink: &mut Sink) -> Option<String> {
    match &node.kind {
        Kind::Scalar { value, .. } if !node.is_null() => Some(value.clone()),
        _ => {
            sink.push(Code::WrongType, node.pos, format!("expected text, found {}", node.type_name()));
            None
        }
    }
}

pub fn sp_string(node: &Node, sink: &mut Sink) -> Option<Sp<String>> {
    string(node, sink).map(|s| Sp::new(s, node.pos))
}

pub fn boolean(node: &Node, sink: &mut Sink) -> Option<bool> {
    match node.to_json() {
        serde_json::Value::Bool(b) if matches!(node.kind, Kind::Scalar { plain: true, .. }) => Some(b),
        _ => {
            sink.push(Code::WrongType, node.pos, format!("expected true or false, found {}", describe(node)));
            None
        }
    }
}

pub fn integer(node: &Node, sink: &mut Sink) -> Option<i64> {
    match node.to_json() {
        serde_json::Value::Number(n) if n.is_i64() && matches!(node.kind, Kind::Scalar { plain: true, .. }) => {
            n.as_i64()
        }
        _ => {
            sink.push(Code::WrongType, node.pos, format!("expected a whole number, found {}", describe(node)));
            None
        }
    }
}

/// A whole number that must be at least `min`.
pub fn integer_at_least(node: &Node, min: i64, sink: &mut Sink) -> Option<i64> {
    let n = integer(node, sink)?;
    if n < min {
        sink.push(Code::OutOfRange, node.pos, format!("must be at least {min}, found {n}"));
        return None;
    }
    Some(n)
}

/// A list; a single scalar is taken as a list of one when `one_ok`.
pub fn list<'n>(node: &'n Node, sink: &mut Sink) -> Option<&'n [Node]> {
    match &node.kind {
        Kind::Seq(items) => Some(items),
        _ => {
            sink.push(Code::WrongType, node.pos, format!("expected a list, found {}", node.type_name()));
            None
        }
    }
}

/// A list, or one scalar standing for a list of one (`after: plan`).
pub fn list_or_one(node: &Node) -> &[Node] {
    match &node.kind {
        Kind::Seq(items) => items,
        _ => std::slice::from_ref(node),
    }
}

/// One of a fixed set of words.
pub fn one_of(node: &Node, allowed: &[&'static str], sink: &mut Sink) -> Option<&'static str> {
    let text = string(node, sink)?;
    if let Some(found) = allowed.iter().find(|a| **a == text) {
        return Some(found);
    }
    let hint = did_you_mean(&text, allowed.iter().copied())
        .map(|s| format!("did you mean `{s}`?"))
        .unwrap_or_else(|| format!("expected one of: {}", allowed.join(", ")));
    sink.push_hint(Code::InvalidValue, node.pos, format!("`{text}` is not allowed here"), Some(hint));
    None
}

/// Entries of a mapping, with keys checked against an identifier pattern.
pub fn named_entries<'n>(
    node: &'n Node,
    what: &'static str,
    check: fn(&str) -> bool,
    pattern: &str,
    sink: &mut Sink,
) -> Vec<(Sp<String>, &'n Node)> {
    let Kind::Map(entries) = &node.kind else {
        sink.push(Code::WrongType, node.pos, format!("expected a mapping of {what}, found {}", node.type_name()));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (k, v) in entries {
        let name = k.as_scalar().unwrap_or_default();
        if !check(name) {
            sink.push(
                Code::InvalidName,
                k.pos,
                format!("`{name}` is not a valid name for {what}: it must match {pattern}"),
            );
        }
        out.push((Sp::new(name.to_string(), k.pos), v));
    }
    out
}

fn describe(node: &Node) -> String {
    match node.as_scalar() {
        Some(s) if !node.is_null() => format!("`{s}`"),
        _ => node.type_name().to_string(),
    }
}

/// `^[a-z][a-z0-9_]*$`: step ids, role names, field names.
pub fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// `^[a-z][a-z0-9-]{1,62}$`: workflow and calendar keys.
pub fn is_key(s: &str) -> bool {
    let mut chars = s.chars();
    (2..=63).contains(&s.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub const IDENT_PATTERN: &str = "^[a-z][a-z0-9_]*$";
pub const KEY_PATTERN: &str = "^[a-z][a-z0-9-]{1,62}$";
