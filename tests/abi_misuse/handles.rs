//! Invalid and stale handles: session handles never issued or already closed
//! (CKR_SESSION_HANDLE_INVALID), object and key handles never issued or destroyed
//! (CKR_OBJECT_HANDLE_INVALID, CKR_KEY_HANDLE_INVALID, CKR_WRAPPING_KEY_HANDLE_INVALID,
//! CKR_UNWRAPPING_KEY_HANDLE_INVALID), unknown slot ids (CKR_SLOT_ID_INVALID).

use std::ffi::c_void;
use std::ptr::null_mut;

use cryptoki_sys::*;

use crate::support::*;

/// Every export that takes a session handle, called on `h` with otherwise valid arguments.
fn every_session_call(h: CK_SESSION_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let fx = fixture();
    let mut n: CK_ULONG = 64;
    let mut handle: CK_ULONG = 0;
    let mut buf = [0u8; 64];
    let b = buf.as_mut_ptr();
    let data = [0u8; 32];
    let d = data.as_ptr() as *mut u8;
    let pin = crate::common::USER_PIN.as_bytes();
    let (pp, pl) = (pin.as_ptr() as *mut u8, pin.len() as CK_ULONG);
    let user = *b"someone";
    let class = CKO_DATA;
    let mut t = [attr(CKA_CLASS, &class), attr(CKA_TOKEN, &FALSE)];
    let tp = t.as_mut_ptr();
    let len16: CK_ULONG = 16;
    let mut kt = [attr(CKA_VALUE_LEN, &len16), attr(CKA_TOKEN, &FALSE)];
    let ktp = kt.as_mut_ptr();
    let mut ec_pub = [attr(CKA_EC_PARAMS, &P256), attr(CKA_TOKEN, &FALSE)];
    let mut ec_priv = [attr(CKA_TOKEN, &FALSE)];
    let mut cbc = mech_p(CKM_AES_CBC_PAD, &IV);
    let mut sha = mech(CKM_SHA256);
    let mut hmac = mech(CKM_SHA256_HMAC);
    let mut gcm_m = mech(CKM_AES_GCM);
    let mut gen = mech(CKM_AES_KEY_GEN);
    let mut ec_gen = mech(CKM_EC_KEY_PAIR_GEN);
    let mut kw = mech(CKM_AES_KEY_WRAP_PAD);
    let hkdf = hkdf_params();
    let mut derive = mech_p(CKM_HKDF_DERIVE, &hkdf);
    let mut iv = [0u8; 12];
    let mut tag = [0u8; 16];
    let mut mp = CK_GCM_MESSAGE_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvFixedBits: 0,
        ivGenerator: CKG_NO_GENERATE,
        pTag: tag.as_mut_ptr(),
        ulTagBits: 128,
    };
    let mpp = &mut mp as *mut CK_GCM_MESSAGE_PARAMS as *mut c_void;
    let mps = std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
    let (aes, obj) = (fx.aes, fx.data);
    vec![
        ("C_GetSessionInfo", {
            let mut info = CK_SESSION_INFO::default();
            ck!(C_GetSessionInfo(h, &mut info))
        }),
        (
            "C_GetOperationState",
            ck!(C_GetOperationState(h, b, &mut n)),
        ),
        (
            "C_SetOperationState",
            ck!(C_SetOperationState(h, d, 32, 0, 0)),
        ),
        ("C_Login", ck!(C_Login(h, CKU_USER, pp, pl))),
        (
            "C_LoginUser",
            ck!(C_LoginUser(
                h,
                CKU_USER,
                pp,
                pl,
                user.as_ptr() as *mut u8,
                7
            )),
        ),
        ("C_InitPIN", ck!(C_InitPIN(h, pp, pl))),
        ("C_SetPIN", ck!(C_SetPIN(h, pp, pl, pp, pl))),
        ("C_SessionCancel", ck!(C_SessionCancel(h, CKF_ENCRYPT))),
        ("C_CreateObject", ck!(C_CreateObject(h, tp, 2, &mut handle))),
        (
            "C_CopyObject",
            ck!(C_CopyObject(h, obj, null_mut(), 0, &mut handle)),
        ),
        ("C_GetObjectSize", ck!(C_GetObjectSize(h, obj, &mut n))),
        ("C_GetAttributeValue", {
            let mut v: CK_ULONG = 0;
            let mut q = [attr_raw(
                CKA_CLASS,
                &mut v as *mut CK_ULONG as *const c_void,
                8,
            )];
            ck!(C_GetAttributeValue(h, obj, q.as_mut_ptr(), 1))
        }),
        (
            "C_SetAttributeValue",
            ck!(C_SetAttributeValue(h, obj, tp.wrapping_add(1), 1)),
        ),
        ("C_FindObjectsInit", ck!(C_FindObjectsInit(h, tp, 2))),
        (
            "C_FindObjects",
            ck!(C_FindObjects(h, &mut handle, 1, &mut n)),
        ),
        ("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h))),
        ("C_EncryptInit", ck!(C_EncryptInit(h, &mut cbc, aes))),
        ("C_Encrypt", ck!(C_Encrypt(h, d, 16, b, &mut n))),
        ("C_EncryptUpdate", ck!(C_EncryptUpdate(h, d, 16, b, &mut n))),
        ("C_EncryptFinal", ck!(C_EncryptFinal(h, b, &mut n))),
        ("C_DecryptInit", ck!(C_DecryptInit(h, &mut cbc, aes))),
        ("C_Decrypt", ck!(C_Decrypt(h, d, 16, b, &mut n))),
        ("C_DecryptUpdate", ck!(C_DecryptUpdate(h, d, 16, b, &mut n))),
        ("C_DecryptFinal", ck!(C_DecryptFinal(h, b, &mut n))),
        ("C_DigestInit", ck!(C_DigestInit(h, &mut sha))),
        ("C_Digest", ck!(C_Digest(h, d, 16, b, &mut n))),
        ("C_DigestUpdate", ck!(C_DigestUpdate(h, d, 16))),
        ("C_DigestFinal", ck!(C_DigestFinal(h, b, &mut n))),
        ("C_SignInit", ck!(C_SignInit(h, &mut hmac, fx.hmac))),
        ("C_Sign", ck!(C_Sign(h, d, 16, b, &mut n))),
        ("C_SignUpdate", ck!(C_SignUpdate(h, d, 16))),
        ("C_SignFinal", ck!(C_SignFinal(h, b, &mut n))),
        ("C_VerifyInit", ck!(C_VerifyInit(h, &mut hmac, fx.hmac))),
        ("C_Verify", ck!(C_Verify(h, d, 16, d, 32))),
        ("C_VerifyUpdate", ck!(C_VerifyUpdate(h, d, 16))),
        ("C_VerifyFinal", ck!(C_VerifyFinal(h, d, 32))),
        (
            "C_GenerateKey",
            ck!(C_GenerateKey(h, &mut gen, ktp, 2, &mut handle)),
        ),
        (
            "C_GenerateKeyPair",
            ck!(C_GenerateKeyPair(
                h,
                &mut ec_gen,
                ec_pub.as_mut_ptr(),
                2,
                ec_priv.as_mut_ptr(),
                1,
                &mut handle,
                &mut n
            )),
        ),
        (
            "C_WrapKey",
            ck!(C_WrapKey(h, &mut kw, aes, fx.aes_extractable, b, &mut n)),
        ),
        (
            "C_UnwrapKey",
            ck!(C_UnwrapKey(h, &mut kw, aes, d, 24, ktp, 2, &mut handle)),
        ),
        (
            "C_DeriveKey",
            ck!(C_DeriveKey(h, &mut derive, fx.hmac, ktp, 2, &mut handle)),
        ),
        ("C_SeedRandom", ck!(C_SeedRandom(h, d, 16))),
        ("C_GenerateRandom", ck!(C_GenerateRandom(h, b, 16))),
        (
            "C_MessageEncryptInit",
            ck!(C_MessageEncryptInit(h, &mut gcm_m, aes)),
        ),
        (
            "C_EncryptMessage",
            ck!(C_EncryptMessage(
                h,
                mpp,
                mps,
                null_mut(),
                0,
                d,
                16,
                b,
                &mut n
            )),
        ),
        (
            "C_EncryptMessageBegin",
            ck!(C_EncryptMessageBegin(h, mpp, mps, null_mut(), 0)),
        ),
        (
            "C_EncryptMessageNext",
            ck!(C_EncryptMessageNext(h, mpp, mps, d, 16, b, &mut n, 0)),
        ),
        ("C_MessageEncryptFinal", ck!(C_MessageEncryptFinal(h))),
        (
            "C_MessageDecryptInit",
            ck!(C_MessageDecryptInit(h, &mut gcm_m, aes)),
        ),
        (
            "C_DecryptMessage",
            ck!(C_DecryptMessage(
                h,
                mpp,
                mps,
                null_mut(),
                0,
                d,
                16,
                b,
                &mut n
            )),
        ),
        (
            "C_DecryptMessageBegin",
            ck!(C_DecryptMessageBegin(h, mpp, mps, null_mut(), 0)),
        ),
        (
            "C_DecryptMessageNext",
            ck!(C_DecryptMessageNext(h, mpp, mps, d, 16, b, &mut n, 0)),
        ),
        ("C_MessageDecryptFinal", ck!(C_MessageDecryptFinal(h))),
        ("C_Logout", ck!(C_Logout(h))),
        ("C_DestroyObject", ck!(C_DestroyObject(h, obj))),
        ("C_CloseSession", ck!(C_CloseSession(h))),
    ]
}

