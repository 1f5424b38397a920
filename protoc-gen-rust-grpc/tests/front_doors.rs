//! The two front doors: protoc's plugin protocol (with the real protoc) and the
//! standalone binary (protox). Same protos and options must give the same bytes.

mod support;

use std::path::PathBuf;

use support::*;

fn corpus_args(out: &std::path::Path, opt: Option<&str>) -> Vec<String> {
    let mut args = vec!["-I".to_owned(), corpus_root().display().to_string()];
    args.extend(corpus_files().iter().map(|p| p.display().to_string()));
    args.push("--out".to_owned());
    args.push(out.display().to_string());
    if let Some(opt) = opt {
        args.push("--opt".to_owned());
        args.push(opt.to_owned());
    }
    args
}

fn assert_doors_agree(opt: Option<&str>) {
    let plugin_out = tempfile::tempdir().unwrap();
    let standalone_out = tempfile::tempdir().unwrap();

    let output = run_protoc(&corpus_root(), &corpus_files(), plugin_out.path(), opt);
    assert!(
        output.status.success(),
        "protoc failed: {}",
        stderr(&output)
    );

    let args = corpus_args(standalone_out.path(), opt);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_standalone(&args);
    assert!(
        output.status.success(),
        "standalone failed: {}",
        stderr(&output)
    );

    let plugin = read_tree(plugin_out.path());
    let standalone = read_tree(standalone_out.path());
    assert_eq!(
        plugin.keys().collect::<Vec<_>>(),
        standalone.keys().collect::<Vec<_>>(),
        "the two doors wrote different file sets"
    );
    assert!(
        plugin.len() > 10,
        "expected a file per corpus package, got {}",
        plugin.len()
    );
    for (name, bytes) in &plugin {
        let other = &standalone[name];
        assert!(
            bytes == other,
            "{name} differs between protoc plugin and standalone: {}",
            first_difference(
                &String::from_utf8_lossy(bytes),
                &String::from_utf8_lossy(other)
            )
        );
    }
}

#[test]
fn plugin_and_standalone_write_identical_bytes() {
    assert_doors_agree(None);
}

#[test]
fn plugin_and_standalone_agree_with_options() {
    assert_doors_agree(Some(
        "default_stubs=true,btree_map=.,bytes=.,type_attribute=.corpus.shapes=#[derive(Eq, Hash)],include_file=all.rs",
    ));
}

