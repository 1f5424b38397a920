//! The channel's worker: one task per channel that runs its resolver and its
//! load-balancing policy, creates and registers subchannels, passes their
//! state changes to the policy, publishes the policy's pickers and state, and
//! idles the channel after a quiet spell.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::StreamExt as _;

use crate::base::body::BoxStream;
use crate::base::status::Status;
use crate::client::backoff::BackoffConfig;
use crate::client::balancer::{
    ChannelControl, FailPicker, LoadBalancer, LoadBalancerBuilder, Picker, QueuePicker,
};
use crate::client::connection::Connector;
use crate::client::resolver::{Address, ResolveNow, Resolver, ResolverUpdate};
use crate::client::retry::RetryThrottle;
use crate::client::service_config::ServiceConfig;
use crate::client::state::ConnectivityState;
use crate::client::subchannel::{HealthCheck, StateChange, Subchannel};
use crate::client::target::Target;

/// What calls and handles ask of the worker.
#[derive(Debug)]
pub(crate) enum Control {
    /// A call found the channel IDLE.
    ExitIdle,
    /// The last handle to the channel is gone.
    Close,
}

/// Calls in flight and when the last one started, for the idle timeout.
#[derive(Debug)]
pub(crate) struct Activity {
    active: AtomicUsize,
    /// Milliseconds after `epoch` of the last call's start.
    last: AtomicU64,
    epoch: Instant,
    /// Whether the channel has been READY, for `connect` (which may only see
    /// the IDLE after it).
    was_ready: AtomicBool,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            active: AtomicUsize::new(0),
            last: AtomicU64::new(0),
            epoch: Instant::now(),
            was_ready: AtomicBool::new(false),
        })
    }

    /// Marks a call as started; it counts until the mark is dropped.
    pub(crate) fn start(self: &Arc<Self>) -> Active {
        self.active.fetch_add(1, Ordering::Relaxed);
        let now = self.epoch.elapsed().as_millis() as u64;
        if self.last.load(Ordering::Relaxed) != now {
            self.last.store(now, Ordering::Relaxed);
        }
        Active(Arc::clone(self))
    }

    pub(crate) fn was_ready(&self) -> bool {
        self.was_ready.load(Ordering::Acquire)
    }

    /// Whether no call is in flight and none started within `timeout`.
    fn idle_for(&self, timeout: Duration) -> bool {
        self.active.load(Ordering::Acquire) == 0
            && self.epoch.elapsed().as_millis() as u64
                >= self.last.load(Ordering::Relaxed) + timeout.as_millis() as u64
    }
}

/// A call in flight.
#[derive(Debug)]
pub(crate) struct Active(Arc<Activity>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Release);
    }
}

/// The service config calls use now, with its retry throttle.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    pub(crate) config: ServiceConfig,
    pub(crate) throttle: Option<RetryThrottle>,
}

impl Applied {
    pub(crate) fn new(config: ServiceConfig) -> Self {
        // A fresh throttle each time a config is applied, as grpc-go has it.
        let throttle = config.retry_throttling().map(RetryThrottle::new);
        Self { config, throttle }
    }
}

/// Everything the worker needs, from the endpoint.
pub(crate) struct Setup {
    pub(crate) target: Target,
    pub(crate) resolver: Arc<dyn Resolver>,
    /// The policies service configs may name.
    pub(crate) policies: Vec<Arc<dyn LoadBalancerBuilder>>,
    /// The policy when no service config names one.
    pub(crate) policy: Arc<dyn LoadBalancerBuilder>,
    /// The config when the resolver gives none (`default_service_config`).
    pub(crate) default_config: Option<ServiceConfig>,
    pub(crate) connector: Arc<Connector>,
    pub(crate) backoff: BackoffConfig,
    /// The scheme and authority of the channel's calls (health checks too).
    pub(crate) origin: http::Uri,
    pub(crate) idle_timeout: Option<Duration>,
}

/// The worker's ends of the channel's watches and queues.
pub(crate) struct Wiring {
    pub(crate) pickers: watch::Sender<Arc<dyn Picker>>,
    pub(crate) state: watch::Sender<ConnectivityState>,
    pub(crate) config: watch::Sender<Arc<Applied>>,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    pub(crate) exiting_idle: Arc<AtomicBool>,
    pub(crate) activity: Arc<Activity>,
}

