//! One random case: one or two legal .proto files whose every name is hard for
//! a generator (case collisions, Rust keywords, our generated helpers' names,
//! service/message/module clashes), with nested messages, enums, oneofs,
//! nested packages and odd comments.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::rng::Rng;

/// Words that have broken generators, all legal protobuf identifiers.
const WORDS: &[&str] = &[
    // Case collisions.
    "Foo",
    "foo",
    "FooBar",
    "Foo_Bar",
    "foo_bar",
    "fooBar",
    "FOO_BAR",
    "FooBAR",
    "Foo__Bar",
    "_Foo",
    "Foo_",
    "_",
    "__",
    "a",
    "A",
    "x",
    "X",
    "A_B",
    "a_b",
    "AB",
    "ab",
    "HTTPServer",
    "HttpServer",
    "http_server",
    "IPv4",
    "ipv4",
    "I_P_v4",
    // Rust keywords, reserved words, the four that cannot be raw.
    "self",
    "Self",
    "super",
    "crate",
    "type",
    "match",
    "async",
    "await",
    "dyn",
    "fn",
    "impl",
    "mod",
    "move",
    "ref",
    "where",
    "yield",
    "gen",
    "try",
    "abstract",
    "macro",
    "union",
    "static",
    "box",
    "loop",
    "use",
    "pub",
    "r",
    "extern",
    "unsafe",
    "trait",
    "enum",
    "struct",
    "const",
    "let",
    "in",
    "as",
    "become",
    "final",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "do",
    // Our generated items and what they use.
    "Client",
    "Server",
    "Service",
    "Methods",
    "new",
    "connect",
    "with_interceptor",
    "with_origin",
    "send_compressed",
    "accept_compressed",
    "max_decoding_message_size",
    "max_encoding_message_size",
    "clone",
    "clone_from",
    "fmt",
    "inner",
    "into_inner",
    "Request",
    "Response",
    "Status",
    "Result",
    "Option",
    "String",
    "Vec",
    "Box",
    "Error",
    "Streaming",
    "BoxStream",
    "Channel",
    "Body",
    "Future",
    "Send",
    "Sync",
    "Default",
    "Debug",
    "Clone",
    "Message",
    "Any",
    "Empty",
    "Duration",
    "Timestamp",
    "Code",
    "Interceptor",
    "Router",
    "T",
    "B",
    "F",
    "S",
    "M",
    "call",
    "poll_ready",
    "ready",
    "rust_grpc",
    "prost",
    "tonic",
    "std",
    "core",
    "alloc",
    "codegen",
    "http",
    "Arc",
    "Pin",
    "Context",
    // Service, message and module clashes.
    "FooServer",
    "FooClient",
    "FooService",
    "FooMethods",
    "foo_client",
    "foo_server",
    "foo_methods",
    "Greeter",
    "greeter",
    "GreeterServer",
    "GreeterClient",
    "greeter_client",
    "greeter_server",
    "SayHello",
    "say_hello",
    "Bar",
    "bar",
    "BarServer",
    "bar_client",
];

/// Comments with Markdown and code a doc comment must not trip on.
const COMMENTS: &[&str] = &[
    "A plain comment.",
    "Uses `code`, [brackets], [a link](http://example.com) and [Foo].",
    "[`Foo`] and [crate::Foo] and [super::Bar] and [Self::new].",
    "```\nfn main() { panic!(\"doc test\") }\n```",
    "```rust\nassert!(false);\n```",
    "    indented code\n    let x: u8 = 256;",
    "<b>html</b> & <unclosed> *emph* _under_ \\back\\slash",
    "# Heading\n- list\n1. item\n> quote",
    "Trailing backtick `",
    "Unbalanced [bracket and (paren",
    "https://example.com/a_b?c=d&e=f <https://example.com>",
    "TODO: fix me. FIXME. XXX.",
    "*/ /* // \"quoted\" 'x' {braces} $dollar #hash",
    "Tab\tand unicode: ünïcødé, 日本語, emoji 🦀.",
    "Ends with a backslash \\",
];

