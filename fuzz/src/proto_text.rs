//! .proto text through the standalone front door
//! (protoc-gen-rust-grpc/src/source.rs, protox) and then the generator: any
//! text is a clear error with a place, or files that parse as Rust.

use rust_grpc_codegen::{Options, generate, source};

pub fn run(data: &[u8]) {
    // A file on tmpfs when there is one: the front door reads from disk.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    };
    let Ok(dir) = dir else {
        return;
    };
    let path = dir.path().join("fuzz.proto");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let parsed = match source::parse(&[&path], &[dir.path()]) {
        Ok(parsed) => parsed,
        Err(error) => {
            assert!(!error.to_string().is_empty());
            return;
        }
    };
    let options = Options::default();
    let wanted = parsed.files_to_generate(&options, true);
    if let Ok(files) = generate(&parsed.files, &wanted, &options) {
        let files: Vec<(String, String)> = files.into_iter().map(|f| (f.name, f.content)).collect();
        crate::rust::assert_parses(&files);
    }
}
