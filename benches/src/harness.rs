//! The harness: sets up the peers, starts each server pinned to core 0, drives
//! every load cell against it from core 1, and prints the table and the ratios.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::load::{self, Measured};
use crate::procfs;
use crate::stream::{self, Shape};

const USAGE: &str = "\
usage: benches [--quick] [--only NAME,NAME...]
  --quick   a smoke run: a few seconds per cell (CI runs this)
  --only    run only these servers (ceiling, ours, tonic, grpc-go, grpc-go-bench, connect-rust)";

/// How long each cell warms up and measures.
#[derive(Debug, Clone, Copy)]
struct Timing {
    warm_up: Duration,
    duration: Duration,
}

/// A server to measure: how to start it, or why it cannot be.
struct Spec {
    name: &'static str,
    start: Result<Command, String>,
    /// Whether a failure to start fails the run (it is built here, or its
    /// toolchain is present), rather than being reported as missing.
    required: bool,
    /// What it answers, which decides its cells.
    serves: Serves,
    /// How it says where it listens.
    ready: Ready,
}

/// The services (and methods) a server answers.
#[derive(Debug, Clone, Copy)]
struct Serves {
    /// helloworld.Greeter: the ghz helloworld and h2load cells.
    greeter: bool,
    /// grpc.testing.BenchmarkService `UnaryCall` and `StreamingCall`: the
    /// payload, grpc-go client and bidi cells.
    benchmark: bool,
    /// BenchmarkService `StreamingFromServer`: the server-streaming cell.
    streaming_from_server: bool,
}

impl Serves {
    /// Greeter only (the ceiling).
    const GREETER: Serves = Serves {
        greeter: true,
        benchmark: false,
        streaming_from_server: false,
    };
    /// Greeter and every BenchmarkService method the harness calls.
    const ALL: Serves = Serves {
        greeter: true,
        benchmark: true,
        streaming_from_server: true,
    };
    /// grpc-go's own benchmark server: BenchmarkService without
    /// `StreamingFromServer`, no Greeter.
    const GRPC_GO_BENCHMARK: Serves = Serves {
        greeter: false,
        benchmark: true,
        streaming_from_server: false,
    };
}

