//! Reading proto3 JSON values with their field paths: every read either gives a
//! typed value or an error that names where in the config it went wrong.
//!
//! Proto3 JSON rules followed here: a field may be spelled camelCase or as in
//! the .proto (snake_case); `null` is the same as absent; integers may be
//! numbers or strings; a Duration is a string of seconds with up to nine
//! fractional digits and an `s`; an enum is its name or its number.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::base::status::Code;
use crate::client::service_config::error::ServiceConfigError;

type Result<T> = std::result::Result<T, ServiceConfigError>;

/// One JSON value and the path that reached it.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    path: String,
}

impl<'a> Node<'a> {
    pub(crate) fn root(value: &'a Value) -> Self {
        Self {
            value,
            path: String::new(),
        }
    }

    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    pub(crate) fn error(&self, message: impl Into<String>) -> ServiceConfigError {
        ServiceConfigError::field(self.path.clone(), message)
    }

    pub(crate) fn object(&self) -> Result<&'a Map<String, Value>> {
        self.value
            .as_object()
            .ok_or_else(|| self.error(format!("must be an object, not {}", kind(self.value))))
    }

    /// The field `name` (camelCase) of this object, if present and not null.
    pub(crate) fn get(&self, name: &str) -> Result<Option<Node<'a>>> {
        let object = self.object()?;
        let value = match object.get(name) {
            Some(value) => Some(value),
            None => object.get(&snake_case(name)),
        };
        Ok(value.filter(|value| !value.is_null()).map(|value| Node {
            value,
            path: if self.path.is_empty() {
                name.to_owned()
            } else {
                format!("{}.{name}", self.path)
            },
        }))
    }

    /// The items of this array.
    pub(crate) fn items(&self) -> Result<Vec<Node<'a>>> {
        let array = self
            .value
            .as_array()
            .ok_or_else(|| self.error(format!("must be an array, not {}", kind(self.value))))?;
        Ok(array
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    pub(crate) fn string(&self) -> Result<&'a str> {
        self.value
            .as_str()
            .ok_or_else(|| self.error(format!("must be a string, not {}", kind(self.value))))
    }

    pub(crate) fn bool(&self) -> Result<bool> {
        self.value
            .as_bool()
            .ok_or_else(|| self.error(format!("must be true or false, not {}", kind(self.value))))
    }

    /// An integer between `min` and `max`, as a number or a string.
    pub(crate) fn integer(&self, min: i64, max: i64) -> Result<i64> {
        let out_of_range = || self.error(format!("must be an integer from {min} to {max}"));
        let value = match self.value {
            Value::Number(number) => match (number.as_i64(), number.as_f64()) {
                (Some(n), _) => n,
                // 3.0 is an integer; 3.5 and 1e30 are not one we can hold.
                (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e18 => f as i64,
                _ => return Err(out_of_range()),
            },
            Value::String(text) => text.parse::<i64>().map_err(|_| out_of_range())?,
            other => {
                return Err(self.error(format!("must be an integer, not {}", kind(other))));
            }
        };
        if value < min || value > max {
            return Err(out_of_range());
        }
        Ok(value)
    }

    /// A finite number, as a number or a string.
    pub(crate) fn number(&self) -> Result<f64> {
        let value = match self.value {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.parse::<f64>().ok(),
            other => {
                return Err(self.error(format!("must be a number, not {}", kind(other))));
            }
        };
        value
            .filter(|value| value.is_finite())
            .ok_or_else(|| self.error("must be a finite number"))
    }

    /// A proto3 JSON Duration, which here may not be negative.
    pub(crate) fn duration(&self) -> Result<Duration> {
        parse_duration(self.string()?).map_err(|message| self.error(message))
    }

    /// A status code, by name in any case or by number.
    pub(crate) fn code(&self) -> Result<Code> {
        let index = match self.value {
            Value::String(name) => CODE_NAMES
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
                .ok_or_else(|| self.error(format!("unknown status code {name:?}")))?,
            Value::Number(_) => self.integer(0, 16)? as usize,
            other => {
                return Err(self.error(format!(
                    "must be a status code name or number, not {}",
                    kind(other)
                )));
            }
        };
        Ok(Code::from(index as i32))
    }
}

/// gRPC's status code names, indexed by code.
const CODE_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The largest Duration protobuf allows, in seconds (10,000 years).
const MAX_DURATION_SECONDS: u64 = 315_576_000_000;

