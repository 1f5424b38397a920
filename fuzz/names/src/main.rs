//! The generated-name fuzz: builds `--count` random legal .proto cases from
//! hard identifiers (a seeded RNG: case `i` of seed `s` is always the same),
//! runs each through the standalone front door (protox, then the generator),
//! writes the code into crates of `--batch` cases each under `#![deny(warnings)]`,
//! and compiles them with `cargo check` (and `cargo doc` with warnings denied
//! when `--doc` is given). Any generator error or compile error fails the run
//! and names the case, its seed and its .proto text.
//!
//! `cargo run --release -- --count 10000 --seed 1 --out /tmp/name-fuzz`

mod proto;
mod rng;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use rust_grpc_codegen::{Options, generate, source};

struct Args {
    count: usize,
    seed: u64,
    batch: usize,
    out: PathBuf,
    doc: bool,
    check: bool,
    only: Option<usize>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        count: 500,
        seed: 1,
        batch: 100,
        out: std::env::temp_dir().join("rust-grpc-name-fuzz"),
        doc: false,
        check: true,
        only: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--count" => args.count = value()?.parse().map_err(|e| format!("--count: {e}"))?,
            "--seed" => args.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--batch" => args.batch = value()?.parse().map_err(|e| format!("--batch: {e}"))?,
            "--case" => args.only = Some(value()?.parse().map_err(|e| format!("--case: {e}"))?),
            "--out" => args.out = PathBuf::from(value()?),
            "--doc" => args.doc = true,
            "--no-check" => args.check = false,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    args.batch = args.batch.max(1);
    Ok(args)
}

/// The generator's errors for legal protos whose names prost-build (or the
/// include file) cannot hold: counted as refused, not as failures.
const REFUSALS: &[&str] = &[
    "both become the Rust name",
    "has no Rust name",
    "both need the Rust module",
    "which is also the include file",
    "prost cannot generate the map field",
];

