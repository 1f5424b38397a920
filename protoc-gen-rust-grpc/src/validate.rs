//! Checks on descriptors that protoc and protox always pass but a hand-made
//! request may not, made before prost-build sees them: prost-build panics on
//! some and writes code that cannot compile for others.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use prost_types::field_descriptor_proto::Type;
use prost_types::{DescriptorProto, FileDescriptorProto};

use crate::{Error, ErrorKind, Options};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Message,
    Enum,
}

/// Every name is a protobuf identifier, every type a method or field names
/// exists and has the right kind, and every map entry has its `key` and `value`
/// fields.
pub(crate) fn descriptors(files: &[FileDescriptorProto]) -> Result<(), Error> {
    for file in files {
        identifiers(file)?;
    }
    let mut types = BTreeMap::new();
    for file in files {
        let scope = match file.package() {
            "" => String::new(),
            package => format!(".{package}"),
        };
        for message in &file.message_type {
            collect_message(&scope, message, &mut types);
        }
        for enumeration in &file.enum_type {
            types.insert(format!("{scope}.{}", enumeration.name()), Kind::Enum);
        }
    }
    for file in files {
        let scope = match file.package() {
            "" => String::new(),
            package => format!("{package}."),
        };
        for service in &file.service {
            for method in &service.method {
                let rpc = format!("rpc {scope}{}/{}", service.name(), method.name());
                for (role, name) in [
                    ("request type", &method.input_type),
                    ("response type", &method.output_type),
                ] {
                    check_type(file, &types, &rpc, role, name.as_deref(), Kind::Message)?;
                }
            }
        }
        for message in &file.message_type {
            check_message(file, &types, &format!("{scope}{}", message.name()), message)?;
        }
    }
    Ok(())
}

/// Every type the files to generate name is generated with them, mapped with
/// `extern_path`, or a well-known type from `prost_types`. Otherwise the code
/// would name a module that is not there (etcd's rpc.proto alone names `mvccpb`)
/// and fail to compile far from the cause.
pub(crate) fn references(
    files: &[FileDescriptorProto],
    wanted: &BTreeSet<&str>,
    options: &Options,
) -> Result<(), Error> {
    let mut defined_in = BTreeMap::new();
    for file in files {
        let scope = match file.package() {
            "" => String::new(),
            package => format!(".{package}"),
        };
        let mut names = BTreeMap::new();
        for message in &file.message_type {
            collect_message(&scope, message, &mut names);
        }
        for enumeration in &file.enum_type {
            names.insert(format!("{scope}.{}", enumeration.name()), Kind::Enum);
        }
        defined_in.extend(names.into_keys().map(|name| (name, file)));
    }
    let provided = |name: &str| {
        let external = options.extern_paths.iter().any(|(proto, _)| {
            proto == "." || name == proto || name.starts_with(&format!("{proto}."))
        });
        external || (name.starts_with(".google.protobuf.") && !options.compile_well_known_types)
    };
    // Missing file -> (its package, the places that use it), sorted for stable text.
    let mut missing: BTreeMap<&str, (&str, BTreeSet<String>)> = BTreeMap::new();
    for file in files.iter().filter(|file| wanted.contains(file.name())) {
        let mut uses = Vec::new();
        let scope = match file.package() {
            "" => String::new(),
            package => format!("{package}."),
        };
        for service in &file.service {
            for method in &service.method {
                let rpc = format!("rpc {scope}{}/{}", service.name(), method.name());
                uses.push((rpc.clone(), method.input_type()));
                uses.push((rpc, method.output_type()));
            }
        }
        fn fields<'a>(
            scope: &str,
            message: &'a DescriptorProto,
            uses: &mut Vec<(String, &'a str)>,
        ) {
            let name = format!("{scope}{}", message.name());
            for field in message.field.iter().filter(|f| f.type_name.is_some()) {
                uses.push((format!("field {name}.{}", field.name()), field.type_name()));
            }
            for nested in &message.nested_type {
                fields(&format!("{name}."), nested, uses);
            }
        }
        for message in &file.message_type {
            fields(&scope, message, &mut uses);
        }
        for (place, type_name) in uses {
            let Some(source) = defined_in.get(type_name) else {
                continue;
            };
            if wanted.contains(source.name()) || provided(type_name) {
                continue;
            }
            missing
                .entry(source.name())
                .or_insert_with(|| (source.package(), BTreeSet::new()))
                .1
                .insert(format!("{} ({place}, `{type_name}`)", file.name()));
        }
    }
    let Some((first, _)) = missing.first_key_value() else {
        return Ok(());
    };
    let first = (*first).to_owned();
    let names: Vec<&str> = missing.keys().copied().collect();
    let mut out = format!(
        "the generated code would refer to types from {} but {} not generated: add {} to the .proto files to generate, or map {} with extern_path",
        names.join(", "),
        if names.len() == 1 {
            "it is"
        } else {
            "they are"
        },
        if names.len() == 1 { "it" } else { "them" },
        if names.len() == 1 {
            "its package"
        } else {
            "their packages"
        },
    );
    for (name, (package, places)) in &missing {
        let _ = match *package {
            "" => write!(out, "\n  {name} (no package) is used by:"),
            _ => write!(
                out,
                "\n  {name} (package {package}: extern_path=.{package}=::other_crate::{}) is used by:",
                package.replace('.', "::")
            ),
        };
        for place in places {
            let _ = write!(out, "\n    {place}");
        }
    }
    Err(Error::new(ErrorKind::MissingPackage, out).with_file(first))
}

