//! Shared by the integration tests: the corpus, the binary, protoc.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository's testdata folder.
pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

/// The corpus root, used as the include directory.
pub fn corpus_root() -> PathBuf {
    testdata().join("protos")
}

/// Every .proto file of the corpus, sorted, as paths.
pub fn corpus_files() -> Vec<PathBuf> {
    proto_files(&corpus_root())
}

/// Every .proto file under `dir`, in sorted walk order.
pub fn proto_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "proto") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    found
}

/// The generator binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_protoc-gen-rust-grpc"))
}

/// protoc, which the plugin-path tests need: `PROTOC`, or `protoc` on PATH.
pub fn protoc() -> PathBuf {
    let protoc = std::env::var_os("PROTOC").map_or_else(|| PathBuf::from("protoc"), PathBuf::from);
    let found = Command::new(&protoc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "these tests run the real protoc: install it (apt-get install protobuf-compiler) or set PROTOC"
    );
    protoc
}

/// Runs the standalone binary.
pub fn run_standalone(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().unwrap()
}

/// Runs protoc with our binary as the rust-grpc plugin.
pub fn run_protoc(include: &Path, files: &[PathBuf], out: &Path, opt: Option<&str>) -> Output {
    let mut command = Command::new(protoc());
    command
        .arg(format!(
            "--plugin=protoc-gen-rust-grpc={}",
            binary().display()
        ))
        .arg(format!("--rust-grpc_out={}", out.display()))
        .arg(format!("--proto_path={}", include.display()));
    if let Some(opt) = opt {
        command.arg(format!("--rust-grpc_opt={opt}"));
    }
    command.args(files);
    command.output().unwrap()
}

/// Every file in `dir` (recursively), name to bytes.
pub fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            files.insert(
                path.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&path).unwrap(),
            );
        }
    }
    files
}

/// The first line where two texts differ, for a readable failure.
pub fn first_difference(expected: &str, actual: &str) -> String {
    for (number, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        if e != a {
            return format!("line {}:\n  expected: {e}\n  actual:   {a}", number + 1);
        }
    }
    format!(
        "one is a prefix of the other ({} vs {} lines)",
        expected.lines().count(),
        actual.lines().count()
    )
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}
