//! The build.rs door: same bytes as the other doors, and an honest list of the
//! files it read.

use std::path::{Path, PathBuf};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata")
}

fn corpus() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "proto") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&testdata().join("protos"), &mut found);
    found.sort();
    found
}

#[test]
fn build_rs_writes_the_same_bytes_as_the_golden_files() {
    // The golden files are the standalone door's output, which the plugin-door
    // test holds byte-identical to protoc's.
    let out = tempfile::tempdir().unwrap();
    let compiled = rust_grpc_build::configure()
        .generate_imports(false)
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&corpus(), &[testdata().join("protos")])
        .unwrap();
    let expected = testdata().join("expected/default");
    let mut count = 0;
    for path in &compiled.written {
        let name = path.file_name().unwrap();
        let golden = std::fs::read(expected.join(name)).unwrap();
        assert!(
            std::fs::read(path).unwrap() == golden,
            "{name:?} differs from the golden file"
        );
        count += 1;
    }
    assert_eq!(count, std::fs::read_dir(&expected).unwrap().count());
}

#[test]
fn every_file_read_is_reported_imports_included() {
    let out = tempfile::tempdir().unwrap();
    let root = testdata().join("protos");
    let compiled = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&[root.join("corpus/remote/remote.proto")], &[&root])
        .unwrap();
    let mut read: Vec<String> = compiled
        .read
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    read.sort();
    assert_eq!(
        read,
        ["corpus/remote/remote.proto", "corpus/types/types.proto"]
    );
}

#[test]
fn imported_packages_are_generated_too() {
    let out = tempfile::tempdir().unwrap();
    let root = testdata().join("protos");
    let compiled = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&[root.join("corpus/remote/remote.proto")], &[&root])
        .unwrap();
    let mut names: Vec<String> = compiled
        .written
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["corpus.remote.rs", "corpus.types.rs", "mod.rs"]);
}

#[test]
fn a_bad_proto_gives_file_line_and_column() {
    let out = tempfile::tempdir().unwrap();
    let bad = testdata().join("bad");
    let error = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&[bad.join("unknown_type.proto")], &[&bad])
        .unwrap_err();
    // Debug is what cargo shows when build.rs returns the error.
    assert_eq!(
        format!("{error:?}"),
        "unknown_type.proto:5:3: name 'NoSuchMessage' is not defined"
    );
}

#[test]
fn system_protoc_gives_the_same_bytes() {
    let root = testdata().join("protos");
    let files = [
        root.join("routeguide/route_guide.proto"),
        root.join("corpus/wkt.proto"),
    ];
    let with_protox = tempfile::tempdir().unwrap();
    let with_protoc = tempfile::tempdir().unwrap();
    let builder = rust_grpc_build::configure().emit_rerun_if_changed(false);
    builder
        .clone()
        .out_dir(with_protox.path())
        .compile(&files, &[&root])
        .unwrap();
    let protoc = std::env::var("PROTOC").unwrap_or_else(|_| "protoc".to_owned());
    builder
        .use_protoc(protoc)
        .out_dir(with_protoc.path())
        .compile(&files, &[&root])
        .unwrap();
    for name in ["routeguide.rs", "corpus.wkt.rs", "mod.rs"] {
        assert_eq!(
            std::fs::read(with_protox.path().join(name)).unwrap(),
            std::fs::read(with_protoc.path().join(name)).unwrap(),
            "{name}"
        );
    }
}

#[test]
fn builder_options_are_checked_like_plugin_options() {
    let out = tempfile::tempdir().unwrap();
    let root = testdata().join("protos");
    let protos = [root.join("helloworld/helloworld.proto")];
    let cases = [
        (
            rust_grpc_build::configure().extern_path(".helloworld", "not a path"),
            "option `extern_path`: `not a path` is not a Rust path (such as `::other_crate::pkg`)",
        ),
        (
            rust_grpc_build::configure().type_attribute(".helloworld", "#[derive("),
            "option `type_attribute`: `#[derive(` is not a Rust attribute (such as `#[derive(Hash)]`)",
        ),
        (
            rust_grpc_build::configure().field_attribute(".helloworld.HelloRequest.name", "serde"),
            "option `field_attribute`: `serde` is not a Rust attribute (such as `#[derive(Hash)]`)",
        ),
    ];
    for (builder, expected) in cases {
        let error = builder
            .emit_rerun_if_changed(false)
            .out_dir(out.path())
            .compile(&protos, &[&root])
            .unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "wrote output"
    );
}

