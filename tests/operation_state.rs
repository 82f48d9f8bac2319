//! C_GetOperationState / C_SetOperationState (running digests) and C_SessionCancel.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;

use common::{assert_rv, c_fn, fresh_token, p11, pin, raw, USER_PIN};

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

/// C_GetOperationState: (rv, blob). `size_only` passes a NULL buffer.
fn get_state(s: &Session, size_only: bool) -> (CK_RV, Vec<u8>) {
    let mut buf = vec![0u8; 256];
    let mut len = buf.len() as CK_ULONG;
    let p = if size_only {
        std::ptr::null_mut()
    } else {
        buf.as_mut_ptr()
    };
    // SAFETY: a live buffer (or NULL) and length; a valid session handle.
    let rv = unsafe { raw().C_GetOperationState.unwrap()(s.handle(), p, &mut len) };
    buf.truncate(len as usize);
    (rv, buf)
}

fn set_state(s: &Session, blob: &[u8], key: CK_OBJECT_HANDLE) -> CK_RV {
    let mut blob = blob.to_vec();
    // SAFETY: a live buffer of the stated length; a valid session handle.
    unsafe {
        raw().C_SetOperationState.unwrap()(
            s.handle(),
            blob.as_mut_ptr(),
            blob.len() as CK_ULONG,
            key,
            0,
        )
    }
}

fn cancel(s: &Session, flags: CK_FLAGS) -> CK_RV {
    let f: unsafe extern "C" fn(CK_SESSION_HANDLE, CK_FLAGS) -> CK_RV = c_fn("C_SessionCancel");
    // SAFETY: a valid session handle.
    unsafe { f(s.handle(), flags) }
}

/// A generic secret that can sign (HMAC).
fn hmac_key(s: &Session) -> cryptoki::object::ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(vec![1; 32]),
        Attribute::Sign(true),
    ])
    .unwrap()
}

#[test]
fn a_saved_digest_resumes_in_another_session() {
    let (slot, _) = fresh_token();
    let a = p11().open_rw_session(slot).unwrap();
    let b = p11().open_ro_session(slot).unwrap();
    a.digest_init(&Mechanism::Sha256).unwrap();
    a.digest_update(b"ab").unwrap();
    let (rv, empty) = get_state(&a, true);
    assert_eq!((rv, empty.len()), (CKR_OK, 20), "size query");
    let (rv, blob) = get_state(&a, false);
    assert_eq!(rv, CKR_OK);
    a.digest_update(b"c").unwrap();
    assert_eq!(a.digest_final().unwrap(), sha256(b"abc"));
    assert_eq!(set_state(&b, &blob, 0), CKR_OK);
    b.digest_update(b"cd").unwrap();
    assert_eq!(b.digest_final().unwrap(), sha256(b"abcd"));
    // The saved state can be restored again: it was copied, not moved.
    assert_eq!(set_state(&a, &blob, 0), CKR_OK);
    assert_eq!(a.digest_final().unwrap(), sha256(b"ab"));
}

#[test]
fn operation_state_errors() {
    let s = common::user_session();
    let (rv, _) = get_state(&s, false);
    assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
    assert_eq!(set_state(&s, b"not a state", 0), CKR_SAVED_STATE_INVALID);
    let key = hmac_key(&s);
    s.digest_init(&Mechanism::Sha256).unwrap();
    let (rv, blob) = get_state(&s, false);
    assert_eq!(rv, CKR_OK);
    assert_eq!(set_state(&s, &blob, key.handle()), CKR_KEY_NOT_NEEDED);
    let mut forged = blob.clone();
    forged[10] ^= 1;
    assert_eq!(set_state(&s, &forged, 0), CKR_SAVED_STATE_INVALID);
    s.sign_init(&Mechanism::Sha256Hmac, key).unwrap();
    let (rv, _) = get_state(&s, false);
    assert_eq!(
        rv, CKR_STATE_UNSAVEABLE,
        "a keyed operation's state is not exported"
    );
}

#[test]
fn session_cancel_ends_the_named_operations_only() {
    let (slot, _) = fresh_token();
    let s = p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = hmac_key(&s);
    s.digest_init(&Mechanism::Sha256).unwrap();
    s.sign_init(&Mechanism::Sha256Hmac, key).unwrap();
    assert_eq!(cancel(&s, CKF_DIGEST), CKR_OK);
    assert_rv(s.digest_update(b"x"), RvError::OperationNotInitialized);
    s.sign_update(b"still running").unwrap();
    assert_eq!(cancel(&s, CKF_SIGN), CKR_OK);
    assert_rv(s.sign_update(b"x"), RvError::OperationNotInitialized);
    s.digest_init(&Mechanism::Sha256).unwrap();
    s.digest_update(b"abc").unwrap();
    assert_eq!(s.digest_final().unwrap(), sha256(b"abc"));
}

/// A continuing call that fails on a bad pointer argument ends its operation (§5.2: only
/// CKR_BUFFER_TOO_SMALL and a successful size query leave it running).
#[test]
fn bad_arguments_end_the_operation() {
    let s = common::user_session();
    let f = raw();
    s.digest_init(&Mechanism::Sha256).unwrap();
    let mut data = *b"abc";
    // SAFETY: a live input and a NULL length pointer, which the module must refuse.
    let rv = unsafe {
        f.C_Digest.unwrap()(
            s.handle(),
            data.as_mut_ptr(),
            3,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rv, CKR_ARGUMENTS_BAD);
    assert_rv(s.digest_update(b"x"), RvError::OperationNotInitialized);
    // A short buffer, by contrast, keeps it.
    s.digest_init(&Mechanism::Sha256).unwrap();
    let (mut out, mut len) = ([0u8; 4], 4 as CK_ULONG);
    // SAFETY: live buffers of the stated lengths.
    let rv = unsafe {
        f.C_Digest.unwrap()(s.handle(), data.as_mut_ptr(), 3, out.as_mut_ptr(), &mut len)
    };
    assert_eq!((rv, len), (CKR_BUFFER_TOO_SMALL, 32));
    assert_eq!(
        s.digest(&Mechanism::Sha256, b"abc")
            .map(|_| ())
            .map_err(|e| common::rv_of(&e)),
        Err(RvError::OperationActive)
    );
}
