//! Fuzz target `template_checks`: see `keyward::fuzzing::template_checks` and docs/fuzzing.md.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyward::fuzzing::template_checks(data));
