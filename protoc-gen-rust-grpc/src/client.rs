//! Client generation: one `<service>_client` module per service.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use crate::model::{self, Kind, Service, tokens};

pub(crate) fn generate(service: &Service) -> TokenStream {
    let module = tokens(&service.client_module);
    let client = tokens(&service.client_struct);
    let methods_module = tokens(&service.methods_module);
    let deprecated = model::deprecated(service.deprecated);
    let struct_docs = model::docs(&model::with_summary(
        &service.docs,
        format!(
            " A client for `{}`. Cheap to clone: clones share one connection.",
            service.full_name
        ),
    ));
    let module_doc = format!(" The client for `{}`.", service.full_name);
    let methods = service.methods.iter().map(|method| {
        let ident = tokens(&method.ident);
        let path = format_ident!("{}", method.const_name);
        let input = tokens(&method.input);
        let output = tokens(&method.output);
        let docs = model::docs(&model::with_errors(
            &method.docs,
            " Returns the `Status` the server answered with, or one saying why the call failed.",
        ));
        let deprecated = model::deprecated(method.deprecated);
        let signature_and_body = match method.kind {
            Kind::Unary => quote! {
                (&self, request: impl ::rust_grpc::IntoRequest<#input>)
                    -> ::core::result::Result<::rust_grpc::Response<#output>, ::rust_grpc::Status> {
                    self.inner.unary(::rust_grpc::IntoRequest::into_request(request), super::#methods_module::#path).await
                }
            },
            Kind::ServerStreaming => quote! {
                (&self, request: impl ::rust_grpc::IntoRequest<#input>)
                    -> ::core::result::Result<::rust_grpc::Response<::rust_grpc::Streaming<#output>>, ::rust_grpc::Status> {
                    self.inner.server_streaming(::rust_grpc::IntoRequest::into_request(request), super::#methods_module::#path).await
                }
            },
            Kind::ClientStreaming => quote! {
                (&self, request: impl ::rust_grpc::IntoStreamingRequest<Message = #input>)
                    -> ::core::result::Result<::rust_grpc::Response<#output>, ::rust_grpc::Status> {
                    self.inner.client_streaming(::rust_grpc::IntoStreamingRequest::into_streaming_request(request), super::#methods_module::#path).await
                }
            },
            Kind::Streaming => quote! {
                (&self, request: impl ::rust_grpc::IntoStreamingRequest<Message = #input>)
                    -> ::core::result::Result<::rust_grpc::Response<::rust_grpc::Streaming<#output>>, ::rust_grpc::Status> {
                    self.inner.streaming(::rust_grpc::IntoStreamingRequest::into_streaming_request(request), super::#methods_module::#path).await
                }
            },
        };
        quote! {
            #docs
            #deprecated
            pub async fn #ident #signature_and_body
        }
    });

    // Docs carry proto comments and method names are the proto's: pedantic lints
    // on their wording (doc_markdown) or names (wrong_self_convention for an rpc
    // `IntoInner`) are the user's protos', not something the user can fix here.
    quote! {
        #[doc = #module_doc]
        #[allow(deprecated, dead_code, unreachable_pub, clippy::doc_markdown, clippy::wrong_self_convention)]
        pub mod #module {
            #struct_docs
            #deprecated
            #[derive(Debug, Clone)]
            pub struct #client<T = ::rust_grpc::Channel> {
                inner: ::rust_grpc::codegen::Client<T>,
            }

            impl #client<::rust_grpc::Channel> {
                /// Connects to `dst`, a URI such as `http://127.0.0.1:50051`.
                ///
                /// # Errors
                ///
                /// Returns an error when `dst` is not a valid endpoint or the connection fails.
                pub async fn connect<D>(dst: D) -> ::core::result::Result<Self, ::rust_grpc::Error>
                where
                    D: ::core::convert::TryInto<::rust_grpc::Endpoint>,
                    D::Error: ::core::convert::Into<::rust_grpc::codegen::StdError>,
                {
                    ::rust_grpc::codegen::connect(dst).await.map(Self::new)
                }
            }

            impl<T> #client<T> {
                /// Calls through `inner`, a channel or any gRPC transport.
                pub fn new(inner: T) -> Self {
                    Self { inner: ::rust_grpc::codegen::Client::new(inner) }
                }

                /// Calls through `inner`, sending every call to `origin`.
                pub fn with_origin(inner: T, origin: ::rust_grpc::codegen::http::Uri) -> Self {
                    Self { inner: ::rust_grpc::codegen::Client::with_origin(inner, origin) }
                }

                /// Calls through `inner`, passing every request through `interceptor`.
                pub fn with_interceptor<F>(inner: T, interceptor: F) -> #client<::rust_grpc::codegen::InterceptedService<T, F>>
                where
                    F: ::rust_grpc::Interceptor,
                {
                    #client::new(::rust_grpc::codegen::InterceptedService::new(inner, interceptor))
                }

                /// Compresses requests with `encoding`.
                #[must_use]
                pub fn send_compressed(self, encoding: ::rust_grpc::CompressionEncoding) -> Self {
                    Self { inner: self.inner.send_compressed(encoding) }
                }

                /// Accepts responses compressed with `encoding`.
                #[must_use]
                pub fn accept_compressed(self, encoding: ::rust_grpc::CompressionEncoding) -> Self {
                    Self { inner: self.inner.accept_compressed(encoding) }
                }

                /// Limits the size of a decoded response message (default 4 MiB).
                #[must_use]
                pub fn max_decoding_message_size(self, limit: usize) -> Self {
                    Self { inner: self.inner.max_decoding_message_size(limit) }
                }

                /// Limits the size of an encoded request message (default unlimited).
                #[must_use]
                pub fn max_encoding_message_size(self, limit: usize) -> Self {
                    Self { inner: self.inner.max_encoding_message_size(limit) }
                }
            }

            impl<T: ::rust_grpc::codegen::Transport> #client<T> {
                #(#methods)*
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::naming::{self, RESERVED_METHODS};

    /// Every method the generated client struct has, rpcs aside: those in its
    /// `impl` blocks and those of the traits it derives.
    fn client_helpers() -> Vec<String> {
        let names = naming::service_names(["Empty"], Default::default()).remove(0);
        let service = crate::model::Service::empty_for_test(names);
        let file: syn::File = syn::parse2(super::generate(&service)).unwrap();
        let syn::Item::Mod(module) = &file.items[0] else {
            panic!("expected the client module")
        };
        let mut found = Vec::new();
        for item in &module.content.as_ref().unwrap().1 {
            match item {
                syn::Item::Impl(block) => {
                    found.extend(block.items.iter().filter_map(|item| match item {
                        syn::ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
                        _ => None,
                    }))
                }
                syn::Item::Struct(s) => {
                    for attr in &s.attrs {
                        if attr.path().is_ident("derive") {
                            let derives = attr.meta.require_list().unwrap().tokens.to_string();
                            for derive in derives.split(',').map(str::trim) {
                                found.extend(
                                    match derive {
                                        "Clone" => &["clone", "clone_from"][..],
                                        "Debug" => &["fmt"][..],
                                        other => panic!(
                                            "a derive the reserved list does not know: {other}"
                                        ),
                                    }
                                    .iter()
                                    .map(|s| (*s).to_owned()),
                                );
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        found.sort();
        found
    }

    #[test]
    fn reserved_methods_are_exactly_the_client_helpers() {
        let mut reserved: Vec<String> = RESERVED_METHODS.iter().map(|s| (*s).to_owned()).collect();
        reserved.sort();
        assert_eq!(client_helpers(), reserved);
    }
}
