//! Subchannels: one per address, each with its own connection, state and
//! connection backoff. A load-balancing policy asks a subchannel to connect;
//! the subchannel reports every state change to its channel.
//!
//! A subchannel's states follow gRPC's: IDLE -> CONNECTING -> READY, or ->
//! TRANSIENT_FAILURE, which after the backoff delay becomes IDLE again (the
//! policy decides whether to reconnect). A READY connection that ends (lost,
//! or drained by the server's GOAWAY) makes the subchannel IDLE; calls already
//! on a draining connection finish there.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc, watch};

use crate::base::status::{self, Status};
use crate::client::backoff::{Backoff, BackoffConfig};
use crate::client::connection::{Connector, Driver, Sender};
use crate::client::health::{self, Report};
use crate::client::resolver::Address;
use crate::client::state::ConnectivityState;

/// A connection to one address, as a load-balancing policy sees it. Cheap to
/// clone; all clones are the same subchannel.
#[derive(Clone)]
pub struct Subchannel(Arc<Shared>);

struct Shared {
    id: u64,
    address: Address,
    inner: Mutex<Inner>,
    wake: Notify,
}

struct Inner {
    state: ConnectivityState,
    /// The last connection failure, for the status calls fail with.
    error: Option<Arc<std::io::Error>>,
    sender: Option<Sender>,
    connect: bool,
    shutdown: bool,
}

/// Whether and how a subchannel checks its server's health (gRFC A17).
#[derive(Clone)]
pub(crate) struct HealthCheck {
    /// The service to watch; `None` checks nothing.
    pub(crate) service: watch::Receiver<Option<String>>,
    /// The scheme and authority of the health calls.
    pub(crate) origin: http::Uri,
}

/// A subchannel's state change, for its channel.
#[derive(Debug)]
pub(crate) struct StateChange {
    pub(crate) id: u64,
    pub(crate) state: ConnectivityState,
}

impl std::fmt::Debug for Subchannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subchannel")
            .field("address", &self.0.address)
            .field("state", &self.state())
            .finish()
    }
}

impl PartialEq for Subchannel {
    fn eq(&self, other: &Self) -> bool {
        self.0.id == other.0.id
    }
}

impl Eq for Subchannel {}

impl std::hash::Hash for Subchannel {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.id.hash(state);
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl Subchannel {
    /// A new IDLE subchannel; its task runs until [`shutdown`](Self::shutdown).
    pub(crate) fn spawn(
        address: Address,
        connector: Arc<Connector>,
        backoff: BackoffConfig,
        health: HealthCheck,
        events: mpsc::UnboundedSender<StateChange>,
    ) -> Self {
        let shared = Arc::new(Shared {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            address,
            inner: Mutex::new(Inner {
                state: ConnectivityState::Idle,
                error: None,
                sender: None,
                connect: false,
                shutdown: false,
            }),
            wake: Notify::new(),
        });
        tokio::spawn(run(Arc::clone(&shared), connector, backoff, health, events));
        Self(shared)
    }

    /// The subchannel's identity within its channel.
    pub(crate) fn id(&self) -> u64 {
        self.0.id
    }

    /// The address it connects to.
    pub fn address(&self) -> &Address {
        &self.0.address
    }

    /// Its state now.
    pub fn state(&self) -> ConnectivityState {
        self.lock().state
    }

    /// Why its last connection attempt failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.lock()
            .error
            .as_ref()
            .map(|err| status::describe(&**err))
    }

    /// Starts connecting if IDLE; does nothing otherwise.
    pub fn connect(&self) {
        let mut inner = self.lock();
        if inner.state == ConnectivityState::Idle && !inner.shutdown {
            inner.connect = true;
            drop(inner);
            self.0.wake.notify_one();
        }
    }

    /// Closes the subchannel: no new calls; calls on its connection finish.
    pub fn shutdown(&self) {
        let mut inner = self.lock();
        inner.shutdown = true;
        inner.sender = None;
        drop(inner);
        self.0.wake.notify_one();
    }

    /// The connection to send a call on, when READY.
    pub(crate) fn sender(&self) -> Option<Sender> {
        let inner = self.lock();
        inner
            .sender
            .as_ref()
            .filter(|sender| !sender.is_closed())
            .cloned()
    }