#[test]
fn errors_keep_the_generator_error_its_place_and_its_source() {
    let out = tempfile::tempdir().unwrap();
    let bad = testdata().join("bad");
    let error = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&[bad.join("unknown_type.proto")], &[&bad])
        .unwrap_err();
    let generator = error.generator().unwrap();
    assert!(generator.is_parse());
    assert_eq!(generator.file(), Some("unknown_type.proto"));
    assert_eq!((generator.line(), generator.column()), (Some(5), Some(3)));

    let error = rust_grpc_build::configure()
        .extern_path(".a", "not a path")
        .compile(&[bad.join("unknown_type.proto")], &[&bad])
        .unwrap_err();
    assert_eq!(error.option().unwrap().key(), "extern_path");

    let root = testdata().join("protos");
    let error = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .use_protoc("/no/such/protoc")
        .out_dir(out.path())
        .compile(&[root.join("helloworld/helloworld.proto")], &[&root])
        .unwrap_err();
    assert!(error.generator().unwrap().is_protoc());
    let io = std::error::Error::source(&error).unwrap();
    assert!(io.downcast_ref::<std::io::Error>().is_some());
    assert_eq!(
        format!("{error:?}"),
        format!("{error}: {io}"),
        "Debug is the chain on one line"
    );
}

#[test]
fn an_include_directory_that_does_not_exist_is_an_error() {
    let out = tempfile::tempdir().unwrap();
    let root = testdata().join("protos");
    let missing = testdata().join("no-such-dir");
    let error = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(
            &[root.join("helloworld/helloworld.proto")],
            &[&root, &missing],
        )
        .unwrap_err();
    assert_eq!(
        format!("{error:?}"),
        format!("include directory {} does not exist", missing.display())
    );
}

#[test]
fn a_proto_that_does_not_exist_names_every_place_looked() {
    let out = tempfile::tempdir().unwrap();
    let root = testdata().join("protos");
    let bad = testdata().join("bad");
    let error = rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&["helloworld.proto"], &[&root, &bad])
        .unwrap_err();
    let text = format!("{error:?}");
    assert!(
        text.starts_with(&format!(
            "helloworld.proto does not exist; looked for it at: helloworld.proto, {}, {}",
            root.join("helloworld.proto").display(),
            bad.join("helloworld.proto").display()
        )),
        "{text}"
    );
}

#[test]
fn an_unknown_option_suggests_the_nearest_key() {
    let error = rust_grpc_build::configure()
        .option("btreemap=.")
        .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("unknown option `btreemap` (did you mean `btree_map`?)"),
        "{error}"
    );
}

#[test]
fn a_malformed_derive_fails_at_compile_before_any_output() {
    let out = tempfile::tempdir().unwrap();
    let root = testdata().join("protos");
    for builder in [
        rust_grpc_build::configure().type_attribute(".", "#[derive(Foo Bar)]"),
        rust_grpc_build::configure()
            .field_attribute(".helloworld.HelloRequest.name", "#[derive(Foo Bar)]"),
    ] {
        let error = builder
            .emit_rerun_if_changed(false)
            .out_dir(out.path())
            .compile(&[root.join("helloworld/helloworld.proto")], &[&root])
            .unwrap_err();
        assert!(
            error.to_string().contains(
                "`#[derive(Foo Bar)]` is not a Rust attribute (such as `#[derive(Hash)]`): `derive` takes paths separated by commas"
            ),
            "{error}"
        );
    }
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn an_import_left_out_names_the_proto_to_add() {
    let out = tempfile::tempdir().unwrap();
    let bad = testdata().join("bad");
    let protos = [bad.join("uses_other_package.proto")];
    let error = rust_grpc_build::configure()
        .generate_imports(false)
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&protos, &[&bad])
        .unwrap_err();
    assert!(error.generator().unwrap().is_missing_package());
    assert!(
        error.to_string().starts_with(
            "the generated code would refer to types from other_package.proto but it is not generated"
        ),
        "{error}"
    );
    // The default generates imports, so the same call succeeds.
    rust_grpc_build::configure()
        .emit_rerun_if_changed(false)
        .out_dir(out.path())
        .compile(&protos, &[&bad])
        .unwrap();
}
