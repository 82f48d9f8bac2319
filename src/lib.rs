//! Keyward: a PKCS#11 3.0 token with real key management.
//!
//! Layers (data flows down, errors flow up), see `docs/architecture.md`:
//! `abi` (the only unsafe code besides `crypto::ffi`) → `provider` → `session` / `token` →
//! `object` and `mechanism` → `crypto` → `store`.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

#[allow(unsafe_code, unreachable_pub)]
mod abi;
pub mod admin;
pub mod audit;
pub mod backend;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod mechanism;
pub mod object;
pub mod policy;
pub mod provider;
pub mod session;
pub mod store;
pub mod token;

pub use cryptoki_sys as sys;
pub use error::{Error, Result};