/// Whether `name` is a protobuf identifier: ASCII letters, digits and `_`, not
/// starting with a digit. protoc and protox accept no other; the generated Rust
/// names come from these, so anything else would not parse.
fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every name in `file` that becomes a Rust name is an identifier (a package is
/// identifiers joined by dots).
fn identifiers(file: &FileDescriptorProto) -> Result<(), Error> {
    let check = |what: &str, name: &str| {
        let ok = if what == "package" {
            name.split('.').all(is_identifier)
        } else {
            is_identifier(name)
        };
        if ok {
            return Ok(());
        }
        Err(invalid(
            file.name(),
            format!(
                "{}: {what} name {name:?} is not a protobuf identifier (ASCII letters, digits and `_`, not starting with a digit)",
                file.name()
            ),
        ))
    };
    fn enumeration(
        check: &impl Fn(&str, &str) -> Result<(), Error>,
        e: &prost_types::EnumDescriptorProto,
    ) -> Result<(), Error> {
        check("enum", e.name())?;
        e.value
            .iter()
            .try_for_each(|v| check("enum value", v.name()))
    }
    fn message(
        check: &impl Fn(&str, &str) -> Result<(), Error>,
        m: &DescriptorProto,
    ) -> Result<(), Error> {
        check("message", m.name())?;
        m.field.iter().try_for_each(|f| check("field", f.name()))?;
        m.oneof_decl
            .iter()
            .try_for_each(|o| check("oneof", o.name()))?;
        m.enum_type.iter().try_for_each(|e| enumeration(check, e))?;
        m.nested_type.iter().try_for_each(|n| message(check, n))
    }
    if !file.package().is_empty() {
        check("package", file.package())?;
    }
    file.message_type
        .iter()
        .try_for_each(|m| message(&check, m))?;
    file.enum_type
        .iter()
        .try_for_each(|e| enumeration(&check, e))?;
    for service in &file.service {
        check("service", service.name())?;
        service
            .method
            .iter()
            .try_for_each(|m| check("method", m.name()))?;
    }
    Ok(())
}

fn invalid(file: &str, message: String) -> Error {
    Error::new(ErrorKind::Descriptor, message).with_file(file)
}

fn collect_message(scope: &str, message: &DescriptorProto, types: &mut BTreeMap<String, Kind>) {
    let name = format!("{scope}.{}", message.name());
    for nested in &message.nested_type {
        collect_message(&name, nested, types);
    }
    for enumeration in &message.enum_type {
        types.insert(format!("{name}.{}", enumeration.name()), Kind::Enum);
    }
    types.insert(name, Kind::Message);
}

fn check_message(
    file: &FileDescriptorProto,
    types: &BTreeMap<String, Kind>,
    full_name: &str,
    message: &DescriptorProto,
) -> Result<(), Error> {
    if message.options.as_ref().is_some_and(|o| o.map_entry()) {
        let names: Vec<&str> = message.field.iter().map(|f| f.name()).collect();
        if names.first() != Some(&"key") || names.get(1) != Some(&"value") {
            return Err(invalid(
                file.name(),
                format!(
                    "{}: map entry {full_name} must have the fields `key` and `value`, in that order, not {names:?}",
                    file.name()
                ),
            ));
        }
    }
    for field in &message.field {
        let kind = match field.r#type() {
            Type::Message | Type::Group => Kind::Message,
            Type::Enum => Kind::Enum,
            _ if field.type_name.is_some() => Kind::Message,
            _ => continue,
        };
        let what = format!("field {full_name}.{}", field.name());
        check_type(file, types, &what, "type", field.type_name.as_deref(), kind)?;
    }
    for nested in &message.nested_type {
        check_message(
            file,
            types,
            &format!("{full_name}.{}", nested.name()),
            nested,
        )?;
    }
    Ok(())
}

