//! Fuzz target `imap_responses`: see `imap_responses` in tests/fuzz_common/mod.rs for what it feeds and checks.

#![no_main]

// Shared with tests/fuzz_regressions.rs, which replays the crashes kept in tests/fixtures/fuzz/.
#[allow(dead_code)]
#[path = "../../tests/fuzz_common/mod.rs"]
mod fuzz_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // imap-proto 0.17 panics on a non-ASCII byte right after a response code's `]`. Courrier catches
    // that panic around its reads (tests/fixtures/fuzz/imap_responses keeps such an input, replayed
    // by tests/fuzz_regressions.rs), but libFuzzer aborts on any panic, caught or not: inputs of that
    // shape are left to the regression test.
    if data.windows(2).any(|w| w[0] == b']' && !w[1].is_ascii()) {
        return;
    }
    fuzz_common::imap_responses(data)
});
