//! The protoc front door: protoc's plugin protocol.
//!
//! protoc writes an encoded `CodeGeneratorRequest` to the plugin's stdin and reads
//! an encoded `CodeGeneratorResponse` from its stdout. A problem with the user's
//! protos or options goes into the response's `error`, which protoc prints.

use prost::Message as _;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::{Options, generate};

/// Answers one encoded plugin request.
///
/// # Errors
///
/// Returns an error only when `request` is not an encoded `CodeGeneratorRequest`;
/// every other problem is reported in the response.
pub fn respond(request: &[u8]) -> Result<CodeGeneratorResponse, prost::DecodeError> {
    let request = CodeGeneratorRequest::decode(request)?;
    let mut response = CodeGeneratorResponse {
        supported_features: Some(Feature::Proto3Optional as u64),
        ..Default::default()
    };
    let result = Options::parse(request.parameter())
        .map_err(crate::Error::from)
        .and_then(|options| generate(&request.proto_file, &request.file_to_generate, &options));
    match result {
        Ok(files) => {
            response.file = files
                .into_iter()
                .map(|file| File {
                    name: Some(file.name),
                    content: Some(file.content),
                    ..Default::default()
                })
                .collect();
        }
        Err(error) => response.error = Some(crate::error::chain(&error)),
    }
    Ok(response)
}

/// [`respond`], encoded for stdout.
///
/// # Errors
///
/// As for [`respond`].
pub fn respond_encoded(request: &[u8]) -> Result<Vec<u8>, prost::DecodeError> {
    respond(request).map(|response| response.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::FileDescriptorProto;

    fn request(parameter: &str, generate: &[&str]) -> Vec<u8> {
        CodeGeneratorRequest {
            parameter: Some(parameter.to_owned()),
            file_to_generate: generate.iter().map(|s| (*s).to_owned()).collect(),
            proto_file: vec![FileDescriptorProto {
                name: Some("a.proto".to_owned()),
                package: Some("a".to_owned()),
                syntax: Some("proto3".to_owned()),
                ..Default::default()
            }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn response_declares_proto3_optional_support() {
        let response = respond(&request("", &["a.proto"])).unwrap();
        assert_eq!(
            response.supported_features,
            Some(Feature::Proto3Optional as u64)
        );
        assert_eq!(response.error, None);
        let names: Vec<_> = response.file.iter().map(|f| f.name()).collect();
        assert_eq!(names, ["a.rs", "mod.rs"]);
    }

    #[test]
    fn bad_option_goes_into_the_response_error() {
        let response = respond(&request("nope=1", &["a.proto"])).unwrap();
        assert!(
            response.error().starts_with("unknown option `nope`;"),
            "{}",
            response.error()
        );
        assert!(response.file.is_empty());
    }

    #[test]
    fn file_to_generate_without_descriptor_goes_into_the_response_error() {
        let response = respond(&request("", &["missing.proto"])).unwrap();
        assert_eq!(
            response.error(),
            "missing.proto: asked to generate this file, but no descriptor for it was given"
        );
    }
}
