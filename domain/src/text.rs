//! What text an event may carry. The log keeps events as JSON text, but read
//! models keep their strings in columns, and PostgreSQL cannot store U+0000
//! in a text column: one accepted NUL stopped every read model, for every
//! tenant, at that event. Control characters also break logs, CSV exports
//! and terminals of the people who read them. So the rule is one, checked
//! when a command is decided and the same on both backends:
//!
//! - **names** (labels, types, keys, ids given by clients) hold no control
//!   character at all;
//! - **text** (messages, reasoning, prompts, responses, output) may hold tab,
//!   line feed and carriage return, and no other control character;
//! - **every string of every event**, at any depth and including the keys of
//!   JSON objects a client sends (request data, task input and results,
//!   command payloads), follows the text rule.
//!
//! Control characters are Unicode's category Cc: U+0000–U+001F and
//! U+007F–U+009F. They are refused, not escaped, so what an agent reads back
//! is exactly what it sent.

use serde_json::Value;

use crate::error::DomainError;

/// Whether `c` may appear in free text.
fn allowed_in_text(c: char) -> bool {
    !c.is_control() || matches!(c, '\t' | '\n' | '\r')
}

/// The name of a control character as the error shows it: `U+0000`.
fn describe(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// A name given by a client: not blank, at most `max` bytes, no control
/// character.
pub fn check_name(what: &str, value: &str, max: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() || value.len() > max {
        return Err(DomainError::invalid(format!(
            "{what} must be 1 to {max} characters"
        )));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(DomainError::invalid(format!(
            "{what} must not contain control characters (found {})",
            describe(c)
        )));
    }
    Ok(())
}

/// Free text, when present: at most `max` bytes, no control character but
/// tab, line feed and carriage return.
pub fn check_text(what: &str, value: Option<&str>, max: usize) -> Result<(), DomainError> {
    let Some(value) = value else {
        return Ok(());
    };
    if value.len() > max {
        return Err(DomainError::invalid(format!("{what} exceeds {max} bytes")));
    }
    if let Some(c) = value.chars().find(|c| !allowed_in_text(*c)) {
        return Err(DomainError::invalid(format!(
            "{what} must not contain {} (only tab, line feed and carriage return among control characters)",
            describe(c)
        )));
    }
    Ok(())
}

/// Every string in `value` — values and object keys, at any depth — follows
/// the text rule. The error names the JSON path of the first one that does
/// not (`/request_data/items/3/name`).
pub fn check_strings(value: &Value) -> Result<(), DomainError> {
    let mut path = Vec::new();
    match first_bad(value, &mut path) {
        None => Ok(()),
        Some(c) => Err(DomainError::invalid(format!(
            "the string at /{} must not contain {} (only tab, line feed and carriage return among control characters)",
            path.join("/"),
            describe(c)
        ))),
    }
}

/// The first character the text rule refuses, with `path` left pointing at
/// the string that holds it.
fn first_bad(value: &Value, path: &mut Vec<String>) -> Option<char> {
    let bad = |s: &str| s.chars().find(|c| !allowed_in_text(*c));
    match value {
        Value::String(s) => bad(s),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            path.push(i.to_string());
            let found = first_bad(item, path);
            if found.is_none() {
                path.pop();
            }
            found
        }),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            path.push(
                key.chars()
                    .map(|c| if c.is_control() { '?' } else { c })
                    .collect(),
            );
            let found = bad(key).or_else(|| first_bad(item, path));
            if found.is_none() {
                path.pop();
            }
            found
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// Text another system sent, fit to keep: control characters other than
/// tab and line breaks replaced with U+FFFD, at most `max` bytes (cut
/// between characters).
pub fn clean(text: &str, max: usize) -> String {
    let mut kept = String::new();
    for c in text.chars() {
        if kept.len() + c.len_utf8() > max {
            break;
        }
        kept.push(if allowed_in_text(c) {
            c
        } else {
            char::REPLACEMENT_CHARACTER
        });
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_refuse_every_control_character() {
        assert!(check_name("action", "approve_post", 100).is_ok());
        assert!(check_name("action", "ünïcödé ok", 100).is_ok());
        for bad in [
            "a\u{0}b",
            "a\tb",
            "a\nb",
            "\u{7f}",
            "x\u{85}",
            "a\u{1b}[31m",
        ] {
            assert!(
                matches!(check_name("action", bad, 100), Err(DomainError::Invalid(m)) if m.contains("control")),
                "{bad:?} was accepted"
            );
        }
        assert!(check_name("action", " ", 100).is_err());
        assert!(check_name("action", &"x".repeat(101), 100).is_err());
    }

    #[test]
    fn text_keeps_line_breaks_and_tabs_and_nothing_else_of_the_controls() {
        assert!(check_text("reasoning", Some("line 1\r\n\tline 2"), 100).is_ok());
        assert!(check_text("reasoning", None, 100).is_ok());
        for bad in ["a\u{0}", "\u{1b}[0m", "\u{8}", "\u{9f}"] {
            let Err(DomainError::Invalid(message)) = check_text("reasoning", Some(bad), 100) else {
                panic!("{bad:?} was accepted");
            };
            assert!(message.starts_with("reasoning must not contain U+"));
        }
        assert!(check_text("reasoning", Some("xx"), 1).is_err());
    }

    #[test]
    fn every_string_of_a_payload_is_checked_with_its_path() {
        assert!(check_strings(&json!({ "a": ["x\ny", { "b": 1.5 }], "c": null })).is_ok());
        let Err(DomainError::Invalid(message)) =
            check_strings(&json!({ "items": [{ "ok": "fine" }, { "name": "a\u{0}b" }] }))
        else {
            panic!("NUL in a nested value was accepted");
        };
        assert!(message.contains("/items/1/name"), "{message}");
        assert!(message.contains("U+0000"), "{message}");
        let Err(DomainError::Invalid(message)) = check_strings(&json!({ "k\u{0}ey": 1 })) else {
            panic!("NUL in a key was accepted");
        };
        assert!(message.contains("/k?ey"), "{message}");
    }
}
