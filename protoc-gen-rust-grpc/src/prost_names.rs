//! The Rust names prost-build gives the messages, enums, oneofs and fields of
//! the files to generate (heck's UpperCamelCase and snake_case, as prost-build
//! converts them), checked before it writes them. Protobuf names that differ
//! only in case or underscores (`FooBar` and `Foo_Bar`, a field `FOO_BAR` and
//! a oneof `FooBar`) become one Rust name, and a name of underscores only
//! (`__`) becomes none: either would be code that does not compile, so such
//! protos are refused with an error that names the clash.

use std::collections::BTreeMap;

use heck::{ToSnakeCase, ToUpperCamelCase};
use prost_types::{DescriptorProto, FileDescriptorProto};

use crate::{Error, ErrorKind};

/// One Rust namespace: Rust name -> the protobuf name that took it.
#[derive(Default)]
struct Scope<'a>(BTreeMap<String, &'a str>);

impl<'a> Scope<'a> {
    fn add(&mut self, file: &str, place: &str, proto: &'a str, rust: String) -> Result<(), Error> {
        let clash = |message: String| {
            Err(
                Error::new(ErrorKind::Descriptor, format!("{file}: {place}: {message}"))
                    .with_file(file),
            )
        };
        if rust.is_empty() {
            return clash(format!(
                "`{proto}` has no Rust name (prost-build drops every `_`)"
            ));
        }
        match self.0.insert(rust.clone(), proto) {
            Some(first) if first != proto => clash(format!(
                "`{first}` and `{proto}` both become the Rust name `{rust}`; rename one"
            )),
            _ => Ok(()),
        }
    }
}

/// Checks the files to generate; see the module docs.
pub(crate) fn check(files: &[&FileDescriptorProto]) -> Result<(), Error> {
    // Messages and enums of one package share one Rust module.
    let mut packages: BTreeMap<&str, Scope> = BTreeMap::new();
    for file in files {
        let name = file.name();
        for segment in file.package().split('.').filter(|s| !s.is_empty()) {
            Scope::default().add(name, "package", segment, segment.to_snake_case())?;
        }
        let scope = packages.entry(file.package()).or_default();
        let place = format!("package `{}`", file.package());
        for message in &file.message_type {
            scope.add(
                name,
                &place,
                message.name(),
                message.name().to_upper_camel_case(),
            )?;
        }
        for e in &file.enum_type {
            scope.add(name, &place, e.name(), e.name().to_upper_camel_case())?;
        }
        for message in &file.message_type {
            check_message(name, message)?;
        }
        for service in &file.service {
            let place = format!("service `{}`", service.name());
            let trait_name = service.name().to_upper_camel_case();
            Scope::default().add(name, &place, service.name(), trait_name)?;
            Scope::default().add(name, &place, service.name(), service.name().to_snake_case())?;
            for method in &service.method {
                Scope::default().add(name, &place, method.name(), method.name().to_snake_case())?;
            }
        }
    }
    // A message with nested types gets a module named after it, which a child
    // package's module must not also take.
    for file in files {
        for message in file.message_type.iter().filter(|m| has_module(m)) {
            let module = message.name().to_snake_case();
            let child = match file.package() {
                "" => module.clone(),
                package => format!("{package}.{module}"),
            };
            let path = package_module_path(&child);
            if let Some(other) = files
                .iter()
                .find(|f| package_module_path(f.package()).starts_with(&path))
            {
                return Err(Error::new(
                    ErrorKind::Descriptor,
                    format!(
                        "{}: message `{}` and package `{}` ({}) both need the Rust module `{module}`; rename one",
                        file.name(),
                        message.name(),
                        other.package(),
                        other.name()
                    ),
                )
                .with_file(file.name()));
            }
        }
    }
    Ok(())
}

/// Whether `field` is a map whose values are an enum.
fn is_enum_map(message: &DescriptorProto, field: &prost_types::FieldDescriptorProto) -> bool {
    let Some((_, entry)) = field.type_name().rsplit_once('.') else {
        return false;
    };
    message.nested_type.iter().any(|nested| {
        nested.name() == entry
            && nested.options.as_ref().is_some_and(|o| o.map_entry())
            && nested.field.get(1).is_some_and(|value| {
                value.r#type() == prost_types::field_descriptor_proto::Type::Enum
            })
    })
}

