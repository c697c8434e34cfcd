//! The agency layer's decisions: a publication's calendar entry, rendered
//! when the instance starts, and `update_profile` steps.

use serde_json::Value;
use smmflow_spec::field::FieldError;
use smmflow_spec::profile::is_channel;
use smmflow_spec::step::UpdateProfile;
use smmflow_spec::workflow::Publication;

use super::Run;
use super::progress::{render_value, strings_in};
use crate::command::{Action, Error};
use crate::eval::{self, Src};

fn refused(key: &str, message: String) -> Error {
    let path = vec!["publication".to_string(), key.to_string()];
    Error::BadUserInput {
        message: format!("`publication.{key}` {message}"),
        fields: vec![FieldError { path, message }],
    }
}

impl Run<'_, '_> {
    /// The calendar entry of a publication workflow's new instance; a value
    /// that does not render to a time and a channel refuses the start.
    pub(super) fn publication(&self, p: &Publication) -> Result<Action, Error> {
        let mut sources = vec![Src::Template(&p.at.source), Src::Template(&p.channel.source)];
        if let Some(t) = &p.title {
            sources.push(Src::Template(&t.source));
        }
        let scope = self.scope(None, &sources);
        let at = eval::template(&p.at.source, &scope)
            .and_then(|v| eval::datetime(&v))
            .map_err(|e| refused("at", format!("is not a date-time: {e}")))?;
        let channel = eval::text(&p.channel.source, &scope).map_err(|e| refused("channel", format!("failed: {e}")))?;
        let channel = channel.trim().to_string();
        if !is_channel(&channel) {
            return Err(refused(
                "channel",
                format!("is `{}`: a channel is lower case letters, digits, `_` and `-`", channel.escape_debug()),
            ));
        }
        let title = match &p.title {
            Some(t) => Some(eval::text(&t.source, &scope).map_err(|e| refused("title", format!("failed: {e}")))?),
            None => None,
        };
        let title = title.map(|t| t.chars().take(200).collect::<String>()).filter(|t| !t.trim().is_empty());
        Ok(Action::Publication { at, channel, title })
    }

    /// Renders the fields, checks them and the whole profile they make
    /// against the schema; any problem is an incident and nothing is written.
    pub(super) fn update_profile(&mut self, id: &str, u: &UpdateProfile) {
        let Some((schema, current)) = self.env.profile else {
            return self.incident(id, "no profile document (`kind: profile`) is deployed".into());
        };
        let mut texts = Vec::new();
        for (_, v) in &u.set {
            strings_in(&v.value, &mut texts);
        }
        let sources: Vec<Src<'_>> = texts.iter().map(|t| Src::Template(t)).collect();
        let scope = self.scope(None, &sources);
        let mut set = serde_json::Map::new();
        for (name, value) in &u.set {
            if schema.field(&name.value).is_none() {
                return self.incident(id, format!("`{}` is not a field of the profile", name.value));
            }
            match render_value(&value.value, &scope) {
                Ok(v) => {
                    set.insert(name.value.clone(), v);
                }
                Err(e) => return self.incident(id, format!("`{}` failed: {e}", name.value)),
            }
        }
        let mut whole = current.as_object().cloned().unwrap_or_default();
        whole.extend(set.clone());
        if let Err(errors) = schema.check(Value::Object(whole)) {
            let list: Vec<String> = errors.iter().map(|e| format!("`{}` {}", e.path.join("."), e.message)).collect();
            return self.incident(id, format!("the profile would be invalid: {}", list.join("; ")));
        }
        self.act(Action::UpdateProfile { set: set.clone() });
        self.complete_step(id, Value::Object(set), Value::Null);
    }
}