/// How a started server tells the harness where it listens.
#[derive(Debug, Clone, Copy)]
enum Ready {
    /// It binds a free port itself and prints `LISTENING <addr>`.
    Line,
    /// It prints nothing: the harness picks a free port, passes it with this
    /// flag, and waits until the port accepts connections.
    PortFlag(&'static str),
}

/// One line of the table.
#[derive(Clone)]
struct Row {
    /// The round it was measured in, from 1.
    round: usize,
    server: &'static str,
    cell: String,
    generator: &'static str,
    measured: Measured,
    /// Server CPU seconds per million calls (or messages).
    cpu_per_million: Option<f64>,
    /// How much of the window the server was runnable but waiting for its core
    /// (other processes on it), in percent.
    waited_percent: Option<f64>,
    /// The lowest and highest rate over the rounds, when there were several.
    spread: Option<(f64, f64)>,
}

/// A started server process.
struct Running {
    child: Child,
    addr: SocketAddr,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Names of the unary cells the ratios are read from.
const HEADLINE_UNARY_H2LOAD: &str = "unary 4 conn x 64 streams";
const HEADLINE_UNARY_GHZ: &str = "unary c=256 (4 conn)";
const LATENCY_CELL: &str = "unary c=1";
const BIDI_CELL: &str = "bidi ping-pong 64 streams";
const SERVER_STREAM_CELL: &str = "server streaming 4 streams x 16 KiB";

/// The bidi cell's shape: 64 ping-pong streams of 64 B on one connection.
pub(crate) fn bidi_shape(duration: Duration) -> Shape {
    Shape {
        streams: 64,
        payload: 64,
        warm_up: Duration::from_secs(1),
        duration,
    }
}

/// The server-streaming cell's shape: 4 streams of 16 KiB responses.
pub(crate) fn server_stream_shape(duration: Duration) -> Shape {
    Shape {
        streams: 4,
        payload: 16 * 1024,
        warm_up: Duration::from_secs(1),
        duration,
    }
}

/// The names setup.sh reports grpc-go's benchmark client and server under when
/// they fail.
const GRPC_GO_CLIENT_SETUP: &str = "grpc-go-bench-client";
const GRPC_GO_SERVER_SETUP: &str = "grpc-go-bench-server";
/// The generator column for grpc-go's benchmark client.
const GRPC_GO_CLIENT: &str = "grpc-go client";

/// Runs the harness; `args` are the command-line arguments.
pub(crate) fn run(args: &[String]) -> ExitCode {
    let mut quick = false;
    let mut only: Option<Vec<String>> = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => match args.next() {
                Some(list) => only = Some(list.split(',').map(str::to_owned).collect()),
                None => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let (timing, rounds) = if quick {
        let timing = Timing {
            warm_up: Duration::from_millis(500),
            duration: Duration::from_secs(2),
        };
        (timing, 1)
    } else {
        let timing = Timing {
            warm_up: Duration::from_secs(1),
            duration: Duration::from_secs(5),
        };
        (timing, 3)
    };

    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // The load runs on core 1; every server is started on core 0.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let machine = machine(&root, cores);
    if cores < 2 {
        eprintln!("benches: needs 2 cores (server on core 0, load on core 1), found {cores}");
        return ExitCode::FAILURE;
    }
    let _ = Command::new("taskset")
        .args(["-p", "-c", "1", &std::process::id().to_string()])
        .stdout(Stdio::null())
        .status();

    println!("# benches ({})", if quick { "--quick" } else { "full" });
    for line in machine {
        println!("{line}");
    }
    println!(
        "# {rounds} round(s); each cell: {:?} warm-up, {:?} measured; servers on core 0 (taskset -c 0, one tokio \
         current-thread runtime or GOMAXPROCS=1), load on core 1",
        timing.warm_up, timing.duration
    );

    let setup_failures = setup(&root);
    let tools = Tools::find(&root, &setup_failures);
    let mut failures: Vec<String> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for (name, why) in &setup_failures {
        missing.push(format!("{name}: {why}"));
    }
    let body_file = root.join(".cache/benches/hello.bin");
    if let Err(error) = std::fs::write(&body_file, load::hello_body()) {
        eprintln!("benches: cannot write {}: {error}", body_file.display());
        return ExitCode::FAILURE;
    }

    // Every server is started first and waits, idle, on core 0; then each round
    // runs every cell against each server in turn, so that the servers compared in
    // a cell are measured minutes apart at most, whatever else the machine does.
    let mut servers: Vec<(Spec, Running)> = Vec::new();
    for mut spec in specs(&root, &setup_failures) {
        if only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|name| name == spec.name))
        {
            continue;
        }
        let started = std::mem::replace(&mut spec.start, Err(String::new()))
            .map_err(|why| format!("not measured: {why}"))
            .and_then(|command| {
                start(command, spec.ready).map_err(|why| format!("did not start: {why}"))
            })
            .and_then(|server| {
                if spec.serves.greeter {
                    stream::say_hello(server.addr)
                        .map_err(|why| format!("does not answer SayHello: {why}"))
                } else {
                    stream::unary_call(server.addr)
                        .map_err(|why| format!("does not answer UnaryCall: {why}"))
                }
                .map(|()| server)
            });
        match started {
            Ok(server) => {
                eprintln!(
                    "== {} listening on {} (pid {})",
                    spec.name,
                    server.addr,
                    server.pid()
                );
                servers.push((spec, server));
            }
            Err(why) => {
                let line = format!("{}: {why}", spec.name);
                eprintln!("!! {line}");
                if spec.required {
                    failures.push(line);
                } else {
                    missing.push(line);
                }
            }
        }
    }

    // h2load counts any HTTP 200 as success: the exact request it sends must end
    // with grpc-status 0 when a client that reads trailers sends it.
    let mut h2load_ok: Vec<&'static str> = Vec::new();
    if tools.h2load.is_some() {
        for (spec, server) in servers.iter().filter(|(spec, _)| spec.serves.greeter) {
            match h2load_request_check(server.addr) {
                Ok(()) => h2load_ok.push(spec.name),
                Err(error) => failures.push(format!(
                    "{}: the request h2load sends does not end OK: {error}",
                    spec.name
                )),
            }
        }
    }