/// Whether prost-build writes a module for `message`'s nested types and oneofs.
fn has_module(message: &DescriptorProto) -> bool {
    !message.nested_type.is_empty()
        || !message.enum_type.is_empty()
        || message.oneof_decl.iter().enumerate().any(|(index, _)| {
            message
                .field
                .iter()
                .any(|f| f.oneof_index == Some(index as i32) && !f.proto3_optional())
        })
}

/// The Rust module path of a package, as prost-build names its parts.
fn package_module_path(package: &str) -> Vec<String> {
    package
        .split('.')
        .filter(|s| !s.is_empty())
        .map(ToSnakeCase::to_snake_case)
        .collect()
}

fn check_message(file: &str, message: &DescriptorProto) -> Result<(), Error> {
    let place = format!("message `{}`", message.name());
    // Fields and oneofs are the struct's fields.
    let mut fields = Scope::default();
    for field in &message.field {
        let rust = field.name().to_snake_case();
        if is_enum_map(message, field) && crate::naming::KEYWORDS.contains(&rust.as_str()) {
            return Err(Error::new(
                ErrorKind::Descriptor,
                format!(
                    "{file}: {place}: prost cannot generate the map field `{}` of enum values: its accessor would be `get_r#{rust}`; rename the field",
                    field.name()
                ),
            )
            .with_file(file));
        }
        fields.add(file, &place, field.name(), rust)?;
    }
    let synthetic = |index: usize| {
        message
            .field
            .iter()
            .any(|f| f.oneof_index == Some(index as i32) && f.proto3_optional())
    };
    // Nested messages, enums and the oneofs' enums share the message's module.
    let mut types = Scope::default();
    for (index, oneof) in message.oneof_decl.iter().enumerate() {
        if synthetic(index) {
            continue;
        }
        fields.add(file, &place, oneof.name(), oneof.name().to_snake_case())?;
        types.add(
            file,
            &place,
            oneof.name(),
            oneof.name().to_upper_camel_case(),
        )?;
    }
    for nested in &message.nested_type {
        types.add(
            file,
            &place,
            nested.name(),
            nested.name().to_upper_camel_case(),
        )?;
    }
    for e in &message.enum_type {
        types.add(file, &place, e.name(), e.name().to_upper_camel_case())?;
    }
    for nested in &message.nested_type {
        check_message(file, nested)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::{EnumDescriptorProto, FieldDescriptorProto, OneofDescriptorProto};

    fn message(name: &str) -> DescriptorProto {
        DescriptorProto {
            name: Some(name.to_owned()),
            ..Default::default()
        }
    }

    fn field(name: &str, oneof: Option<i32>) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.to_owned()),
            oneof_index: oneof,
            ..Default::default()
        }
    }

    fn error(package: &str, messages: Vec<DescriptorProto>) -> Option<String> {
        let file = FileDescriptorProto {
            name: Some("a.proto".to_owned()),
            package: Some(package.to_owned()),
            message_type: messages,
            ..Default::default()
        };
        check(&[&file]).err().map(|e| e.to_string())
    }

    /// Found by fuzz/names (the generated-name fuzz): each of these compiled
    /// to Rust with a duplicate or empty name.
    #[test]
    fn clashing_and_empty_rust_names_table() {
        let mut oneof_clash = message("M");
        oneof_clash.field = vec![field("FOO_BAR", None), field("x", Some(0))];
        oneof_clash.oneof_decl = vec![OneofDescriptorProto {
            name: Some("FooBAR".to_owned()),
            ..Default::default()
        }];
        let mut nested_clash = message("M");
        nested_clash.nested_type = vec![message("Foo_Bar")];
        nested_clash.enum_type = vec![EnumDescriptorProto {
            name: Some("FooBar".to_owned()),
            ..Default::default()
        }];
        let mut field_clash = message("M");
        field_clash.field = vec![field("fooBar", None), field("foo_bar", None)];
        let table = [
            (
                "p",
                vec![message("FooBar"), message("Foo_Bar")],
                "a.proto: package `p`: `FooBar` and `Foo_Bar` both become the Rust name `FooBar`; rename one",
            ),
            (
                "p",
                vec![oneof_clash],
                "a.proto: message `M`: `FOO_BAR` and `FooBAR` both become the Rust name `foo_bar`; rename one",
            ),
            (
                "p",
                vec![field_clash],
                "a.proto: message `M`: `fooBar` and `foo_bar` both become the Rust name `foo_bar`; rename one",
            ),
            (
                "p",
                vec![nested_clash],
                "a.proto: message `M`: `Foo_Bar` and `FooBar` both become the Rust name `FooBar`; rename one",
            ),
            (
                "__.call",
                vec![],
                "a.proto: package: `__` has no Rust name (prost-build drops every `_`)",
            ),
            (
                "p",
                vec![message("__")],
                "a.proto: package `p`: `__` has no Rust name (prost-build drops every `_`)",
            ),
        ];
        for (package, messages, expected) in table {
            assert_eq!(error(package, messages).as_deref(), Some(expected));
        }
    }

    /// Found by fuzz/names: a service or method named `_` or `__` got an
    /// empty Rust name; a map of enum values named `enum` made prost-derive
    /// panic.
    #[test]
    fn services_methods_and_enum_maps_table() {
        use prost_types::field_descriptor_proto::{Label, Type};
        use prost_types::{MessageOptions, MethodDescriptorProto, ServiceDescriptorProto};
        let service = |name: &str, method: &str| ServiceDescriptorProto {
            name: Some(name.to_owned()),
            method: vec![MethodDescriptorProto {
                name: Some(method.to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut map = message("M");
        map.nested_type = vec![DescriptorProto {
            name: Some("EnumEntry".to_owned()),
            field: vec![
                field("key", None),
                FieldDescriptorProto {
                    name: Some("value".to_owned()),
                    r#type: Some(Type::Enum as i32),
                    ..Default::default()
                },
            ],
            options: Some(MessageOptions {
                map_entry: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }];
        map.field = vec![FieldDescriptorProto {
            name: Some("enum".to_owned()),
            label: Some(Label::Repeated as i32),
            r#type: Some(Type::Message as i32),
            type_name: Some(".p.M.EnumEntry".to_owned()),
            ..Default::default()
        }];
        let table = [
            (
                vec![service("_", "Get")],
                vec![],
                "a.proto: service `_`: `_` has no Rust name (prost-build drops every `_`)",
            ),
            (
                vec![service("S", "__")],
                vec![],
                "a.proto: service `S`: `__` has no Rust name (prost-build drops every `_`)",
            ),
            (
                vec![],
                vec![map],
                "a.proto: message `M`: prost cannot generate the map field `enum` of enum values: its accessor would be `get_r#enum`; rename the field",
            ),
        ];
        for (services, messages, expected) in table {
            let file = FileDescriptorProto {
                name: Some("a.proto".to_owned()),
                package: Some("p".to_owned()),
                message_type: messages,
                service: services,
                ..Default::default()
            };
            assert_eq!(check(&[&file]).unwrap_err().to_string(), expected);
        }
    }

    /// Found by fuzz/names: message `FooBAR` (with a nested enum, so a module
    /// `foo_bar`) in no package, and a package `foo_bar`.
    #[test]
    fn a_message_module_and_a_child_package_clash() {
        let mut message = message("FooBAR");
        message.enum_type = vec![EnumDescriptorProto {
            name: Some("E".to_owned()),
            ..Default::default()
        }];
        let root = FileDescriptorProto {
            name: Some("a.proto".to_owned()),
            message_type: vec![message],
            ..Default::default()
        };
        let child = FileDescriptorProto {
            name: Some("b.proto".to_owned()),
            package: Some("foo_bar".to_owned()),
            ..Default::default()
        };
        assert_eq!(
            check(&[&root, &child]).unwrap_err().to_string(),
            "a.proto: message `FooBAR` and package `foo_bar` (b.proto) both need the Rust module `foo_bar`; rename one"
        );
        assert!(check(&[&root]).is_ok());
    }

    #[test]
    fn names_that_stay_apart_pass() {
        let mut m = message("FooBar");
        m.field = vec![
            field("foo", None),
            field("foo_bar", None),
            field("x", Some(0)),
        ];
        m.oneof_decl = vec![OneofDescriptorProto {
            name: Some("kind".to_owned()),
            ..Default::default()
        }];
        m.nested_type = vec![message("Kind2")];
        assert_eq!(
            error("_a.a_b", vec![m, message("Foo"), message("_x")]),
            None
        );
    }
}
