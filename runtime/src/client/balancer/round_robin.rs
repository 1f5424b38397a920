//! `round_robin`: a connection to every address, calls spread evenly over the
//! READY ones.
//!
//! Every subchannel reconnects whenever it goes IDLE (after a lost connection
//! or a backoff). The channel is READY while any subchannel is; otherwise
//! CONNECTING, then IDLE, then TRANSIENT_FAILURE, and once in
//! TRANSIENT_FAILURE it stays there until a subchannel is READY again, so
//! fail-fast calls do not wait through every reconnect.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::base::status::Status;
use crate::client::balancer::{
    ChannelControl, FailPicker, LoadBalancer, LoadBalancerBuilder, Pick, PickInfo, Picker,
    QueuePicker,
};
use crate::client::resolver::Address;
use crate::client::state::ConnectivityState;
use crate::client::subchannel::Subchannel;

/// Builds `round_robin`.
#[derive(Debug)]
pub(crate) struct Builder;

impl LoadBalancerBuilder for Builder {
    fn name(&self) -> &'static str {
        "round_robin"
    }

    fn build(&self) -> Box<dyn LoadBalancer> {
        Box::new(RoundRobin::default())
    }
}

#[derive(Debug, Default)]
pub(crate) struct RoundRobin {
    subchannels: Vec<Subchannel>,
    states: HashMap<u64, ConnectivityState>,
    failing: bool,
    published: Option<(ConnectivityState, Vec<u64>)>,
}

/// Rotates over the READY subchannels, from a random start so that many
/// clients do not all begin on the first server.
struct Rotate {
    ready: Vec<Subchannel>,
    next: AtomicUsize,
}

impl Picker for Rotate {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.ready.len();
        Pick::Ready(self.ready[index].clone())
    }
}

fn random_start(len: usize) -> usize {
    use std::hash::{BuildHasher, Hasher};
    let hasher = std::collections::hash_map::RandomState::new().build_hasher();
    (hasher.finish() as usize) % len.max(1)
}

impl RoundRobin {
    fn state_of(&self, subchannel: &Subchannel) -> ConnectivityState {
        self.states
            .get(&subchannel.id())
            .copied()
            .unwrap_or(ConnectivityState::Idle)
    }

    /// Publishes the aggregate state and a picker over the READY subchannels.
    fn publish(&mut self, channel: &mut dyn ChannelControl) {
        let ready: Vec<Subchannel> = self
            .subchannels
            .iter()
            .filter(|s| self.state_of(s) == ConnectivityState::Ready)
            .cloned()
            .collect();
        let any = |state| self.subchannels.iter().any(|s| self.state_of(s) == state);
        let state = if !ready.is_empty() {
            self.failing = false;
            ConnectivityState::Ready
        } else if self.failing {
            ConnectivityState::TransientFailure
        } else if any(ConnectivityState::Connecting) {
            ConnectivityState::Connecting
        } else if any(ConnectivityState::Idle) {
            ConnectivityState::Idle
        } else {
            self.failing = true;
            ConnectivityState::TransientFailure
        };
        let ids: Vec<u64> = ready.iter().map(Subchannel::id).collect();
        if self.published.as_ref() == Some(&(state, ids.clone())) {
            return;
        }
        self.published = Some((state, ids));
        let picker: Arc<dyn Picker> = match state {
            ConnectivityState::Ready => Arc::new(Rotate {
                next: AtomicUsize::new(random_start(ready.len())),
                ready,
            }),
            ConnectivityState::TransientFailure => {
                let status = self
                    .subchannels
                    .iter()
                    .find(|s| s.last_error().is_some())
                    .map_or_else(
                        || Status::unavailable("no address could be connected to"),
                        Subchannel::failure,
                    );
                Arc::new(FailPicker(status))
            }
            _ => Arc::new(QueuePicker),
        };
        // IDLE subchannels reconnect at once, so the policy itself is never
        // IDLE for long: report CONNECTING rather than IDLE.
        let reported = if state == ConnectivityState::Idle {
            ConnectivityState::Connecting
        } else {
            state
        };
        channel.update_picker(reported, picker);
    }
}

impl LoadBalancer for RoundRobin {
    fn resolver_update(
        &mut self,
        addresses: &[Address],
        _config: Option<&serde_json::Value>,
        channel: &mut dyn ChannelControl,
    ) -> Result<(), String> {
        let mut kept = Vec::new();
        for subchannel in self.subchannels.drain(..) {
            if addresses.contains(subchannel.address())
                && !kept
                    .iter()
                    .any(|s: &Subchannel| s.address() == subchannel.address())
            {
                kept.push(subchannel);
            } else {
                self.states.remove(&subchannel.id());
                subchannel.shutdown();
            }
        }
        for address in addresses {
            if !kept.iter().any(|s| s.address() == address) {
                let subchannel = channel.new_subchannel(address);
                subchannel.connect();
                kept.push(subchannel);
            }
        }
        self.subchannels = kept;
        if self.subchannels.is_empty() {
            self.failing = true;
            self.published = None;
            channel.update_picker(
                ConnectivityState::TransientFailure,
                Arc::new(FailPicker(Status::unavailable(
                    "the resolver gave no addresses",
                ))),
            );
            return Ok(());
        }
        self.publish(channel);
        Ok(())
    }

    fn resolver_error(&mut self, error: Status, channel: &mut dyn ChannelControl) {
        if self.subchannels.is_empty() {
            self.published = None;
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
        if !self.subchannels.contains(subchannel) {
            return;
        }
        let before = self.states.insert(subchannel.id(), state);
        match state {
            ConnectivityState::Idle => {
                if before == Some(ConnectivityState::Ready) {
                    channel.resolve_now();
                }
                subchannel.connect();
            }
            ConnectivityState::TransientFailure => channel.resolve_now(),
            _ => {}
        }
        self.publish(channel);
    }

    fn exit_idle(&mut self, _: &mut dyn ChannelControl) {
        for subchannel in &self.subchannels {
            subchannel.connect();
        }
    }

    fn shutdown(&mut self) {
        for subchannel in self.subchannels.drain(..) {
            subchannel.shutdown();
        }
        self.states.clear();
        self.published = None;
    }
}
