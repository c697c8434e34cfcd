//! `type: subflow`: run another workflow as a child instance.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::decode::{self, IDENT_PATTERN, MapReader, Sp, is_ident};
use crate::diag::Sink;

/// A child workflow.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subflow {
    /// The key of the workflow to run.
    pub workflow: Sp<String>,
    /// The child's inputs; strings are templates (`"{{ item }}"` keeps its type).
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub inputs: Vec<(Sp<String>, Sp<serde_json::Value>)>,
    /// Wait for the child to finish (default); its `outputs` become this step's output.
    #[serde(default = "yes")]
    pub wait: bool,
}

fn yes() -> bool {
    true
}

pub const KEYS: &[&str] = &["workflow", "inputs", "wait"];

impl Subflow {
    pub fn decode(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<Subflow> {
        let workflow = r.required("workflow", sink).and_then(|n| decode::sp_string(n, sink));
        let inputs = r
            .get("inputs")
            .map(|n| {
                decode::named_entries(n, "subflow inputs", is_ident, IDENT_PATTERN, sink)
                    .into_iter()
                    .map(|(k, v)| (k, Sp::new(v.to_json(), v.pos)))
                    .collect()
            })
            .unwrap_or_default();
        let wait = r.get("wait").and_then(|n| decode::boolean(n, sink)).unwrap_or(true);
        Some(Subflow { workflow: workflow?, inputs, wait })
    }
}