/// Option sets the cases are generated with, in turn.
const OPTIONS: &[&str] = &[
    "",
    "default_stubs=true",
    "client=false",
    "server=false",
    "file_descriptor_set=true",
];

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("name-fuzz: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../runtime");
    let runtime = runtime.canonicalize().expect("the runtime crate is there");
    let protos = args.out.join("protos");
    let crates = args.out.join("crates");
    let _ = std::fs::remove_dir_all(&protos);
    let _ = std::fs::remove_dir_all(&crates);

    let cases: Vec<usize> = match args.only {
        Some(case) => vec![case],
        None => (0..args.count).collect(),
    };
    let mut rejected = 0usize;
    let mut refused = 0usize;
    let mut refused_by = [0usize; REFUSALS.len()];
    let mut failures = Vec::new();
    let mut members = Vec::new();
    for batch in cases.chunks(args.batch) {
        let name = format!("b{}", batch[0]);
        let src = crates.join(&name).join("src");
        std::fs::create_dir_all(&src).expect("creating the batch crate");
        let mut lib = String::from("#![deny(warnings)]\n");
        for &case in batch {
            let (dir, attempts) = legal_case(&protos, args.seed, case);
            rejected += attempts;
            let parsed = source::parse(&["f0.proto", "f1.proto"][..count_files(&dir)], &[&dir])
                .expect("legal_case parsed it");
            let options = Options::parse(OPTIONS[case % OPTIONS.len()]).expect("valid options");
            let wanted = parsed.files_to_generate(&options, false);
            match generate(&parsed.files, &wanted, &options) {
                Ok(files) => {
                    let out = src.join(format!("c{case}"));
                    rust_grpc_codegen::write(&out, &files).expect("writing generated code");
                    let _ = writeln!(lib, "#[path = \"c{case}/mod.rs\"]\npub mod c{case};");
                }
                // prost-build's naming cannot tell these apart; the generator
                // refuses them with an error naming the clash.
                Err(error) if REFUSALS.iter().any(|r| error.to_string().contains(r)) => {
                    refused += 1;
                    let text = error.to_string();
                    if let Some(i) = REFUSALS.iter().position(|r| text.contains(r)) {
                        refused_by[i] += 1;
                    }
                }
                Err(error) => failures.push(format!(
                    "case {case} (seed {}): the generator refused a legal proto: {error}\n{}",
                    args.seed,
                    show(&dir)
                )),
            }
        }
        std::fs::write(src.join("lib.rs"), lib).expect("writing lib.rs");
        std::fs::write(
            crates.join(&name).join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nrust-grpc = {{ path = {:?}, default-features = false }}\n",
                runtime.display().to_string()
            ),
        )
        .expect("writing Cargo.toml");
        members.push(name);
    }
    std::fs::write(
        crates.join("Cargo.toml"),
        format!("[workspace]\nresolver = \"3\"\nmembers = {members:?}\n"),
    )
    .expect("writing the workspace");
    println!(
        "name-fuzz: {} cases (seed {}), {rejected} illegal drafts redrawn, {refused} refused with a name-clash error, {} compiled in {} crates",
        cases.len(),
        args.seed,
        cases.len() - refused,
        members.len()
    );

    for (reason, count) in REFUSALS.iter().zip(refused_by) {
        if count > 0 {
            println!("  refused {count}: {reason}");
        }
    }
    if !args.check {
        steps_skipped(&failures);
        return if failures.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
    }
    let target = args.out.join("target");
    // Warnings are denied by each crate's `#![deny(warnings)]` (and, for docs,
    // RUSTDOCFLAGS), not RUSTFLAGS, which would reach the runtime too.
    let mut steps = vec![("cargo check", vec!["check", "--workspace", "--quiet"])];
    if args.doc {
        steps.push((
            "cargo doc",
            vec!["doc", "--workspace", "--no-deps", "--quiet"],
        ));
    }
    for (what, cargo_args) in steps {
        let output = Command::new(env!("CARGO"))
            .args(&cargo_args)
            .current_dir(&crates)
            .env("CARGO_TARGET_DIR", &target)
            .env("RUSTDOCFLAGS", "-D warnings")
            .output()
            .expect("running cargo");
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let mut shown = std::collections::BTreeSet::new();
            for case in stderr
                .split("/c")
                .skip(1)
                .filter_map(|s| s.split('/').next()?.parse::<usize>().ok())
            {
                if shown.insert(case) && shown.len() <= 5 {
                    let dir = protos.join(format!("c{case}"));
                    failures.push(format!(
                        "case {case} (seed {}) fails {what}:\n{}",
                        args.seed,
                        show(&dir)
                    ));
                }
            }
            failures.push(format!("{what} failed:\n{stderr}"));
            break;
        }
    }
    if failures.is_empty() {
        println!(
            "name-fuzz: all {} generated cases compile with warnings denied",
            cases.len() - refused
        );
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            eprintln!("{failure}\n");
        }
        eprintln!(
            "name-fuzz: FAILED (rerun one case with --seed {} --case N)",
            args.seed
        );
        ExitCode::FAILURE
    }
}

/// Without `--no-check` nothing is compiled: only generator errors count.
fn steps_skipped(failures: &[String]) {
    for failure in failures {
        eprintln!("{failure}\n");
    }
    println!("name-fuzz: not compiled (--no-check)");
}

fn count_files(dir: &Path) -> usize {
    if dir.join("f1.proto").exists() { 2 } else { 1 }
}

/// Draws case `case` until protox accepts it (the generator must handle any
/// legal proto, so an illegal draft is redrawn, not reported); returns its
/// directory and how many drafts were redrawn.
fn legal_case(protos: &Path, seed: u64, case: usize) -> (PathBuf, usize) {
    let dir = protos.join(format!("c{case}"));
    for attempt in 0.. {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating the case directory");
        let mut rng =
            rng::Rng::new(seed ^ (case as u64).wrapping_mul(0x1000_0001) ^ (attempt << 48));
        let files = proto::case(&mut rng);
        for file in &files {
            std::fs::write(dir.join(&file.name), &file.text).expect("writing a proto");
        }
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        if source::parse(&names, &[&dir]).is_ok() {
            return (dir, attempt as usize);
        }
    }
    unreachable!("the loop returns")
}

fn show(dir: &Path) -> String {
    let mut out = String::new();
    for name in ["f0.proto", "f1.proto"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            let _ = writeln!(out, "--- {name}\n{text}");
        }
    }
    out
}