fn check_type(
    file: &FileDescriptorProto,
    types: &BTreeMap<String, Kind>,
    what: &str,
    role: &str,
    name: Option<&str>,
    expected: Kind,
) -> Result<(), Error> {
    let file = file.name();
    let kind_name = |kind| match kind {
        Kind::Message => "a message",
        Kind::Enum => "an enum",
    };
    let name = match name {
        None | Some("") => {
            return Err(invalid(file, format!("{file}: {what} has no {role}")));
        }
        Some(name) => name,
    };
    if !name.starts_with('.') {
        return Err(invalid(
            file,
            format!(
                "{file}: {what}: {role} `{name}` is not fully qualified (descriptors name types as `.package.Message`)"
            ),
        ));
    }
    match types.get(name) {
        Some(kind) if *kind == expected => Ok(()),
        Some(kind) => Err(invalid(
            file,
            format!(
                "{file}: {what}: {role} `{name}` is {}, not {}",
                kind_name(*kind),
                kind_name(expected)
            ),
        )),
        None => Err(invalid(
            file,
            format!(
                "{file}: {what}: {role} `{name}` is not defined in {file} or the files given with it"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{
        FieldDescriptorProto, MessageOptions, MethodDescriptorProto, ServiceDescriptorProto,
    };

    fn file(input: Option<&str>, output: Option<&str>) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some("a.proto".to_owned()),
            package: Some("a".to_owned()),
            message_type: vec![DescriptorProto {
                name: Some("M".to_owned()),
                enum_type: vec![prost_types::EnumDescriptorProto {
                    name: Some("E".to_owned()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            service: vec![ServiceDescriptorProto {
                name: Some("S".to_owned()),
                method: vec![MethodDescriptorProto {
                    name: Some("Get".to_owned()),
                    input_type: input.map(str::to_owned),
                    output_type: output.map(str::to_owned),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn error(file: FileDescriptorProto) -> String {
        descriptors(&[file]).unwrap_err().to_string()
    }

    #[test]
    fn method_types_that_exist_pass() {
        assert!(descriptors(&[file(Some(".a.M"), Some(".a.M"))]).is_ok());
    }

    #[test]
    fn method_type_table() {
        let table = [
            (
                Some(".a.Missing"),
                "a.proto: rpc a.S/Get: request type `.a.Missing` is not defined in a.proto or the files given with it",
            ),
            (Some(""), "a.proto: rpc a.S/Get has no request type"),
            (None, "a.proto: rpc a.S/Get has no request type"),
            (
                Some("a.M"),
                "a.proto: rpc a.S/Get: request type `a.M` is not fully qualified (descriptors name types as `.package.Message`)",
            ),
            (
                Some(".a.M.E"),
                "a.proto: rpc a.S/Get: request type `.a.M.E` is an enum, not a message",
            ),
        ];
        for (input, expected) in table {
            assert_eq!(error(file(input, Some(".a.M"))), expected, "{input:?}");
        }
        assert_eq!(
            error(file(Some(".a.M"), Some(".b.M"))),
            "a.proto: rpc a.S/Get: response type `.b.M` is not defined in a.proto or the files given with it"
        );
    }

    #[test]
    fn field_types_must_exist() {
        let mut bad = file(Some(".a.M"), Some(".a.M"));
        bad.message_type[0].field.push(FieldDescriptorProto {
            name: Some("other".to_owned()),
            r#type: Some(Type::Message as i32),
            type_name: Some(".a.Other".to_owned()),
            ..Default::default()
        });
        assert_eq!(
            error(bad),
            "a.proto: field a.M.other: type `.a.Other` is not defined in a.proto or the files given with it"
        );
    }

    /// Found by fuzz/ (target codegen): a package `~` from a hand-made plugin
    /// request became `pub mod  {` in mod.rs.
    #[test]
    fn names_that_are_not_identifiers_table() {
        type Change = fn(&mut FileDescriptorProto);
        let table: [(&str, Change); 8] = [
            ("package name \"~\"", |f| f.package = Some("~".into())),
            ("package name \"a..b\"", |f| f.package = Some("a..b".into())),
            ("message name \"\"", |f| f.message_type[0].name = None),
            ("message name \"1M\"", |f| {
                f.message_type[0].name = Some("1M".into())
            }),
            ("enum name \"E-\"", |f| {
                f.message_type[0].enum_type[0].name = Some("E-".into());
            }),
            ("service name \"S S\"", |f| {
                f.service[0].name = Some("S S".into())
            }),
            ("method name \"Gét\"", |f| {
                f.service[0].method[0].name = Some("Gét".into());
            }),
            ("field name \"a.b\"", |f| {
                f.message_type[0].field.push(FieldDescriptorProto {
                    name: Some("a.b".into()),
                    r#type: Some(Type::Bool as i32),
                    ..Default::default()
                });
            }),
        ];
        for (what, change) in table {
            let mut bad = file(Some(".a.M"), Some(".a.M"));
            change(&mut bad);
            assert_eq!(
                error(bad),
                format!(
                    "a.proto: {what} is not a protobuf identifier (ASCII letters, digits and `_`, not starting with a digit)"
                )
            );
        }
        let mut good = file(Some(".a.M"), Some(".a.M"));
        good.package = Some("a._b.c9".into());
        assert!(identifiers(&good).is_ok());
    }

    #[test]
    fn map_entries_need_key_and_value() {
        let mut bad = file(Some(".a.M"), Some(".a.M"));
        bad.message_type[0].nested_type.push(DescriptorProto {
            name: Some("TagsEntry".to_owned()),
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(
            error(bad),
            "a.proto: map entry a.M.TagsEntry must have the fields `key` and `value`, in that order, not []"
        );
    }
}
