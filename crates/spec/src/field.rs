//! Field specs: typed workflow inputs and task forms, and the checker that
//! validates submitted values against them (errors name the field path).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde_json::Value;

use crate::decode::{self, IDENT_PATTERN, MapReader, Sp, is_ident};
use crate::diag::{Code, Pos, Sink, did_you_mean};
use crate::time;
use crate::yaml::Node;

/// The type of a field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// One line of text.
    String,
    /// Multi-line text (Markdown).
    Text,
    Integer,
    Number,
    Boolean,
    /// `YYYY-MM-DD`.
    Date,
    /// RFC 3339.
    Datetime,
    /// An http or https address.
    Url,
    Email,
    /// One of `values`.
    Enum,
    /// A list of `items`.
    List,
    /// A nested mapping of `fields`.
    Object,
    /// A member's login.
    User,
}

const FIELD_TYPES: &[&str] = &[
    "string", "text", "integer", "number", "boolean", "date", "datetime", "url", "email", "enum", "list", "object",
    "user",
];

impl FieldType {
    fn from_name(name: &str) -> Option<FieldType> {
        use FieldType::*;
        let all = [String, Text, Integer, Number, Boolean, Date, Datetime, Url, Email, Enum, List, Object, User];
        FIELD_TYPES.iter().position(|n| *n == name).map(|i| all[i])
    }

    pub fn name(self) -> &'static str {
        use FieldType::*;
        let all = [String, Text, Integer, Number, Boolean, Date, Datetime, Url, Email, Enum, List, Object, User];
        all.iter().position(|t| *t == self).map_or("string", |i| FIELD_TYPES[i])
    }

    fn is_textual(self) -> bool {
        matches!(self, FieldType::String | FieldType::Text | FieldType::Url | FieldType::Email)
    }
}

/// A typed field: a workflow input or a field of a task form.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// The field's type.
    #[serde(rename = "type")]
    pub ty: FieldType,
    /// A value must be given (after defaults). Default: false.
    #[serde(default)]
    pub required: bool,
    /// The value used when none is given; it must fit this spec.
    #[serde(default)]
    pub default: Option<Value>,
    /// Smallest allowed value: a number for `integer`/`number`, a date for `date`/`datetime`.
    #[serde(default)]
    pub min: Option<Value>,
    /// Largest allowed value: a number for `integer`/`number`, a date for `date`/`datetime`.
    #[serde(default)]
    pub max: Option<Value>,
    /// Shortest allowed text, in characters.
    #[serde(default)]
    pub min_length: Option<u64>,
    /// Longest allowed text, in characters.
    #[serde(default)]
    pub max_length: Option<u64>,
    /// The allowed values of an `enum`.
    #[serde(default)]
    pub values: Vec<String>,
    /// The spec of each item of a `list`.
    #[serde(default)]
    pub items: Option<Box<FieldSpec>>,
    /// Fewest items of a `list`.
    #[serde(default)]
    pub min_items: Option<u64>,
    /// Most items of a `list`.
    #[serde(default)]
    pub max_items: Option<u64>,
    /// The fields of an `object`, by name.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, FieldSpec>")]
    pub fields: Fields,
    /// What the form shows as the field's name.
    #[serde(default)]
    pub label: Option<String>,
    /// Help text shown with the field.
    #[serde(default)]
    pub help: Option<String>,
    /// On a `list` of objects: the items are publications (`at` and
    /// `channel` name item fields); completing the form checks them against
    /// the workspace's posting limits and calendar.
    #[serde(default)]
    pub publications: Option<ItemPublications>,
    #[serde(skip)]
    pub pos: Pos,
}

/// Which item fields of a list are a publication's time and channel.
#[derive(Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemPublications {
    /// The item field holding the publish time (a `datetime`).
    pub at: String,
    /// The item field holding the channel (a `string` or `enum`).
    pub channel: String,
}

/// Named fields in file order.
pub type Fields = Vec<(Sp<String>, FieldSpec)>;

/// A problem with a submitted value, at a field path such as `posts.2.platform`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub path: Vec<String>,
    pub message: String,
}

