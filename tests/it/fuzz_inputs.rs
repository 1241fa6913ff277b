//! Every seed and every saved crash of the fuzz targets, replayed through
//! the same checks the fuzzer runs (`fuzzing` crate), so a crash once found
//! stays fixed. Seeds: `fuzz/seeds/<target>/`; crashes, minimized and kept
//! after their fix: `fuzz/regressions/<target>/` (see docs/fuzzing.md).

use std::path::{Path, PathBuf};

fn inputs(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(target: &str) -> usize {
    let (_, check) = fuzzing::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .unwrap();
    let files: Vec<PathBuf> = ["seeds", "regressions"]
        .iter()
        .flat_map(|kind| inputs(kind, target))
        .collect();
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| check(&bytes));
        assert!(outcome.is_ok(), "{} broke a promise", file.display());
    }
    files.len()
}

#[test]
fn every_target_has_seeds_and_a_check() {
    for (target, _) in fuzzing::TARGETS {
        assert!(
            !inputs("seeds", target).is_empty(),
            "fuzz target {target} has no seeds"
        );
        let fuzz_target = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/fuzz_targets")
            .join(format!("{target}.rs"));
        assert!(fuzz_target.is_file(), "no cargo-fuzz target for {target}");
    }
}

#[test]
fn submission_inputs_hold() {
    assert!(replay("submission") >= 3);
}

#[test]
fn mail_manifest_inputs_hold() {
    assert!(replay("mail_manifest") >= 1);
}

#[test]
fn stored_event_inputs_hold() {
    // One seed per stored-event snapshot.
    assert!(replay("stored_event") >= 30);
}

#[test]
fn jwt_inputs_hold() {
    assert!(replay("jwt") >= 4);
}

#[test]
fn graphql_body_inputs_hold() {
    assert!(replay("graphql_body") >= 5);
}

/// The structure-aware generator's seeds (deep nesting of every construct,
/// fragment doubling, alias chains, huge strings) hold.
#[test]
fn graphql_shape_inputs_hold() {
    assert!(replay("graphql_shape") >= 10);
}
