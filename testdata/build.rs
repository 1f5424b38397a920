//! Compiles the whole corpus twice: with the default options, and with default
//! UNIMPLEMENTED stubs on every server trait method; then the well-known-types
//! file with `compile_well_known_types`, and a service whose messages come from
//! another module through `extern_path`. The default output is also included
//! package by package with `include_proto!` (`linted.rs`), as a user's crate
//! does, without the module tree's allows, so lints apply to it. When `RUST_GRPC_GOOGLEAPIS`
//! names a folder of googleapis-common-protos (`.ci/test` downloads it), that
//! real-world corpus is compiled too, under `cfg(googleapis)`.

use std::path::{Path, PathBuf};

fn protos(dir: &Path, found: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("testdata/protos is readable")
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            protos(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            found.push(path);
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new("protos");
    let mut files = Vec::new();
    protos(root, &mut files);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let default = rust_grpc_build::configure()
        .out_dir(out.join("default"))
        .compile(&files, &[root])?;
    std::fs::write(out.join("linted.rs"), linted_tree(&default.written))?;
    rust_grpc_build::configure()
        .default_stubs(true)
        .emit_rerun_if_changed(false)
        .out_dir(out.join("stubs"))
        .compile(&files, &[root])?;
    // Well-known types generated rather than taken from prost-types.
    rust_grpc_build::configure()
        .compile_well_known_types(true)
        .emit_rerun_if_changed(false)
        .out_dir(out.join("wkt"))
        .compile(&[root.join("corpus/wkt.proto")], &[root])?;
    // A service whose messages live elsewhere in the crate, named by extern_path.
    rust_grpc_build::configure()
        .extern_path(".corpus.types", "crate::default::corpus::types")
        .emit_rerun_if_changed(false)
        .out_dir(out.join("extern"))
        .compile(&[root.join("corpus/remote/remote.proto")], &[root])?;
    println!("cargo:rerun-if-changed=protos");

    println!("cargo::rustc-check-cfg=cfg(googleapis)");
    println!("cargo:rerun-if-env-changed=RUST_GRPC_GOOGLEAPIS");
    if let Some(dir) = std::env::var_os("RUST_GRPC_GOOGLEAPIS") {
        let dir = PathBuf::from(dir);
        let mut files = Vec::new();
        protos(&dir, &mut files);
        rust_grpc_build::configure()
            .out_dir(out.join("googleapis"))
            .compile(&files, &[&dir])?;
        println!("cargo:rustc-cfg=googleapis");
    }
    Ok(())
}

/// `pub mod a { pub mod b { rust_grpc::include_proto!("default/a.b"); } }` for
/// every package file written, each module documented, no lint allowed.
fn linted_tree(written: &[PathBuf]) -> String {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Node {
        file: Option<String>,
        children: BTreeMap<String, Node>,
    }
    fn write(node: &Node, out: &mut String) {
        if let Some(file) = &node.file {
            out.push_str(&format!("rust_grpc::include_proto!(\"default/{file}\");\n"));
        }
        for (name, child) in &node.children {
            let ident = if name == "type" { "r#type" } else { name };
            out.push_str(&format!(
                "/// Package segment `{name}`.\npub mod {ident} {{\n"
            ));
            write(child, out);
            out.push_str("}\n");
        }
    }
    let mut root = Node::default();
    let mut stems: Vec<String> = written
        .iter()
        .filter_map(|path| path.file_stem()?.to_str().map(str::to_owned))
        .filter(|stem| stem != "mod")
        .collect();
    stems.sort();
    for stem in stems {
        let mut node = &mut root;
        if stem != "_" {
            for part in stem.split('.') {
                node = node.children.entry(part.to_owned()).or_default();
            }
        }
        node.file = Some(stem);
    }
    let mut out = String::new();
    write(&root, &mut out);
    out
}
