//! Per-call credentials: metadata (a bearer token, a signature) that a
//! channel adds to every call, fetched asynchronously so a token can be
//! refreshed, and refused over plaintext unless the source allows it, as
//! grpc-go's `PerRPCCredentials` with `RequireTransportSecurity`.

use crate::base::body::BoxFuture;
use crate::base::status::Status;

/// A source of metadata for each call: [`Endpoint::call_credentials`](crate::Endpoint::call_credentials).
///
/// ```
/// use rust_grpc::channel::CallCredentials;
/// use rust_grpc::codegen::BoxFuture;
/// use rust_grpc::metadata::MetadataMap;
/// use rust_grpc::Status;
///
/// struct Token(String);
///
/// impl CallCredentials for Token {
///     fn metadata(&self, _uri: &rust_grpc::codegen::http::Uri) -> BoxFuture<MetadataMap, Status> {
///         let value = format!("Bearer {}", self.0);
///         Box::pin(async move {
///             let mut metadata = MetadataMap::new();
///             let value = value.parse().map_err(|_| Status::unauthenticated("bad token"))?;
///             metadata.insert("authorization", value);
///             Ok(metadata)
///         })
///     }
/// }
/// ```
pub trait CallCredentials: Send + Sync + 'static {
    /// The metadata for one call to `uri`. An error fails the call with that
    /// status.
    fn metadata(&self, uri: &http::Uri) -> BoxFuture<tonic::metadata::MetadataMap, Status>;

    /// Whether the metadata may travel without TLS (default: no, such calls
    /// fail with UNAUTHENTICATED).
    fn allow_insecure(&self) -> bool {
        false
    }
}

/// Adds `credentials`' metadata to `request`.
pub(crate) async fn apply(
    credentials: &dyn CallCredentials,
    tls: bool,
    request: &mut http::Request<crate::base::body::BoxBody>,
) -> Result<(), Status> {
    if !tls && !credentials.allow_insecure() {
        return Err(Status::unauthenticated(
            "this channel's call credentials need TLS: use an https:// target with Endpoint::tls_config, or let the credentials allow_insecure()",
        ));
    }
    let metadata = credentials.metadata(request.uri()).await?;
    crate::base::metadata::check_request(&metadata)?;
    request.headers_mut().extend(metadata.into_headers());
    Ok(())
}
