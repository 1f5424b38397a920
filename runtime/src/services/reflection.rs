//! gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), so tools such as
//! grpcurl can list services, describe them and call them with no .proto at hand.
//!
//! Generated code embeds each package's descriptors (`FILE_DESCRIPTOR_SET`), and
//! the module tree file lists them all (`FILE_DESCRIPTOR_SETS`), so one call
//! registers every generated service:
//!
//! ```no_run
//! # mod pb { pub const FILE_DESCRIPTOR_SETS: &[&[u8]] = &[]; }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let reflection = rust_grpc::reflection::Reflection::new(pb::FILE_DESCRIPTOR_SETS)?;
//! rust_grpc::Server::builder()
//!     .add_service(reflection.v1())
//!     .add_service(reflection.v1alpha())
//!     .serve("127.0.0.1:50051".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! The well-known types (`google/protobuf/*.proto`) and the reflection service's
//! own descriptors are always known, so imports of them resolve.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use prost::Message as _;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto, FileDescriptorSet};
use tokio_stream::StreamExt as _;

use crate::base::body::BoxStream;
use crate::base::call::{Request, Response};
use crate::base::status::{Code, Status};
use crate::codec::streaming::Streaming;
pub use crate::generated::grpc::reflection::{v1, v1alpha};
use crate::server::routes::ServedServices;

use v1::server_reflection_request::MessageRequest;
use v1::server_reflection_response::MessageResponse;

const WELL_KNOWN_TYPES: &[u8] = include_bytes!("../generated/well_known_types.bin");

/// Why a descriptor set could not be registered.
#[derive(Debug)]
pub struct Error {
    message: String,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The reflection service, over the descriptors it was given.
#[derive(Debug, Clone)]
pub struct Reflection {
    index: Arc<Index>,
}

impl Reflection {
    /// Serves the services and types of `sets`, encoded `FileDescriptorSet`s such
    /// as generated code's `FILE_DESCRIPTOR_SET` or `FILE_DESCRIPTOR_SETS`.
    ///
    /// A [`Server`](crate::Server) lists the services it serves, as grpc-go
    /// does; served elsewhere (a tonic router), every service in the sets is
    /// listed, plus the reflection service itself.
    ///
    /// # Errors
    ///
    /// Returns an error when a set is not an encoded `FileDescriptorSet`.
    pub fn new(sets: &[&[u8]]) -> Result<Self, Error> {
        let mut index = Index::default();
        for set in [
            WELL_KNOWN_TYPES,
            v1::FILE_DESCRIPTOR_SET,
            v1alpha::FILE_DESCRIPTOR_SET,
        ] {
            index.add(set, false)?;
        }
        index
            .services
            .insert("grpc.reflection.v1.ServerReflection".to_owned());
        index
            .services
            .insert("grpc.reflection.v1alpha.ServerReflection".to_owned());
        for set in sets {
            index.add(set, true)?;
        }
        Ok(Self {
            index: Arc::new(index),
        })
    }

    /// The `grpc.reflection.v1.ServerReflection` service, for a server's router.
    pub fn v1(&self) -> v1::server_reflection_server::ServerReflectionServer<Self> {
        v1::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// The older `grpc.reflection.v1alpha.ServerReflection`, which many tools still ask for.
    pub fn v1alpha(&self) -> v1alpha::server_reflection_server::ServerReflectionServer<Self> {
        v1alpha::server_reflection_server::ServerReflectionServer::new(self.clone())
    }

    /// The names of the services listed, sorted.
    pub fn services(&self) -> Vec<String> {
        self.index.services.iter().cloned().collect()
    }
}

#[derive(Debug, Default)]
struct Index {
    /// File name to its encoded descriptor and the files it imports.
    files: BTreeMap<String, (Vec<u8>, Vec<String>)>,
    /// Fully qualified symbol (no leading dot) to the file defining it.
    symbols: BTreeMap<String, String>,
    /// (extended type, field number) to the file defining the extension.
    extensions: BTreeMap<(String, i32), String>,
    services: BTreeSet<String>,
}

impl Index {
    fn add(&mut self, set: &[u8], list_services: bool) -> Result<(), Error> {
        let set = FileDescriptorSet::decode(set).map_err(|error| Error {
            message: format!("not an encoded FileDescriptorSet: {error}"),
        })?;
        for file in set.file {
            let name = file.name().to_owned();
            if list_services {
                for service in &file.service {
                    self.services
                        .insert(qualify(file.package(), service.name()));
                }
            }
            self.index_symbols(&file);
            let encoded = file.encode_to_vec();
            self.files.insert(name, (encoded, file.dependency.clone()));
        }
        Ok(())
    }

