//! Fuzz target `config`: see `keyward::fuzzing::config` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::fuzzing::config(data));