/// Never-issued handles (0 = CK_INVALID_HANDLE, a made-up one, the largest CK_ULONG) and a
/// closed session's handle reach no session.
#[test]
fn invalid_and_closed_session_handles() {
    let mut c = Checks::new("invalid_and_closed_session_handles");
    let closed = session();
    close(closed);
    let bad = [
        ("CK_INVALID_HANDLE", CK_INVALID_HANDLE),
        ("0xdeadbeef", BOGUS),
        ("CK_ULONG max", CK_ULONG::MAX),
        ("a closed session", closed),
    ];
    for (label, h) in bad {
        for (what, rv) in every_session_call(h) {
            c.rv(
                format!("{what} on {label}"),
                rv,
                &[CKR_SESSION_HANDLE_INVALID],
            );
        }
    }
    // Closing again is an invalid handle too, and the fixture's objects were not touched.
    c.rv(
        "C_CloseSession twice",
        ck!(C_CloseSession(closed)),
        &[CKR_SESSION_HANDLE_INVALID],
    );
    let h = session();
    let mut size: CK_ULONG = 0;
    let rv = ck!(C_GetObjectSize(h, fixture().data, &mut size));
    c.rv(
        "the data object survived the stale-handle calls",
        rv,
        &[CKR_OK],
    );
    close(h);
    c.done();
}