    fn index_symbols(&mut self, file: &FileDescriptorProto) {
        let name = file.name().to_owned();
        let package = file.package();
        let mut define = |symbol: String| {
            self.symbols.insert(symbol, name.clone());
        };
        for service in &file.service {
            let service_name = qualify(package, service.name());
            for method in &service.method {
                define(format!("{service_name}.{}", method.name()));
            }
            define(service_name);
        }
        fn message(prefix: &str, msg: &DescriptorProto, define: &mut dyn FnMut(String)) {
            let full = qualify(prefix, msg.name());
            for field in &msg.field {
                define(format!("{full}.{}", field.name()));
            }
            for nested in &msg.nested_type {
                message(&full, nested, define);
            }
            for nested in &msg.enum_type {
                enumeration(&full, nested, define);
            }
            define(full);
        }
        fn enumeration(prefix: &str, e: &EnumDescriptorProto, define: &mut dyn FnMut(String)) {
            let full = qualify(prefix, e.name());
            for value in &e.value {
                define(qualify(prefix, value.name()));
            }
            define(full);
        }
        for msg in &file.message_type {
            message(package, msg, &mut define);
        }
        for e in &file.enum_type {
            enumeration(package, e, &mut define);
        }
        for extension in &file.extension {
            define(qualify(package, extension.name()));
        }
        let mut extensions = Vec::new();
        collect_extensions(&file.extension, &file.message_type, &mut extensions);
        for (extendee, number) in extensions {
            self.extensions.insert((extendee, number), name.clone());
        }
    }

    /// `name` and every file it imports, transitively, each once, `name` first.
    fn file_with_imports(&self, name: &str) -> Option<Vec<Vec<u8>>> {
        self.files.get(name)?;
        let mut seen = BTreeSet::new();
        let mut order = Vec::new();
        let mut pending = vec![name.to_owned()];
        while let Some(next) = pending.pop() {
            if !seen.insert(next.clone()) {
                continue;
            }
            if let Some((encoded, imports)) = self.files.get(&next) {
                order.push(encoded.clone());
                pending.extend(imports.iter().rev().cloned());
            }
        }
        Some(order)
    }

