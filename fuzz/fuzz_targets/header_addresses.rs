//! Fuzz target `header_addresses`: see `header_addresses` in tests/fuzz_common/mod.rs for what it feeds and checks.

#![no_main]

// Shared with tests/fuzz_regressions.rs, which replays the crashes kept in tests/fixtures/fuzz/.
#[allow(dead_code)]
#[path = "../../tests/fuzz_common/mod.rs"]
mod fuzz_common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_common::header_addresses(data));
