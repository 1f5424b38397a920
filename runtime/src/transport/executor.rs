//! The executor hyper spawns its per-stream tasks on.
//!
//! hyper's HTTP/2 stream futures are large enums, and tokio copies a spawned
//! future into its task and copies the task's stage again as it runs and ends:
//! several kilobytes of copying per call. Boxed first, the task holds a
//! pointer and the future is written once.

use std::future::Future;

/// Spawns hyper's futures on the current tokio runtime, boxed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Boxing;

impl<F> hyper::rt::Executor<F> for Boxing
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, future: F) {
        tokio::spawn(Box::pin(future));
    }
}
