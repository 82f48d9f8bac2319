//! Key generation, wrapping, derivation and random numbers (PKCS#11 3.0 §5.14–5.15, §5.18).

use cryptoki_sys::*;

use super::{ptr, with_provider};
use crate::error::Result;
use crate::mechanism::MechanismRequest;
use crate::object::Attributes;
use crate::provider::Provider;

/// Shared shim for calls that take a mechanism and a template and make one key.
unsafe fn new_key(
    p_mech: *mut CK_MECHANISM,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
    f: impl FnOnce(&Provider, &MechanismRequest, &Attributes) -> Result<CK_OBJECT_HANDLE>,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let m = unsafe { ptr::mechanism(p_mech) }?;
        // SAFETY: forwarded from the caller.
        let template = unsafe { ptr::template(p_template, count) }?;
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(ph_key) }?;
        *out = f(p, &m, &template)?;
        Ok(())
    })
}

/// C_GenerateKey (§5.14.1).
#[no_mangle]
pub unsafe extern "C" fn C_GenerateKey(
    h: CK_SESSION_HANDLE,
    p_mech: *mut CK_MECHANISM,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        new_key(p_mech, p_template, count, ph_key, |p, m, t| {
            p.generate_key(h, m, t)
        })
    }
}

/// C_GenerateKeyPair (§5.14.2).
#[no_mangle]
pub unsafe extern "C" fn C_GenerateKeyPair(
    h: CK_SESSION_HANDLE,
    p_mech: *mut CK_MECHANISM,
    p_pub: *mut CK_ATTRIBUTE,
    pub_count: CK_ULONG,
    p_priv: *mut CK_ATTRIBUTE,
    priv_count: CK_ULONG,
    ph_pub: *mut CK_OBJECT_HANDLE,
    ph_priv: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let m = unsafe { ptr::mechanism(p_mech) }?;
        // SAFETY: forwarded from the caller.
        let public = unsafe { ptr::template(p_pub, pub_count) }?;
        // SAFETY: forwarded from the caller.
        let private = unsafe { ptr::template(p_priv, priv_count) }?;
        // SAFETY: forwarded from the caller.
        let out_pub = unsafe { ptr::out(ph_pub) }?;
        // SAFETY: forwarded from the caller.
        let out_priv = unsafe { ptr::out(ph_priv) }?;
        let (pub_h, priv_h) = p.generate_key_pair(h, &m, &public, &private)?;
        *out_pub = pub_h;
        *out_priv = priv_h;
        Ok(())
    })
}

/// C_WrapKey (§5.18.3).
#[no_mangle]
pub unsafe extern "C" fn C_WrapKey(
    h: CK_SESSION_HANDLE,
    p_mech: *mut CK_MECHANISM,
    wrapping: CK_OBJECT_HANDLE,
    key: CK_OBJECT_HANDLE,
    p_out: *mut u8,
    p_out_len: *mut CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let m = unsafe { ptr::mechanism(p_mech) }?;
        // SAFETY: forwarded from the caller.
        let cap = unsafe { ptr::capacity(p_out, p_out_len) }?;
        let out = p.wrap_key(h, &m, wrapping, key, cap)?;
        // SAFETY: forwarded from the caller.
        unsafe { ptr::deliver(out, p_out, p_out_len) }
    })
}

/// C_UnwrapKey (§5.18.4).
#[no_mangle]
pub unsafe extern "C" fn C_UnwrapKey(
    h: CK_SESSION_HANDLE,
    p_mech: *mut CK_MECHANISM,
    unwrapping: CK_OBJECT_HANDLE,
    p_wrapped: *mut u8,
    wrapped_len: CK_ULONG,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    let unwrap = |p: &Provider, m: &MechanismRequest, t: &Attributes| {
        // SAFETY: forwarded from the caller.
        let wrapped = unsafe { ptr::bytes(p_wrapped, wrapped_len) }?;
        p.unwrap_key(h, m, unwrapping, wrapped, t)
    };
    // SAFETY: forwarded from the caller.
    unsafe { new_key(p_mech, p_template, count, ph_key, unwrap) }
}

/// C_DeriveKey (§5.18.5).
#[no_mangle]
pub unsafe extern "C" fn C_DeriveKey(
    h: CK_SESSION_HANDLE,
    p_mech: *mut CK_MECHANISM,
    base: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_key: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        new_key(p_mech, p_template, count, ph_key, |p, m, t| {
            p.derive_key(h, m, base, t)
        })
    }
}

/// C_SeedRandom (§5.15.1).
#[no_mangle]
pub unsafe extern "C" fn C_SeedRandom(
    h: CK_SESSION_HANDLE,
    p_seed: *mut u8,
    len: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let seed = unsafe { ptr::bytes(p_seed, len) }?;
        p.seed_random(h, seed)
    })
}

/// C_GenerateRandom (§5.15.2).
#[no_mangle]
pub unsafe extern "C" fn C_GenerateRandom(
    h: CK_SESSION_HANDLE,
    p_out: *mut u8,
    len: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::bytes_mut(p_out, len) }?;
        p.generate_random(h, out)
    })
}
