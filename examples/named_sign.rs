//! Sign a file as a named Keyward user through PKCS#11 3.0's `C_LoginUser`, with the
//! `cryptoki` crate (which does not wrap C_LoginUser: it is called through the module's own
//! export). Used by interop/access-audit.sh.
//!
//! Usage: named_sign MODULE TOKEN_LABEL USER KEY_LABEL MECHANISM IN OUT
//! (PIN in KEYWARD_PIN; MECHANISM: ecdsa-sha256 or sha256-rsa-pkcs). Exit status 0 and the
//! signature in OUT on success; otherwise the CKR code on stderr and status 1.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki_sys::{
    CKR_OK, CKU_USER, CK_RV, CK_SESSION_HANDLE, CK_ULONG, CK_USER_TYPE, CK_UTF8CHAR,
};

type LoginUser = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    CK_USER_TYPE,
    *mut CK_UTF8CHAR,
    CK_ULONG,
    *mut CK_UTF8CHAR,
    CK_ULONG,
) -> CK_RV;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [module, token, user, key, mech, input, output] = args.as_slice() else {
        return Err("usage: named_sign MODULE TOKEN USER KEY_LABEL MECHANISM IN OUT".into());
    };
    let mut pin = std::env::var("KEYWARD_PIN")?.into_bytes();
    let p11 = Pkcs11::new(module)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let slot = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| {
            p11.get_token_info(*s)
                .map(|t| t.label() == token)
                .unwrap_or(false)
        })
        .ok_or("no such token")?;
    let session = p11.open_ro_session(slot)?;
    // SAFETY: the module is loaded (dlopen returns the same image) and C_LoginUser has this
    // prototype (PKCS#11 3.0 §5.6.9); the library handle is leaked so it stays mapped.
    let login_user: LoginUser = unsafe {
        let lib = Box::leak(Box::new(libloading::Library::new(module)?));
        *lib.get::<LoginUser>(b"C_LoginUser")?
    };
    let mut name = user.clone().into_bytes();
    // SAFETY: valid buffers and lengths; a session handle of this module.
    let rv = unsafe {
        login_user(
            session.handle(),
            CKU_USER,
            pin.as_mut_ptr(),
            pin.len() as CK_ULONG,
            name.as_mut_ptr(),
            name.len() as CK_ULONG,
        )
    };
    if rv != CKR_OK {
        return Err(format!("C_LoginUser: 0x{rv:x}").into());
    }
    let key = *session
        .find_objects(&[
            Attribute::Label(key.as_bytes().to_vec()),
            Attribute::Class(cryptoki::object::ObjectClass::PRIVATE_KEY),
        ])?
        .first()
        .ok_or("no such private key")?;
    let mechanism = match mech.as_str() {
        "ecdsa-sha256" => Mechanism::EcdsaSha256,
        "sha256-rsa-pkcs" => Mechanism::Sha256RsaPkcs,
        other => return Err(format!("unknown mechanism {other}").into()),
    };
    let data = std::fs::read(input)?;
    let signature = session
        .sign(&mechanism, key, &data)
        .map_err(|e| format!("C_Sign as {user}: {e:?}"))?;
    std::fs::write(output, signature)?;
    Ok(())
}
