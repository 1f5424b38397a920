//! The client side: the call engine generated clients use, over any transport.

pub(crate) mod body;
pub(crate) mod call;
pub(crate) mod deadline;
pub(crate) mod error;
// The channel calls it next; until then only its tests do.
#[cfg_attr(
    not(test),
    expect(dead_code, reason = "not yet wired into the channel")
)]
pub(crate) mod retry;
pub(crate) mod service_config;

use crate::client::error::Error;

/// Connects a channel to `dst`, for the generated clients' `connect`.
///
/// # Errors
///
/// Returns an error if `dst` is not a valid URI or the connection fails.
pub async fn connect<D>(dst: D) -> Result<tonic::transport::Channel, Error>
where
    D: TryInto<tonic::transport::Endpoint>,
    D::Error: Into<crate::base::body::StdError>,
{
    tonic::transport::Endpoint::new(dst)
        .map_err(Error::invalid_target)?
        .connect()
        .await
        .map_err(Error::connect)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_target_and_a_refused_connection_are_told_apart() {
        let err = connect("not a uri").await.unwrap_err();
        assert!(err.is_invalid_target(), "{err:?}");
        // Port 1 on loopback: nothing listens there.
        let err = connect("http://127.0.0.1:1").await.unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }
}
