//! The client side: the call engine generated clients use, over any transport.

pub(crate) mod body;
pub(crate) mod call;
pub(crate) mod deadline;

/// Connects a channel to `dst`, for the generated clients' `connect`.
///
/// # Errors
///
/// Returns an error if `dst` is not a valid URI or the connection fails.
pub async fn connect<D>(dst: D) -> Result<tonic::transport::Channel, tonic::transport::Error>
where
    D: TryInto<tonic::transport::Endpoint>,
    D::Error: Into<crate::base::body::StdError>,
{
    tonic::transport::Endpoint::new(dst)?.connect().await
}
