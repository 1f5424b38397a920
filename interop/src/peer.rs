//! A peer we did not write, for the client channel's tests: `channel-peer`, a
//! small grpc-go server (`interop/peers/go/channel-peer/main.go` says what its
//! flags do) built by `interop/peers/go/install.sh` into `.cache/go-bin/`.
//!
//! ```no_run
//! # async fn demo() {
//! use interop::peer::GoPeer;
//! let Some(peer) = GoPeer::start_or_skip(&["--server_id=a", "--fail_first=2"]) else {
//!     return; // not installed, and not in CI
//! };
//! let client = interop::pb::test_service_client::TestServiceClient::connect(peer.uri())
//!     .await
//!     .unwrap();
//! # }
//! ```

use std::io::{BufRead as _, BufReader, Read, Write as _};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::pb::Empty;
use crate::pb::test_service_client::TestServiceClient;

/// The binary's file name in the Go binaries folder.
pub const BINARY: &str = "channel-peer";

/// How long the peer may take to print `LISTENING <port>`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long [`GoPeer::restart`] keeps trying to bind the old port.
const REBIND_TIMEOUT: Duration = Duration::from_secs(5);

/// A running `channel-peer` on 127.0.0.1, killed when dropped.
#[derive(Debug)]
pub struct GoPeer {
    binary: PathBuf,
    args: Vec<String>,
    port: u16,
    child: Option<Child>,
    log: Arc<Mutex<String>>,
    /// Connections [`GoPeer::stats`] opened since the last start.
    probes: AtomicU64,
}

/// What the peer saw since it was (re)started, from its `EmptyCall` probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStats {
    /// The `--server_id` it runs with.
    pub server_id: String,
    /// UnaryCalls received.
    pub unary_calls: u64,
    /// UnaryCalls whose `--delay` was cut short: cancelled, reset, connection
    /// lost, or deadline passed.
    pub cancelled_calls: u64,
    /// Those of them whose deadline the peer saw pass before any cancellation
    /// (a client's own timer usually fires first and cancels).
    pub deadline_exceeded_calls: u64,
    /// Connections accepted, not counting the ones [`GoPeer::stats`] opened.
    pub connections: u64,
}

impl GoPeer {
    /// Where the binary is: in `$RUST_GRPC_GO_BIN` when set, else in
    /// `<repo>/.cache/go-bin`.
    ///
    /// # Errors
    ///
    /// When it is in neither, saying how to build it.
    pub fn binary() -> Result<PathBuf, String> {
        let interop = Path::new(env!("CARGO_MANIFEST_DIR"));
        let repo = interop.parent().unwrap_or(interop);
        let mut places: Vec<PathBuf> = std::env::var_os("RUST_GRPC_GO_BIN")
            .map(PathBuf::from)
            .into_iter()
            .collect();
        places.push(repo.join(".cache/go-bin"));
        places
            .iter()
            .map(|dir| dir.join(BINARY))
            .find(|path| path.is_file())
            .ok_or_else(|| {
                let looked: Vec<String> =
                    places.iter().map(|dir| dir.display().to_string()).collect();
                format!(
                    "no {BINARY} in {}: build it with `bash interop/peers/go/install.sh`",
                    looked.join(" or ")
                )
            })
    }

    /// Starts the peer on a free port with `args` (its flags, `--name=value`)
    /// and waits until it listens.
    ///
    /// # Panics
    ///
    /// When the binary is missing or the peer does not start.
    pub fn start(args: &[&str]) -> GoPeer {
        let binary = Self::binary().unwrap_or_else(|why| panic!("{why}"));
        let mut peer = GoPeer {
            binary,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            port: 0,
            child: None,
            log: Arc::default(),
            probes: AtomicU64::new(0),
        };
        peer.spawn(0).unwrap_or_else(|why| panic!("{why}"));
        peer
    }

