//! The vocabulary every layer shares: statuses, bodies, requests and responses,
//! metadata rules, deadlines and cancellation, streams. Imports nothing above it.

pub(crate) mod body;
pub(crate) mod call;
pub mod cancel;
pub mod deadline;
pub mod interceptor;
pub mod metadata;
pub(crate) mod status;
pub mod stream;
