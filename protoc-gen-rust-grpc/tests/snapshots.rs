//! Golden files: the generated code for the whole corpus, checked in under
//! `testdata/expected/`, so every change to the output is a reviewable diff.
//!
//! On a mismatch the test fails. To accept new output, run it with
//! `RUST_GRPC_BLESS=1` (refused when `CI` is set, so CI never rewrites).

mod support;

use rust_grpc_codegen::{Options, generate, source};
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
        rust_grpc_codegen::write(&dir, &files).unwrap();
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

/// The names a package's module holds in the type namespace: its own items, and
/// the modules of its child packages that the module tree nests inside it.
fn module_names(package: &str, file: &syn::File, packages: &[String]) -> Vec<String> {
    let mut names: Vec<String> = file
        .items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Mod(m) => Some(m.ident.to_string()),
            syn::Item::Struct(s) => Some(s.ident.to_string()),
            syn::Item::Enum(e) => Some(e.ident.to_string()),
            syn::Item::Trait(t) => Some(t.ident.to_string()),
            _ => None,
        })
        .collect();
    let prefix = if package.is_empty() {
        String::new()
    } else {
        format!("{package}.")
    };
    let children: std::collections::BTreeSet<&str> = packages
        .iter()
        .filter(|other| *other != package)
        .filter_map(|other| other.strip_prefix(&prefix))
        .filter_map(|rest| rest.split('.').next())
        .collect();
    names.extend(children.into_iter().map(str::to_owned));
    names
}

#[test]
fn no_generated_module_defines_a_name_twice() {
    let parsed = source::parse(&corpus_files(), &[corpus_root()]).unwrap();
    let files = generate(&parsed.files, &parsed.requested, &Options::default()).unwrap();
    let packages: Vec<String> = files
        .iter()
        .filter_map(|f| f.name.strip_suffix(".rs"))
        .filter(|name| *name != "mod")
        .map(|name| {
            if name == "_" {
                String::new()
            } else {
                name.to_owned()
            }
        })
        .collect();
    for (package, file) in packages
        .iter()
        .zip(files.iter().filter(|f| f.name != "mod.rs"))
    {
        let syntax = syn::parse_file(&file.content).unwrap();
        let mut names = module_names(package, &syntax, &packages);
        names.sort();
        let twice: Vec<&String> = names
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| &w[0])
            .collect();
        assert!(twice.is_empty(), "{}: defined twice: {twice:?}", file.name);
    }
}

#[test]
fn generated_code_has_no_bidi_control_characters() {
    let parsed = source::parse(&corpus_files(), &[corpus_root()]).unwrap();
    let files = generate(&parsed.files, &parsed.requested, &Options::default()).unwrap();
    let bidi = |c: char| matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let bidi_file = files.iter().find(|f| f.name == "corpus.bidi.rs").unwrap();
    assert!(
        bidi_file
            .content
            .contains("\\u{202E}txet desrever\\u{202C}")
    );
    for file in &files {
        assert!(
            !file.content.contains(bidi),
            "{} has a raw bidi control",
            file.name
        );
    }
}
