//! `type: update_profile`: replaces top-level fields of the workspace's
//! profile (validated against the `kind: profile` document); invalid data
//! is an incident on the step, never a half-written profile.

use std::collections::BTreeMap;

use schemars::JsonSchema;

use crate::decode::{self, IDENT_PATTERN, MapReader, Sp, is_ident};
use crate::diag::Sink;

/// A profile update.
#[derive(Clone, Debug, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProfile {
    /// Profile fields to replace, each a value whose strings are templates
    /// (`"{{ steps.brief.output.kpis }}"` keeps its type).
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub set: Vec<(Sp<String>, Sp<serde_json::Value>)>,
}

pub const KEYS: &[&str] = &["set"];

impl UpdateProfile {
    pub fn decode(r: &mut MapReader<'_>, sink: &mut Sink) -> Option<UpdateProfile> {
        let set = r.required("set", sink).map(|n| {
            decode::named_entries(n, "profile fields", is_ident, IDENT_PATTERN, sink)
                .into_iter()
                .map(|(k, v)| (k, Sp::new(v.to_json(), v.pos)))
                .collect()
        });
        Some(UpdateProfile { set: set? })
    }
}
