//! Replays, as ordinary tests, every input kept in `tests/fixtures/fuzz/<target>/` (crashes the fuzz
//! targets found, minimised) through the same code as the fuzz target of that name, so that a crash
//! fixed once stays fixed without anyone running the fuzzer. The hand-made seeds in `fuzz/seeds/` and
//! the sample messages go through too, which keeps the shared checks honest on known-good input.
//!
//! See `tests/fixtures/fuzz/README.md` for how an input gets here, and `scripts/fuzz` for the fuzzing
//! itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fuzz_common;

use std::path::{Path, PathBuf};

/// The files of a directory (not its README or dot-files), sorted; none when it does not exist.
fn inputs(dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            !name.starts_with('.') && name != "README.md"
        })
        .collect();
    files.sort();
    files
}

/// Runs every file through `target` and fails with the list of those that panicked (each panic's own
/// message is printed above it by the test harness).
fn replay(dirs: &[&str], target: fn(&[u8])) {
    let mut failed = Vec::new();
    for file in dirs.iter().flat_map(|d| inputs(d)) {
        let data = std::fs::read(&file).unwrap();
        eprintln!("replaying {}", file.display());
        if std::panic::catch_unwind(|| target(&data)).is_err() {
            failed.push(file.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "inputs that fail:\n{}",
        failed.join("\n")
    );
}

#[test]
fn render_message_inputs() {
    replay(
        &[
            "tests/fixtures/fuzz/render_message",
            "tests/fixtures/messages",
        ],
        fuzz_common::render_message,
    );
}

#[test]
fn compose_input_inputs() {
    replay(
        &[
            "tests/fixtures/fuzz/compose_input",
            "fuzz/seeds/compose_input",
        ],
        fuzz_common::compose_input,
    );
}

#[test]
fn pop3_responses_inputs() {
    replay(
        &[
            "tests/fixtures/fuzz/pop3_responses",
            "fuzz/seeds/pop3_responses",
        ],
        fuzz_common::pop3_responses,
    );
}

#[test]
fn imap_responses_inputs() {
    replay(
        &[
            "tests/fixtures/fuzz/imap_responses",
            "fuzz/seeds/imap_responses",
        ],
        fuzz_common::imap_responses,
    );
}

#[test]
fn header_addresses_inputs() {
    replay(
        &[
            "tests/fixtures/fuzz/header_addresses",
            "fuzz/seeds/header_addresses",
        ],
        fuzz_common::header_addresses,
    );
}