    /// Like [`GoPeer::start`], but when the binary is missing and `CI` is not
    /// `true`, says so loudly on stderr and returns `None` so the test can skip.
    ///
    /// # Panics
    ///
    /// When the binary is missing in CI, or the peer does not start.
    pub fn start_or_skip(args: &[&str]) -> Option<GoPeer> {
        match Self::binary() {
            Ok(_) => Some(Self::start(args)),
            Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true and the Go test peer is missing: {why}")
            }
            Err(why) => {
                // Straight to stderr: the test harness captures eprintln!.
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPING: this test needs the Go test peer: {why} ***\n"
                );
                None
            }
        }
    }

    /// The port it listens on; the same after [`GoPeer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// `http://127.0.0.1:<port>`, for a client to connect to.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// What the peer printed on stderr, over all its starts.
    pub fn log(&self) -> String {
        self.log.lock().map(|log| log.clone()).unwrap_or_default()
    }

    /// Kills the peer at once (SIGKILL): no GOAWAY, connections just drop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the peer process is running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Starts the peer again on the same port with the same flags, killing it
    /// first if it still runs. Its counters start from zero.
    ///
    /// # Panics
    ///
    /// When it cannot listen on the port again within a few seconds.
    pub fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            match self.spawn(self.port) {
                Ok(()) => return,
                // The port may still be held by a process on its way out.
                Err(_) if Instant::now() < deadline => thread::sleep(Duration::from_millis(100)),
                Err(why) => panic!("{why}"),
            }
        }
    }

    /// Asks the peer what it saw, over a connection of its own.
    ///
    /// # Errors
    ///
    /// When the peer cannot be reached or answers without its counters.
    pub async fn stats(&self) -> Result<PeerStats, String> {
        let client = TestServiceClient::connect(self.uri())
            .await
            .map_err(|err| format!("stats: cannot connect to {}: {err}", self.uri()))?;
        let probes = self.probes.fetch_add(1, Ordering::SeqCst) + 1;
        let response = client
            .empty_call(Empty {})
            .await
            .map_err(|status| format!("stats: EmptyCall failed: {status:?}"))?;
        let metadata = response.metadata();
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| format!("stats: the probe's answer has no {key}"))
        };
        let number = |key: &str| {
            text(key)?
                .parse::<u64>()
                .map_err(|err| format!("stats: {key}: {err}"))
        };
        Ok(PeerStats {
            server_id: text("x-server-id")?,
            unary_calls: number("x-unary-calls")?,
            cancelled_calls: number("x-cancelled-calls")?,
            deadline_exceeded_calls: number("x-deadline-exceeded-calls")?,
            connections: number("x-connections")?.saturating_sub(probes),
        })
    }

    /// Runs the binary with `--port=<port>` and reads its `LISTENING` line.
    fn spawn(&mut self, port: u16) -> Result<(), String> {
        let mut child = Command::new(&self.binary)
            // The last --port wins, so a restart keeps the port it had.
            .args(&self.args)
            .arg(format!(
                "--port={}",
                if port == 0 {
                    self.requested_port()
                } else {
                    port
                }
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", self.binary.display()))?;
        let stderr_done = drain(child.stderr.take(), Arc::clone(&self.log));
        let (listening, port_rx) = mpsc::channel();
        let stdout = child.stdout.take();
        thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(port) = line.strip_prefix("LISTENING ") {
                    let _ = listening.send(port.trim().parse::<u16>().ok());
                    break;
                }
            }
            // Keep reading so the peer never blocks on a full pipe.
            lines.for_each(drop);
        });
        match port_rx.recv_timeout(START_TIMEOUT) {
            Ok(Some(port)) => {
                self.port = port;
                self.child = Some(child);
                self.probes.store(0, Ordering::SeqCst);
                Ok(())
            }
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                let _ = stderr_done.recv_timeout(Duration::from_secs(1));
                let why = match outcome {
                    Ok(_) => "printed a LISTENING line without a port".to_owned(),
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        format!("did not listen within {START_TIMEOUT:?}")
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        "exited before listening".to_owned()
                    }
                };
                Err(format!(
                    "{} {}: {why}\n{}",
                    self.binary.display(),
                    self.args.join(" "),
                    self.log()
                ))
            }
        }
    }

    /// The `--port` the caller gave, else 0 (a free port).
    fn requested_port(&self) -> u16 {
        self.args
            .iter()
            .rev()
            .find_map(|arg| arg.strip_prefix("--port=")?.parse().ok())
            .unwrap_or(0)
    }
}

/// Copies `pipe` into `log` on a thread; the receiver hears when it ends.
fn drain(pipe: Option<impl Read + Send + 'static>, log: Arc<Mutex<String>>) -> mpsc::Receiver<()> {
    let (done, ended) = mpsc::channel();
    thread::spawn(move || {
        if let Some(pipe) = pipe {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Ok(mut log) = log.lock() {
                    log.push_str(&line);
                    log.push('\n');
                }
            }
        }
        let _ = done.send(());
    });
    ended
}

impl Drop for GoPeer {
    fn drop(&mut self) {
        self.kill();
    }
}