/// The worker's side of [`ChannelControl`].
struct Controls<'a> {
    setup: &'a Setup,
    registry: &'a mut HashMap<u64, Subchannel>,
    events: &'a mpsc::UnboundedSender<StateChange>,
    health: &'a watch::Receiver<Option<String>>,
    wiring: &'a Wiring,
    resolve_now: &'a ResolveNow,
}

impl ChannelControl for Controls<'_> {
    fn new_subchannel(&mut self, address: &Address) -> Subchannel {
        let subchannel = Subchannel::spawn(
            address.clone(),
            Arc::clone(&self.setup.connector),
            self.setup.backoff,
            HealthCheck {
                service: self.health.clone(),
                origin: self.setup.origin.clone(),
            },
            self.events.clone(),
        );
        self.registry.insert(subchannel.id(), subchannel.clone());
        subchannel
    }

    fn update_picker(&mut self, state: ConnectivityState, picker: Arc<dyn Picker>) {
        publish(self.wiring, state, picker);
    }

    fn resolve_now(&mut self) {
        self.resolve_now.request();
    }
}

fn publish(wiring: &Wiring, state: ConnectivityState, picker: Arc<dyn Picker>) {
    if state == ConnectivityState::Ready {
        wiring.activity.was_ready.store(true, Ordering::Release);
    }
    // The state first: a call woken by the new picker must see the state that
    // goes with it (an IDLE channel is woken by calls).
    wiring.state.send_if_modified(|now| {
        let changed = *now != state;
        *now = state;
        changed
    });
    wiring.pickers.send_replace(picker);
}

impl Setup {
    /// The policy `config` names (the first one this channel knows), or the
    /// channel's own, with its config.
    fn choose(
        &self,
        config: &ServiceConfig,
    ) -> (Arc<dyn LoadBalancerBuilder>, Option<serde_json::Value>) {
        let known = |name: &str| self.policies.iter().any(|p| p.name() == name);
        match config.choose_load_balancing(known) {
            Some((name, value)) => {
                let builder = self
                    .policies
                    .iter()
                    .rev()
                    .find(|p| p.name() == name)
                    .cloned()
                    .unwrap_or_else(|| Arc::clone(&self.policy));
                (builder, Some(value.clone()))
            }
            None => (Arc::clone(&self.policy), None),
        }
    }
}