#[test]
fn plugin_reports_an_unknown_option_through_protoc() {
    let out = tempfile::tempdir().unwrap();
    let files = vec![corpus_root().join("helloworld/helloworld.proto")];
    let output = run_protoc(&corpus_root(), &files, out.path(), Some("clinet=false"));
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains("unknown option `clinet`"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn plugin_rejects_a_request_it_cannot_decode() {
    use std::io::Write;
    let mut child = std::process::Command::new(binary())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\xff\xff\xff not protobuf")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(
        text.contains("stdin is not a CodeGeneratorRequest"),
        "{text}"
    );
    assert!(output.stdout.is_empty());
}

/// Each bad .proto, with what the standalone door must say about it.
const BAD: &[(&str, &str)] = &[
    (
        "syntax_error.proto",
        "syntax_error.proto:6:3: expected ';' or '[', but found 'int32'",
    ),
    (
        "missing_import.proto",
        "missing_import.proto:4:1: import 'does/not/exist.proto' not found",
    ),
    (
        "unknown_type.proto",
        "unknown_type.proto:5:3: name 'NoSuchMessage' is not defined",
    ),
    (
        "duplicate_name.proto",
        "duplicate_name.proto:7:9: name 'bad.duplicate.Twice' is defined twice",
    ),
    (
        "unknown_option.proto",
        "unknown_option.proto:5:3: name 'no.such.option' is not defined",
    ),
];

#[test]
fn standalone_reports_bad_protos_with_file_line_and_column() {
    let bad = testdata().join("bad");
    for (file, expected) in BAD {
        let out = tempfile::tempdir().unwrap();
        let path = bad.join(file);
        let output = run_standalone(&[
            "-I",
            bad.to_str().unwrap(),
            path.to_str().unwrap(),
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(1), "{file}");
        let text = stderr(&output);
        assert!(
            text.contains(expected),
            "{file}: expected `{expected}` in:\n{text}"
        );
        assert!(!text.contains("panicked"), "{file}: {text}");
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            0,
            "{file}: wrote output"
        );
    }
}

#[test]
fn plugin_door_reports_bad_protos_with_file_and_line() {
    let bad = testdata().join("bad");
    for (file, _) in BAD {
        let out = tempfile::tempdir().unwrap();
        let output = run_protoc(&bad, &[bad.join(file)], out.path(), None);
        assert!(!output.status.success(), "{file}");
        let text = stderr(&output);
        // protoc parses before our plugin runs; its message names the place.
        assert!(text.contains(&format!("{file}:")), "{file}: {text}");
        assert!(!text.contains("panicked"), "{file}: {text}");
    }
}

#[test]
fn missing_import_error_says_how_to_fix_it() {
    let bad = testdata().join("bad");
    let out = tempfile::tempdir().unwrap();
    let path = bad.join("missing_import.proto");
    let output = run_standalone(&[
        "-I",
        bad.to_str().unwrap(),
        path.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(stderr(&output).contains("help: add the directory that holds it to the include paths"));
}

#[test]
fn check_mode_names_stale_and_missing_files() {
    let out = tempfile::tempdir().unwrap();
    let proto = corpus_root().join("helloworld/helloworld.proto");
    let root = corpus_root();
    let args = [
        "-I",
        root.to_str().unwrap(),
        proto.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ];
    let check: Vec<&str> = args.iter().copied().chain(["--check"]).collect();

    let output = run_standalone(&check);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("missing: "), "{}", stderr(&output));

    assert!(run_standalone(&args).status.success());
    let output = run_standalone(&check);
    assert!(output.status.success(), "{}", stderr(&output));

    let file: PathBuf = out.path().join("helloworld.rs");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("// edited by hand\n");
    std::fs::write(&file, text).unwrap();
    let output = run_standalone(&check);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(
        text.contains("stale: ") && text.contains("helloworld.rs"),
        "{text}"
    );
}

#[test]
fn version_and_help_work() {
    let output = run_standalone(&["--version"]);
    assert!(output.status.success());
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("protoc-gen-rust-grpc {}", env!("CARGO_PKG_VERSION"))
    );
    let output = run_standalone(&["--help"]);
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    let (_, listed) = help.split_once("Options (KEY=VALUE):\n").unwrap();
    assert_eq!(listed, rust_grpc_codegen::Options::help());
    for doc in rust_grpc_codegen::Options::documented() {
        let line = format!("  {}={}", doc.key(), doc.value());
        assert!(listed.contains(&line), "--help does not list `{line}`");
    }
}

#[test]
fn usage_errors_exit_with_status_two() {
    let output = run_standalone(&["--frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("unknown argument `--frobnicate`"));
}

/// googleapis-common-protos from PyPI, which `.ci/test` downloads; CI must have it.
fn googleapis() -> Option<(PathBuf, Vec<PathBuf>)> {
    let Some(dir) = std::env::var_os("RUST_GRPC_GOOGLEAPIS").map(PathBuf::from) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "RUST_GRPC_GOOGLEAPIS must be set under CI (.ci/test sets it)"
        );
        eprintln!("skipped: RUST_GRPC_GOOGLEAPIS is not set (bash .ci/test sets it)");
        return None;
    };
    let files = proto_files(&dir);
    assert!(
        files.len() > 50,
        "expected the googleapis corpus in {}",
        dir.display()
    );
    Some((dir, files))
}

#[test]
fn googleapis_generates_identical_bytes_through_both_doors() {
    let Some((dir, files)) = googleapis() else {
        return;
    };
    let plugin_out = tempfile::tempdir().unwrap();
    let output = run_protoc(&dir, &files, plugin_out.path(), None);
    assert!(
        output.status.success(),
        "protoc failed: {}",
        stderr(&output)
    );

    let standalone_out = tempfile::tempdir().unwrap();
    let mut args = vec!["-I".to_owned(), dir.display().to_string()];
    args.extend(files.iter().map(|p| p.display().to_string()));
    args.extend([
        "--out".to_owned(),
        standalone_out.path().display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_standalone(&args);
    assert!(
        output.status.success(),
        "standalone failed: {}",
        stderr(&output)
    );

    let plugin = read_tree(plugin_out.path());
    assert_eq!(plugin, read_tree(standalone_out.path()));
    assert!(plugin.contains_key("google.rpc.rs") && plugin.contains_key("google.longrunning.rs"));
}

#[test]
fn buf_generate_writes_the_golden_bytes() {
    // buf, from npm's @bufbuild/buf; `.ci/test` installs it and sets RUST_GRPC_BUF.
    let Some(buf) = std::env::var_os("RUST_GRPC_BUF") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "RUST_GRPC_BUF must be set under CI (.ci/test sets it)"
        );
        eprintln!("skipped: RUST_GRPC_BUF is not set (bash .ci/test sets it)");
        return;
    };
    let out = tempfile::tempdir().unwrap();
    // strategy `all`: one plugin run for every file, so one module tree file.
    let template = format!(
        r#"{{"version":"v2","plugins":[{{"local":"{}","out":"{}","strategy":"all"}}]}}"#,
        binary().display(),
        out.path().display()
    );
    let output = std::process::Command::new(buf)
        .current_dir(corpus_root())
        .args(["generate", ".", "--template", &template])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "buf generate failed: {}",
        stderr(&output)
    );
    let golden = read_tree(&testdata().join("expected/default"));
    let generated = read_tree(out.path());
    assert_eq!(
        golden.keys().collect::<Vec<_>>(),
        generated.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &golden {
        assert!(
            generated[name] == *bytes,
            "{name} from buf differs from the golden file"
        );
    }
}

/// Runs the binary in plugin mode on `request`, returning the decoded response
/// and stderr.
fn run_plugin(
    request: &prost_types::compiler::CodeGeneratorRequest,
) -> (prost_types::compiler::CodeGeneratorResponse, String) {
    use prost::Message as _;
    use std::io::Write;
    let mut child = std::process::Command::new(binary())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&request.encode_to_vec())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let response =
        prost_types::compiler::CodeGeneratorResponse::decode(output.stdout.as_slice()).unwrap();
    (response, stderr(&output))
}

