//! Fuzz target `audit_record`: see `keyward::fuzzing::audit_record` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::fuzzing::audit_record(data));