/// C_CloseAllSessions invalidates every handle of that slot, and only of that slot.
#[test]
fn sessions_closed_by_close_all_are_stale() {
    let mut c = Checks::new("sessions_closed_by_close_all_are_stale");
    let (slot, _) = crate::common::fresh_token();
    let slot = slot.id();
    let mut hs = [0; 3];
    for h in hs.iter_mut() {
        let rv = ck!(C_OpenSession(slot, RW, null_mut(), None, h));
        c.rv("C_OpenSession on a second token", rv, &[CKR_OK]);
    }
    let other = session();
    c.rv(
        "C_CloseAllSessions",
        ck!(C_CloseAllSessions(slot)),
        &[CKR_OK],
    );
    for h in hs {
        let mut info = CK_SESSION_INFO::default();
        let rv = ck!(C_GetSessionInfo(h, &mut info));
        c.rv(
            "C_GetSessionInfo after C_CloseAllSessions",
            rv,
            &[CKR_SESSION_HANDLE_INVALID],
        );
        let mut sha = mech(CKM_SHA256);
        let rv = ck!(C_DigestInit(h, &mut sha));
        c.rv(
            "C_DigestInit after C_CloseAllSessions",
            rv,
            &[CKR_SESSION_HANDLE_INVALID],
        );
    }
    let mut info = CK_SESSION_INFO::default();
    let rv = ck!(C_GetSessionInfo(other, &mut info));
    c.rv("a session of another slot is still open", rv, &[CKR_OK]);
    c.rv(
        "C_CloseAllSessions again (none open)",
        ck!(C_CloseAllSessions(slot)),
        &[CKR_OK],
    );
    close(other);
    c.done();
}