/// Parses a proto3 JSON Duration (`"1s"`, `"0.5s"`, `"1.000000001s"`); the
/// error says what is wrong.
pub(crate) fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let bad = || format!("{text:?} is not a duration: expected seconds like \"1.5s\"");
    if text.starts_with('-') {
        return Err(format!("{text:?} must not be negative"));
    }
    let number = text.strip_suffix('s').ok_or_else(bad)?;
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (number, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|f| !digits(f) || f.len() > 9) {
        return Err(bad());
    }
    let seconds: u64 = whole
        .parse()
        .ok()
        .filter(|s| *s <= MAX_DURATION_SECONDS)
        .ok_or_else(|| format!("{text:?} is longer than protobuf's 10,000-year limit"))?;
    let nanos = match fraction {
        // Pad to nine digits: "5" is 500,000,000 nanoseconds.
        Some(f) => format!("{f:0<9}").parse::<u32>().map_err(|_| bad())?,
        None => 0,
    };
    Ok(Duration::new(seconds, nanos))
}

/// `maxAttempts` as a .proto spells it: `max_attempts`.
fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_whole_and_fractional_seconds() {
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.000000001s"), Ok(Duration::new(1, 1)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2.25s"), Ok(Duration::from_millis(2250)));
        assert_eq!(
            parse_duration("315576000000s"),
            Ok(Duration::from_secs(MAX_DURATION_SECONDS))
        );
    }

    #[test]
    fn malformed_durations_are_rejected() {
        for text in [
            "",
            "1",
            "s",
            "1.s",
            ".5s",
            "1.0000000001s",
            "1e3s",
            "+1s",
            " 1s",
            "1s ",
            "1ms",
            "0x1s",
            "1.5.5s",
            "315576000001s",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?}");
        }
        let negative = parse_duration("-1s").unwrap_err();
        assert!(negative.contains("negative"), "{negative}");
    }

    #[test]
    fn codes_are_read_by_name_in_any_case_or_by_number() {
        let code = |value: Value| Node::root(&value).code();
        assert_eq!(code("UNAVAILABLE".into()), Ok(Code::Unavailable));
        assert_eq!(code("unavailable".into()), Ok(Code::Unavailable));
        assert_eq!(code("Deadline_Exceeded".into()), Ok(Code::DeadlineExceeded));
        assert_eq!(code(14.into()), Ok(Code::Unavailable));
        assert_eq!(code(0.into()), Ok(Code::Ok));
        assert_eq!(code(16.into()), Ok(Code::Unauthenticated));
        for bad in [
            Value::from("NOPE"),
            17.into(),
            (-1).into(),
            "14".into(),
            true.into(),
        ] {
            assert!(code(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_come_as_numbers_or_strings() {
        let int = |value: Value| Node::root(&value).integer(0, 10);
        assert_eq!(int(3.into()), Ok(3));
        assert_eq!(int("3".into()), Ok(3));
        assert_eq!(int(3.0.into()), Ok(3));
        assert!(int(3.5.into()).is_err());
        assert!(int(11.into()).is_err());
        assert!(int((-1).into()).is_err());
        assert!(int("three".into()).is_err());
        assert!(int(1e300.into()).is_err());
    }

    #[test]
    fn fields_are_found_by_camel_or_snake_name_and_null_is_absent() {
        let value = serde_json::json!({"maxAttempts": 2, "initial_backoff": "1s", "gone": null});
        let root = Node::root(&value);
        let attempts = root.get("maxAttempts").unwrap().unwrap();
        assert_eq!(attempts.path(), "maxAttempts");
        assert!(root.get("initialBackoff").unwrap().is_some());
        assert!(root.get("gone").unwrap().is_none());
        assert!(root.get("missing").unwrap().is_none());
    }

    #[test]
    fn paths_name_fields_and_indexes() {
        let value = serde_json::json!({"a": [{"b": "x"}]});
        let root = Node::root(&value);
        let b = root.get("a").unwrap().unwrap().items().unwrap()[0]
            .get("b")
            .unwrap()
            .unwrap();
        assert_eq!(b.path(), "a[0].b");
        assert_eq!(
            b.bool().unwrap_err().to_string(),
            "a[0].b: must be true or false, not a string"
        );
    }
}
