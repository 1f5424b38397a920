//! The three published crates are released together (CHANGELOG.md): one
//! version for all, and a generator and runtime of one release speak the same
//! codegen API version.

use std::path::Path;

#[test]
fn the_generator_and_the_runtime_of_one_release_speak_one_codegen_version() {
    assert_eq!(
        rust_grpc_codegen::CODEGEN_VERSION,
        rust_grpc::codegen::CODEGEN_VERSION
    );
    assert_eq!(rust_grpc_codegen::VERSION, env!("CARGO_PKG_VERSION"));
}

#[test]
fn the_published_crates_take_the_workspace_version_and_pin_each_other_to_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    for manifest in [
        "runtime/Cargo.toml",
        "build-support/Cargo.toml",
        "protoc-gen-rust-grpc/Cargo.toml",
    ] {
        let text = std::fs::read_to_string(root.join(manifest)).unwrap();
        assert!(
            text.lines()
                .any(|line| line.trim() == "version.workspace = true"),
            "{manifest} must take the workspace's version"
        );
    }
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let pin = format!("version = \"{}\"", env!("CARGO_PKG_VERSION"));
    for name in ["rust-grpc", "rust-grpc-build", "rust-grpc-codegen"] {
        let line = workspace
            .lines()
            .find(|line| line.starts_with(&format!("{name} = {{")))
            .unwrap_or_else(|| panic!("the workspace names {name} as a dependency"));
        assert!(
            line.contains(&pin),
            "the workspace dependency on {name} must pin {pin}: {line}"
        );
    }
}