/// Unknown slot ids.
#[test]
fn invalid_slot_ids() {
    let mut c = Checks::new("invalid_slot_ids");
    let mut n: CK_ULONG = 0;
    let mut h = 0;
    let pin = *b"whatever";
    let label = [b' '; 32];
    for slot in [4096, BOGUS, CK_ULONG::MAX] {
        let mut si = CK_SLOT_INFO::default();
        let mut ti = CK_TOKEN_INFO::default();
        let mut mi = CK_MECHANISM_INFO::default();
        let rows = [
            ("C_GetSlotInfo", ck!(C_GetSlotInfo(slot, &mut si))),
            ("C_GetTokenInfo", ck!(C_GetTokenInfo(slot, &mut ti))),
            (
                "C_GetMechanismList",
                ck!(C_GetMechanismList(slot, null_mut(), &mut n)),
            ),
            (
                "C_GetMechanismInfo",
                ck!(C_GetMechanismInfo(slot, CKM_SHA256, &mut mi)),
            ),
            (
                "C_InitToken",
                ck!(C_InitToken(
                    slot,
                    pin.as_ptr() as *mut u8,
                    8,
                    label.as_ptr() as *mut u8
                )),
            ),
            (
                "C_OpenSession",
                ck!(C_OpenSession(slot, RW, null_mut(), None, &mut h)),
            ),
            ("C_CloseAllSessions", ck!(C_CloseAllSessions(slot))),
        ];
        for (what, rv) in rows {
            c.rv(
                format!("{what}(slot {slot:#x})"),
                rv,
                &[CKR_SLOT_ID_INVALID],
            );
        }
    }
    c.done();
}