const SCALARS: &[&str] = &[
    "double", "float", "int32", "int64", "uint32", "uint64", "sint32", "sint64", "fixed32",
    "fixed64", "sfixed32", "sfixed64", "bool", "string", "bytes",
];

/// A name: a word, two words run together or joined by `_`, maybe recased.
fn name(rng: &mut Rng) -> String {
    let mut s = rng.pick(WORDS).to_string();
    if rng.one_in(3) {
        let sep = if rng.one_in(2) { "_" } else { "" };
        s = format!("{s}{sep}{}", rng.pick(WORDS));
    }
    match rng.below(8) {
        0 => s.to_lowercase(),
        1 => s.to_uppercase(),
        _ => s,
    }
}

/// A name not yet used in `scope` (exactly; near-collisions are the point).
fn fresh(rng: &mut Rng, scope: &mut BTreeSet<String>) -> String {
    loop {
        let n = name(rng);
        if scope.insert(n.clone()) {
            return n;
        }
    }
}

fn comment(rng: &mut Rng, out: &mut String, indent: &str) {
    if !rng.one_in(2) {
        return;
    }
    for line in rng.pick(COMMENTS).lines() {
        let _ = writeln!(out, "{indent}// {line}");
    }
}

/// The types a file can name: (proto name as written, is an enum).
struct Types(Vec<(String, bool)>);

struct Builder<'a> {
    rng: &'a mut Rng,
    proto3: bool,
    field_number: u32,
}

impl Builder<'_> {
    fn message(
        &mut self,
        out: &mut String,
        indent: &str,
        depth: usize,
        path: &str,
        types: &mut Types,
        scope: &mut BTreeSet<String>,
    ) {
        let name = fresh(self.rng, scope);
        let full = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        comment(self.rng, out, indent);
        let _ = writeln!(out, "{indent}message {name} {{");
        let inner = format!("{indent}  ");
        let mut members = BTreeSet::new();
        let mut body = String::new();
        if depth < 2 && self.rng.one_in(3) {
            self.message(&mut body, &inner, depth + 1, &full, types, &mut members);
        }
        if self.rng.one_in(3) {
            self.enumeration(&mut body, &inner, &full, types, &mut members);
        }
        let fields = self.rng.below(4);
        for _ in 0..fields {
            self.field(&mut body, &inner, types, &mut members);
        }
        if self.rng.one_in(3) {
            let oneof = fresh(self.rng, &mut members);
            let _ = writeln!(body, "{inner}oneof {oneof} {{");
            for _ in 0..1 + self.rng.below(2) {
                let field = fresh(self.rng, &mut members);
                let ty = self.scalar_or_type(types, false);
                self.field_number += 1;
                let _ = writeln!(body, "{inner}  {ty} {field} = {};", self.field_number);
            }
            let _ = writeln!(body, "{inner}}}");
        }
        out.push_str(&body);
        let _ = writeln!(out, "{indent}}}");
        types.0.push((full, false));
    }

    fn scalar_or_type(&mut self, types: &Types, maps: bool) -> String {
        if !types.0.is_empty() && self.rng.one_in(2) {
            let (ty, _) = self.rng.pick(&types.0);
            return ty.clone();
        }
        if maps && self.rng.one_in(6) {
            let value = self.scalar_or_type(types, false);
            return format!("map<string, {value}>");
        }
        self.rng.pick(SCALARS).to_string()
    }

    fn field(
        &mut self,
        out: &mut String,
        indent: &str,
        types: &Types,
        members: &mut BTreeSet<String>,
    ) {
        let field = fresh(self.rng, members);
        let ty = self.scalar_or_type(types, true);
        let label = if ty.starts_with("map<") {
            ""
        } else {
            match self.rng.below(4) {
                0 => "repeated ",
                1 if self.proto3 => "optional ",
                1 => "required ",
                _ if self.proto3 => "",
                _ => "optional ",
            }
        };
        comment(self.rng, out, indent);
        self.field_number += 1;
        let _ = writeln!(out, "{indent}{label}{ty} {field} = {};", self.field_number);
    }

    fn enumeration(
        &mut self,
        out: &mut String,
        indent: &str,
        path: &str,
        types: &mut Types,
        scope: &mut BTreeSet<String>,
    ) {
        let name = fresh(self.rng, scope);
        comment(self.rng, out, indent);
        let _ = writeln!(out, "{indent}enum {name} {{");
        let mut values = BTreeSet::new();
        for i in 0..1 + self.rng.below(3) {
            // Values share their enum's scope: prefix them to stay legal.
            let value = format!(
                "{}_{}_{i}",
                name.to_uppercase(),
                fresh(self.rng, &mut values).to_uppercase()
            );
            let _ = writeln!(out, "{indent}  {value} = {i};");
        }
        let _ = writeln!(out, "{indent}}}");
        let full = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        types.0.push((full, true));
    }
}

