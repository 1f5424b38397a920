//! The generator behind every front door (protoc-gen-rust-grpc/src/lib.rs),
//! fed an arbitrary small descriptor set through the plugin protocol: names
//! from a pool of hard identifiers or anything at all, nested messages and
//! enums, oneofs, services whose methods name any type (or none), comments
//! with backticks and code, any options. The answer is files that parse as
//! Rust or an error in the response; never a panic.

use arbitrary::{Arbitrary, Unstructured};
use prost::Message as _;
use prost_types::compiler::CodeGeneratorRequest;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::source_code_info::Location;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, EnumValueDescriptorProto, FieldDescriptorProto,
    FileDescriptorProto, MethodDescriptorProto, OneofDescriptorProto, ServiceDescriptorProto,
    SourceCodeInfo,
};

/// Identifiers that have broken generators: keywords, our own helpers' names,
/// names that collide once cased.
const NAMES: &[&str] = &[
    "Foo",
    "foo",
    "FooBar",
    "Foo_Bar",
    "foo_bar",
    "fooBar",
    "FOO_BAR",
    "type",
    "Self",
    "self",
    "super",
    "crate",
    "async",
    "await",
    "dyn",
    "r#type",
    "fn",
    "impl",
    "mod",
    "Client",
    "Server",
    "Service",
    "new",
    "connect",
    "with_interceptor",
    "with_origin",
    "inner",
    "FooServer",
    "FooClient",
    "foo_server",
    "foo_client",
    "Request",
    "Response",
    "Status",
    "Result",
    "Option",
    "Box",
    "String",
    "Vec",
    "_",
    "_foo",
    "foo_",
    "A",
    "a",
    "Empty",
    "Streaming",
    "BoxStream",
    "send_compressed",
    "max_decoding_message_size",
    "call",
    "poll_ready",
    "T",
    "Error",
    "Default",
    "drop",
    "clone",
    "r",
    "union",
    "macro_rules",
];

const COMMENTS: &[&str] = &[
    " A comment.",
    " `code` and [link] and [broken link](",
    "```\nfn main() { panic!() }\n```",
    " ```rust\n assert!(false);\n ```",
    " <html> & </b> *emph* _under_ \\ \t",
    " [Foo] [`Foo`] [crate::Foo] [super::Bar]",
    "    indented code block\n    let x = 1;",
    " # heading\n - list\n 1. item",
    " */ /* // \"quoted\" 'x' \u{202e}bidi",
];

const PARAMETERS: &[&str] = &[
    "",
    "default_stubs=true",
    "client=false",
    "server=false",
    "file_descriptor_set=true",
    "compile_well_known_types=true",
    "extern_path=.a=::other",
    "include_file=",
];

#[derive(Arbitrary, Debug)]
enum Name {
    Pool(u8),
    Raw(String),
}

