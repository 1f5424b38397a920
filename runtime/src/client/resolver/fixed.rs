//! Targets that list their addresses (`ipv4:`, `ipv6:`, `unix:`,
//! `passthrough:`): one update, never re-resolved.

use crate::base::body::BoxStream;
use crate::client::resolver::{Address, ResolveNow, Resolver, ResolverUpdate};
use crate::client::target::Target;

/// A resolver that always gives the same addresses.
#[derive(Debug, Clone)]
pub(crate) struct Fixed(Vec<Address>);

impl Fixed {
    pub(crate) fn new(addresses: Vec<Address>) -> Self {
        Self(addresses)
    }
}

impl Resolver for Fixed {
    fn resolve(&self, _: &Target, _: ResolveNow) -> BoxStream<ResolverUpdate> {
        let update = ResolverUpdate::new(self.0.clone());
        // One update, then the stream stays open: the channel keeps it.
        Box::pin(tokio_stream::StreamExt::chain(
            tokio_stream::once(Ok(update)),
            tokio_stream::pending(),
        ))
    }
}
