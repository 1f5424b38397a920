//! The runtime's architecture, checked: each folder of `src/` is a layer, and a
//! file may name (`crate::...`, `super::...`) only files of its own layer or
//! below, with no cycles between files; the wire format has one owner (nothing
//! uses tonic's codec); no file's code (tests aside) grows past the size at which
//! a concern should split.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first; `lib.rs` (the crate root) is above them all.
const LAYERS: &[&[&str]] = &[
    &["base"],
    &["codec"],
    &["transport"],
    &["telemetry"],
    &["server", "client"],
    &["codegen"],
    &["services", "errors", "generated", "fuzz"],
];

/// Lines of code (before the tests) past which a file should be split.
const MAX_LINES: usize = 600;

struct File {
    /// Module path from the crate root, e.g. `["server", "call"]`.
    module: Vec<String>,
    /// The code before its `#[cfg(test)]` module, comments dropped.
    code: String,
    lines: usize,
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            // Written by our generator from .proto files (checked by generate.sh):
            // only its module file is ours.
            if path.file_name().unwrap() == "generated" {
                out.push(path.join("mod.rs"));
            } else {
                walk(&path, out);
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push(path);
        }
    }
}

fn files() -> Vec<File> {
    let root = src();
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let relative = path.strip_prefix(&root).unwrap().with_extension("");
            let mut module: Vec<String> = relative
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect();
            if matches!(module.last().map(String::as_str), Some("mod" | "lib")) {
                module.pop();
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let before_tests = text.split("#[cfg(test)]").next().unwrap();
            let code: Vec<&str> = before_tests
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect();
            File {
                module,
                lines: before_tests.lines().count(),
                code: code.join("\n"),
            }
        })
        .collect()
}

fn layer(module: &[String]) -> usize {
    let Some(top) = module.first() else {
        return LAYERS.len();
    };
    LAYERS
        .iter()
        .position(|layer| layer.contains(&top.as_str()))
        .unwrap_or_else(|| panic!("src/{top} is in no layer: add it to LAYERS"))
}

/// Every path a file names, as module segments from the crate root.
fn references(file: &File) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let code = &file.code;
    for keyword in ["crate::", "super::"] {
        for (start, _) in code.match_indices(keyword) {
            let preceded = code[..start]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            if preceded {
                continue;
            }
            let base = if keyword == "crate::" {
                Vec::new()
            } else {
                let mut base = file.module.clone();
                base.pop();
                base
            };
            let rest = &code[start + keyword.len()..];
            tree(rest, base, &mut found);
        }
    }
    found
}

/// Reads one use tree (`a::b`, `a::{b, c::{d}}`, `super::x`) at the start of
/// `text`, under `base`, into `found`; returns how many bytes it took.
fn tree(text: &str, mut base: Vec<String>, found: &mut Vec<Vec<String>>) -> usize {
    let mut at = 0;
    loop {
        let rest = &text[at..];
        let word_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let word = &rest[..word_len];
        at += word_len;
        match word {
            "" => {}
            "super" => {
                base.pop();
            }
            "self" => {}
            word => base.push(word.to_owned()),
        }
        let rest = &text[at..];
        let group = if let Some(after) = rest.strip_prefix("::") {
            at += 2;
            if !after.starts_with('{') {
                continue;
            }
            true
        } else {
            word.is_empty() && rest.starts_with('{')
        };
        if group {
            at += 1;
            loop {
                let item = text[at..].trim_start();
                at = text.len() - item.len();
                if let Some(close) = item.strip_prefix('}') {
                    return text.len() - close.len();
                }
                at += tree(&text[at..], base.clone(), found);
                // Skip ` as name` and the comma.
                let tail = &text[at..];
                at += tail.find([',', '}']).unwrap_or(tail.len());
                if text[at..].starts_with(',') {
                    at += 1;
                }
            }
        }
        found.push(base);
        return at;
    }
}

/// The file a path names: the longest module prefix that is a file.
fn resolve<'a>(path: &[String], modules: &'a BTreeSet<Vec<String>>) -> &'a Vec<String> {
    (0..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]))
        .expect("the crate root is a file")
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "lib.rs".to_owned()
    } else {
        module.join("/")
    }
}

