//! Golden files: the generated code for the whole corpus, checked in under
//! `testdata/expected/`, so every change to the output is a reviewable diff.
//!
//! On a mismatch the test fails. To accept new output, run it with
//! `RUST_GRPC_BLESS=1` (refused when `CI` is set, so CI never rewrites).

mod support;

use protoc_gen_rust_grpc::{Options, generate, source};
use support::*;

fn check_snapshot(name: &str, options: &Options) {
    let parsed = source::parse(&corpus_files(), &[corpus_root()]).unwrap();
    let files = generate(&parsed.files, &parsed.requested, options).unwrap();
    let dir = testdata().join("expected").join(name);
    let bless = std::env::var_os("RUST_GRPC_BLESS").is_some();
    if bless {
        assert!(
            std::env::var_os("CI").is_none(),
            "RUST_GRPC_BLESS is refused under CI: snapshots are reviewed, not rewritten"
        );
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        protoc_gen_rust_grpc::write(&dir, &files).unwrap();
        return;
    }
    let mut problems = Vec::new();
    for file in &files {
        let path = dir.join(&file.name);
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == file.content => {}
            Ok(expected) => problems.push(format!(
                "{}: {}",
                file.name,
                first_difference(&expected, &file.content)
            )),
            Err(_) => problems.push(format!("{}: no snapshot at {}", file.name, path.display())),
        }
    }
    let written: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
    for name in read_tree(&dir).keys() {
        if !written.contains(&name.as_str()) {
            problems.push(format!("{name}: snapshot exists but nothing generates it"));
        }
    }
    assert!(
        problems.is_empty(),
        "generated code differs from {} (review, then rerun with RUST_GRPC_BLESS=1):\n{}",
        dir.display(),
        problems.join("\n")
    );
}

#[test]
fn corpus_output_matches_snapshots() {
    check_snapshot("default", &Options::default());
}

#[test]
fn corpus_output_with_stubs_and_without_client_matches_snapshots() {
    let options =
        Options::parse("default_stubs=true,client=false,file_descriptor_set=false").unwrap();
    check_snapshot("stubs-server-only", &options);
}

#[test]
fn output_does_not_depend_on_input_order() {
    let mut files = corpus_files();
    let forward = source::parse(&files, &[corpus_root()]).unwrap();
    files.reverse();
    let backward = source::parse(&files, &[corpus_root()]).unwrap();
    let mut shuffled = backward.files.clone();
    shuffled.rotate_left(3);
    let mut requested = backward.requested.clone();
    requested.reverse();
    let a = generate(&forward.files, &forward.requested, &Options::default()).unwrap();
    let b = generate(&shuffled, &requested, &Options::default()).unwrap();
    assert_eq!(a, b);
}
