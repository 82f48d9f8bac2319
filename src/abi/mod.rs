//! The C ABI: every `C_*` export, the function lists, and the one global provider.
//!
//! This module and `crypto::ffi` are the only places with `unsafe`. Each export is a short
//! shim: check and convert pointers (`ptr`), call a safe `Provider` method inside the panic
//! boundary (`guard`), map the `Result` to a `CK_RV`.

mod crypto;
mod general;
mod keys;
mod lists;
mod message;
mod object;
mod ptr;
mod session;
mod slot;
mod unsupported;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, RwLock};

use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::provider::Provider;

/// The loaded instance and the process that initialised it (a forked child must call
/// C_Initialize again; until then it sees CKR_CRYPTOKI_NOT_INITIALIZED).
struct Instance {
    pid: u32,
    provider: Arc<Provider>,
}

static INSTANCE: RwLock<Option<Instance>> = RwLock::new(None);

/// This process's id, cached: glibc makes every getpid() a system call, and the check below
/// runs on every call. The fork handler in `general` clears it in a child (0: not known).
static PID: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn current_pid() -> u32 {
    use std::sync::atomic::Ordering;
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// The initialised provider of this process.
fn provider() -> Result<Arc<Provider>> {
    let guard = INSTANCE.read().map_err(|_| Error::GeneralError)?;
    match guard.as_ref() {
        Some(i) if i.pid == current_pid() => Ok(i.provider.clone()),
        _ => Err(Error::NotInitialized),
    }
}

/// The panic boundary: run `f`, map its result to a CK_RV; a panic becomes
/// CKR_GENERAL_ERROR and never unwinds into the caller.
fn guard(f: impl FnOnce() -> Result<()>) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => CKR_OK,
        Ok(Err(e)) => e.rv(),
        Err(_) => CKR_GENERAL_ERROR,
    }
}

/// `guard` for calls that need the provider.
fn with_provider(f: impl FnOnce(&Provider) -> Result<()>) -> CK_RV {
    guard(|| f(&*provider()?))
}
