//! Command-line flags in the interop harness's style: names with underscores,
//! `--name=value` or `--name value` (one leading dash works too), booleans written
//! `true` or `false` (a bare boolean flag means `true`).

use std::collections::HashMap;

/// Whether a flag takes a value or is a boolean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `--name=value` or `--name value`.
    Value,
    /// `--name=true`, `--name false`, or a bare `--name` (true).
    Bool,
}

/// One flag a binary accepts.
#[derive(Debug, Clone, Copy)]
pub struct Flag {
    /// The name, without dashes.
    pub name: &'static str,
    /// Value or boolean.
    pub kind: Kind,
    /// One line of help.
    pub help: &'static str,
}

/// The flags given on a command line.
#[derive(Debug, Default)]
pub struct Flags {
    values: HashMap<&'static str, String>,
}

/// What parsing a command line gave.
#[derive(Debug)]
pub enum Parsed {
    /// The flags.
    Flags(Flags),
    /// `--help` was asked for.
    Help,
}

impl Flags {
    /// Parses `args` (without the program name) against `known`.
    ///
    /// # Errors
    ///
    /// Names the flag that is unknown, lacks a value or is given twice.
    pub fn parse<I>(args: I, known: &[Flag]) -> Result<Parsed, String>
    where
        I: IntoIterator<Item = String>,
    {
        let mut flags = Flags::default();
        let mut args = args.into_iter().peekable();
        while let Some(arg) = args.next() {
            let Some(body) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
                return Err(format!(
                    "unexpected argument {arg:?}: flags look like --name=value"
                ));
            };
            let (name, inline) = match body.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (body, None),
            };
            if name == "help" || name == "h" {
                return Ok(Parsed::Help);
            }
            let flag = known
                .iter()
                .find(|flag| flag.name == name)
                .ok_or_else(|| format!("unknown flag --{name} (known: {})", names(known)))?;
            let value = match (inline, flag.kind) {
                (Some(value), _) => value,
                (None, Kind::Bool) => match args.peek().map(String::as_str) {
                    Some("true" | "false") => args.next().unwrap_or_default(),
                    _ => "true".to_owned(),
                },
                (None, Kind::Value) => args
                    .next()
                    .ok_or_else(|| format!("flag --{name} needs a value"))?,
            };
            if flags.values.insert(flag.name, value).is_some() {
                return Err(format!("flag --{name} is given twice"));
            }
        }
        Ok(Parsed::Flags(flags))
    }

    /// The value of `name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// The boolean `name`, `default` when not given.
    ///
    /// # Errors
    ///
    /// When the value is not `true` or `false`.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool, String> {
        match self.value(name) {
            None => Ok(default),
            Some("true" | "1") => Ok(true),
            Some("false" | "0") => Ok(false),
            Some(other) => Err(format!("--{name} takes true or false, not {other:?}")),
        }
    }

    /// The port number `name`, `default` when not given.
    ///
    /// # Errors
    ///
    /// When the value is not a port number.
    pub fn port(&self, name: &str, default: Option<u16>) -> Result<u16, String> {
        match (self.value(name), default) {
            (Some(value), _) => value
                .parse()
                .map_err(|_| format!("--{name} takes a port number, not {value:?}")),
            (None, Some(port)) => Ok(port),
            (None, None) => Err(format!("--{name} is required")),
        }
    }

    /// The number `name`, `default` when not given.
    ///
    /// # Errors
    ///
    /// When the value is not a number of type `T`.
    pub fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.value(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| {
                format!(
                    "--{name} takes a number ({}), not {value:?}",
                    std::any::type_name::<T>()
                )
            }),
        }
    }
}

fn names(known: &[Flag]) -> String {
    known
        .iter()
        .map(|flag| format!("--{}", flag.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The help text for `known`.
pub fn usage(program: &str, known: &[Flag]) -> String {
    let mut text = format!("usage: {program} [--flag=value]...\n");
    for flag in known {
        let shape = match flag.kind {
            Kind::Value => format!("--{}=VALUE", flag.name),
            Kind::Bool => format!("--{}=true|false", flag.name),
        };
        text.push_str(&format!("  {shape:<32} {}\n", flag.help));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{Flag, Flags, Kind, Parsed};

    const KNOWN: &[Flag] = &[
        Flag {
            name: "port",
            kind: Kind::Value,
            help: "",
        },
        Flag {
            name: "use_tls",
            kind: Kind::Bool,
            help: "",
        },
    ];

    fn parse(args: &[&str]) -> Result<Flags, String> {
        match Flags::parse(args.iter().map(|arg| (*arg).to_owned()), KNOWN)? {
            Parsed::Flags(flags) => Ok(flags),
            Parsed::Help => Err("help".to_owned()),
        }
    }

    #[test]
    fn values_come_inline_or_as_the_next_argument() {
        assert_eq!(parse(&["--port=8080"]).unwrap().value("port"), Some("8080"));
        assert_eq!(
            parse(&["--port", "8080"]).unwrap().value("port"),
            Some("8080")
        );
        assert_eq!(
            parse(&["-port", "8080"]).unwrap().value("port"),
            Some("8080")
        );
    }

    #[test]
    fn booleans_take_true_false_or_nothing() {
        assert!(
            parse(&["--use_tls=true"])
                .unwrap()
                .bool("use_tls", false)
                .unwrap()
        );
        assert!(
            !parse(&["--use_tls", "false"])
                .unwrap()
                .bool("use_tls", true)
                .unwrap()
        );
        let bare = parse(&["--use_tls", "--port=1"]).unwrap();
        assert!(bare.bool("use_tls", false).unwrap());
        assert_eq!(bare.value("port"), Some("1"));
        assert!(!parse(&[]).unwrap().bool("use_tls", false).unwrap());
    }

    #[test]
    fn unknown_and_incomplete_flags_are_errors() {
        assert!(
            parse(&["--nope=1"])
                .unwrap_err()
                .contains("unknown flag --nope")
        );
        assert!(parse(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(
            parse(&["--port=1", "--port=2"])
                .unwrap_err()
                .contains("twice")
        );
        assert!(
            parse(&["port"])
                .unwrap_err()
                .contains("unexpected argument")
        );
        assert!(
            parse(&["--port=x"])
                .unwrap()
                .number("port", 0_u32)
                .unwrap_err()
                .contains("takes a number")
        );
        assert!(
            parse(&["--use_tls=maybe"])
                .unwrap()
                .bool("use_tls", false)
                .is_err()
        );
    }
}
