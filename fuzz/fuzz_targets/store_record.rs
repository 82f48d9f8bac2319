//! Fuzz target `store_record`: see `keyward::fuzzing::store_record` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::fuzzing::store_record(data));