    let mut rows: Vec<Row> = Vec::new();
    for round in 1..=rounds {
        eprintln!("== round {round} of {rounds}");
        for cell in cells(&tools) {
            for (spec, server) in &servers {
                if matches!(cell, Cell::H2load { .. }) && !h2load_ok.contains(&spec.name) {
                    continue;
                }
                if let Some(result) = run_cell(cell, spec, server, &tools, &body_file, timing) {
                    record(
                        &mut rows,
                        &mut failures,
                        round,
                        spec.name,
                        cell.name(),
                        cell.generator(),
                        result,
                    );
                }
            }
        }
    }
    let mut peak_rss: BTreeMap<&'static str, u64> = BTreeMap::new();
    for (spec, server) in &servers {
        if let Some(rss) = procfs::peak_rss_kib(server.pid()) {
            peak_rss.insert(spec.name, rss);
        }
    }
    drop(servers);
    let medians = medians(rows.clone());

    report(&medians, &rows, &peak_rss, &missing, &failures, &tools);
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// The machine, the date and how busy it is, as `#` lines.
fn machine(root: &Path, cores: usize) -> Vec<String> {
    let run = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
            .unwrap_or_default()
    };
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        .unwrap_or_default();
    let memory = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    vec![
        format!("# date: {}", run("date", &["-u", "+%Y-%m-%d %H:%M UTC"])),
        format!(
            "# machine: {model}, {cores} cores, {}, Linux {}",
            memory
                .split_whitespace()
                .skip(1)
                .collect::<Vec<_>>()
                .join(" "),
            run("uname", &["-r"])
        ),
        format!("# load average at start: {}", loadavg()),
        format!(
            "# toolchains: {}; {}; commit {}",
            run("rustc", &["--version"]),
            run("go", &["version"]),
            run("git", &["rev-parse", "--short", "HEAD"])
        ),
    ]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `benches/peers/setup.sh`; returns what it could not set up, by name.
fn setup(root: &Path) -> BTreeMap<String, String> {
    eprintln!("== bash benches/peers/setup.sh");
    let output = Command::new("bash")
        .arg(root.join("benches/peers/setup.sh"))
        .stderr(Stdio::inherit())
        .output();
    let mut failed = BTreeMap::new();
    match output {
        Ok(output) => {
            for line in String::from_utf8_lossy(&output.stdout).lines() {
                if let Some((name, why)) = line
                    .strip_prefix("SETUP-FAILED ")
                    .and_then(|rest| rest.split_once(": "))
                {
                    failed.insert(name.to_owned(), why.to_owned());
                }
            }
        }
        Err(error) => {
            failed.insert("setup".to_owned(), format!("cannot run bash: {error}"));
        }
    }
    failed
}

/// The load generators found.
struct Tools {
    ghz: Option<PathBuf>,
    h2load: Option<PathBuf>,
    /// grpc-go's benchmark client, installed by setup.sh in a directory of its
    /// own (its binary is named `client`, like grpc-go's interop client).
    grpc_go_client: Option<PathBuf>,
    proto_dir: PathBuf,
}

impl Tools {
    fn find(root: &Path, setup_failures: &BTreeMap<String, String>) -> Self {
        let cached = root.join(".cache/go-bin/ghz");
        let grpc_go_client = root.join(".cache/go-bin/grpc-go-benchmark/client");
        Tools {
            ghz: if cached.is_file() {
                Some(cached)
            } else {
                which("ghz")
            },
            h2load: which("h2load"),
            grpc_go_client: (grpc_go_client.is_file()
                && !setup_failures.contains_key(GRPC_GO_CLIENT_SETUP))
            .then_some(grpc_go_client),
            proto_dir: root.join("benches/proto"),
        }
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(program))
            .find(|candidate| candidate.is_file())
    })
}

