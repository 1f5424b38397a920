//! Runs the Python grpcio peer checks (`interop/peers/python/checks/*.py`, and
//! the few in `tests/` that one test alone uses) from a test,
//! with the venv that `interop/peers/python/install.sh` makes
//! (`.cache/venv`: grpcio, grpcio-tools, grpcio-health-checking,
//! grpcio-reflection, grpcio-status).
//!
//! A test asks [`peer`] first: without the venv it prints a note and gets
//! `None`, except under CI, where a missing venv fails the test.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long any one step with the Python peer may take before the test fails.
pub const STEP: Duration = Duration::from_secs(60);

/// The venv's Python and the folder of the check scripts.
pub struct Peer {
    python: PathBuf,
    checks: PathBuf,
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The Python peer, or `None` (and a note) when its venv is not installed, which
/// CI does not accept. `RUST_GRPC_PYTHON` names another interpreter.
pub fn peer() -> Option<Peer> {
    let python = std::env::var_os("RUST_GRPC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".cache/venv/bin/python"));
    let checks = repo().join("interop/peers/python/checks");
    if python.is_file() {
        return Some(Peer { python, checks });
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the Python peer is not installed ({} is missing): run bash interop/peers/python/install.sh",
        python.display()
    );
    eprintln!(
        "skipped: the Python peer is not installed (bash interop/peers/python/install.sh makes {})",
        python.display()
    );
    None
}

impl Peer {
    /// `python checks/<script> <args>`, stdout piped, stderr kept for failures,
    /// killed when dropped.
    pub fn command(&self, script: &str, args: &[&str]) -> Command {
        self.command_at(&self.checks.join(script), args)
    }

    /// Like [`Self::command`], for a script kept beside the one test that
    /// uses it: `script` is a path under `testdata/tests/`.
    pub fn local_command(&self, script: &str, args: &[&str]) -> Command {
        let tests = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
        self.command_at(&tests.join(script), args)
    }

    fn command_at(&self, script: &std::path::Path, args: &[&str]) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs a check to its end and returns its stdout lines; fails the test
    /// when it exits non-zero or takes longer than [`STEP`].
    pub async fn run(&self, mut command: Command) -> Vec<String> {
        command.stdin(Stdio::null());
        let output = tokio::time::timeout(STEP, command.output())
            .await
            .unwrap_or_else(|_| panic!("{command:?} took longer than {STEP:?}"))
            .unwrap();
        assert!(
            output.status.success(),
            "{command:?} failed ({}); stdout:\n{}\nstderr:\n{}\n(is the venv up to date? bash interop/peers/python/install.sh)",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Starts a check that the test talks to line by line.
    pub fn spawn(&self, mut command: Command) -> Running {
        let mut child = command.spawn().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Running { child, stdout }
    }
}

/// A check still running: its stdout, read a line at a time.
pub struct Running {
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Running {
    /// The next line it prints; fails the test (with its stderr) when it ends
    /// first or says nothing for [`STEP`].
    pub async fn line(&mut self) -> String {
        match tokio::time::timeout(STEP, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => panic!("the Python check ended early: {}", self.stderr().await),
            Ok(Err(err)) => panic!("reading the Python check's stdout: {err}"),
            Err(_) => panic!("the Python check said nothing for {STEP:?}"),
        }
    }

    /// Waits for it to end and fails the test unless it exits 0.
    pub async fn success(mut self) {
        let status = tokio::time::timeout(STEP, self.child.wait())
            .await
            .expect("the Python check did not end")
            .unwrap();
        assert!(status.success(), "{status}: {}", self.stderr().await);
    }

    async fn stderr(&mut self) -> String {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let mut text = String::new();
        if let Some(stderr) = self.child.stderr.as_mut() {
            let _ = stderr.read_to_string(&mut text).await;
        }
        text
    }
}