impl Name {
    fn get(&self) -> String {
        match self {
            Name::Pool(i) => NAMES[usize::from(*i) % NAMES.len()].to_owned(),
            Name::Raw(s) => s.clone(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Field {
    name: Name,
    number: u8,
    label: u8,
    kind: u8,
    type_ref: u8,
    oneof: Option<u8>,
    proto3_optional: bool,
}

#[derive(Arbitrary, Debug)]
struct Enum {
    name: Name,
    values: Vec<(Name, i8)>,
}

#[derive(Arbitrary, Debug)]
struct Msg {
    name: Name,
    fields: Vec<Field>,
    oneofs: Vec<Name>,
    nested: Vec<Msg>,
    enums: Vec<Enum>,
    comment: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Method {
    name: Name,
    input: u8,
    output: u8,
    client_streaming: bool,
    server_streaming: bool,
    comment: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Service {
    name: Name,
    methods: Vec<Method>,
    comment: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct File {
    package: Vec<Name>,
    proto3: bool,
    imports: Vec<u8>,
    messages: Vec<Msg>,
    enums: Vec<Enum>,
    services: Vec<Service>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    files: Vec<File>,
    parameter: u8,
    generate: Vec<u8>,
}

pub fn run(data: &[u8]) {
    let Ok(input) = Input::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    if input.files.is_empty() || input.files.len() > 4 {
        return;
    }
    crate::plugin_request::run(&request(&input).encode_to_vec());
}

fn request(input: &Input) -> CodeGeneratorRequest {
    // Every type's full name, for fields and methods to refer to.
    let mut types = Vec::new();
    for file in &input.files {
        let package = package(file);
        let prefix = if package.is_empty() {
            String::new()
        } else {
            format!(".{package}")
        };
        for msg in &file.messages {
            msg_types(msg, &prefix, &mut types);
        }
        for e in &file.enums {
            types.push((format!("{prefix}.{}", e.name.get()), true));
        }
    }
    let names: Vec<String> = (0..input.files.len())
        .map(|i| format!("f{i}.proto"))
        .collect();
    let proto_file = input
        .files
        .iter()
        .enumerate()
        .map(|(i, file)| FileDescriptorProto {
            name: Some(names[i].clone()),
            package: Some(package(file)).filter(|p| !p.is_empty()),
            dependency: file
                .imports
                .iter()
                .map(|j| names[usize::from(*j) % names.len()].clone())
                .filter(|name| *name != names[i])
                .collect(),
            message_type: file.messages.iter().map(|m| message(m, &types)).collect(),
            enum_type: file.enums.iter().map(enumeration).collect(),
            service: file.services.iter().map(|s| service(s, &types)).collect(),
            syntax: Some(if file.proto3 { "proto3" } else { "proto2" }.to_owned()),
            source_code_info: Some(comments(file)),
            ..Default::default()
        })
        .collect();
    let file_to_generate = if input.generate.is_empty() {
        names.clone()
    } else {
        input
            .generate
            .iter()
            .map(|j| names[usize::from(*j) % names.len()].clone())
            .collect()
    };
    CodeGeneratorRequest {
        file_to_generate,
        parameter: Some(PARAMETERS[usize::from(input.parameter) % PARAMETERS.len()].to_owned()),
        proto_file,
        ..Default::default()
    }
}

fn package(file: &File) -> String {
    let parts: Vec<String> = file.package.iter().map(Name::get).collect();
    parts.join(".")
}

fn msg_types(msg: &Msg, prefix: &str, out: &mut Vec<(String, bool)>) {
    let name = format!("{prefix}.{}", msg.name.get());
    for nested in &msg.nested {
        msg_types(nested, &name, out);
    }
    for e in &msg.enums {
        out.push((format!("{name}.{}", e.name.get()), true));
    }
    out.push((name, false));
}

fn pick(types: &[(String, bool)], i: u8) -> Option<&(String, bool)> {
    types.get(usize::from(i) % types.len().max(1))
}

fn message(msg: &Msg, types: &[(String, bool)]) -> DescriptorProto {
    const SCALARS: [Type; 15] = [
        Type::Double,
        Type::Float,
        Type::Int64,
        Type::Uint64,
        Type::Int32,
        Type::Fixed64,
        Type::Fixed32,
        Type::Bool,
        Type::String,
        Type::Bytes,
        Type::Uint32,
        Type::Sfixed32,
        Type::Sfixed64,
        Type::Sint32,
        Type::Sint64,
    ];
    let field = |f: &Field| {
        let label = match f.label % 3 {
            0 => Label::Optional,
            1 => Label::Repeated,
            _ => Label::Required,
        };
        let (kind, type_name) = match (
            usize::from(f.kind) % (SCALARS.len() + 1),
            pick(types, f.type_ref),
        ) {
            (k, _) if k < SCALARS.len() => (SCALARS[k], None),
            (_, Some((name, true))) => (Type::Enum, Some(name.clone())),
            (_, Some((name, false))) => (Type::Message, Some(name.clone())),
            (_, None) => (Type::String, None),
        };
        FieldDescriptorProto {
            name: Some(f.name.get()),
            number: Some(i32::from(f.number)),
            label: Some(label as i32),
            r#type: Some(kind as i32),
            type_name,
            oneof_index: f
                .oneof
                .map(|i| i32::from(i) % (msg.oneofs.len().max(1) as i32)),
            proto3_optional: Some(f.proto3_optional),
            json_name: None,
            ..Default::default()
        }
    };
    DescriptorProto {
        name: Some(msg.name.get()),
        field: msg.fields.iter().map(field).collect(),
        nested_type: msg.nested.iter().map(|m| message(m, types)).collect(),
        enum_type: msg.enums.iter().map(enumeration).collect(),
        oneof_decl: msg
            .oneofs
            .iter()
            .map(|name| OneofDescriptorProto {
                name: Some(name.get()),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn enumeration(e: &Enum) -> EnumDescriptorProto {
    EnumDescriptorProto {
        name: Some(e.name.get()),
        value: e
            .values
            .iter()
            .map(|(name, number)| EnumValueDescriptorProto {
                name: Some(name.get()),
                number: Some(i32::from(*number)),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn service(s: &Service, types: &[(String, bool)]) -> ServiceDescriptorProto {
    let type_of = |i: u8| pick(types, i).map(|(name, _)| name.clone());
    ServiceDescriptorProto {
        name: Some(s.name.get()),
        method: s
            .methods
            .iter()
            .map(|m| MethodDescriptorProto {
                name: Some(m.name.get()),
                input_type: type_of(m.input),
                output_type: type_of(m.output),
                client_streaming: Some(m.client_streaming),
                server_streaming: Some(m.server_streaming),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn comments(file: &File) -> SourceCodeInfo {
    let mut location = Vec::new();
    let mut add = |path: Vec<i32>, comment: Option<u8>| {
        if let Some(c) = comment {
            location.push(Location {
                path,
                span: vec![0, 0, 0],
                leading_comments: Some(COMMENTS[usize::from(c) % COMMENTS.len()].to_owned()),
                ..Default::default()
            });
        }
    };
    for (i, m) in file.messages.iter().enumerate() {
        add(vec![4, i as i32], m.comment);
    }
    for (i, s) in file.services.iter().enumerate() {
        add(vec![6, i as i32], s.comment);
        for (j, m) in s.methods.iter().enumerate() {
            add(vec![6, i as i32, 2, j as i32], m.comment);
        }
    }
    SourceCodeInfo { location }
}