/// Edges between files: who names whom.
fn graph(files: &[File]) -> Edges {
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| f.module.clone()).collect();
    let mut edges = BTreeMap::new();
    for file in files {
        let targets: BTreeSet<Vec<String>> = references(file)
            .iter()
            .map(|path| resolve(path, &modules).clone())
            .filter(|target| *target != file.module)
            .collect();
        edges.insert(file.module.clone(), targets);
    }
    edges
}

#[test]
fn no_file_names_a_layer_above_its_own() {
    let files = files();
    let mut upward = Vec::new();
    for (from, targets) in graph(&files) {
        for to in targets {
            if layer(&to) > layer(&from) {
                upward.push(format!("{} -> {}", name(&from), name(&to)));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that run upward:\n{}",
        upward.join("\n")
    );
}

type Edges = BTreeMap<Vec<String>, BTreeSet<Vec<String>>>;

/// A cycle of files that name each other, if there is one (depth-first search
/// for a back edge).
fn find_cycle(edges: &Edges) -> Option<Vec<String>> {
    fn visit(
        node: &Vec<String>,
        edges: &Edges,
        state: &mut BTreeMap<Vec<String>, u8>,
        stack: &mut Vec<Vec<String>>,
    ) -> Option<Vec<String>> {
        state.insert(node.clone(), 1);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            match state.get(next).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|n| n == next).unwrap();
                    let mut cycle: Vec<String> = stack[start..].iter().map(|n| name(n)).collect();
                    cycle.push(name(next));
                    return Some(cycle);
                }
                0 => {
                    if let Some(cycle) = visit(next, edges, state, stack) {
                        return Some(cycle);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(node.clone(), 2);
        None
    }
    let mut state = BTreeMap::new();
    edges.keys().find_map(|node| {
        if state.get(node).copied().unwrap_or(0) == 0 {
            visit(node, edges, &mut state, &mut Vec::new())
        } else {
            None
        }
    })
}

#[test]
fn no_files_name_each_other_in_a_cycle() {
    if let Some(cycle) = find_cycle(&graph(&files())) {
        panic!("files that import each other: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_checker_sees_upward_and_circular_names() {
    let file = |module: &[&str], code: &str| File {
        module: module.iter().map(|s| (*s).to_owned()).collect(),
        code: code.to_owned(),
        lines: 1,
    };
    let files = vec![
        file(&[], "mod base;"),
        file(&["base"], "use crate::server::Thing;"),
        file(&["server"], "use crate::{base::X, codec::{decode::Y}};"),
        file(&["codec"], ""),
        file(&["codec", "decode"], "fn f() { super::super::server::g() }"),
    ];
    let edges = graph(&files);
    let named = |from: &[&str]| -> Vec<String> {
        let from: Vec<String> = from.iter().map(|s| (*s).to_owned()).collect();
        edges[&from].iter().map(|to| name(to)).collect()
    };
    assert_eq!(named(&["base"]), ["server"]);
    assert_eq!(named(&["server"]), ["base", "codec/decode"]);
    assert_eq!(named(&["codec", "decode"]), ["server"]);
    let cycle = find_cycle(&edges).expect("base and server name each other");
    assert!(cycle.contains(&"server".to_owned()), "{cycle:?}");
    assert_eq!(layer(&["base".to_owned()]), 0);
    assert!(layer(&["server".to_owned()]) > layer(&["base".to_owned()]));
}

#[test]
fn nothing_uses_tonics_codec() {
    let users: Vec<String> = files()
        .iter()
        .filter(|file| file.code.contains("tonic::codec") || file.code.contains("tonic::Streaming"))
        .map(|file| name(&file.module))
        .collect();
    assert!(
        users.is_empty(),
        "tonic's codec is used by {users:?}: the codec layer owns the wire format"
    );
}

#[test]
fn no_file_outgrows_one_concern() {
    let long: Vec<String> = files()
        .iter()
        .filter(|file| file.lines > MAX_LINES)
        .map(|file| format!("{} ({} lines)", name(&file.module), file.lines))
        .collect();
    assert!(long.is_empty(), "split these by concern: {long:?}");
}
