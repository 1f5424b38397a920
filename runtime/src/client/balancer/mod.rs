//! Load balancing: a policy owns the subchannels of a channel's addresses and
//! publishes a picker, which chooses the subchannel of each call.
//!
//! The channel calls the policy from one task, so a policy needs no locks; the
//! picker it publishes is called by every call at once, so it must be cheap.
//! Two policies come with the channel: `pick_first` (the default) and
//! `round_robin`; [`LoadBalancer`] lets users add their own.

pub(crate) mod pick_first;
pub(crate) mod round_robin;

use std::sync::Arc;

use crate::base::status::Status;
use crate::client::resolver::Address;
use crate::client::state::ConnectivityState;
use crate::client::subchannel::Subchannel;

/// What the picker learns about a call.
#[derive(Debug)]
pub struct PickInfo<'a> {
    pub(crate) path: &'a str,
}

impl PickInfo<'_> {
    /// The call's method path, `/package.Service/Method`.
    pub fn path(&self) -> &str {
        self.path
    }
}

/// A picker's choice for one call.
#[derive(Debug)]
pub enum Pick {
    /// Send the call on this subchannel.
    Ready(Subchannel),
    /// No subchannel yet: the call waits for the next picker.
    Queue,
    /// No subchannel can be had: the call fails with this status, unless it
    /// waits for ready (then it waits for the next picker).
    Fail(Status),
}

/// Chooses the subchannel of each call.
pub trait Picker: Send + Sync + 'static {
    /// Chooses for one call.
    fn pick(&self, info: &PickInfo<'_>) -> Pick;
}

/// What a policy may ask of its channel.
pub trait ChannelControl {
    /// A new IDLE subchannel for `address`.
    fn new_subchannel(&mut self, address: &Address) -> Subchannel;
    /// Publishes the channel's state and the picker calls use from now on.
    fn update_picker(&mut self, state: ConnectivityState, picker: Arc<dyn Picker>);
    /// Asks the resolver for a fresh resolution.
    fn resolve_now(&mut self);
}

/// A load-balancing policy.
pub trait LoadBalancer: Send + 'static {
    /// The resolver's addresses (and the policy's own config from the
    /// service config's `loadBalancingConfig`, if any).
    ///
    /// # Errors
    ///
    /// A config the policy cannot use.
    fn resolver_update(
        &mut self,
        addresses: &[Address],
        config: Option<&serde_json::Value>,
        channel: &mut dyn ChannelControl,
    ) -> Result<(), String>;

    /// The resolver failed; keep what works, if anything.
    fn resolver_error(&mut self, error: Status, channel: &mut dyn ChannelControl);

    /// One of the policy's subchannels changed state.
    fn subchannel_update(
        &mut self,
        subchannel: &Subchannel,
        state: ConnectivityState,
        channel: &mut dyn ChannelControl,
    );

    /// A call arrived while the policy was IDLE: connect.
    fn exit_idle(&mut self, channel: &mut dyn ChannelControl);

    /// The channel is closing or going idle: shut every subchannel down.
    fn shutdown(&mut self);
}

/// Makes a policy by name, for the service config's `loadBalancingConfig`.
pub trait LoadBalancerBuilder: Send + Sync + 'static {
    /// The policy's name in service configs, e.g. `round_robin`.
    fn name(&self) -> &'static str;
    /// A new policy for one channel.
    fn build(&self) -> Box<dyn LoadBalancer>;
}

/// A picker that queues every call (while connecting).
#[derive(Debug)]
pub(crate) struct QueuePicker;

impl Picker for QueuePicker {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        Pick::Queue
    }
}

/// A picker that fails every call with one status (TRANSIENT_FAILURE).
#[derive(Debug)]
pub(crate) struct FailPicker(pub(crate) Status);

impl Picker for FailPicker {
    fn pick(&self, _: &PickInfo<'_>) -> Pick {
        Pick::Fail(self.0.clone())
    }
}

/// The builders of the policies that come with the channel.
pub(crate) fn builtin() -> Vec<Arc<dyn LoadBalancerBuilder>> {
    vec![
        Arc::new(pick_first::Builder),
        Arc::new(round_robin::Builder),
    ]
}