/// Object and key handles that were never issued, or whose object was destroyed.
#[test]
fn invalid_and_destroyed_object_handles() {
    let fx = fixture();
    let h = session();
    let mut c = Checks::new("invalid_and_destroyed_object_handles");
    let destroyed_data = data_object(h);
    c.rv(
        "C_DestroyObject",
        ck!(C_DestroyObject(h, destroyed_data)),
        &[CKR_OK],
    );
    let destroyed_key = secret_key(h, CKK_AES, &[3; 16], &[CKA_ENCRYPT, CKA_WRAP, CKA_UNWRAP]);
    c.rv(
        "C_DestroyObject(key)",
        ck!(C_DestroyObject(h, destroyed_key)),
        &[CKR_OK],
    );
    let objects = [
        ("CK_INVALID_HANDLE", CK_INVALID_HANDLE),
        ("0xdeadbeef", BOGUS),
        ("CK_ULONG max", CK_ULONG::MAX),
        ("a destroyed object", destroyed_data),
    ];
    let keys = [
        ("CK_INVALID_HANDLE", CK_INVALID_HANDLE),
        ("0xdeadbeef", BOGUS),
        ("a destroyed key", destroyed_key),
    ];
    const OBJ: &[CK_RV] = &[CKR_OBJECT_HANDLE_INVALID];
    const KEY: &[CK_RV] = &[CKR_KEY_HANDLE_INVALID];
    for (label, o) in objects {
        let mut n: CK_ULONG = 0;
        let mut v: CK_ULONG = 0;
        let mut q = [attr(CKA_CLASS, &v)];
        q[0].pValue = &mut v as *mut CK_ULONG as *mut c_void;
        let new_label = *b"x";
        let mut set = [attr(CKA_LABEL, &new_label)];
        let rows = [
            (
                "C_CopyObject",
                ck!(C_CopyObject(h, o, null_mut(), 0, &mut n)),
            ),
            ("C_GetObjectSize", ck!(C_GetObjectSize(h, o, &mut n))),
            (
                "C_GetAttributeValue",
                ck!(C_GetAttributeValue(h, o, q.as_mut_ptr(), 1)),
            ),
            (
                "C_SetAttributeValue",
                ck!(C_SetAttributeValue(h, o, set.as_mut_ptr(), 1)),
            ),
            ("C_DestroyObject", ck!(C_DestroyObject(h, o))),
        ];
        for (what, rv) in rows {
            c.rv(format!("{what} on {label}"), rv, OBJ);
        }
    }
    let mut cbc = mech_p(CKM_AES_CBC_PAD, &IV);
    let mut hmac = mech(CKM_SHA256_HMAC);
    let mut gcm_m = mech(CKM_AES_GCM);
    let mut kw = mech(CKM_AES_KEY_WRAP_PAD);
    let hkdf = hkdf_params();
    let mut derive = mech_p(CKM_HKDF_DERIVE, &hkdf);
    let len16: CK_ULONG = 16;
    let mut kt = [attr(CKA_VALUE_LEN, &len16), attr(CKA_TOKEN, &FALSE)];
    let wrapped = [0u8; 24];
    for (label, k) in keys {
        let mut n: CK_ULONG = 64;
        let mut out = [0u8; 64];
        let mut nh = 0;
        let rows: [(&str, CK_RV, &[CK_RV]); 10] = [
            ("C_EncryptInit", ck!(C_EncryptInit(h, &mut cbc, k)), KEY),
            ("C_DecryptInit", ck!(C_DecryptInit(h, &mut cbc, k)), KEY),
            ("C_SignInit", ck!(C_SignInit(h, &mut hmac, k)), KEY),
            ("C_VerifyInit", ck!(C_VerifyInit(h, &mut hmac, k)), KEY),
            (
                "C_MessageEncryptInit",
                ck!(C_MessageEncryptInit(h, &mut gcm_m, k)),
                KEY,
            ),
            (
                "C_MessageDecryptInit",
                ck!(C_MessageDecryptInit(h, &mut gcm_m, k)),
                KEY,
            ),
            (
                "C_WrapKey(hWrappingKey)",
                ck!(C_WrapKey(
                    h,
                    &mut kw,
                    k,
                    fx.aes_extractable,
                    out.as_mut_ptr(),
                    &mut n
                )),
                &[CKR_WRAPPING_KEY_HANDLE_INVALID],
            ),
            (
                "C_WrapKey(hKey)",
                ck!(C_WrapKey(h, &mut kw, fx.aes, k, out.as_mut_ptr(), &mut n)),
                KEY,
            ),
            (
                "C_UnwrapKey(hUnwrappingKey)",
                ck!(C_UnwrapKey(
                    h,
                    &mut kw,
                    k,
                    wrapped.as_ptr() as *mut u8,
                    24,
                    kt.as_mut_ptr(),
                    2,
                    &mut nh
                )),
                &[CKR_UNWRAPPING_KEY_HANDLE_INVALID],
            ),
            (
                "C_DeriveKey(hBaseKey)",
                ck!(C_DeriveKey(h, &mut derive, k, kt.as_mut_ptr(), 2, &mut nh)),
                KEY,
            ),
        ];
        for (what, rv, allowed) in rows {
            c.rv(format!("{what} on {label}"), rv, allowed);
        }
    }
    // A data object is an object but not a key.
    let rv = ck!(C_EncryptInit(h, &mut cbc, fx.data));
    c.rv(
        "C_EncryptInit with a data object",
        rv,
        &[CKR_KEY_HANDLE_INVALID, CKR_KEY_TYPE_INCONSISTENT],
    );
    for kind in KINDS {
        c.ok(
            format!("no {kind:?} operation active after the failed inits"),
            !kind.active(h),
        );
    }
    close(h);
    c.done();
}
