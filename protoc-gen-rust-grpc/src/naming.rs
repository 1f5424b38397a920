//! Every identifier the service generator writes comes from here.
//!
//! Rules, in order:
//! 1. Case: methods and modules are snake_case, traits and structs UpperCamelCase,
//!    constants SCREAMING_SNAKE_CASE (heck's conversions).
//! 2. A leading digit gets a `_` prefix (`3d` becomes `_3d`).
//! 3. Rust keywords become raw identifiers (`type` becomes `r#type`); the four that
//!    cannot be raw (`self`, `Self`, `super`, `crate`) get a `_` suffix instead.
//! 4. A method whose snake_case name is a method the generated client already has
//!    (`connect`, `new`, `clone`, ...) gets the suffix `_rpc` (`Connect` becomes
//!    `connect_rpc`).
//! 5. When two methods of one service still map to the same name, the first in
//!    .proto order keeps it and later ones get `_2`, `_3`, ... in order. Method
//!    path constants follow the same rule.
//! 6. A service whose name would clash with the generics of generated code
//!    (`T`, `B`, `F`) gets the suffix `Service`.
//! 7. A service's three modules (`<service>_client`, `_server`, `_methods`) must be
//!    free in its package: not used by an earlier service (files by name, then
//!    .proto order), by prost for a message with nested types or a oneof, or by a
//!    child package. Otherwise the service's snake_case name gets `_2`, `_3`, ...
//!    until all three are free (`Foo_Bar` after `FooBar` gets `foo_bar_2_client`).

use std::collections::BTreeSet;

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

pub(crate) const KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

const NOT_RAW: &[&str] = &["self", "Self", "super", "crate"];

/// The methods a generated client struct has besides its rpcs: its own (see
/// client.rs) and those of the traits it derives (`Clone`, `Debug`). An rpc of the
/// same name would be a duplicate definition, or would hide `client.clone()`.
/// Server trait methods are called fully qualified, so they reserve nothing.
pub(crate) const RESERVED_METHODS: &[&str] = &[
    "accept_compressed",
    "clone",
    "clone_from",
    "connect",
    "fmt",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "new",
    "send_compressed",
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

/// The Rust names of one service's items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServiceNames {
    pub(crate) trait_name: String,
    pub(crate) client_module: String,
    pub(crate) client_struct: String,
    pub(crate) server_module: String,
    pub(crate) server_struct: String,
    pub(crate) methods_module: String,
}

/// Names for the services of one package, in order (rules 6 and 7). `taken` holds
/// the module names the package already has besides ours.
pub(crate) fn service_names<'a>(
    services: impl IntoIterator<Item = &'a str>,
    mut taken: BTreeSet<String>,
) -> Vec<ServiceNames> {
    let mut names = Vec::new();
    for service in services {
        let base = service.to_snake_case();
        let mut candidate = base.clone();
        let mut n = 2;
        let modules =
            |snake: &str| ["client", "server", "methods"].map(|s| service_module(snake, s));
        while modules(&candidate).iter().any(|m| taken.contains(m)) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        let [client_module, server_module, methods_module] = modules(&candidate);
        taken.extend([
            client_module.clone(),
            server_module.clone(),
            methods_module.clone(),
        ]);
        names.push(ServiceNames {
            trait_name: service_trait(service),
            client_module,
            client_struct: service_struct(service, "Client"),
            server_module,
            server_struct: service_struct(service, "Server"),
            methods_module,
        });
    }
    names
}

/// The module prost-build writes for a message with nested types or a oneof, and
/// for a package segment (prost's `to_snake`).
pub(crate) fn prost_module(name: &str) -> String {
    let snake = name.to_snake_case();
    match snake.as_str() {
        "_" | "extern" => format!("{snake}_"),
        _ => escape(&snake),
    }
}

/// The trait name for a service (`greeter` becomes `Greeter`).
fn service_trait(service: &str) -> String {
    let name = service.to_upper_camel_case();
    if RESERVED_TYPES.contains(&name.as_str()) {
        escape(&format!("{name}Service"))
    } else {
        escape(&name)
    }
}

/// A module for one service, from its snake_case name (`greeter`, `client` gives
/// `greeter_client`).
fn service_module(snake: &str, suffix: &str) -> String {
    escape(&format!("{snake}_{suffix}"))
}

/// A struct named after a service (`Greeter`, `Client` gives `GreeterClient`).
fn service_struct(service: &str, suffix: &str) -> String {
    escape(&format!("{}{suffix}", service.to_upper_camel_case()))
}

/// The constants holding the methods' paths, in order: `SAY_HELLO` for
/// `say_hello`, never `SERVICE_NAME` (the constant beside them) and never twice
/// (`_3d` and `m3d` would both be `M3D`).
pub(crate) fn method_consts<'a>(method_idents: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut taken = BTreeSet::new();
    let mut consts = Vec::new();
    for ident in method_idents {
        let base = method_const(ident);
        let mut candidate = base.clone();
        let mut n = 2;
        while taken.contains(&candidate) {
            candidate = format!("{base}_{n}");
            n += 1;
        }
        taken.insert(candidate.clone());
        consts.push(candidate);
    }
    consts
}