/// Runs the channel until its last handle is dropped.
pub(crate) async fn run(setup: Setup, mut wiring: Wiring, start: bool) {
    let (events, mut changes) = mpsc::unbounded_channel();
    let mut registry: HashMap<u64, Subchannel> = HashMap::new();
    let mut resolve_now = ResolveNow::default();
    let mut updates: Option<BoxStream<ResolverUpdate>> = None;
    let mut policy: Option<Box<dyn LoadBalancer>> = None;
    let mut has_addresses = false;
    // The policy in use and its config.
    let mut chosen = setup.choose(&wiring.config.borrow().config);
    // Whether a config (from the resolver or the default) has been applied.
    let mut configured = false;
    // The service subchannels check the health of (gRFC A17).
    let (health_tx, health) =
        watch::channel(health_service(&chosen, &wiring.config.borrow().config));
    let idle_check = setup.idle_timeout.map_or(Duration::from_secs(3600), |t| {
        (t / 4).max(Duration::from_millis(10))
    });
    let mut ticks = tokio::time::interval(idle_check);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    macro_rules! control {
        () => {
            Controls {
                setup: &setup,
                registry: &mut registry,
                events: &events,
                health: &health,
                wiring: &wiring,
                resolve_now: &resolve_now,
            }
        };
    }

    if start {
        wiring.exiting_idle.store(true, Ordering::Release);
    }
    let mut wake = start;
    loop {
        if wake {
            wake = false;
            if policy.is_none() {
                resolve_now = ResolveNow::default();
                updates = Some(setup.resolver.resolve(&setup.target, resolve_now.clone()));
                policy = Some(chosen.0.build());
                has_addresses = false;
                publish(
                    &wiring,
                    ConnectivityState::Connecting,
                    Arc::new(QueuePicker),
                );
            } else if let Some(policy) = policy.as_mut() {
                policy.exit_idle(&mut control!());
            }
            wiring.exiting_idle.store(false, Ordering::Release);
        }
        tokio::select! {
            control = wiring.control.recv() => match control {
                Some(Control::ExitIdle) => wake = true,
                Some(Control::Close) | None => break,
            },
            Some(change) = changes.recv() => {
                if change.state == ConnectivityState::Shutdown {
                    registry.remove(&change.id);
                } else if let (Some(subchannel), Some(policy)) =
                    (registry.get(&change.id).cloned(), policy.as_mut())
                {
                    policy.subchannel_update(&subchannel, change.state, &mut control!());
                }
            },
            update = next(&mut updates) => match update {
                Some(Ok(update)) => {
                    has_addresses = !update.addresses.is_empty();
                    let addresses = update.addresses;
                    // The resolver's config, else the default; a bad one
                    // keeps what was there (gRFC A21).
                    let config = match update.service_config.as_deref().map(ServiceConfig::from_json) {
                        Some(Ok(config)) => Some(config),
                        Some(Err(err)) => {
                            tracing::warn!(target = %setup.target, error = %err, "the resolver's service config is invalid; keeping the previous one");
                            (!configured).then(|| setup.default_config.clone()).flatten()
                        }
                        None => Some(setup.default_config.clone().unwrap_or_default()),
                    };
                    if let Some(config) = config {
                        configured = true;
                        if wiring.config.borrow().config != config {
                            let next = setup.choose(&config);
                            if next.0.name() != chosen.0.name() || next.1 != chosen.1 {
                                if let Some(mut old) = policy.take() {
                                    old.shutdown();
                                }
                                policy = Some(next.0.build());
                            }
                            chosen = next;
                            let service = health_service(&chosen, &config);
                            health_tx.send_if_modified(|now| {
                                let changed = *now != service;
                                *now = service;
                                changed
                            });
                            wiring.config.send_replace(Arc::new(Applied::new(config)));
                        }
                    }
                    if let Some(policy) = policy.as_mut()
                        && let Err(error) = policy.resolver_update(
                            &addresses,
                            chosen.1.as_ref(),
                            &mut control!(),
                        )
                    {
                        publish(
                            &wiring,
                            ConnectivityState::TransientFailure,
                            Arc::new(FailPicker(Status::unavailable(format!(
                                "the load-balancing policy refused its config: {error}"
                            )))),
                        );
                    }
                }
                Some(Err(status)) => {
                    if let Some(policy) = policy.as_mut() {
                        policy.resolver_error(status.clone(), &mut control!());
                    }
                    if !has_addresses {
                        publish(&wiring, ConnectivityState::TransientFailure, Arc::new(FailPicker(status)));
                    }
                }
                None => updates = None,
            },
            _ = ticks.tick(), if setup.idle_timeout.is_some() && policy.is_some() => {
                if setup.idle_timeout.is_some_and(|t| wiring.activity.idle_for(t)) {
                    tracing::debug!(target = %setup.target, "channel idle");
                    if let Some(mut policy) = policy.take() {
                        policy.shutdown();
                    }
                    updates = None;
                    publish(&wiring, ConnectivityState::Idle, Arc::new(QueuePicker));
                }
            },
        }
    }
    if let Some(mut policy) = policy.take() {
        policy.shutdown();
    }
    for subchannel in registry.values() {
        subchannel.shutdown();
    }
    publish(
        &wiring,
        ConnectivityState::Shutdown,
        Arc::new(FailPicker(Status::unavailable("the channel is shut down"))),
    );
}

/// The service whose health subchannels check: the config's, unless the
/// policy is pick_first, which checks none (gRFC A17, as grpc-go).
fn health_service(
    chosen: &(Arc<dyn LoadBalancerBuilder>, Option<serde_json::Value>),
    config: &ServiceConfig,
) -> Option<String> {
    if chosen.0.name() == "pick_first" {
        return None;
    }
    config.health_check_service_name().map(str::to_owned)
}

async fn next(
    updates: &mut Option<BoxStream<ResolverUpdate>>,
) -> Option<Result<ResolverUpdate, Status>> {
    match updates {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}
