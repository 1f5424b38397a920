//! The client side: the call engine generated clients use, over any
//! transport, and our channel: resolver -> subchannels (state, backoff) ->
//! load-balancing policy -> picker.

pub(crate) mod backoff;
pub(crate) mod balancer;
pub(crate) mod body;
pub(crate) mod call;
pub(crate) mod channel;
pub(crate) mod connection;
pub(crate) mod credentials;
pub(crate) mod deadline;
pub(crate) mod error;
pub(crate) mod health;
pub(crate) mod resolver;
pub(crate) mod retry;
pub(crate) mod service_config;
pub(crate) mod state;
pub(crate) mod subchannel;
pub(crate) mod target;
pub(crate) mod unix;

use crate::client::channel::{Channel, Endpoint};
use crate::client::error::Error;

/// Connects a channel to `dst`, for the generated clients' `connect`.
///
/// # Errors
///
/// Returns an error if `dst` is not a valid URI or the connection fails.
pub async fn connect<D>(dst: D) -> Result<Channel, Error>
where
    D: TryInto<Endpoint>,
    D::Error: Into<crate::base::body::StdError>,
{
    Endpoint::new(dst)?.connect().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_target_and_a_refused_connection_are_told_apart() {
        let err = connect("gopher://nowhere").await.unwrap_err();
        assert!(err.is_invalid_target(), "{err:?}");
        // Port 1 on loopback: nothing listens there.
        let err = connect("http://127.0.0.1:1").await.unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert!(std::error::Error::source(&err).is_some());
    }
}
