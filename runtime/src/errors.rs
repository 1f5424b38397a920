//! Rich errors: a [`Status`] carrying typed details (the `google.rpc` error model),
//! sent in the `grpc-status-details-bin` trailer as grpc-go, grpcio-status and
//! the Google APIs do.
//!
//! Build with one call, read with one call:
//!
//! ```
//! use rust_grpc::errors::{BadRequest, ErrorInfo, StatusExt as _, bad_request};
//! use rust_grpc::{Code, Status};
//!
//! let status = Status::with_error_details(
//!     Code::InvalidArgument,
//!     "the order is not valid",
//!     [
//!         ErrorInfo { reason: "EMPTY_ORDER".into(), domain: "shop.example".into(), ..Default::default() }.into(),
//!         BadRequest {
//!             field_violations: vec![bad_request::FieldViolation {
//!                 field: "items".into(),
//!                 description: "at least one item".into(),
//!                 ..Default::default()
//!             }],
//!         }
//!         .into(),
//!     ],
//! );
//!
//! let info: ErrorInfo = status.error_detail().expect("an ErrorInfo");
//! assert_eq!(info.reason, "EMPTY_ORDER");
//! assert_eq!(status.error_details().len(), 2);
//! ```

use prost::Message as _;
use prost_types::Any;

pub use crate::generated::google::rpc::{
    BadRequest, DebugInfo, ErrorInfo, Help, LocalizedMessage, PreconditionFailure, QuotaFailure,
    RequestInfo, ResourceInfo, RetryInfo, Status as RpcStatus, bad_request, help,
    precondition_failure, quota_failure,
};

use crate::base::status::{Code, Status};

/// One typed detail of a rich error.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ErrorDetail {
    /// `google.rpc.ErrorInfo`
    ErrorInfo(ErrorInfo),
    /// `google.rpc.RetryInfo`
    RetryInfo(RetryInfo),
    /// `google.rpc.DebugInfo`
    DebugInfo(DebugInfo),
    /// `google.rpc.QuotaFailure`
    QuotaFailure(QuotaFailure),
    /// `google.rpc.PreconditionFailure`
    PreconditionFailure(PreconditionFailure),
    /// `google.rpc.BadRequest`
    BadRequest(BadRequest),
    /// `google.rpc.RequestInfo`
    RequestInfo(RequestInfo),
    /// `google.rpc.ResourceInfo`
    ResourceInfo(ResourceInfo),
    /// `google.rpc.Help`
    Help(Help),
    /// `google.rpc.LocalizedMessage`
    LocalizedMessage(LocalizedMessage),
    /// A detail of another type, kept as it came.
    Other(Any),
}

/// A message type that can be an [`ErrorDetail`].
pub trait Detail: prost::Message + Default + Sized {
    /// `type.googleapis.com/google.rpc.<Name>`
    const TYPE_URL: &'static str;
    /// This detail, if `detail` is one of this type.
    fn from_detail(detail: &ErrorDetail) -> Option<&Self>;
}

macro_rules! details {
    ($($name:ident),* $(,)?) => {
        $(
            impl Detail for $name {
                const TYPE_URL: &'static str = concat!("type.googleapis.com/google.rpc.", stringify!($name));
                fn from_detail(detail: &ErrorDetail) -> Option<&Self> {
                    match detail {
                        ErrorDetail::$name(value) => Some(value),
                        _ => None,
                    }
                }
            }

            impl From<$name> for ErrorDetail {
                fn from(value: $name) -> Self {
                    ErrorDetail::$name(value)
                }
            }
        )*

        impl ErrorDetail {
            /// Encodes this detail as a `google.protobuf.Any`.
            pub fn to_any(&self) -> Any {
                match self {
                    $(ErrorDetail::$name(value) => Any {
                        type_url: <$name as Detail>::TYPE_URL.to_owned(),
                        value: value.encode_to_vec(),
                    },)*
                    ErrorDetail::Other(any) => any.clone(),
                }
            }

            /// Decodes a `google.protobuf.Any`: a known type becomes its variant, an
            /// unknown type (or one that does not decode) stays [`ErrorDetail::Other`].
            pub fn from_any(any: Any) -> Self {
                $(
                    if any.type_url == <$name as Detail>::TYPE_URL {
                        if let Ok(value) = $name::decode(any.value.as_slice()) {
                            return ErrorDetail::$name(value);
                        }
                        return ErrorDetail::Other(any);
                    }
                )*
                ErrorDetail::Other(any)
            }
        }
    };
}

details!(
    ErrorInfo,
    RetryInfo,
    DebugInfo,
    QuotaFailure,
    PreconditionFailure,
    BadRequest,
    RequestInfo,
    ResourceInfo,
    Help,
    LocalizedMessage,
);

/// Rich error details on [`Status`].
pub trait StatusExt {
    /// A status whose `grpc-status-details-bin` trailer carries `details`.
    fn with_error_details(
        code: Code,
        message: impl Into<String>,
        details: impl IntoIterator<Item = ErrorDetail>,
    ) -> Status;

    /// Every detail the status carries, in order; empty when it has none or the
    /// trailer does not decode.
    fn error_details(&self) -> Vec<ErrorDetail>;

    /// The first detail of type `T`, such as `status.error_detail::<RetryInfo>()`.
    fn error_detail<T: Detail + Clone>(&self) -> Option<T>;
}

impl StatusExt for Status {
    fn with_error_details(
        code: Code,
        message: impl Into<String>,
        details: impl IntoIterator<Item = ErrorDetail>,
    ) -> Status {
        let message = message.into();
        let encoded = RpcStatus {
            code: code as i32,
            message: message.clone(),
            details: details.into_iter().map(|detail| detail.to_any()).collect(),
        }
        .encode_to_vec();
        Status::with_details(code, message, encoded.into())
    }

    fn error_details(&self) -> Vec<ErrorDetail> {
        RpcStatus::decode(self.details())
            .map(|status| {
                status
                    .details
                    .into_iter()
                    .map(ErrorDetail::from_any)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn error_detail<T: Detail + Clone>(&self) -> Option<T> {
        self.error_details()
            .iter()
            .find_map(|detail| T::from_detail(detail).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_through_the_trailer_bytes() {
        let retry = RetryInfo {
            retry_delay: Some(prost_types::Duration {
                seconds: 3,
                nanos: 0,
            }),
        };
        let other = Any {
            type_url: "type.example.com/x.Y".to_owned(),
            value: vec![1, 2, 3],
        };
        let status = Status::with_error_details(
            Code::Unavailable,
            "try later",
            [retry.into(), ErrorDetail::Other(other.clone())],
        );
        let decoded = RpcStatus::decode(status.details()).unwrap();
        assert_eq!(decoded.code, Code::Unavailable as i32);
        assert_eq!(decoded.message, "try later");
        assert_eq!(
            decoded.details[0].type_url,
            "type.googleapis.com/google.rpc.RetryInfo"
        );
        assert_eq!(status.error_detail::<RetryInfo>(), Some(retry));
        assert_eq!(status.error_details()[1], ErrorDetail::Other(other));
        assert_eq!(status.error_detail::<DebugInfo>(), None);
    }

    #[test]
    fn status_without_details_has_none() {
        assert!(Status::internal("plain").error_details().is_empty());
    }
}
