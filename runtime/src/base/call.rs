//! The request and response of one call: tonic's types, so a tonic user feels
//! at home.

pub use tonic::{Extensions, IntoRequest, IntoStreamingRequest, Request, Response};
