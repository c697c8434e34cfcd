//! Text and values as people and the network send them: the limits every
//! entry point applies, in one place, so a value is refused where it enters
//! (a `userError` naming the field) and is the same on SQLite and
//! PostgreSQL (which cannot store a NUL character in text or JSON).
//!
//! - Names (a user's display name, a workspace's, a token's): one line, no
//!   control characters, at most [`MAX_NAME_CHARS`].
//! - Free text (comments, reasons): no NUL, at most [`MAX_TEXT_CHARS`].
//! - Values (form output, inputs): JSON of at most [`MAX_VALUE_BYTES`], no
//!   NUL in any string or key.
//! - Keys (idempotency keys and the like): one line, at most [`MAX_KEY_CHARS`].

use serde_json::Value;

pub const MAX_NAME_CHARS: usize = 200;
pub const MAX_TEXT_CHARS: usize = 10_000;
pub const MAX_KEY_CHARS: usize = 200;
pub const MAX_VALUE_BYTES: usize = 256 * 1024;

/// A display name: non-blank, one line, no control characters.
pub fn name(s: &str) -> Result<(), String> {
    if s.trim().is_empty() {
        return Err("must not be blank".into());
    }
    if s.chars().any(char::is_control) {
        return Err("must be one line without control characters".into());
    }
    at_most(s, MAX_NAME_CHARS)
}

/// An identifier-like string (an idempotency key): one line, no control characters.
pub fn key(s: &str) -> Result<(), String> {
    if s.chars().any(char::is_control) {
        return Err("must be one line without control characters".into());
    }
    at_most(s, MAX_KEY_CHARS)
}

/// Free text: line breaks and tabs are fine, NUL and other control
/// characters are not.
pub fn free_text(s: &str) -> Result<(), String> {
    if s.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err("must not contain control characters".into());
    }
    at_most(s, MAX_TEXT_CHARS)
}

fn at_most(s: &str, max: usize) -> Result<(), String> {
    // Counting stops early: a megabyte of text is not walked twice.
    if s.len() > max && s.chars().nth(max).is_some() {
        return Err(format!("must be at most {max} characters long"));
    }
    Ok(())
}

/// A JSON value sent by a person: bounded in size, no NUL anywhere.
/// Returns the path of the offending string, if any, with the message.
pub fn value(v: &Value) -> Result<(), (Vec<String>, String)> {
    let size = serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
    if size > MAX_VALUE_BYTES {
        return Err((Vec::new(), format!("is {size} bytes of JSON; at most {MAX_VALUE_BYTES} are accepted")));
    }
    let mut path = Vec::new();
    match find_nul(v, &mut path) {
        true => Err((path, "must not contain the NUL character (\\u0000)".into())),
        false => Ok(()),
    }
}

/// True when a string or key under `v` holds NUL; `path` is left pointing at it.
fn find_nul(v: &Value, path: &mut Vec<String>) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().enumerate().any(|(i, item)| {
            path.push(i.to_string());
            let found = find_nul(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().any(|(k, item)| {
            path.push(k.clone());
            let found = k.contains('\0') || find_nul(item, path);
            if !found {
                path.pop();
            }
            found
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_are_one_clean_line() {
        assert!(name("Eve Adams").is_ok());
        assert!(name("Анна Петрова").is_ok());
        assert!(name("Eve\r\nBcc: v@evil.test").unwrap_err().contains("control"));
        assert!(name("nul\0").is_err());
        assert!(name("  ").unwrap_err().contains("blank"));
        assert!(name(&"x".repeat(201)).unwrap_err().contains("at most 200"));
        assert!(name(&"я".repeat(200)).is_ok());
    }

    #[test]
    fn free_text_keeps_line_breaks_but_not_nul() {
        assert!(free_text("Line one\nLine two\r\n\tindented").is_ok());
        assert!(free_text("a\0b").is_err());
        assert!(free_text(&"x".repeat(10_001)).unwrap_err().contains("10000"));
    }

    #[test]
    fn values_are_bounded_and_nul_free_with_the_path() {
        assert!(value(&json!({"posts": [{"text": "ok"}]})).is_ok());
        let (path, msg) = value(&json!({"posts": [{"text": "ok"}, {"text": "bad\u{0}"}]})).unwrap_err();
        assert_eq!(path, ["posts", "1", "text"]);
        assert!(msg.contains("NUL"));
        let (path, _) = value(&json!({"k\u{0}": 1})).unwrap_err();
        assert_eq!(path, ["k\u{0}"]);
        let (path, msg) = value(&json!({"text": "x".repeat(300_000)})).unwrap_err();
        assert!(path.is_empty() && msg.contains("bytes"), "{msg}");
    }
}
