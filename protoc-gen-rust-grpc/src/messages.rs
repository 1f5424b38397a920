//! The bridge to prost-build: messages and enums come from prost, pointed at the
//! runtime's re-exports, and prost hands each service to our generator.

use prost_build::{Config, Module};
use prost_types::FileDescriptorProto;

use crate::Options;
use crate::model::Service;

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
    for (path, attribute) in &options.type_attributes {
        config.type_attribute(path, attribute);
    }
    for (path, attribute) in &options.field_attributes {
        config.field_attribute(path, attribute);
    }
    config.bytes(&options.bytes).btree_map(&options.btree_map);
    config.service_generator(Box::new(Services {
        options: options.clone(),
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
}

impl prost_build::ServiceGenerator for Services {
    fn generate(&mut self, service: prost_build::Service, buf: &mut String) {
        let service = Service::from_prost(&service);
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
