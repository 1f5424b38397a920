//! Server generation: one `<service>_server` module per service, holding the trait
//! users implement and the `<Service>Server` that serves it.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{self, Kind, Service, tokens};

pub(crate) fn generate(service: &Service, default_stubs: bool) -> TokenStream {
    let module = tokens(&service.server_module);
    let trait_name = tokens(&service.trait_name);
    let server = tokens(&service.server_struct);
    let methods_module = tokens(&service.methods_module);
    let deprecated = model::deprecated(service.deprecated);
    let trait_docs = model::docs(&model::with_summary(
        &service.docs,
        format!(" The handlers of `{}`.", service.full_name),
    ));
    let server_doc = format!(
        " Serves a [`{}`] implementation as `{}`.",
        service.trait_name.trim_start_matches("r#"),
        service.full_name
    );
    let module_doc = format!(" The server for `{}`.", service.full_name);

    let trait_methods = service.methods.iter().map(|method| {
        let ident = tokens(&method.ident);
        let input = tokens(&method.input);
        let output = tokens(&method.output);
        // missing_docs asks every trait method for a doc; an rpc without a comment
        // gets one naming it.
        let docs = if method.docs.is_empty() {
            model::docs(&[format!(" Answers `{}`.", method.path)])
        } else {
            model::docs(&method.docs)
        };
        let deprecated = model::deprecated(method.deprecated);
        let request = match method.kind {
            Kind::Unary | Kind::ServerStreaming => quote! { ::rust_grpc::Request<#input> },
            Kind::ClientStreaming | Kind::Streaming => {
                quote! { ::rust_grpc::Request<::rust_grpc::Streaming<#input>> }
            }
        };
        let response = match method.kind {
            Kind::Unary | Kind::ClientStreaming => quote! { ::rust_grpc::Response<#output> },
            Kind::ServerStreaming | Kind::Streaming => {
                quote! { ::rust_grpc::Response<::rust_grpc::BoxStream<#output>> }
            }
        };
        let signature = quote! {
            fn #ident(&self, request: #request)
                -> impl ::core::future::Future<Output = ::core::result::Result<#response, ::rust_grpc::Status>> + ::core::marker::Send
        };
        if default_stubs {
            let proto_name = &method.proto_name;
            quote! {
                #docs
                #deprecated
                #signature {
                    let _ = request;
                    ::rust_grpc::codegen::unimplemented_method(#proto_name)
                }
            }
        } else {
            quote! {
                #docs
                #deprecated
                #signature;
            }
        }
    });

    let arms = service.methods.iter().map(|method| {
        let ident = tokens(&method.ident);
        let path = format_ident!("{}", method.const_name);
        let helper = match method.kind {
            Kind::Unary => quote! { unary },
            Kind::ServerStreaming => quote! { server_streaming },
            Kind::ClientStreaming => quote! { client_streaming },
            Kind::Streaming => quote! { streaming },
        };
        quote! {
            super::#methods_module::#path => self.config.#helper(request, move |request| async move {
                <T as #trait_name>::#ident(&inner, request).await
            }),
        }
    });

    // An empty service has no arms: no handler to take, and no `match` with one
    // arm (clippy's match_single_binding).
    let dispatch = if service.methods.is_empty() {
        quote! { ::rust_grpc::codegen::unimplemented(request) }
    } else {
        quote! {
            let inner = ::std::sync::Arc::clone(&self.inner);
            match request.uri().path() {
                #(#arms)*
                _ => ::rust_grpc::codegen::unimplemented(request),
            }
        }
    };

    // As for the client: pedantic lints on proto comments and rpc names.
    quote! {
        #[doc = #module_doc]
        #[allow(deprecated, dead_code, unreachable_pub, clippy::doc_markdown, clippy::wrong_self_convention)]
        pub mod #module {
            #trait_docs
            #deprecated
            pub trait #trait_name: ::core::marker::Send + ::core::marker::Sync + 'static {
                #(#trait_methods)*
            }

            #[doc = #server_doc]
            #deprecated
            #[derive(Debug)]
            pub struct #server<T> {
                inner: ::std::sync::Arc<T>,
                config: ::rust_grpc::codegen::ServerConfig,
            }

            impl<T> #server<T> {
                /// Serves `inner`.
                pub fn new(inner: T) -> Self {
                    Self::from_arc(::std::sync::Arc::new(inner))
                }

                /// Serves a shared `inner`.
                pub fn from_arc(inner: ::std::sync::Arc<T>) -> Self {
                    Self { inner, config: <::rust_grpc::codegen::ServerConfig as ::core::default::Default>::default() }
                }

                /// Serves `inner`, passing every request through `interceptor` first.
                pub fn with_interceptor<F>(inner: T, interceptor: F) -> ::rust_grpc::codegen::InterceptedService<Self, F>
                where
                    F: ::rust_grpc::Interceptor,
                {
                    ::rust_grpc::codegen::InterceptedService::new(Self::new(inner), interceptor)
                }

                /// Accepts requests compressed with `encoding`.
                #[must_use]
                pub fn accept_compressed(mut self, encoding: ::rust_grpc::CompressionEncoding) -> Self {
                    self.config.accept_compressed(encoding);
                    self
                }

                /// Compresses responses with `encoding` when the client accepts it.
                #[must_use]
                pub fn send_compressed(mut self, encoding: ::rust_grpc::CompressionEncoding) -> Self {
                    self.config.send_compressed(encoding);
                    self
                }

                /// Limits the size of a decoded request message (default 4 MiB).
                #[must_use]
                pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
                    self.config.max_decoding_message_size(limit);
                    self
                }

                /// Limits the size of an encoded response message (default unlimited).
                #[must_use]
                pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
                    self.config.max_encoding_message_size(limit);
                    self
                }
            }

            impl<T> ::core::clone::Clone for #server<T> {
                fn clone(&self) -> Self {
                    Self { inner: ::std::sync::Arc::clone(&self.inner), config: self.config }
                }
            }

            impl<T> ::rust_grpc::codegen::NamedService for #server<T> {
                const NAME: &'static str = super::#methods_module::SERVICE_NAME;
            }

            impl<T, B> ::rust_grpc::codegen::Service<::rust_grpc::codegen::http::Request<B>> for #server<T>
            where
                T: #trait_name,
                B: ::rust_grpc::codegen::RequestBody,
            {
                type Response = ::rust_grpc::codegen::http::Response<::rust_grpc::codegen::BoxBody>;
                type Error = ::core::convert::Infallible;
                type Future = ::rust_grpc::codegen::BoxFuture<Self::Response, Self::Error>;

                fn poll_ready(&mut self, _cx: &mut ::core::task::Context<'_>) -> ::core::task::Poll<::core::result::Result<(), Self::Error>> {
                    ::core::task::Poll::Ready(::core::result::Result::Ok(()))
                }

                fn call(&mut self, request: ::rust_grpc::codegen::http::Request<B>) -> Self::Future {
                    #dispatch
                }
            }
        }
    }
}

/// The `<service>_methods` module: the service name and each method's path.
pub(crate) fn generate_names(service: &Service) -> TokenStream {
    let module = tokens(&service.methods_module);
    let full_name = &service.full_name;
    let module_doc = format!(" The wire names of `{full_name}` and its methods.");
    let consts = service.methods.iter().map(|method| {
        let name = format_ident!("{}", method.const_name);
        let path = &method.path;
        let doc = format!(" The path of `{}`.", method.proto_name);
        quote! {
            #[doc = #doc]
            pub const #name: &str = #path;
        }
    });
    quote! {
        #[doc = #module_doc]
        #[allow(dead_code, unreachable_pub)]
        pub mod #module {
            /// The full name of the service.
            pub const SERVICE_NAME: &str = #full_name;
            #(#consts)*
        }
    }
}