#[test]
fn plugin_reports_a_method_type_that_does_not_exist_in_the_response() {
    use prost_types::{
        DescriptorProto, FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto,
    };
    for (input, expected) in [
        (
            ".a.Missing",
            "a.proto: rpc a.S/Get: request type `.a.Missing` is not defined in a.proto or the files given with it",
        ),
        ("", "a.proto: rpc a.S/Get has no request type"),
    ] {
        let request = prost_types::compiler::CodeGeneratorRequest {
            file_to_generate: vec!["a.proto".to_owned()],
            proto_file: vec![FileDescriptorProto {
                name: Some("a.proto".to_owned()),
                package: Some("a".to_owned()),
                syntax: Some("proto3".to_owned()),
                message_type: vec![DescriptorProto {
                    name: Some("M".to_owned()),
                    ..Default::default()
                }],
                service: vec![ServiceDescriptorProto {
                    name: Some("S".to_owned()),
                    method: vec![MethodDescriptorProto {
                        name: Some("Get".to_owned()),
                        input_type: Some(input.to_owned()),
                        output_type: Some(".a.M".to_owned()),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let (response, stderr) = run_plugin(&request);
        assert_eq!(response.error(), expected);
        assert!(response.file.is_empty(), "{input}: wrote files");
        assert_eq!(stderr, "", "{input}");
    }
}

/// Legal for protoc (a warning in proto2), but prost-build panics on it.
const ENUM_OVERLAP: &str = r#"syntax = "proto2";
package overlap;
enum Color {
  COLOR_RED = 0;
  RED = 1;
}
message Paint { optional Color color = 1; }
"#;

#[test]
fn a_prost_build_panic_is_an_error_without_a_panic_message() {
    let dir = tempfile::tempdir().unwrap();
    let proto = dir.path().join("overlap.proto");
    std::fs::write(&proto, ENUM_OVERLAP).unwrap();
    let expected =
        "prost-build could not generate the messages: Generated enum variant names overlap";

    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(dir.path(), std::slice::from_ref(&proto), out.path(), None);
    assert!(!output.status.success());
    let text = stderr(&output);
    assert!(text.contains(expected), "{text}");
    assert!(!text.contains("panicked"), "{text}");

    let output = run_standalone(&[
        "-I",
        dir.path().to_str().unwrap(),
        proto.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains(expected), "{text}");
    assert!(!text.contains("panicked"), "{text}");
}

#[test]
fn readme_option_table_matches_the_options() {
    let readme = std::fs::read_to_string(testdata().join("../README.md")).unwrap();
    let (_, section) = readme.split_once("\n## Options\n").unwrap();
    let section = section.split("\n## ").next().unwrap();
    let rows: Vec<(String, String)> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_owned(),
                cells[2].trim_matches('`').to_owned(),
            )
        })
        .collect();
    let documented: Vec<(String, String)> = rust_grpc_codegen::Options::documented()
        .map(|doc| (doc.key().to_owned(), doc.default().to_owned()))
        .collect();
    assert_eq!(
        rows, documented,
        "README's option table (key, default) differs from Options::documented()"
    );
}

/// Runs the standalone door on `files` with `includes` into a fresh directory.
fn standalone_error(
    includes: &[&std::path::Path],
    files: &[&std::path::Path],
    opt: &[&str],
) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = Vec::new();
    for include in includes {
        args.extend(["-I".to_owned(), include.display().to_string()]);
    }
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--out".to_owned(), out.path().display().to_string()]);
    for opt in opt {
        args.extend(["--opt".to_owned(), (*opt).to_owned()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = run_standalone(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "wrote output"
    );
    stderr(&output)
}

#[test]
fn a_proto_that_does_not_exist_names_every_place_looked() {
    let bad = testdata().join("bad");
    let root = corpus_root();
    let text = standalone_error(&[&bad, &root], &[std::path::Path::new("nope.proto")], &[]);
    assert!(
        text.starts_with(&format!(
            "protoc-gen-rust-grpc: nope.proto does not exist; looked for it at: nope.proto, {}, {}",
            bad.join("nope.proto").display(),
            root.join("nope.proto").display()
        )),
        "{text}"
    );
}

#[test]
fn a_proto_outside_every_include_says_so() {
    let bad = testdata().join("bad");
    let root = corpus_root();
    let text = standalone_error(&[&root], &[&bad.join("unknown_type.proto")], &[]);
    assert!(
        text.contains(&format!(
            "unknown_type.proto is not inside any include directory ({})",
            root.display()
        )),
        "{text}"
    );
}

#[test]
fn missing_import_error_names_every_place_looked() {
    let bad = testdata().join("bad");
    let root = corpus_root();
    let text = standalone_error(&[&bad, &root], &[&bad.join("missing_import.proto")], &[]);
    assert!(
        text.contains(&format!(
            "\n  looked for it at: {}, {}\n",
            bad.join("does/not/exist.proto").display(),
            root.join("does/not/exist.proto").display()
        )),
        "{text}"
    );
}

#[test]
fn an_include_directory_that_does_not_exist_is_an_error() {
    let root = corpus_root();
    let missing = testdata().join("no-such-dir");
    let text = standalone_error(
        &[&missing, &root],
        &[&root.join("helloworld/helloworld.proto")],
        &[],
    );
    assert_eq!(
        text,
        format!(
            "protoc-gen-rust-grpc: include directory {} does not exist\n",
            missing.display()
        )
    );
}

#[test]
fn an_unknown_option_suggests_the_nearest_key_through_both_doors() {
    let root = corpus_root();
    let proto = root.join("helloworld/helloworld.proto");
    let expected = "unknown option `default_stub` (did you mean `default_stubs`?)";
    let text = standalone_error(&[&root], &[&proto], &["default_stub=true"]);
    assert!(text.contains(expected), "{text}");
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&root, &[proto], out.path(), Some("default_stub=true"));
    assert!(!output.status.success());
    assert!(stderr(&output).contains(expected), "{}", stderr(&output));
}

#[test]
fn a_derive_that_does_not_parse_is_refused_before_generating() {
    let root = corpus_root();
    let proto = root.join("helloworld/helloworld.proto");
    let text = standalone_error(
        &[&root],
        &[&proto],
        &["type_attribute=.=#[derive(Foo Bar)]"],
    );
    assert!(
        text.contains(
            "option `type_attribute`: `#[derive(Foo Bar)]` is not a Rust attribute (such as `#[derive(Hash)]`): `derive` takes paths separated by commas"
        ),
        "{text}"
    );
}

const UNGENERATED_PACKAGE: &str = "\
the generated code would refer to types from other_package.proto but it is not generated: add it to the .proto files to generate, or map its package with extern_path
  other_package.proto (package bad.other: extern_path=.bad.other=::other_crate::bad::other) is used by:
    uses_other_package.proto (field bad.uses.Holder.thing, `.bad.other.Thing`)
    uses_other_package.proto (rpc bad.uses.Keeper/Keep, `.bad.other.Thing`)";

#[test]
fn a_package_neither_generated_nor_mapped_names_the_proto_to_add() {
    let bad = testdata().join("bad");
    let proto = bad.join("uses_other_package.proto");
    let text = standalone_error(&[&bad], &[&proto], &[]);
    assert_eq!(
        text,
        format!("protoc-gen-rust-grpc: {UNGENERATED_PACKAGE}\n")
    );

    // protoc prints the response's error after the output flag.
    let out = tempfile::tempdir().unwrap();
    let output = run_protoc(&bad, std::slice::from_ref(&proto), out.path(), None);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains(UNGENERATED_PACKAGE),
        "{}",
        stderr(&output)
    );
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0);

    // Generated together, or mapped, it is fine.
    for (files, opt) in [
        (vec![proto.clone(), bad.join("other_package.proto")], None),
        (vec![proto.clone()], Some("extern_path=.bad.other=::other")),
    ] {
        let output = run_protoc(&bad, &files, out.path(), opt);
        assert!(output.status.success(), "{opt:?}: {}", stderr(&output));
    }
}