/// Every server, in the order they are measured.
fn specs(root: &Path, setup_failures: &BTreeMap<String, String>) -> Vec<Spec> {
    let own = std::env::current_exe();
    let ours = |kind: &str| {
        own.as_ref()
            .map(|exe| {
                let mut command = Command::new(exe);
                command.args(["serve", kind]);
                command
            })
            .map_err(|error| format!("cannot find this binary: {error}"))
    };
    let peer = |binary: &str| {
        let path = root.join(".cache/benches/bin").join(binary);
        match setup_failures.get(binary) {
            Some(why) => Err(why.clone()),
            None if path.is_file() => Ok(Command::new(path)),
            None => Err("benches/peers/setup.sh did not build it".to_owned()),
        }
    };
    let go_present = which("go").is_some();
    let go_binary = |path: PathBuf, setup_name: &str| {
        if path.is_file() && !setup_failures.contains_key(setup_name) {
            let mut command = Command::new(path);
            command.env("GOMAXPROCS", "1");
            Ok(command)
        } else {
            Err(setup_failures
                .get(setup_name)
                .cloned()
                .unwrap_or_else(|| "benches/peers/setup.sh did not install it".into()))
        }
    };
    let grpc_go = go_binary(root.join(".cache/benches/bin/greeter-go"), "greeter-go");
    // grpc-go's own benchmark server always writes a CPU profile to
    // /tmp/<test_name>.cpu (a fixed name, so one file is overwritten run after run).
    let grpc_go_benchmark = go_binary(
        root.join(".cache/go-bin/grpc-go-benchmark/server"),
        GRPC_GO_SERVER_SETUP,
    )
    .map(|mut command| {
        command.args(["-test_name", "rust-grpc-benches-grpc-go-server"]);
        command
    });
    vec![
        Spec {
            name: "ceiling",
            start: ours("ceiling"),
            required: true,
            serves: Serves::GREETER,
            ready: Ready::Line,
        },
        Spec {
            name: "ours",
            start: ours("ours"),
            required: true,
            serves: Serves::ALL,
            ready: Ready::Line,
        },
        Spec {
            name: "tonic",
            start: ours("tonic"),
            required: true,
            serves: Serves::ALL,
            ready: Ready::Line,
        },
        Spec {
            name: "grpc-go",
            start: grpc_go,
            required: go_present,
            serves: Serves::ALL,
            ready: Ready::Line,
        },
        Spec {
            name: "grpc-go-bench",
            start: grpc_go_benchmark,
            required: go_present,
            serves: Serves::GRPC_GO_BENCHMARK,
            ready: Ready::PortFlag("-port"),
        },
        Spec {
            name: "connect-rust",
            start: peer("greeter-connect"),
            // Once built, it must start; a failed build is reported as missing.
            required: !setup_failures.contains_key("greeter-connect"),
            serves: Serves::ALL,
            ready: Ready::Line,
        },
    ]
}

/// Starts `command` pinned to core 0 and waits until it listens (see [`Ready`]).
fn start(command: Command, ready: Ready) -> Result<Running, String> {
    let port = match ready {
        Ready::Line => None,
        Ready::PortFlag(flag) => {
            // A port free now; the server binds it a moment later.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .map_err(|error| format!("cannot find a free port: {error}"))?
                .port();
            Some((flag, port))
        }
    };
    let mut pinned = Command::new("taskset");
    pinned
        .args(["-c", "0"])
        .arg(command.get_program())
        .args(command.get_args())
        .args(
            port.iter()
                .flat_map(|(flag, port)| [flag.to_string(), port.to_string()]),
        )
        .envs(
            command
                .get_envs()
                .filter_map(|(key, value)| Some((key, value?))),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // The server dies with the harness, even if the harness is killed.
    // SAFETY: prctl is async-signal-safe and touches no memory of ours.
    #[allow(unsafe_code)]
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut pinned, || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    let mut child = pinned
        .spawn()
        .map_err(|error| format!("cannot run taskset: {error}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { return };
            if let Some(addr) = line.strip_prefix("LISTENING ") {
                let _ = sender.send(addr.trim().to_owned());
                break;
            }
        }
        // Keep draining, so the server never blocks on a full pipe.
        for _ in lines {}
    });
    let mut running = Running {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port.map_or(0, |(_, port)| port))),
    };
    if port.is_some() {
        wait_for_port(&mut running)?;
        return Ok(running);
    }
    let addr = receiver
        .recv_timeout(Duration::from_secs(30))
        .map_err(|_| match running.child.try_wait() {
            Ok(Some(status)) => format!("exited with {status} before listening"),
            _ => "printed no LISTENING line within 30 s".to_owned(),
        })?;
    running.addr = addr
        .parse()
        .map_err(|error| format!("bad address {addr:?}: {error}"))?;
    Ok(running)
}

/// Waits up to 30 s until `server.addr` accepts a connection.
fn wait_for_port(server: &mut Running) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if std::net::TcpStream::connect(server.addr).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = server.child.try_wait() {
            return Err(format!("exited with {status} before listening"));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "did not accept connections on {} within 30 s",
                server.addr
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One kind of load.
#[derive(Debug, Clone, Copy)]
enum Cell {
    Ghz {
        name: &'static str,
        call: load::Unary,
        concurrency: u32,
        connections: u32,
    },
    H2load {
        name: &'static str,
        connections: u32,
        streams: u32,
    },
    /// grpc-go's benchmark client against BenchmarkService.
    GrpcGo {
        name: &'static str,
        shape: load::GoShape,
    },
    Bidi,
    ServerStreaming,
}

impl Cell {
    fn name(self) -> &'static str {
        match self {
            Cell::Ghz { name, .. } | Cell::H2load { name, .. } | Cell::GrpcGo { name, .. } => name,
            Cell::Bidi => BIDI_CELL,
            Cell::ServerStreaming => SERVER_STREAM_CELL,
        }
    }

    fn generator(self) -> &'static str {
        match self {
            Cell::Ghz { .. } => "ghz",
            Cell::H2load { .. } => "h2load",
            Cell::GrpcGo { .. } => GRPC_GO_CLIENT,
            Cell::Bidi | Cell::ServerStreaming => "ours",
        }
    }
}