    fn answer(&self, request: &MessageRequest, served: Option<&ServedServices>) -> MessageResponse {
        let files = |found: Option<Vec<Vec<u8>>>, what: String| match found {
            Some(file_descriptor_proto) => {
                MessageResponse::FileDescriptorResponse(v1::FileDescriptorResponse {
                    file_descriptor_proto,
                })
            }
            None => not_found(what),
        };
        match request {
            MessageRequest::FileByFilename(name) => {
                files(self.file_with_imports(name), format!("file {name:?}"))
            }
            MessageRequest::FileContainingSymbol(symbol) => {
                let symbol = symbol.trim_start_matches('.');
                let found = self
                    .symbols
                    .get(symbol)
                    .and_then(|file| self.file_with_imports(file));
                files(found, format!("symbol {symbol:?}"))
            }
            MessageRequest::FileContainingExtension(extension) => {
                let extendee = extension.containing_type.trim_start_matches('.').to_owned();
                let found = self
                    .extensions
                    .get(&(extendee, extension.extension_number))
                    .and_then(|file| self.file_with_imports(file));
                files(
                    found,
                    format!(
                        "extension {} of {:?}",
                        extension.extension_number, extension.containing_type
                    ),
                )
            }
            MessageRequest::AllExtensionNumbersOfType(name) => {
                let base = name.trim_start_matches('.');
                if !self.symbols.contains_key(base) {
                    return not_found(format!("type {name:?}"));
                }
                let extension_number = self
                    .extensions
                    .keys()
                    .filter(|(extendee, _)| extendee == base)
                    .map(|(_, number)| *number)
                    .collect();
                MessageResponse::AllExtensionNumbersResponse(v1::ExtensionNumberResponse {
                    base_type_name: base.to_owned(),
                    extension_number,
                })
            }
            MessageRequest::ListServices(_) => {
                let names: BTreeSet<String> = match served {
                    Some(ServedServices(served)) => {
                        served.iter().map(|name| (*name).to_owned()).collect()
                    }
                    None => self.services.clone(),
                };
                MessageResponse::ListServicesResponse(v1::ListServiceResponse {
                    service: names
                        .into_iter()
                        .map(|name| v1::ServiceResponse { name })
                        .collect(),
                })
            }
        }
    }

    fn respond(
        &self,
        request: v1::ServerReflectionRequest,
        served: Option<&ServedServices>,
    ) -> v1::ServerReflectionResponse {
        let message_response = Some(match &request.message_request {
            Some(message) => self.answer(message, served),
            None => MessageResponse::ErrorResponse(v1::ErrorResponse {
                error_code: Code::InvalidArgument as i32,
                error_message: "the request names nothing to look up".to_owned(),
            }),
        });
        v1::ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response,
        }
    }
}

fn not_found(what: String) -> MessageResponse {
    MessageResponse::ErrorResponse(v1::ErrorResponse {
        error_code: Code::NotFound as i32,
        error_message: format!("{what} not found"),
    })
}

fn qualify(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn collect_extensions(
    fields: &[prost_types::FieldDescriptorProto],
    messages: &[DescriptorProto],
    out: &mut Vec<(String, i32)>,
) {
    for field in fields {
        out.push((
            field.extendee().trim_start_matches('.').to_owned(),
            field.number(),
        ));
    }
    for message in messages {
        collect_extensions(&message.extension, &message.nested_type, out);
    }
}

impl v1::server_reflection_server::ServerReflection for Reflection {
    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1::ServerReflectionRequest>>,
    ) -> Result<Response<BoxStream<v1::ServerReflectionResponse>>, Status> {
        let index = Arc::clone(&self.index);
        let served = request.extensions().get::<ServedServices>().cloned();
        let responses = request
            .into_inner()
            .map(move |request| request.map(|request| index.respond(request, served.as_ref())));
        Ok(Response::new(Box::pin(responses)))
    }
}

/// v1alpha has v1's wire format under another package: translate through bytes.
fn recode<A: prost::Message, B: prost::Message + Default>(message: &A) -> Result<B, Status> {
    B::decode(message.encode_to_vec().as_slice())
        .map_err(|error| Status::internal(format!("reflection message did not translate: {error}")))
}

impl v1alpha::server_reflection_server::ServerReflection for Reflection {
    async fn server_reflection_info(
        &self,
        request: Request<Streaming<v1alpha::ServerReflectionRequest>>,
    ) -> Result<Response<BoxStream<v1alpha::ServerReflectionResponse>>, Status> {
        let index = Arc::clone(&self.index);
        let served = request.extensions().get::<ServedServices>().cloned();
        let responses = request.into_inner().map(move |request| {
            let request: v1::ServerReflectionRequest = recode(&request?)?;
            recode(&index.respond(request, served.as_ref()))
        });
        Ok(Response::new(Box::pin(responses)))
    }
}
