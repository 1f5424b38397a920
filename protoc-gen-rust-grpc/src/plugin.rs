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
        Err(error) => response.error = Some(error.to_string()),
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