/// The cells, in the order they run; those whose generator is missing are left out.
fn cells(tools: &Tools) -> Vec<Cell> {
    let mut cells = Vec::new();
    if tools.ghz.is_some() {
        for (name, call, concurrency, connections) in [
            (LATENCY_CELL, load::Unary::Hello, 1, 1),
            ("unary c=64", load::Unary::Hello, 64, 1),
            (HEADLINE_UNARY_GHZ, load::Unary::Hello, 256, 4),
            (
                "unary 1 KiB each way c=64",
                load::Unary::Payload(1024),
                64,
                1,
            ),
            (
                "unary 64 KiB each way c=64",
                load::Unary::Payload(64 * 1024),
                64,
                1,
            ),
        ] {
            cells.push(Cell::Ghz {
                name,
                call,
                concurrency,
                connections,
            });
        }
    }
    if tools.h2load.is_some() {
        for (name, connections, streams) in [
            ("unary 1 conn x 64 streams", 1, 64),
            (HEADLINE_UNARY_H2LOAD, 4, 64),
        ] {
            cells.push(Cell::H2load {
                name,
                connections,
                streams,
            });
        }
    }
    if tools.grpc_go_client.is_some() {
        for (name, rpc) in [
            ("UnaryCall 64 B, 1 conn x 64 RPCs", load::GoRpc::Unary),
            (
                "StreamingCall ping-pong 64 B, 1 conn x 64 streams",
                load::GoRpc::Streaming,
            ),
        ] {
            cells.push(Cell::GrpcGo {
                name,
                shape: load::GoShape {
                    rpc,
                    connections: 1,
                    rpcs: 64,
                    payload: 64,
                },
            });
        }
    }
    cells.push(Cell::Bidi);
    cells.push(Cell::ServerStreaming);
    cells
}

fn h2load_request_check(addr: SocketAddr) -> Result<(), String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())
        .and_then(|runtime| runtime.block_on(load::check_grpc_status(addr, load::hello_body())))
}

/// Runs one cell against one server: warm-up, then the measured window with the
/// server's CPU time read at its edges. `None` when the cell does not apply.
fn run_cell(
    cell: Cell,
    spec: &Spec,
    server: &Running,
    tools: &Tools,
    body_file: &Path,
    timing: Timing,
) -> Option<Result<(Measured, Option<procfs::Usage>), String>> {
    let pid = server.pid();
    let addr = server.addr;
    let cpu = || procfs::usage(pid);
    let window = |before: Option<procfs::Usage>| Some(cpu()?.since(before?));
    match cell {
        Cell::Ghz {
            call,
            concurrency,
            connections,
            ..
        } => {
            let ghz = tools.ghz.as_ref()?;
            let serves = match call {
                load::Unary::Hello => spec.serves.greeter,
                load::Unary::Payload(_) => spec.serves.benchmark,
            };
            if !serves {
                return None;
            }
            let run = |duration| {
                load::ghz(
                    ghz,
                    &tools.proto_dir,
                    call,
                    addr,
                    concurrency,
                    connections,
                    duration,
                )
            };
            Some(run(timing.warm_up).and_then(|_| {
                let before = cpu();
                let measured = run(timing.duration)?;
                Ok((measured, window(before)))
            }))
        }
        Cell::H2load {
            connections,
            streams,
            ..
        } => {
            let h2load = tools.h2load.as_ref()?;
            let warm_calls = (timing.warm_up.as_secs_f64() * 20_000.0) as u64;
            let run = |duration, calls| {
                load::h2load(
                    h2load,
                    body_file,
                    addr,
                    connections,
                    streams,
                    duration,
                    calls,
                )
            };
            Some(run(None, warm_calls).and_then(|_| {
                let before = cpu();
                let measured = run(Some(timing.duration), 0)?;
                Ok((measured, window(before)))
            }))
        }
        Cell::GrpcGo { shape, .. } => {
            let client = tools.grpc_go_client.as_ref()?;
            if !spec.serves.benchmark {
                return None;
            }
            let run =
                load::GoBenchClient::start(client, addr, shape, timing.warm_up, timing.duration)
                    .and_then(|run| {
                        // The client warms up and measures in one process: read the
                        // server's CPU when its window opens and when it has exited.
                        std::thread::sleep(
                            run.window_opens().saturating_duration_since(Instant::now()),
                        );
                        let before = cpu();
                        let measured = run.finish()?;
                        Ok((measured, window(before)))
                    });
            Some(run)
        }
        Cell::Bidi => spec.serves.benchmark.then(|| {
            let shape = Shape {
                warm_up: timing.warm_up,
                ..bidi_shape(timing.duration)
            };
            stream::bidi(addr, pid, shape).map(|o| (o.measured, o.server))
        }),
        Cell::ServerStreaming => spec.serves.streaming_from_server.then(|| {
            let shape = Shape {
                warm_up: timing.warm_up,
                ..server_stream_shape(timing.duration)
            };
            stream::server_streaming(addr, pid, shape).map(|o| (o.measured, o.server))
        }),
    }
}

