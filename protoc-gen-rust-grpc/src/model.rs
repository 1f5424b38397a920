//! The service model the client and server generators read, built from the
//! descriptors prost-build resolves (so message paths match the generated messages).

use proc_macro2::TokenStream;
use quote::quote;

use crate::naming;

/// The four RPC kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Streaming,
}

/// One service, with every name it needs already decided.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    /// `package.Service`, as on the wire.
    pub(crate) full_name: String,
    pub(crate) trait_name: String,
    pub(crate) client_module: String,
    pub(crate) client_struct: String,
    pub(crate) server_module: String,
    pub(crate) server_struct: String,
    pub(crate) methods_module: String,
    pub(crate) docs: Vec<String>,
    pub(crate) deprecated: bool,
    pub(crate) methods: Vec<Method>,
}

/// One rpc.
#[derive(Debug, Clone)]
pub(crate) struct Method {
    pub(crate) proto_name: String,
    pub(crate) ident: String,
    pub(crate) const_name: String,
    /// `/package.Service/Method`, as on the wire.
    pub(crate) path: String,
    /// Request type, as seen from inside the service's client or server module.
    pub(crate) input: String,
    /// Response type, as seen from inside the service's client or server module.
    pub(crate) output: String,
    pub(crate) kind: Kind,
    pub(crate) docs: Vec<String>,
    pub(crate) deprecated: bool,
}

impl Service {
    pub(crate) fn from_prost(service: &prost_build::Service, names: naming::ServiceNames) -> Self {
        let full_name = if service.package.is_empty() {
            service.proto_name.clone()
        } else {
            format!("{}.{}", service.package, service.proto_name)
        };
        let idents = naming::method_idents(service.methods.iter().map(|m| m.proto_name.as_str()));
        let consts = naming::method_consts(idents.iter().map(String::as_str));
        let methods = service
            .methods
            .iter()
            .zip(idents)
            .zip(consts)
            .map(|((method, ident), const_name)| Method {
                proto_name: method.proto_name.clone(),
                const_name,
                ident,
                path: format!("/{full_name}/{}", method.proto_name),
                input: from_submodule(&method.input_type),
                output: from_submodule(&method.output_type),
                kind: match (method.client_streaming, method.server_streaming) {
                    (false, false) => Kind::Unary,
                    (false, true) => Kind::ServerStreaming,
                    (true, false) => Kind::ClientStreaming,
                    (true, true) => Kind::Streaming,
                },
                docs: doc_lines(&method.comments),
                deprecated: method.options.deprecated(),
            })
            .collect();
        Self {
            trait_name: names.trait_name,
            client_module: names.client_module,
            client_struct: names.client_struct,
            server_module: names.server_module,
            server_struct: names.server_struct,
            methods_module: names.methods_module,
            docs: doc_lines(&service.comments),
            deprecated: service.options.deprecated(),
            full_name,
            methods,
        }
    }
}

#[cfg(test)]
impl Service {
    /// A service without methods, for tests of the generated helpers.
    pub(crate) fn empty_for_test(names: naming::ServiceNames) -> Self {
        Self {
            full_name: "test.Empty".to_owned(),
            trait_name: names.trait_name,
            client_module: names.client_module,
            client_struct: names.client_struct,
            server_module: names.server_module,
            server_struct: names.server_struct,
            methods_module: names.methods_module,
            docs: Vec::new(),
            deprecated: false,
            methods: Vec::new(),
        }
    }
}

/// prost-build resolves types relative to the package module; generated clients and
/// servers live one module deeper.
fn from_submodule(rust_type: &str) -> String {
    if rust_type.starts_with("::") || rust_type.starts_with("crate::") || rust_type.starts_with('(')
    {
        rust_type.to_owned()
    } else {
        format!("super::{rust_type}")
    }
}

/// Rustdoc lines from proto comments, cleaned as prost-build cleans message docs
/// (code blocks fenced as `text`, so they never run as doctests).
fn doc_lines(comments: &prost_build::Comments) -> Vec<String> {
    let mut rendered = String::new();
    let attached = prost_build::Comments {
        leading_detached: Vec::new(),
        leading: comments.leading.clone(),
        trailing: comments.trailing.clone(),
    };
    attached.append_with_indent(0, &mut rendered);
    rendered
        .lines()
        .filter_map(|line| line.strip_prefix("///"))
        .map(str::to_owned)
        .collect()
}

/// `#[doc]` attributes for some doc lines.
pub(crate) fn docs(lines: &[String]) -> TokenStream {
    quote! { #( #[doc = #lines] )* }
}

/// The proto's doc lines followed by one line of ours, a blank line between.
pub(crate) fn with_summary(lines: &[String], summary: String) -> Vec<String> {
    let mut all = lines.to_vec();
    if !all.is_empty() {
        all.push(String::new());
    }
    all.push(summary);
    all
}

/// The proto's doc lines followed by an `# Errors` section (clippy's
/// `missing_errors_doc` asks every public fn returning `Result` for one).
pub(crate) fn with_errors(lines: &[String], errors: &str) -> Vec<String> {
    let mut all = lines.to_vec();
    if !all.is_empty() {
        all.push(String::new());
    }
    all.extend([" # Errors".to_owned(), String::new(), errors.to_owned()]);
    all
}

/// `#[deprecated]` when the .proto says so.
pub(crate) fn deprecated(deprecated: bool) -> TokenStream {
    if deprecated {
        quote! { #[deprecated] }
    } else {
        TokenStream::new()
    }
}

/// Parses a Rust path or identifier the model produced.
pub(crate) fn tokens(text: &str) -> TokenStream {
    text.parse()
        .unwrap_or_else(|_| panic!("generated an invalid Rust path: {text}"))
}