impl FieldSpec {
    /// Checks `value` (already with defaults applied); `Null` means absent.
    pub fn check(&self, value: &Value, path: &[String], errors: &mut Vec<FieldError>) {
        let mut fail = |message: String| errors.push(FieldError { path: path.to_vec(), message });
        if value.is_null() {
            if self.required {
                fail("is required".into());
            }
            return;
        }
        if self.required && value.as_str().is_some_and(|s| s.trim().is_empty()) {
            return fail("is required".into());
        }
        match self.ty {
            t if t.is_textual() || t == FieldType::User => {
                let Some(s) = value.as_str() else {
                    return fail(format!("expected {}, found {}", article(t), json_type(value)));
                };
                let len = s.chars().count() as u64;
                if let Some(min) = self.min_length.filter(|m| len < *m) {
                    fail(format!("must be at least {min} characters long"));
                } else if let Some(max) = self.max_length.filter(|m| len > *m) {
                    fail(format!("must be at most {max} characters long"));
                } else if t == FieldType::Url && !is_url(s) {
                    fail(format!("`{s}` is not an http(s) URL"));
                } else if t == FieldType::Email && !is_email(s) {
                    fail(format!("`{s}` is not an e-mail address"));
                } else if t == FieldType::User && s.trim().is_empty() {
                    fail("expected a user login".into());
                }
            }
            FieldType::Integer | FieldType::Number => {
                let n = match (self.ty, value) {
                    (FieldType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => n.as_f64(),
                    (FieldType::Number, Value::Number(n)) => n.as_f64(),
                    _ => return fail(format!("expected {}, found {}", article(self.ty), json_type(value))),
                };
                let n = n.unwrap_or(f64::NAN);
                if let Some(min) = self.min.as_ref().and_then(Value::as_f64).filter(|m| n < *m) {
                    fail(format!("must be at least {min}"));
                } else if let Some(max) = self.max.as_ref().and_then(Value::as_f64).filter(|m| n > *m) {
                    fail(format!("must be at most {max}"));
                }
            }
            FieldType::Boolean if !value.is_boolean() => {
                fail(format!("expected true or false, found {}", json_type(value)))
            }
            FieldType::Boolean => {}
            FieldType::Date | FieldType::Datetime => {
                let Some(s) = value.as_str() else {
                    return fail(format!("expected {}, found {}", article(self.ty), json_type(value)));
                };
                let day = if self.ty == FieldType::Date {
                    time::date(s).map_err(&mut fail).ok()
                } else {
                    time::datetime(s).map(|d| d.date_naive()).map_err(&mut fail).ok()
                };
                let Some(day) = day else { return };
                let bound = |b: &Option<Value>| {
                    b.as_ref().and_then(Value::as_str).and_then(|s| time::DateOrTime::parse(s).ok()).map(|d| match d {
                        time::DateOrTime::Date(d) => d,
                        time::DateOrTime::DateTime(t) => t.date_naive(),
                    })
                };
                if let Some(min) = bound(&self.min).filter(|m| day < *m) {
                    fail(format!("must be on or after {min}"));
                } else if let Some(max) = bound(&self.max).filter(|m| day > *m) {
                    fail(format!("must be on or before {max}"));
                }
            }
            FieldType::Enum => match value.as_str() {
                Some(s) if self.values.iter().any(|v| v == s) => {}
                Some(s) => {
                    let hint = did_you_mean(s, self.values.iter().map(String::as_str));
                    let extra = hint.map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default();
                    fail(format!("`{s}` is not one of: {}{extra}", self.values.join(", ")))
                }
                None => fail(format!("expected one of: {}, found {}", self.values.join(", "), json_type(value))),
            },
            FieldType::List => {
                let Some(items) = value.as_array() else {
                    return fail(format!("expected a list, found {}", json_type(value)));
                };
                let n = items.len() as u64;
                if let Some(min) = self.min_items.filter(|m| n < *m) {
                    fail(format!("needs at least {min} items, found {n}"));
                }
                if let Some(max) = self.max_items.filter(|m| n > *m) {
                    fail(format!("takes at most {max} items, found {n}"));
                }
                if let Some(spec) = &self.items {
                    for (i, item) in items.iter().enumerate() {
                        let mut p = path.to_vec();
                        p.push(i.to_string());
                        let item =
                            if item.is_null() { spec.default.clone().unwrap_or(Value::Null) } else { item.clone() };
                        spec.check(&item, &p, errors);
                    }
                }
            }
            FieldType::Object => match value.as_object() {
                Some(map) => check_fields(&self.fields, map, path, errors),
                None => fail(format!("expected a mapping, found {}", json_type(value))),
            },
            _ => {}
        }
    }
}

/// Checks a mapping of values against named fields: unknown names, and each field.
pub fn check_fields(
    fields: &Fields,
    map: &serde_json::Map<String, Value>,
    path: &[String],
    errors: &mut Vec<FieldError>,
) {
    for key in map.keys() {
        if !fields.iter().any(|(n, _)| n.value == *key) {
            let hint = did_you_mean(key, fields.iter().map(|(n, _)| n.value.as_str()));
            let extra = hint.map(|h| format!(" (did you mean `{h}`?)")).unwrap_or_default();
            let mut p = path.to_vec();
            p.push(key.clone());
            errors.push(FieldError { path: p, message: format!("unknown field `{key}`{extra}") });
        }
    }
    for (name, spec) in fields {
        let mut p = path.to_vec();
        p.push(name.value.clone());
        let value = map
            .get(&name.value)
            .filter(|v| !v.is_null())
            .cloned()
            .or_else(|| spec.default.clone())
            .unwrap_or(Value::Null);
        spec.check(&value, &p, errors);
    }
}

/// Fills defaults of absent fields at every depth (into objects, and into
/// every item of a list), for inputs and form output.
pub fn apply_defaults(fields: &Fields, map: &mut serde_json::Map<String, Value>) {
    for (name, spec) in fields {
        let slot = map.entry(name.value.clone()).or_insert(Value::Null);
        if slot.is_null() {
            if let Some(d) = &spec.default {
                *slot = d.clone();
            } else {
                map.remove(&name.value);
                continue;
            }
        }
        if let Some(value) = map.get_mut(&name.value) {
            fill_within(spec, value);
        }
    }
}

/// Defaults inside a value: an object's fields, a list's items (a null
/// item takes the items' default).
fn fill_within(spec: &FieldSpec, value: &mut Value) {
    match value {
        Value::Object(inner) if spec.ty == FieldType::Object => apply_defaults(&spec.fields, inner),
        Value::Array(items) if spec.ty == FieldType::List => {
            let Some(item_spec) = &spec.items else { return };
            for item in items {
                if item.is_null()
                    && let Some(d) = &item_spec.default
                {
                    *item = d.clone();
                }
                fill_within(item_spec, item);
            }
        }
        _ => {}
    }
}

fn article(t: FieldType) -> String {
    match t {
        FieldType::Integer => "a whole number".into(),
        FieldType::Enum => "an enum value".into(),
        FieldType::Email => "an e-mail address".into(),
        FieldType::Url => "a URL".into(),
        FieldType::Date => "a date (YYYY-MM-DD)".into(),
        FieldType::Datetime => "a date-time (RFC 3339)".into(),
        FieldType::User => "a user login".into(),
        other => format!("a {}", other.name()),
    }
}

/// "a `string`", "an `integer`".
fn article_name(t: FieldType) -> String {
    let name = t.name();
    let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{a} `{name}`")
}

/// How a JSON value is named in messages ("a list", "text").
pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn is_url(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
}

/// A pragmatic e-mail check: one `@`, a local part, a dotted domain, no spaces.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else { return false };
    s.len() <= 254
        && !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A value that fits the spec: the default, else a plausible sample (for
/// simulated people in the demo, tests and benchmarks).
pub fn sample(spec: &FieldSpec) -> Value {
    if let Some(d) = &spec.default
        && !d.is_null()
    {
        return d.clone();
    }
    let text = |fallback: &str| {
        let base = spec.label.clone().unwrap_or_else(|| fallback.to_string());
        let min = spec.min_length.unwrap_or(0) as usize;
        let max = spec.max_length.map_or(usize::MAX, |m| m as usize);
        let mut t = base;
        while t.chars().count() < min {
            t.push('.');
        }
        Value::String(t.chars().take(max).collect())
    };
    let bound = |b: &Option<Value>| b.as_ref().and_then(Value::as_f64);
    match spec.ty {
        FieldType::String | FieldType::Text => text("Sample text"),
        FieldType::User => Value::String("sample.user".into()),
        FieldType::Url => Value::String("https://example.com/sample".into()),
        FieldType::Email => Value::String("someone@example.com".into()),
        FieldType::Boolean => Value::Bool(true),
        FieldType::Integer => {
            let n = bound(&spec.min).map_or(1.0, f64::ceil).max(bound(&spec.max).map_or(f64::MIN, |m| m.min(1.0)));
            serde_json::json!(n as i64)
        }
        FieldType::Number => serde_json::json!(bound(&spec.min).unwrap_or(1.0)),
        FieldType::Date => spec.min.clone().unwrap_or_else(|| Value::String("2027-01-15".into())),
        FieldType::Datetime => Value::String("2027-01-15T10:00:00Z".into()),
        FieldType::Enum => spec.values.first().map_or(Value::Null, |v| Value::String(v.clone())),
        FieldType::List => {
            let n = spec.min_items.unwrap_or(1).max(1).min(spec.max_items.unwrap_or(u64::MAX));
            let item = spec.items.as_deref().map_or(Value::Null, sample);
            Value::Array((0..n).map(|_| item.clone()).collect())
        }
        FieldType::Object => sample_fields(&spec.fields),
    }
}

/// A sample value for every field: a form a simulated person fills in.
pub fn sample_fields(fields: &Fields) -> Value {
    Value::Object(fields.iter().map(|(n, s)| (n.value.clone(), sample(s))).collect())
}

/// Decodes a mapping of named fields (`inputs:` or a task `form:`).
pub fn decode_fields(node: &Node, what: &'static str, sink: &mut Sink) -> Fields {
    decode::named_entries(node, what, is_ident, IDENT_PATTERN, sink)
        .into_iter()
        .filter_map(|(name, spec)| decode_spec(spec, name.pos, sink).map(|s| (name, s)))
        .collect()
}

fn decode_item_publications(
    node: &Node,
    owner: Pos,
    items: Option<&FieldSpec>,
    sink: &mut Sink,
) -> Option<ItemPublications> {
    let mut r = MapReader::at(node, "`publications`", sink, owner)?;
    let at = r.required("at", sink).and_then(|n| decode::sp_string(n, sink));
    let channel = r.required("channel", sink).and_then(|n| decode::sp_string(n, sink));
    r.finish(sink);
    let (at, channel) = (at?, channel?);
    let item_fields = items.filter(|i| i.ty == FieldType::Object).map(|i| &i.fields);
    let Some(item_fields) = item_fields else {
        sink.push(Code::ConflictingKeys, owner, "`publications` needs a list whose `items` are objects");
        return None;
    };
    for (name, wanted) in [(&at, &[FieldType::Datetime][..]), (&channel, &[FieldType::String, FieldType::Enum][..])] {
        match item_fields.iter().find(|(n, _)| n.value == name.value) {
            None => {
                let hint = did_you_mean(&name.value, item_fields.iter().map(|(n, _)| n.value.as_str()))
                    .map(|h| format!("did you mean `{h}`?"));
                sink.push_hint(Code::UnknownKey, name.pos, format!("the items have no field `{}`", name.value), hint);
            }
            Some((_, spec)) if !wanted.contains(&spec.ty) => {
                let names: Vec<&str> = wanted.iter().map(|t| t.name()).collect();
                sink.push(
                    Code::WrongType,
                    name.pos,
                    format!(
                        "item field `{}` is {}; it must be {}",
                        name.value,
                        article_name(spec.ty),
                        names.join(" or ")
                    ),
                );
            }
            Some(_) => {}
        }
    }
    Some(ItemPublications { at: at.value, channel: channel.value })
}

/// Decodes one field spec; problems are reported, and `None` means unusable.
pub fn decode_spec(node: &Node, owner: Pos, sink: &mut Sink) -> Option<FieldSpec> {
    let mut r = MapReader::at(node, "a field spec", sink, owner)?;
    let ty = r.required("type", sink).and_then(|n| decode::one_of(n, FIELD_TYPES, sink)).and_then(FieldType::from_name);
    let required = r.get("required").and_then(|n| decode::boolean(n, sink)).unwrap_or(false);
    let default = r.get("default");
    let min = r.get("min");
    let max = r.get("max");
    let count = |r: &mut MapReader, key, sink: &mut Sink| {
        r.get_entry(key).and_then(|(pos, n)| decode::integer_at_least(n, 0, sink).map(|v| (v as u64, pos)))
    };
    let min_length = count(&mut r, "min_length", sink);
    let max_length = count(&mut r, "max_length", sink);
    let min_items = count(&mut r, "min_items", sink);
    let max_items = count(&mut r, "max_items", sink);
    let values_node = r.get_entry("values");
    let items_node = r.get_entry("items");
    let fields_node = r.get_entry("fields");
    let label = r.get("label").and_then(|n| decode::string(n, sink));
    let help = r.get("help").and_then(|n| decode::string(n, sink));
    let publications_node = r.get_entry("publications");
    let spec_pos = r.pos;
    r.finish(sink);
    let ty = ty?;

    let misplaced = |key: &str, pos: Pos, applies: &str, sink: &mut Sink| {
        sink.push(
            Code::ConflictingKeys,
            pos,
            format!("`{key}` does not apply to {} field; it applies to {applies}", article_name(ty)),
        );
    };
    // Length bounds apply to text, item bounds to lists.
    let keep = |bound: Option<(u64, Pos)>, key: &str, fits: bool, applies: &str, sink: &mut Sink| match bound {
        Some((_, pos)) if !fits => {
            misplaced(key, pos, applies, sink);
            None
        }
        other => other.map(|(v, _)| v),
    };
    let textual = ty.is_textual() || ty == FieldType::User;
    let min_length = keep(min_length, "min_length", textual, "string, text, url, email and user", sink);
    let max_length = keep(max_length, "max_length", textual, "string, text, url, email and user", sink);
    let min_items = keep(min_items, "min_items", ty == FieldType::List, "list", sink);
    let max_items = keep(max_items, "max_items", ty == FieldType::List, "list", sink);
    let values: Vec<String> = match values_node {
        Some((pos, _)) if ty != FieldType::Enum => {
            misplaced("values", pos, "enum", sink);
            Vec::new()
        }
        Some((_, n)) => {
            decode::list(n, sink).unwrap_or_default().iter().filter_map(|v| decode::string(v, sink)).collect()
        }
        None => Vec::new(),
    };
    let items = match items_node {
        Some((pos, _)) if ty != FieldType::List => {
            misplaced("items", pos, "list", sink);
            None
        }
        Some((pos, n)) => decode_spec(n, pos, sink).map(Box::new),
        None => None,
    };
    let fields = match fields_node {
        Some((pos, _)) if ty != FieldType::Object => {
            misplaced("fields", pos, "object", sink);
            Vec::new()
        }
        Some((_, n)) => decode_fields(n, "object fields", sink),
        None => Vec::new(),
    };
    match ty {
        FieldType::Enum if values.is_empty() => sink.push(Code::MissingKey, spec_pos, "an `enum` field needs `values`"),
        FieldType::List if items.is_none() && items_node.is_none() => {
            sink.push(Code::MissingKey, spec_pos, "a `list` field needs `items`")
        }
        FieldType::Object if fields.is_empty() && fields_node.is_none() => {
            sink.push(Code::MissingKey, spec_pos, "an `object` field needs `fields`")
        }
        _ => {}
    }
    let bound = |node: Option<&Node>, key: &str, sink: &mut Sink| -> Option<Value> {
        let node = node?;
        let v = node.to_json();
        let ok = match ty {
            FieldType::Integer | FieldType::Number => v.is_number(),
            FieldType::Date | FieldType::Datetime => v.as_str().is_some_and(|s| time::DateOrTime::parse(s).is_ok()),
            _ => {
                sink.push(Code::ConflictingKeys, node.pos, format!("`{key}` does not apply to {} field; use min_length/max_length for text, min_items/max_items for lists", article_name(ty)));
                return None;
            }
        };
        if !ok {
            sink.push(
                Code::WrongType,
                node.pos,
                format!(
                    "`{key}` of a `{}` field must be a {}",
                    ty.name(),
                    if v.is_number() || !ty.is_textual() && matches!(ty, FieldType::Integer | FieldType::Number) {
                        "number"
                    } else {
                        "date"
                    }
                ),
            );
            return None;
        }
        Some(v)
    };
    let min_v = bound(min, "min", sink);
    let max_v = bound(max, "max", sink);
    if let (Some(a), Some(b), Some(pos)) = (&min_v, &max_v, max.map(|n| n.pos)) {
        let inverted = match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a > b,
            _ => a.as_str() > b.as_str(),
        };
        if inverted {
            sink.push(Code::OutOfRange, pos, "`max` is smaller than `min`");
        }
    }
    for (lo, hi, what) in [(min_length, max_length, "max_length"), (min_items, max_items, "max_items")] {
        if let (Some(lo), Some(hi)) = (lo, hi)
            && lo > hi
        {
            sink.push(Code::OutOfRange, spec_pos, format!("`{what}` is smaller than its minimum"));
        }
    }
    let publications = publications_node.and_then(|(pos, n)| {
        if ty != FieldType::List {
            misplaced("publications", pos, "list", sink);
            return None;
        }
        decode_item_publications(n, pos, items.as_deref(), sink)
    });
    let spec = FieldSpec {
        publications,
        ty,
        required,
        default: None,
        min: min_v,
        max: max_v,
        min_length,
        max_length,
        values,
        items,
        min_items,
        max_items,
        fields,
        label,
        help,
        pos: spec_pos,
    };
    let default = default.map(|n| {
        let v = n.to_json();
        let mut errors = Vec::new();
        spec.check(&v, &[], &mut errors);
        for e in errors {
            let at = if e.path.is_empty() { String::new() } else { format!(" at `{}`", e.path.join(".")) };
            sink.push(Code::DefaultMismatch, n.pos, format!("the default does not fit the field{at}: {}", e.message));
        }
        v
    });
    Some(FieldSpec { default, ..spec })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(yaml: &str) -> FieldSpec {
        let mut sink = Sink::new("t.yaml");
        let node = crate::yaml::parse(yaml, &mut sink).unwrap();
        let s = decode_spec(&node, Pos::default(), &mut sink).unwrap();
        assert!(sink.items.is_empty(), "{:?}", sink.items);
        s
    }

    fn check(spec: &FieldSpec, value: Value, expect: &[&str]) {
        let mut errors = Vec::new();
        spec.check(&value, &[], &mut errors);
        let got: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.path.join("."), e.message)).collect();
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for (g, e) in got.iter().zip(expect) {
            assert!(g.contains(e), "{g} should contain {e}");
        }
    }

    #[test]
    fn nested_form_errors_name_the_path() {
        let s = spec(
            "type: list\nmin_items: 1\nitems:\n  type: object\n  fields:\n    platform: {type: enum, values: [vk, telegram], required: true}\n    publish_at: {type: datetime}\n    likes: {type: integer, min: 0}\n",
        );
        check(&s, json!([{"platform": "vk", "publish_at": "2026-12-01T10:00:00Z"}]), &[]);
        check(&s, json!([]), &["needs at least 1 items"]);
        check(
            &s,
            json!([{"platform": "vkk"}]),
            &["0.platform: `vkk` is not one of: vk, telegram (did you mean `vk`?)"],
        );
        check(
            &s,
            json!([{"platform": "vk", "likes": -1, "extra": 1}]),
            &["0.extra: unknown field", "0.likes: must be at least 0"],
        );
        check(&s, json!([{}]), &["0.platform: is required"]);
        check(&s, json!("x"), &["expected a list, found text"]);
    }

    #[test]
    fn defaults_are_filled_at_every_depth() {
        let s = spec(
            "type: object\nfields:\n  bloggers:\n    type: list\n    items:\n      type: object\n      fields:\n        name: {type: string, required: true}\n        recommended: {type: boolean, default: true}\n        reach: {type: object, fields: {tier: {type: enum, values: [micro, macro], default: micro}}}\n  tags: {type: list, items: {type: string, default: untagged}}\n",
        );
        let mut form = serde_json::Map::new();
        form.insert(
            "f".into(),
            json!({"bloggers": [{"name": "a"}, {"name": "b", "recommended": false, "reach": {}}], "tags": [null, "x"]}),
        );
        let fields: Fields = vec![(Sp { value: "f".to_string(), pos: Pos::default() }, s)];
        apply_defaults(&fields, &mut form);
        assert_eq!(
            form["f"],
            json!({"bloggers": [
                {"name": "a", "recommended": true},
                {"name": "b", "recommended": false, "reach": {"tier": "micro"}}
            ], "tags": ["untagged", "x"]})
        );
    }

    #[test]
    fn samples_fit_their_specs() {
        for yaml in [
            "{type: list, min_items: 3, items: {type: object, fields: {a: {type: enum, values: [x, y], required: true}, n: {type: integer, min: 5, max: 9}}}}",
            "{type: string, min_length: 20, max_length: 25, required: true}",
            "{type: date, min: 2027-03-01}",
            "{type: url, required: true}",
        ] {
            let s = spec(yaml);
            check(&s, sample(&s), &[]);
        }
    }

    #[test]
    fn scalars_are_typed() {
        check(&spec("{type: integer, min: 1, max: 5}"), json!(2.5), &["expected a whole number"]);
        check(&spec("{type: integer, min: 1, max: 5}"), json!(6), &["at most 5"]);
        check(&spec("{type: url}"), json!("ftp://x"), &["not an http(s) URL"]);
        check(&spec("{type: url}"), json!("https://vk.com/acme"), &[]);
        check(&spec("{type: email}"), json!("a@b"), &["not an e-mail"]);
        check(&spec("{type: date, min: 2026-01-01}"), json!("2025-12-31"), &["on or after 2026-01-01"]);
        check(&spec("{type: string, max_length: 3}"), json!("abcd"), &["at most 3 characters"]);
        check(&spec("{type: boolean, required: true}"), Value::Null, &["is required"]);
    }
}