/// Adds a cell's outcome to the rows, or its error to the failures.
fn record(
    rows: &mut Vec<Row>,
    failures: &mut Vec<String>,
    round: usize,
    server: &'static str,
    cell: &'static str,
    generator: &'static str,
    result: Result<(Measured, Option<procfs::Usage>), String>,
) {
    match result {
        Ok((measured, usage)) => {
            if measured.errors > 0 || measured.count == 0 {
                failures.push(format!(
                    "{server} / {cell} / {generator}: {} errors, {} OK: {}",
                    measured.errors, measured.count, measured.error_text
                ));
            }
            let cpu_per_million = usage.and_then(|usage| usage.cpu_per_million(measured.count));
            let waited_percent = usage
                .filter(|_| measured.secs > 0.0)
                .map(|usage| usage.waited.as_secs_f64() / measured.secs * 100.0);
            eprintln!(
                "   {server:<12} {cell:<38} {generator:<7} {:>10.0}/s  p99 {}  cpu/M {}  waited {}%",
                measured.rate(),
                fmt_opt(measured.p99_us, 0),
                fmt_opt(cpu_per_million, 2),
                fmt_opt(waited_percent, 0)
            );
            rows.push(Row {
                round,
                server,
                cell: cell.to_owned(),
                generator,
                measured,
                cpu_per_million,
                waited_percent,
                spread: None,
            });
        }
        Err(error) => {
            eprintln!("!! {server} / {cell} / {generator}: {error}");
            failures.push(format!("{server} / {cell} / {generator}: {error}"));
        }
    }
}

/// A round counts as quiet when its server waited for its core at most this
/// many points more than in its quietest round of the same cell.
const QUIET_MARGIN_PERCENT: f64 = 5.0;

/// The quiet ones of one server's rows in one cell: those whose wait for the
/// core is within the margin of its quietest round's.
fn quiet<'a>(rows: impl Iterator<Item = &'a Row> + Clone) -> Vec<&'a Row> {
    let quietest = rows
        .clone()
        .filter_map(|row| row.waited_percent)
        .min_by(f64::total_cmp);
    rows.filter(|row| match (row.waited_percent, quietest) {
        (Some(waited), Some(quietest)) => waited <= quietest + QUIET_MARGIN_PERCENT,
        _ => true,
    })
    .collect()
}

/// One row per server and cell: the median rate among its quiet rounds (a busy
/// round measures the other work on the core, not the server), with the lowest
/// and highest rate of all rounds as its spread.
fn medians(rows: Vec<Row>) -> Vec<Row> {
    let mut groups: Vec<Vec<Row>> = Vec::new();
    for row in rows {
        match groups
            .iter_mut()
            .find(|group| group[0].server == row.server && group[0].cell == row.cell)
        {
            Some(group) => group.push(row),
            None => groups.push(vec![row]),
        }
    }
    groups
        .into_iter()
        .filter_map(|mut group| {
            group.sort_by(|a, b| a.measured.rate().total_cmp(&b.measured.rate()));
            let low = group.first()?.measured.rate();
            let high = group.last()?.measured.rate();
            let rounds = group.len();
            let quiet: Vec<usize> = quiet(group.iter()).iter().map(|row| row.round).collect();
            group.retain(|row| quiet.contains(&row.round));
            // With an even count, the lower of the two middle rates.
            let mut median = group.swap_remove((group.len() - 1) / 2);
            if rounds > 1 {
                median.spread = Some((low, high));
            }
            Some(median)
        })
        .collect()
}

