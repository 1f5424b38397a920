//! `pick_first`: one connection at a time, to the first address that works.
//!
//! Addresses are tried in order (IPv6 and IPv4 interleaved, as gRFC A61 asks,
//! so one family's outage costs one attempt, not all). The first READY
//! subchannel takes every call and the others are shut down. When it is lost
//! the policy goes IDLE until the next call; when every address has failed it
//! reports TRANSIENT_FAILURE, asks the resolver again, and keeps retrying each
//! address as its backoff ends.

use std::sync::Arc;

use crate::base::status::Status;
use crate::client::balancer::{
    ChannelControl, FailPicker, LoadBalancer, LoadBalancerBuilder, Pick, PickInfo, Picker,
    QueuePicker,
};
use crate::client::resolver::Address;
use crate::client::state::ConnectivityState;
use crate::client::subchannel::Subchannel;

/// Builds `pick_first`.
#[derive(Debug)]
pub(crate) struct Builder;

impl LoadBalancerBuilder for Builder {
    fn name(&self) -> &'static str {
        "pick_first"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(PickFirst::default())
    }
}

#[derive(Debug, Default)]
pub(crate) struct PickFirst {
    subchannels: Vec<Subchannel>,
    /// The subchannel being tried in the current pass.
    next: usize,
    /// The READY subchannel, once there is one.
    selected: Option<Subchannel>,
    /// Every address failed once: stay in TRANSIENT_FAILURE until one works.
    failing: bool,
    idle: bool,
}

struct Selected(Subchannel);

impl Picker for Selected {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        Pick::Ready(self.0.clone())
    }
}

/// IPv6 and IPv4 addresses alternating, the first address's family first.
fn interleave(addresses: &[Address]) -> Vec<Address> {
    let mut unique: Vec<Address> = Vec::new();
    for address in addresses {
        if !unique.contains(address) {
            unique.push(address.clone());
        }
    }
    let is_v6 = |a: &Address| a.as_tcp().is_some_and(|addr| addr.is_ipv6());
    let Some(first) = unique.first() else {
        return unique;
    };
    let first_v6 = is_v6(first);
    let (mut same, mut other): (Vec<Address>, Vec<Address>) =
        unique.into_iter().partition(|a| is_v6(a) == first_v6);
    same.reverse();
    other.reverse();
    let mut out = Vec::new();
    loop {
        match (same.pop(), other.pop()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

impl PickFirst {
    fn start_pass(&mut self, channel: &mut dyn ChannelControl) {
        self.next = 0;
        if let Some(first) = self.subchannels.first() {
            first.connect();
            if !self.failing {
                channel.update_picker(ConnectivityState::Connecting, Arc::new(QueuePicker));
            }
        }
    }

    fn shut_down_all(&mut self) {
        for subchannel in self.subchannels.drain(..) {
            subchannel.shutdown();
        }
        self.selected = None;
    }
}

impl LoadBalancer for PickFirst {
    fn resolver_update(
        &mut self,
        addresses: &[Address],
        _config: Option<&serde_json::Value>,
        channel: &mut dyn ChannelControl,
    ) -> Result<(), String> {
        let addresses = interleave(addresses);
        if addresses.is_empty() {
            self.shut_down_all();
            channel.update_picker(
                ConnectivityState::TransientFailure,
                Arc::new(FailPicker(Status::unavailable(
                    "the resolver gave no addresses",
                ))),
            );
            return Ok(());
        }
        // A working connection to an address still listed is kept.
        if let Some(selected) = &self.selected
            && addresses.contains(selected.address())
        {
            let keep = selected.clone();
            for subchannel in self.subchannels.drain(..) {
                if subchannel != keep {
                    subchannel.shutdown();
                }
            }
            let mut subchannels = vec![keep.clone()];
            subchannels.extend(
                addresses
                    .iter()
                    .filter(|a| *a != keep.address())
                    .map(|a| channel.new_subchannel(a)),
            );
            self.subchannels = subchannels;
            return Ok(());
        }
        self.shut_down_all();
        self.subchannels = addresses
            .iter()
            .map(|a| channel.new_subchannel(a))
            .collect();
        if !self.idle {
            self.start_pass(channel);
        }
        Ok(())
    }

    fn resolver_error(&mut self, error: Status, channel: &mut dyn ChannelControl) {
        if self.subchannels.is_empty() || self.failing {
            channel.update_picker(
                ConnectivityState::TransientFailure,
                Arc::new(FailPicker(error)),
            );
        }
    }

    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: ConnectivityState,
        channel: &mut dyn ChannelControl,
    ) {
        let Some(index) = self.subchannels.iter().position(|s| s == subchannel) else {
            return;
        };
        match state {
            ConnectivityState::Ready => {
                self.failing = false;
                self.idle = false;
                for (i, other) in self.subchannels.iter().enumerate() {
                    if i != index {
                        other.shutdown();
                    }
                }
                let selected = subchannel.clone();
                self.subchannels = vec![selected.clone()];
                self.selected = Some(selected.clone());
                channel.update_picker(ConnectivityState::Ready, Arc::new(Selected(selected)));
            }
            ConnectivityState::Idle if self.selected.as_ref() == Some(subchannel) => {
                // The connection was lost: idle until the next call.
                self.selected = None;
                self.idle = true;
                channel.resolve_now();
                // The channel turns the next call into exit_idle.
                channel.update_picker(ConnectivityState::Idle, Arc::new(QueuePicker));
            }
            ConnectivityState::TransientFailure if index == self.next => {
                self.next += 1;
                if let Some(next) = self.subchannels.get(self.next) {
                    next.connect();
                } else {
                    // Every address failed: report it and keep trying each
                    // as its backoff ends.
                    self.failing = true;
                    channel.resolve_now();
                    channel.update_picker(
                        ConnectivityState::TransientFailure,
                        Arc::new(FailPicker(subchannel.failure())),
                    );
                }
            }
            ConnectivityState::Idle if self.failing => subchannel.connect(),
            _ => {}
        }
    }

    fn exit_idle(&mut self, channel: &mut dyn ChannelControl) {
        if self.idle
            || self
                .subchannels
                .iter()
                .all(|s| s.state() == ConnectivityState::Idle)
        {
            self.idle = false;
            self.start_pass(channel);
        }
    }

    fn shutdown(&mut self) {
        self.shut_down_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(text: &str) -> Address {
        Address::tcp(text.parse().unwrap())
    }

    #[test]
    fn families_alternate_starting_with_the_first() {
        let list = [
            tcp("[::1]:1"),
            tcp("[::2]:1"),
            tcp("[::3]:1"),
            tcp("127.0.0.1:1"),
            tcp("127.0.0.2:1"),
            tcp("[::1]:1"),
        ];
        assert_eq!(
            interleave(&list),
            [
                tcp("[::1]:1"),
                tcp("127.0.0.1:1"),
                tcp("[::2]:1"),
                tcp("127.0.0.2:1"),
                tcp("[::3]:1"),
            ]
        );
    }
}