/// One .proto file of a case.
pub(crate) struct File {
    pub(crate) name: String,
    pub(crate) text: String,
}

/// A case: one file, or two where the second (maybe in a nested package)
/// imports the first and uses its messages.
pub(crate) fn case(rng: &mut Rng) -> Vec<File> {
    let mut package: Vec<String> = (0..rng.below(3)).map(|_| name(rng)).collect();
    let two = rng.one_in(3);
    let mut files = Vec::new();
    let mut imported = Types(Vec::new());
    for index in 0..if two { 2 } else { 1 } {
        if index == 1 {
            match rng.below(3) {
                0 => package.push(name(rng)),
                1 => {}
                _ => package = (0..1 + rng.below(2)).map(|_| name(rng)).collect(),
            }
        }
        let proto3 = !rng.one_in(4);
        let mut out = String::new();
        comment(rng, &mut out, "");
        let _ = writeln!(
            out,
            "syntax = \"{}\";",
            if proto3 { "proto3" } else { "proto2" }
        );
        if !package.is_empty() {
            let _ = writeln!(out, "package {};", package.join("."));
        }
        let empty = rng.one_in(4);
        if empty {
            let _ = writeln!(out, "import \"google/protobuf/empty.proto\";");
        }
        if index == 1 {
            let _ = writeln!(out, "import \"f0.proto\";");
        }
        // Types from the first file, fully qualified.
        let mut types = Types(imported.0.iter().map(|(t, e)| (t.clone(), *e)).collect());
        let mut scope = BTreeSet::new();
        let mut builder = Builder {
            rng: &mut *rng,
            proto3,
            field_number: 0,
        };
        for _ in 0..1 + builder.rng.below(3) {
            builder.message(&mut out, "", 0, "", &mut types, &mut scope);
        }
        if builder.rng.one_in(3) {
            builder.enumeration(&mut out, "", "", &mut types, &mut scope);
        }
        let messages: Vec<String> = types
            .0
            .iter()
            .filter(|(_, e)| !e)
            .map(|(t, _)| t.clone())
            .collect();
        for _ in 0..1 + rng.below(2) {
            let service = fresh(rng, &mut scope);
            comment(rng, &mut out, "");
            let _ = writeln!(out, "service {service} {{");
            let mut methods = BTreeSet::new();
            for _ in 0..1 + rng.below(4) {
                let method = fresh(rng, &mut methods);
                let ty = |rng: &mut Rng| {
                    if empty && rng.one_in(4) {
                        "google.protobuf.Empty".to_owned()
                    } else {
                        rng.pick(&messages).clone()
                    }
                };
                let input = ty(rng);
                let output = ty(rng);
                let cs = if rng.one_in(2) { "stream " } else { "" };
                let ss = if rng.one_in(2) { "stream " } else { "" };
                comment(rng, &mut out, "  ");
                let _ = writeln!(out, "  rpc {method}({cs}{input}) returns ({ss}{output});");
            }
            let _ = writeln!(out, "}}");
        }
        // What the second file may use: the first file's types, qualified.
        let prefix = if package.is_empty() {
            ".".to_owned()
        } else {
            format!(".{}.", package.join("."))
        };
        imported = Types(
            types
                .0
                .iter()
                .filter(|(t, _)| !t.starts_with('.'))
                .map(|(t, e)| (format!("{prefix}{t}"), *e))
                .collect(),
        );
        files.push(File {
            name: format!("f{index}.proto"),
            text: out,
        });
    }
    files
}
