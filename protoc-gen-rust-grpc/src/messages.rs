//! The bridge to prost-build: messages and enums come from prost, pointed at the
//! runtime's re-exports, and prost hands each service to our generator.

use std::collections::{BTreeMap, BTreeSet};

use prost_build::{Config, Module};
use prost_types::{DescriptorProto, FileDescriptorProto};

use crate::Options;
use crate::model::Service;
use crate::naming::{self, ServiceNames};

/// Runs prost-build over the files marked for generation and returns each
/// module's code (messages plus the services our generator appended), in no
/// particular order.
///
/// prost-build needs every message the generated ones refer to, so the other
/// files go in too, each under a module of its own that is thrown away.
pub(crate) fn generate(
    files: Vec<(FileDescriptorProto, bool)>,
    options: &Options,
) -> std::io::Result<Vec<(Module, String)>> {
    let mut config = Config::new();
    config
        .prost_path("::rust_grpc::prost")
        .prost_types_path("::rust_grpc::prost_types");
    if options.compile_well_known_types {
        config.compile_well_known_types();
    }
    for (proto, rust) in &options.extern_paths {
        config.extern_path(proto, rust);
    }
    // prost writes a message's, enum's or field's docs only from proto comments:
    // a proto without them, or with `snake_case` words unquoted, would warn
    // under missing_docs and clippy::doc_markdown in the user's crate, and only
    // the .proto can change that. (Attributes on a type cover its fields.)
    config.type_attribute(".", "#[allow(missing_docs, clippy::doc_markdown)]");
    for (path, attribute) in &options.type_attributes {
        config.type_attribute(path, attribute);
    }
    for (path, attribute) in &options.field_attributes {
        config.field_attribute(path, attribute);
    }
    config.bytes(&options.bytes).btree_map(&options.btree_map);
    config.service_generator(Box::new(Services {
        options: options.clone(),
        names: service_names(&files),
    }));

    let requests = files
        .into_iter()
        .enumerate()
        .map(|(index, (file, wanted))| {
            let module = if wanted {
                Module::from_protobuf_package_name(file.package())
            } else {
                Module::from_parts([SKIPPED.to_owned(), index.to_string()])
            };
            (module, file)
        })
        .collect();
    let modules = config.generate(requests)?;
    Ok(modules
        .into_iter()
        .filter(|(module, _)| module.parts().next() != Some(SKIPPED))
        .collect())
}

const SKIPPED: &str = "__rust_grpc_not_generated";

/// Receives each service from prost-build and writes its client, server and names.
struct Services {
    options: Options,
    /// `(package, service)` to its names, for the services of the files generated.
    names: BTreeMap<(String, String), ServiceNames>,
}

impl prost_build::ServiceGenerator for Services {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        let key = (service.package.clone(), service.proto_name.clone());
        // Services of files only imported are thrown away: any names will do.
        let names = self.names.get(&key).cloned().unwrap_or_else(|| {
            naming::service_names([service.proto_name.as_str()], BTreeSet::new()).remove(0)
        });
        let service = Service::from_prost(&service, names);
        let mut tokens = crate::server::generate_names(&service);
        if self.options.client {
            tokens.extend(crate::client::generate(&service));
        }
        if self.options.server {
            tokens.extend(crate::server::generate(
                &service,
                self.options.default_stubs,
            ));
        }
        buf.push_str(&tokens.to_string());
        buf.push('\n');
    }
}

/// Decides every generated service's names package by package, knowing the
/// modules the package already has: prost's for messages, and child packages.
fn service_names(
    files: &[(FileDescriptorProto, bool)],
) -> BTreeMap<(String, String), ServiceNames> {
    let mut packages: BTreeMap<&str, Vec<&FileDescriptorProto>> = BTreeMap::new();
    for (file, _) in files.iter().filter(|(_, wanted)| *wanted) {
        packages.entry(file.package()).or_default().push(file);
    }
    let all_packages: BTreeSet<&str> = files.iter().map(|(file, _)| file.package()).collect();
    let mut names = BTreeMap::new();
    for (package, mut package_files) in packages {
        package_files.sort_by_key(|file| file.name());
        let mut taken: BTreeSet<String> = package_files
            .iter()
            .flat_map(|file| &file.message_type)
            .filter(|message| has_module(message))
            .map(|message| naming::prost_module(message.name()))
            .collect();
        taken.extend(child_modules(package, &all_packages));
        let services: Vec<&str> = package_files
            .iter()
            .flat_map(|file| &file.service)
            .map(|service| service.name())
            .collect();
        for (service, service_names) in services
            .iter()
            .zip(naming::service_names(services.iter().copied(), taken))
        {
            names.insert((package.to_owned(), (*service).to_owned()), service_names);
        }
    }
    names
}

/// Whether prost-build writes a module for `message`: it does for nested messages
/// (map entries aside), nested enums and oneofs (proto3 `optional` aside).
fn has_module(message: &DescriptorProto) -> bool {
    let nested = message
        .nested_type
        .iter()
        .any(|nested| !nested.options.as_ref().is_some_and(|o| o.map_entry()));
    let oneof = message
        .field
        .iter()
        .any(|field| field.oneof_index.is_some() && !field.proto3_optional());
    nested || oneof || !message.enum_type.is_empty()
}

/// The modules that child packages of `package` add inside its module.
fn child_modules(package: &str, packages: &BTreeSet<&str>) -> Vec<String> {
    let depth = Module::from_protobuf_package_name(package).len();
    packages
        .iter()
        .filter(|other| match package {
            "" => !other.is_empty(),
            _ => other
                .strip_prefix(package)
                .is_some_and(|rest| rest.starts_with('.')),
        })
        .filter_map(|other| {
            Module::from_protobuf_package_name(other)
                .parts()
                .nth(depth)
                .map(str::to_owned)
        })
        .collect()
}
