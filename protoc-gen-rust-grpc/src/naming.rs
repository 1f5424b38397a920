//! Every identifier the service generator writes comes from here.
//!
//! Rules, in order:
//! 1. Case: methods and modules are snake_case, traits and structs UpperCamelCase,
//!    constants SCREAMING_SNAKE_CASE (heck's conversions).
//! 2. A leading digit gets a `_` prefix (`3d` becomes `_3d`).
//! 3. Rust keywords become raw identifiers (`type` becomes `r#type`); the four that
//!    cannot be raw (`self`, `Self`, `super`, `crate`) get a `_` suffix instead.
//! 4. A method whose snake_case name would shadow a helper on the generated client
//!    or server (`connect`, `new`, `clone`, `into_inner`, ...) gets the suffix `_rpc`
//!    (`Connect` becomes `connect_rpc`).
//! 5. When two methods of one service still map to the same name, the first in
//!    .proto order keeps it and later ones get `_2`, `_3`, ... in order.
//! 6. A service whose name would clash with the generics of generated code
//!    (`T`, `B`, `F`) gets the suffix `Service`.

use std::collections::BTreeSet;

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

const NOT_RAW: &[&str] = &["self", "Self", "super", "crate"];

/// Method names that generated clients and servers (or traits every client has,
/// such as `Clone`) already use.
const RESERVED_METHODS: &[&str] = &[
    "accept_compressed",
    "borrow",
    "borrow_mut",
    "clone",
    "clone_from",
    "clone_into",
    "connect",
    "fmt",
    "from",
    "from_arc",
    "inner",
    "into",
    "into_inner",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "new",
    "poll_ready",
    "call",
    "send_compressed",
    "to_owned",
    "try_from",
    "try_into",
    "type_id",
    "with_interceptor",
    "with_origin",
];

/// Type names that generated code uses as generics.
const RESERVED_TYPES: &[&str] = &["T", "B", "F"];

/// Makes `name` a valid Rust identifier (rules 2 and 3).
pub(crate) fn escape(name: &str) -> String {
    let name = if name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{name}")
    } else {
        name.to_owned()
    };
    if NOT_RAW.contains(&name.as_str()) {
        format!("{name}_")
    } else if KEYWORDS.contains(&name.as_str()) {
        format!("r#{name}")
    } else {
        name
    }
}

/// The trait name for a service (`greeter` becomes `Greeter`).
pub(crate) fn service_trait(service: &str) -> String {
    let name = service.to_upper_camel_case();
    if RESERVED_TYPES.contains(&name.as_str()) {
        escape(&format!("{name}Service"))
    } else {
        escape(&name)
    }
}

/// A module for one service (`Greeter`, `client` gives `greeter_client`).
pub(crate) fn service_module(service: &str, suffix: &str) -> String {
    escape(&format!("{}_{suffix}", service.to_snake_case()))
}

/// A struct named after a service (`Greeter`, `Client` gives `GreeterClient`).
pub(crate) fn service_struct(service: &str, suffix: &str) -> String {
    escape(&format!("{}{suffix}", service.to_upper_camel_case()))
}

/// The constant holding a method's path (`SayHello` becomes `SAY_HELLO`); it never
/// clashes with the `SERVICE_NAME` constant beside it.
pub(crate) fn method_const(method_ident: &str) -> String {
    let bare = method_ident.strip_prefix("r#").unwrap_or(method_ident);
    let name = bare.to_shouty_snake_case();
    if name.starts_with(|c: char| c.is_ascii_digit()) || name.starts_with('_') || name.is_empty() {
        format!("M{name}")
    } else if name == "SERVICE_NAME" {
        "SERVICE_NAME_RPC".to_owned()
    } else {
        name
    }
}

/// The Rust method names for one service's rpcs, in .proto order (rules 1 to 5).
pub(crate) fn method_idents<'a>(proto_names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = BTreeSet::new();
    let mut idents = Vec::new();
    for proto_name in proto_names {
        let mut base = proto_name.to_snake_case();
        if base.is_empty() {
            base = "method".to_owned();
        }
        if RESERVED_METHODS.contains(&base.as_str()) {
            base.push_str("_rpc");
        }
        let mut candidate = escape(&base);
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = escape(&format!("{base}_{n}"));
            n += 1;
        }
        taken.insert(candidate.clone());
        idents.push(candidate);
    }
    idents
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_table() {
        let table = [
            ("name", "name"),
            ("type", "r#type"),
            ("async", "r#async"),
            ("gen", "r#gen"),
            ("self", "self_"),
            ("Self", "Self_"),
            ("super", "super_"),
            ("crate", "crate_"),
            ("3d", "_3d"),
        ];
        for (input, expected) in table {
            assert_eq!(escape(input), expected, "escape({input})");
        }
    }

    #[test]
    fn method_ident_table() {
        let table: &[(&[&str], &[&str])] = &[
            (&["SayHello"], &["say_hello"]),
            (
                &["Connect", "New", "Clone", "IntoInner"],
                &["connect_rpc", "new_rpc", "clone_rpc", "into_inner_rpc"],
            ),
            (&["Type", "Self", "Super"], &["r#type", "self_", "super_"]),
            (
                &["GetFoo", "get_foo", "getFoo"],
                &["get_foo", "get_foo_2", "get_foo_3"],
            ),
            (
                &["Connect", "connect_rpc"],
                &["connect_rpc", "connect_rpc_2"],
            ),
            (
                &["Ping2", "ping_2", "Ping_2"],
                &["ping2", "ping_2", "ping_2_2"],
            ),
        ];
        for (input, expected) in table {
            assert_eq!(method_idents(input.iter().copied()), *expected, "{input:?}");
        }
    }

    #[test]
    fn service_name_table() {
        assert_eq!(service_trait("greeter"), "Greeter");
        assert_eq!(service_trait("Result"), "Result");
        assert_eq!(service_trait("T"), "TService");
        assert_eq!(service_trait("Self"), "Self_");
        assert_eq!(service_module("RouteGuide", "client"), "route_guide_client");
        assert_eq!(service_module("Self", "server"), "self_server");
        assert_eq!(service_struct("Result", "Client"), "ResultClient");
    }

    #[test]
    fn method_const_table() {
        assert_eq!(method_const("say_hello"), "SAY_HELLO");
        assert_eq!(method_const("r#type"), "TYPE");
        assert_eq!(method_const("_3d"), "M3D");
        assert_eq!(method_const("self_"), "SELF");
        assert_eq!(method_const("service_name"), "SERVICE_NAME_RPC");
    }
}