    /// The status of a call that found this subchannel unusable.
    pub(crate) fn failure(&self) -> Status {
        let error = self.lock().error.clone();
        match error {
            Some(error) => {
                let mut status = Status::unavailable(format!(
                    "cannot connect to {}: {}",
                    self.0.address,
                    status::describe(&*error)
                ));
                status.set_source(error);
                status
            }
            None => Status::unavailable(format!("no connection to {}", self.0.address)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn set(
    shared: &Shared,
    events: &mpsc::UnboundedSender<StateChange>,
    state: ConnectivityState,
    change: impl FnOnce(&mut Inner),
) -> bool {
    let mut inner = shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if inner.shutdown && state != ConnectivityState::Shutdown {
        return false;
    }
    change(&mut inner);
    inner.state = state;
    drop(inner);
    let _ = events.send(StateChange {
        id: shared.id,
        state,
    });
    true
}

/// Waits for a connect request; returns false once shut down.
async fn requested(shared: &Shared) -> bool {
    loop {
        let woken = shared.wake.notified();
        {
            let mut inner = shared
                .inner
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if inner.shutdown {
                return false;
            }
            if std::mem::take(&mut inner.connect) {
                return true;
            }
        }
        woken.await;
    }
}

fn is_shutdown(shared: &Shared) -> bool {
    shared
        .inner
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .shutdown
}

async fn run(
    shared: Arc<Shared>,
    connector: Arc<Connector>,
    backoff_config: BackoffConfig,
    mut health: HealthCheck,
    events: mpsc::UnboundedSender<StateChange>,
) {
    use ConnectivityState::{Connecting, Idle, Shutdown, TransientFailure};
    let mut backoff = Backoff::new(backoff_config);
    while requested(&shared).await {
        if !set(&shared, &events, Connecting, |_| {}) {
            break;
        }
        let timeout = backoff.connect_timeout();
        let attempt = tokio::time::timeout(timeout, connector.connect(&shared.address));
        let attempt = tokio::select! {
            result = attempt => result,
            () = shutdown(&shared) => break,
        };
        match attempt {
            Ok(Ok((sender, driver))) => {
                backoff.reset();
                let connection = Connection {
                    shared: &shared,
                    events: &events,
                    sender,
                    backoff: backoff_config,
                };
                if !connection.run(driver, &mut health).await {
                    break;
                }
                tracing::debug!(address = %shared.address, "connection ended");
                set(&shared, &events, Idle, |inner| inner.sender = None);
            }
            failed => {
                let error = match failed {
                    Ok(Err(err)) => err,
                    _ => std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!("connecting timed out after {timeout:?}"),
                    ),
                };
                tracing::debug!(address = %shared.address, error = %status::describe(&error), "connect failed");
                let error = Arc::new(error);
                if !set(&shared, &events, TransientFailure, |inner| {
                    inner.error = Some(error);
                }) {
                    break;
                }
                let delay = backoff.next_delay();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown(&shared) => break,
                }
                set(&shared, &events, Idle, |_| {});
            }
        }
    }
    let _ = set(&shared, &events, Shutdown, |inner| inner.sender = None);
}

/// A subchannel's live connection.
struct Connection<'a> {
    shared: &'a Shared,
    events: &'a mpsc::UnboundedSender<StateChange>,
    sender: Sender,
    backoff: BackoffConfig,
}

impl Connection<'_> {
    /// Serves calls until the connection ends (true) or the subchannel shuts
    /// down (false): READY at once, or as its health check says.
    async fn run(&self, mut driver: Driver, health: &mut HealthCheck) -> bool {
        loop {
            let service = health.service.borrow_and_update().clone();
            let origin = health.origin.clone();
            let serve = async {
                match service {
                    None => self.report(Report::Serving),
                    Some(service) => {
                        let sender = self.sender.clone();
                        health::check(sender, origin, service, self.backoff, |found| {
                            self.report(found);
                        })
                        .await;
                    }
                }
                std::future::pending::<()>().await;
            };
            tokio::select! {
                _ = &mut driver => return true,
                () = shutdown(self.shared) => return false,
                // The config named another service: check again.
                Ok(()) = health.service.changed() => {}
                () = serve => {}
            }
        }
    }

    fn report(&self, found: Report) {
        use ConnectivityState::{Connecting, Ready, TransientFailure};
        let (state, sender, error) = match found {
            Report::Starting => (Connecting, None, None),
            Report::Serving | Report::Unimplemented => (Ready, Some(self.sender.clone()), None),
            Report::Unhealthy(why) => (
                TransientFailure,
                None,
                Some(Arc::new(std::io::Error::other(why))),
            ),
        };
        set(self.shared, self.events, state, |inner| {
            inner.error = error;
            inner.sender = sender;
        });
    }
}

/// Resolves once the subchannel is shut down.
async fn shutdown(shared: &Shared) {
    loop {
        let woken = shared.wake.notified();
        if is_shutdown(shared) {
            return;
        }
        woken.await;
    }
}
