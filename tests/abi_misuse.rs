//! The ABI misuse suite (issue 9): every C_* export called the way a careless or hostile
//! application would call it, through the raw C ABI of `libkeyward.so`: NULL in each pointer
//! argument, zero and huge lengths, short output buffers, invalid and stale handles,
//! operations out of order, one session shared by threads, malformed templates and malformed
//! mechanism parameters. Each test is a table of calls with the codes PKCS#11 3.0 allows;
//! every mismatch of a table is reported at once. Calls before C_Initialize and after
//! C_Finalize are in `abi_uninitialized.rs` (they need a process of their own).

mod common;
#[macro_use]
#[path = "abi_misuse/support.rs"]
mod support;

#[path = "abi_misuse/buffers.rs"]
mod buffers;
#[path = "abi_misuse/handles.rs"]
mod handles;
#[path = "abi_misuse/null_args.rs"]
mod null_args;
#[path = "abi_misuse/order.rs"]
mod order;
#[path = "abi_misuse/params.rs"]
mod params;
#[path = "abi_misuse/templates.rs"]
mod templates;
#[path = "abi_misuse/threads.rs"]
mod threads;
