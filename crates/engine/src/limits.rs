//! What a command may carry: the limits of `smmflow_spec::text` applied to
//! every value a person sends, before anything is decided. A value beyond
//! them is refused as bad input naming the field, on both databases alike.

use serde_json::Value;
use smmflow_spec::field::FieldError;
use smmflow_spec::text;

use crate::command::{Command, Error};

fn refuse(path: Vec<String>, message: String) -> Error {
    let whole = match path.is_empty() {
        true => message.clone(),
        false => format!("{}: {message}", path.join(".")),
    };
    Error::BadUserInput { message: whole, fields: vec![FieldError { path, message }] }
}

/// A form's output or an instance's inputs.
pub fn value(v: &Value) -> Result<(), Error> {
    text::value(v).map_err(|(path, message)| refuse(path, message))
}

fn free_text(s: &str) -> Result<(), Error> {
    text::free_text(s).map_err(|m| refuse(Vec::new(), m))
}

fn key(s: &str) -> Result<(), Error> {
    text::key(s).map_err(|m| refuse(Vec::new(), m))
}

/// Rejection reasons: at most 20 words, each a key.
fn reason_words(reasons: &[String]) -> Result<(), Error> {
    if reasons.len() > 20 {
        return Err(refuse(vec!["reasons".into()], "at most 20 reasons".into()));
    }
    for (i, r) in reasons.iter().enumerate() {
        text::key(r).map_err(|m| refuse(vec!["reasons".into(), i.to_string()], m))?;
    }
    Ok(())
}

/// Checks everything a person put into the command.
pub fn command(c: &Command) -> Result<(), Error> {
    match c {
        Command::Complete { output, .. } => value(output),
        Command::DecideByLink { comment, reasons, .. } => {
            reason_words(reasons)?;
            comment.as_deref().map_or(Ok(()), free_text)
        }
        Command::Approve { comment, .. } => comment.as_deref().map_or(Ok(()), free_text),
        Command::Reject { comment, reasons, .. } => {
            free_text(comment)?;
            reason_words(reasons)
        }
        Command::Comment { body, .. } => free_text(body),
        Command::Cancel { reason } => free_text(reason),
        Command::Reassign { user, .. } => key(user),
        Command::RetryStep { step } => key(step),
        Command::Claim { .. }
        | Command::Release { .. }
        | Command::Suspend
        | Command::Resume
        | Command::TimerFired { .. }
        | Command::ChildFinished { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_comments_and_nul_are_refused_with_the_field() {
        let long = "x".repeat(text::MAX_TEXT_CHARS + 1);
        assert!(command(&Command::Comment { task: 1, body: long }).is_err());
        assert!(command(&Command::Comment { task: 1, body: "fine\nlines".into() }).is_ok());
        let Err(Error::BadUserInput { fields, .. }) =
            command(&Command::Complete { task: 1, output: json!({"posts": ["ok", "n\u{0}l"]}) })
        else {
            panic!("NUL accepted")
        };
        assert_eq!(fields[0].path, ["posts", "1"]);
        assert!(command(&Command::Reject { task: 1, comment: "a\0".into(), reasons: vec![] }).is_err());
    }
}
