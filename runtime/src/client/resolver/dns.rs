//! The DNS resolver: every address of a host name (A and AAAA), from the
//! system resolver on tokio's blocking threads, looked up again when the
//! channel asks (a lost connection) but at most every 30 s, as grpc-go's is.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::base::body::BoxStream;
use crate::base::status::Status;
use crate::client::backoff::Backoff;
use crate::client::resolver::{Address, ResolveNow, Resolver, ResolverUpdate};
use crate::client::target::{Kind, Target};

/// The shortest time between two lookups of one name.
const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// How long one lookup may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Resolves host names with the system resolver.
#[derive(Debug, Clone)]
pub(crate) struct Dns {
    min_interval: Duration,
}

impl Default for Dns {
    fn default() -> Self {
        Self {
            min_interval: MIN_INTERVAL,
        }
    }
}

impl Resolver for Dns {
    fn resolve(&self, target: &Target, now: ResolveNow) -> BoxStream<ResolverUpdate> {
        let Kind::Dns { host, port } = target.kind() else {
            return Box::pin(tokio_stream::once(Err(Status::internal(format!(
                "the DNS resolver cannot resolve {target}"
            )))));
        };
        // An IP address needs no lookup and never changes.
        if let Ok(ip) = host.parse::<IpAddr>() {
            let update = ResolverUpdate::new([Address::tcp(SocketAddr::new(ip, *port))]);
            return Box::pin(tokio_stream::StreamExt::chain(
                tokio_stream::once(Ok(update)),
                tokio_stream::pending(),
            ));
        }
        let (tx, rx) = mpsc::channel(1);
        tokio::spawn(watch(format!("{host}:{port}"), self.min_interval, now, tx));
        Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))
    }
}

/// Looks `name` up, sends what it found, and again whenever asked (no sooner
/// than `min_interval` after the last success), until the channel is gone.
async fn watch(
    name: String,
    min_interval: Duration,
    now: ResolveNow,
    tx: mpsc::Sender<Result<ResolverUpdate, Status>>,
) {
    let mut backoff = Backoff::default();
    loop {
        let found = match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host(&name)).await
        {
            Ok(Ok(addresses)) => {
                let addresses: Vec<Address> = dedup(addresses).map(Address::tcp).collect();
                if addresses.is_empty() {
                    Err(format!("DNS found no address for {name}"))
                } else {
                    Ok(addresses)
                }
            }
            Ok(Err(err)) => Err(format!("DNS lookup of {name} failed: {err}")),
            Err(_) => Err(format!("DNS lookup of {name} timed out")),
        };
        let ok = found.is_ok();
        let item = found.map(ResolverUpdate::new).map_err(Status::unavailable);
        if tx.send(item).await.is_err() {
            return;
        }
        let wait_until = if ok {
            backoff.reset();
            let looked_up = Instant::now();
            tokio::select! {
                () = now.requested() => {}
                () = tx.closed() => return,
            }
            looked_up + min_interval
        } else {
            Instant::now() + backoff.next_delay()
        };
        tokio::select! {
            () = tokio::time::sleep_until(wait_until) => {}
            () = tx.closed() => return,
        }
    }
}

fn dedup(addresses: impl Iterator<Item = SocketAddr>) -> impl Iterator<Item = SocketAddr> {
    let mut seen = Vec::new();
    addresses.filter(move |addr| {
        if seen.contains(addr) {
            false
        } else {
            seen.push(*addr);
            true
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_stream::StreamExt as _;

    #[tokio::test]
    async fn localhost_gives_every_loopback_address_it_has() {
        let target = Target::parse("dns:///localhost:50051").unwrap();
        let mut updates = Dns::default().resolve(&target, ResolveNow::default());
        let update = updates.next().await.unwrap().unwrap();
        let want: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs("localhost:50051")
            .unwrap()
            .collect();
        let mut want = dedup(want.into_iter()).collect::<Vec<_>>();
        let mut got: Vec<SocketAddr> = update
            .addresses
            .iter()
            .filter_map(Address::as_tcp)
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want);
        assert!(!got.is_empty());
    }

    #[tokio::test]
    async fn an_ip_address_is_not_looked_up() {
        let target = Target::parse("127.0.0.1:7").unwrap();
        let mut updates = Dns::default().resolve(&target, ResolveNow::default());
        let update = updates.next().await.unwrap().unwrap();
        assert_eq!(
            update.addresses,
            [Address::tcp("127.0.0.1:7".parse().unwrap())]
        );
    }

    #[tokio::test]
    async fn an_unknown_name_is_unavailable() {
        let target = Target::parse("dns:///no-such-host.invalid:1").unwrap();
        let mut updates = Dns::default().resolve(&target, ResolveNow::default());
        let status = updates.next().await.unwrap().unwrap_err();
        assert_eq!(status.code(), crate::Code::Unavailable);
        assert!(
            status.message().contains("no-such-host.invalid"),
            "{status:?}"
        );
    }

    #[tokio::test]
    async fn asking_again_looks_up_again_but_not_sooner_than_the_interval() {
        let target = Target::parse("dns:///localhost:1").unwrap();
        let now = ResolveNow::default();
        let dns = Dns {
            min_interval: Duration::from_millis(300),
        };
        let mut updates = dns.resolve(&target, now.clone());
        let start = Instant::now();
        updates.next().await.unwrap().unwrap();
        // Nothing more until asked.
        let quiet = tokio::time::timeout(Duration::from_millis(100), updates.next()).await;
        assert!(quiet.is_err(), "a lookup nobody asked for");
        now.request();
        updates.next().await.unwrap().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300));
    }
}