/// The constant for one method (`say_hello` becomes `SAY_HELLO`).
fn method_const(method_ident: &str) -> String {
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
                &["connect_rpc", "new_rpc", "clone_rpc", "into_inner"],
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
    fn client_helpers_are_reserved_and_nothing_else() {
        let table: &[(&str, &str)] = &[
            ("Connect", "connect_rpc"),
            ("New", "new_rpc"),
            ("WithOrigin", "with_origin_rpc"),
            ("WithInterceptor", "with_interceptor_rpc"),
            ("SendCompressed", "send_compressed_rpc"),
            ("AcceptCompressed", "accept_compressed_rpc"),
            ("MaxDecodingMessageSize", "max_decoding_message_size_rpc"),
            ("MaxEncodingMessageSize", "max_encoding_message_size_rpc"),
            ("Clone", "clone_rpc"),
            ("CloneFrom", "clone_from_rpc"),
            ("Fmt", "fmt_rpc"),
            // Not methods of the generated client: the runtime's call helpers sit
            // on its private `inner` field, and `call`/`poll_ready` are the server's.
            ("Call", "call"),
            ("PollReady", "poll_ready"),
            ("Unary", "unary"),
            ("Streaming", "streaming"),
            ("Inner", "inner"),
            ("IntoInner", "into_inner"),
            ("FromArc", "from_arc"),
            ("Into", "into"),
        ];
        for (rpc, ident) in table {
            assert_eq!(method_idents([*rpc]), [*ident], "{rpc}");
        }
    }

    fn names(services: &[&str], taken: &[&str]) -> Vec<[String; 3]> {
        let taken = taken.iter().map(|s| (*s).to_owned()).collect();
        service_names(services.iter().copied(), taken)
            .into_iter()
            .map(|n| [n.client_module, n.server_module, n.methods_module])
            .collect()
    }

    #[test]
    fn service_module_table() {
        type Row<'a> = (&'a [&'a str], &'a [&'a str], &'a [[&'a str; 3]]);
        let table: &[Row] = &[
            (
                &["Greeter"],
                &[],
                &[["greeter_client", "greeter_server", "greeter_methods"]],
            ),
            // Two services with one snake_case name: the later one moves.
            (
                &["FooBar", "Foo_Bar", "fooBar"],
                &[],
                &[
                    ["foo_bar_client", "foo_bar_server", "foo_bar_methods"],
                    ["foo_bar_2_client", "foo_bar_2_server", "foo_bar_2_methods"],
                    ["foo_bar_3_client", "foo_bar_3_server", "foo_bar_3_methods"],
                ],
            ),
            // A module prost writes for a message, or a child package: all three move.
            (
                &["Foo"],
                &["foo_server"],
                &[["foo_2_client", "foo_2_server", "foo_2_methods"]],
            ),
            (
                &["Foo", "Foo2"],
                &["foo_methods"],
                &[
                    ["foo_2_client", "foo_2_server", "foo_2_methods"],
                    ["foo2_client", "foo2_server", "foo2_methods"],
                ],
            ),
            // The suffixed name is itself checked.
            (
                &["Foo"],
                &["foo_client", "foo_2_client"],
                &[["foo_3_client", "foo_3_server", "foo_3_methods"]],
            ),
        ];
        for (services, taken, expected) in table {
            let expected: Vec<[String; 3]> =
                expected.iter().map(|m| m.map(str::to_owned)).collect();
            assert_eq!(names(services, taken), expected, "{services:?} {taken:?}");
        }
    }

    #[test]
    fn service_names_keep_types_named_after_the_service() {
        let names = service_names(
            ["Foo_Bar", "T"],
            BTreeSet::from(["foo_bar_client".to_owned()]),
        );
        assert_eq!(names[0].trait_name, "FooBar");
        assert_eq!(names[0].client_struct, "FooBarClient");
        assert_eq!(names[0].server_struct, "FooBarServer");
        assert_eq!(names[0].client_module, "foo_bar_2_client");
        assert_eq!(names[1].trait_name, "TService");
        assert_eq!(names[1].client_module, "t_client");
    }

    #[test]
    fn prost_module_table() {
        let table = [
            ("FooServer", "foo_server"),
            ("Type", "r#type"),
            ("Self", "self_"),
            ("extern", "extern_"),
            ("baz_client", "baz_client"),
        ];
        for (input, expected) in table {
            assert_eq!(prost_module(input), expected, "{input}");
        }
    }

    #[test]
    fn service_name_table() {
        assert_eq!(service_trait("greeter"), "Greeter");
        assert_eq!(service_trait("Result"), "Result");
        assert_eq!(service_trait("T"), "TService");
        assert_eq!(service_trait("Self"), "Self_");
        assert_eq!(
            service_module("route_guide", "client"),
            "route_guide_client"
        );
        assert_eq!(service_module("self", "server"), "self_server");
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

    #[test]
    fn method_consts_never_repeat() {
        assert_eq!(
            method_consts(["_3d", "m3d", "service_name", "service_name_rpc"]),
            ["M3D", "M3D_2", "SERVICE_NAME_RPC", "SERVICE_NAME_RPC_2"]
        );
    }
}
