//! Replays the committed seeds (`seeds/<target>/`) and the inputs of past
//! findings (`regressions/<target>/`) through every target on stable Rust,
//! without libFuzzer: each finding stays fixed.

use std::path::Path;

#[test]
fn every_seed_and_regression_runs_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut ran = 0;
    for (name, run) in rust_grpc_fuzz::TARGETS {
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join(name)) else {
                continue;
            };
            let mut paths: Vec<_> = entries
                .map(|e| e.expect("a readable entry").path())
                .collect();
            paths.sort();
            for path in paths {
                let data = std::fs::read(&path).expect("a readable input");
                eprintln!("{}", path.display());
                run(&data);
                ran += 1;
            }
        }
    }
    assert!(ran > 0, "no seeds found under {}", root.display());
}
