//! Fuzz target `mechanism_abi`: the C ABI harness in `fuzz/harness/abi.rs`; see docs/fuzzing.md.
#![no_main]

#[path = "../harness/abi.rs"]
mod abi;

libfuzzer_sys::fuzz_target!(|data: &[u8]| abi::mechanism_abi(data));
