//! The protoc plugin's front door (protoc-gen-rust-grpc/src/plugin.rs): any
//! bytes on stdin are either refused as not a `CodeGeneratorRequest` or
//! answered with a response whose files parse as Rust or whose `error` says
//! what is wrong; never a panic.

use rust_grpc_codegen::plugin;

pub fn run(data: &[u8]) {
    let Ok(response) = plugin::respond(data) else {
        return;
    };
    if response.error.is_none() {
        let files: Vec<(String, String)> = response
            .file
            .into_iter()
            .map(|file| {
                (
                    file.name.unwrap_or_default(),
                    file.content.unwrap_or_default(),
                )
            })
            .collect();
        crate::rust::assert_parses(&files);
    }
}