fn fmt_opt(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.decimals$}"))
}

fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    match (numerator, denominator) {
        (Some(n), Some(d)) if d > 0.0 && n > 0.0 => Some(n / d),
        _ => None,
    }
}

/// `metric` of server `top` over that of server `bottom` in `cell`, taken round
/// by round (the two ran back to back in each) and then the median over the
/// rounds where both were quiet: drift between rounds cancels out.
fn paired(
    rows: &[Row],
    cell: &str,
    top: &str,
    bottom: &str,
    metric: impl Fn(&Row) -> Option<f64>,
) -> Option<f64> {
    let usable = |server: &str| {
        quiet(
            rows.iter()
                .filter(|row| row.server == server && row.cell == cell && row.measured.count > 0),
        )
    };
    let bottoms = usable(bottom);
    let mut ratios: Vec<f64> = usable(top)
        .into_iter()
        .filter_map(|a| {
            let b = bottoms.iter().find(|b| b.round == a.round)?;
            ratio(metric(a), metric(b))
        })
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    // With an even count, the lower of the two middle ratios.
    Some(ratios[(ratios.len() - 1) / 2])
}

/// Prints the tables, the ratios and, last, the machine-readable line.
fn report(
    rows: &[Row],
    all_rounds: &[Row],
    peak_rss: &BTreeMap<&'static str, u64>,
    missing: &[String],
    failures: &[String],
    tools: &Tools,
) {
    let find = |server: &str, cell: &str| {
        rows.iter()
            .find(|row| row.server == server && row.cell == cell && row.measured.count > 0)
    };
    let rate = |server: &str, cell: &str| find(server, cell).map(|row| row.measured.rate());
    let headline_cell = if tools.h2load.is_some() {
        HEADLINE_UNARY_H2LOAD
    } else {
        HEADLINE_UNARY_GHZ
    };
    let unary = |server: &str| rate(server, headline_cell);
    let bidi = |server: &str| rate(server, BIDI_CELL);
    let p99 = |server: &str| find(server, LATENCY_CELL).and_then(|row| row.measured.p99_us);
    let unary_cpu = |server: &str| find(server, headline_cell).and_then(|row| row.cpu_per_million);
    let per_round = |cell: &str, top: &str, bottom: &str, metric: fn(&Row) -> Option<f64>| {
        paired(all_rounds, cell, top, bottom, metric)
    };
    let row_rate: fn(&Row) -> Option<f64> = |row| Some(row.measured.rate());
    let row_p99: fn(&Row) -> Option<f64> = |row| row.measured.p99_us;
    let row_cpu: fn(&Row) -> Option<f64> = |row| row.cpu_per_million;
    println!();
    println!(
        "| load | generator | server | calls or msgs/s | rounds min-max | p50 µs | p90 µs | p99 µs | mean µs | MB/s | server CPU s / M | server waited % | errors |"
    );
    println!("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let m = &row.measured;
        println!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.cell,
            row.generator,
            row.server,
            m.rate(),
            row.spread.map_or_else(
                || "-".to_owned(),
                |(low, high)| format!("{low:.0}-{high:.0}")
            ),
            fmt_opt(m.p50_us, 0),
            fmt_opt(m.p90_us, 0),
            fmt_opt(m.p99_us, 0),
            fmt_opt(m.mean_us, 0),
            fmt_opt(m.mb_per_s, 1),
            fmt_opt(row.cpu_per_million, 2),
            fmt_opt(row.waited_percent, 0),
            m.errors
        );
    }

    println!();
    println!(
        "| server | unary calls/s ({headline_cell}) | fraction of ceiling | ours / theirs (unary) | server CPU s / M calls | theirs / ours (CPU) | bidi msgs/s | ours / theirs (bidi) | p99 µs at c=1 | theirs / ours (p99) | peak RSS MiB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let servers: Vec<&str> = {
        let mut names: Vec<&str> = Vec::new();
        for row in rows {
            if !names.contains(&row.server) {
                names.push(row.server);
            }
        }
        names
    };
    for server in &servers {
        println!(
            "| {server} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            fmt_opt(unary(server), 0),
            fmt_opt(per_round(headline_cell, server, "ceiling", row_rate), 3),
            fmt_opt(per_round(headline_cell, "ours", server, row_rate), 3),
            fmt_opt(unary_cpu(server), 2),
            fmt_opt(per_round(headline_cell, server, "ours", row_cpu), 3),
            fmt_opt(bidi(server), 0),
            fmt_opt(per_round(BIDI_CELL, "ours", server, row_rate), 3),
            fmt_opt(p99(server), 0),
            fmt_opt(per_round(LATENCY_CELL, server, "ours", row_p99), 3),
            fmt_opt(peak_rss.get(server).map(|kib| *kib as f64 / 1024.0), 1),
        );
    }

    println!();
    if tools.ghz.is_none() {
        println!("missing: ghz (no latency percentiles for unary calls)");
    }
    if tools.h2load.is_none() {
        println!("missing: h2load (unary throughput read from ghz's {HEADLINE_UNARY_GHZ})");
    }
    if tools.grpc_go_client.is_none()
        && !missing
            .iter()
            .any(|line| line.starts_with(GRPC_GO_CLIENT_SETUP))
    {
        println!("missing: grpc-go's benchmark client (no {GRPC_GO_CLIENT} cells)");
    }
    for line in missing {
        println!("missing: {line}");
    }
    for line in failures {
        println!("FAILED: {line}");
    }
    println!("# load average at end: {}", loadavg());
    let value = |v: Option<f64>| v.map_or_else(|| "nan".to_owned(), |v| format!("{v:.3}"));
    println!(
        "unary_qps_ratio_vs_tonic={} stream_msgs_ratio_vs_tonic={} unary_p99_ratio_vs_grpc_go={} unary_fraction_of_ceiling={}",
        value(per_round(headline_cell, "ours", "tonic", row_rate)),
        value(per_round(BIDI_CELL, "ours", "tonic", row_rate)),
        value(per_round(LATENCY_CELL, "grpc-go", "ours", row_p99)),
        value(per_round(headline_cell, "ours", "ceiling", row_rate)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(round: usize, server: &'static str, calls: u64, p99: f64, waited: f64) -> Row {
        Row {
            round,
            server,
            cell: "cell".to_owned(),
            generator: "gen",
            measured: Measured {
                count: calls,
                secs: 1.0,
                p99_us: Some(p99),
                ..Measured::default()
            },
            cpu_per_million: None,
            waited_percent: Some(waited),
            spread: None,
        }
    }

    /// The rounds differ in speed for both servers alike; the ratio is the
    /// median of the round-by-round ratios.
    #[test]
    fn ratios_pair_servers_within_a_round() {
        let rows = vec![
            row(1, "a", 110, 200.0, 1.0),
            row(1, "b", 100, 300.0, 1.0),
            row(2, "a", 220, 100.0, 1.0),
            row(2, "b", 200, 110.0, 1.0),
            row(3, "a", 165, 150.0, 1.0),
            row(3, "b", 150, 180.0, 1.0),
        ];
        let rate = |row: &Row| Some(row.measured.rate());
        let p99 = |row: &Row| row.measured.p99_us;
        let ratio = paired(&rows, "cell", "a", "b", rate).unwrap();
        assert!((ratio - 1.1).abs() < 1e-9, "{ratio}");
        // b's p99 over a's: 1.5, 1.1, 1.2 round by round.
        let ratio = paired(&rows, "cell", "b", "a", p99).unwrap();
        assert!((ratio - 1.2).abs() < 1e-9, "{ratio}");
        assert_eq!(paired(&rows, "cell", "a", "c", rate), None);
    }

    #[test]
    fn busy_rounds_are_left_out() {
        let rows = vec![
            row(1, "a", 100, 100.0, 1.0),
            row(1, "b", 100, 100.0, 1.0),
            row(2, "a", 50, 100.0, 30.0),
            row(2, "b", 100, 100.0, 1.0),
            row(3, "a", 40, 100.0, 25.0),
            row(3, "b", 100, 100.0, 2.0),
        ];
        let rate = |row: &Row| Some(row.measured.rate());
        assert_eq!(paired(&rows, "cell", "a", "b", rate), Some(1.0));
        let medians = medians(rows);
        let a = medians.iter().find(|row| row.server == "a").unwrap();
        assert_eq!(a.round, 1);
        assert_eq!(a.spread, Some((40.0, 100.0)));
    }
}
