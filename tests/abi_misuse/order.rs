//! Operations called in the wrong order: a continuation without its *Init
//! (CKR_OPERATION_NOT_INITIALIZED), a second *Init while one is active (CKR_OPERATION_ACTIVE,
//! the first one kept), a continuation after the operation ended.

use std::ffi::c_void;
use std::ptr::null_mut;

use cryptoki_sys::*;

use crate::support::*;

const NOT_INIT: &[CK_RV] = &[CKR_OPERATION_NOT_INITIALIZED];

/// Every continuation call, on a session where nothing was started.
fn continuations(h: CK_SESSION_HANDLE) -> Vec<(&'static str, CK_RV)> {
    let data = [0u8; 32];
    let d = data.as_ptr() as *mut u8;
    let mut out = [0u8; 64];
    let b = out.as_mut_ptr();
    let mut n: CK_ULONG = 64;
    let mut handle = 0;
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
    vec![
        ("C_Encrypt", ck!(C_Encrypt(h, d, 16, b, &mut n))),
        ("C_EncryptUpdate", ck!(C_EncryptUpdate(h, d, 16, b, &mut n))),
        ("C_EncryptFinal", ck!(C_EncryptFinal(h, b, &mut n))),
        ("C_Decrypt", ck!(C_Decrypt(h, d, 16, b, &mut n))),
        ("C_DecryptUpdate", ck!(C_DecryptUpdate(h, d, 16, b, &mut n))),
        ("C_DecryptFinal", ck!(C_DecryptFinal(h, b, &mut n))),
        ("C_Digest", ck!(C_Digest(h, d, 16, b, &mut n))),
        ("C_DigestUpdate", ck!(C_DigestUpdate(h, d, 16))),
        ("C_DigestFinal", ck!(C_DigestFinal(h, b, &mut n))),
        ("C_Sign", ck!(C_Sign(h, d, 16, b, &mut n))),
        ("C_SignUpdate", ck!(C_SignUpdate(h, d, 16))),
        ("C_SignFinal", ck!(C_SignFinal(h, b, &mut n))),
        ("C_Verify", ck!(C_Verify(h, d, 16, d, 32))),
        ("C_VerifyUpdate", ck!(C_VerifyUpdate(h, d, 16))),
        ("C_VerifyFinal", ck!(C_VerifyFinal(h, d, 32))),
        (
            "C_FindObjects",
            ck!(C_FindObjects(h, &mut handle, 1, &mut n)),
        ),
        ("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h))),
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
    ]
}

#[test]
fn continuations_without_init() {
    let h = session();
    let mut c = Checks::new("continuations_without_init");
    for (what, rv) in continuations(h) {
        c.rv(format!("{what} without init"), rv, NOT_INIT);
    }
    // An operation of one kind does not make another kind's continuation valid.
    c.rv("C_DecryptInit", Kind::Decrypt.init(h), &[CKR_OK]);
    let mut n: CK_ULONG = 64;
    let mut out = [0u8; 64];
    let rv = ck!(C_EncryptFinal(h, out.as_mut_ptr(), &mut n));
    c.rv(
        "C_EncryptFinal while only a decryption is active",
        rv,
        NOT_INIT,
    );
    Kind::Decrypt.cancel(h);
    // Nothing to save.
    n = 0;
    let rv = ck!(C_GetOperationState(h, null_mut(), &mut n));
    c.rv(
        "C_GetOperationState with no operation",
        rv,
        &[CKR_OPERATION_NOT_INITIALIZED, CKR_STATE_UNSAVEABLE],
    );
    close(h);
    c.done();
}

/// A second C_*Init while one is active: CKR_OPERATION_ACTIVE, and the first operation goes
/// on untouched (its result is the right one).
#[test]
fn second_init_is_refused_and_the_first_kept() {
    let fx = fixture();
    let h = session();
    let mut c = Checks::new("second_init_is_refused_and_the_first_kept");
    for kind in KINDS {
        c.rv(format!("{kind:?} init"), kind.init(h), &[CKR_OK]);
        c.rv(
            format!("second {kind:?} init"),
            kind.init(h),
            &[CKR_OPERATION_ACTIVE],
        );
        c.ok(format!("{kind:?} still active"), kind.active(h));
    }
    // Every kind at once on one session is allowed (one operation per kind); they finish.
    let mut out = [0u8; 64];
    let mut n: CK_ULONG = 64;
    let rv = ck!(C_Digest(
        h,
        b"abc".as_ptr() as *mut u8,
        3,
        out.as_mut_ptr(),
        &mut n
    ));
    c.rv("C_Digest of the first digest operation", rv, &[CKR_OK]);
    c.ok("SHA-256(abc)", hex(&out[..n as usize]) == SHA256_ABC);
    n = 64;
    let d = HMAC_DATA.as_ptr() as *mut u8;
    let rv = ck!(C_Sign(h, d, 8, out.as_mut_ptr(), &mut n));
    c.rv("C_Sign of the first sign operation", rv, &[CKR_OK]);
    c.ok(
        "HMAC-SHA-256 of RFC 4231 case 1",
        hex(&out[..n as usize]) == HMAC_SHA256,
    );
    let sig = out;
    let rv = ck!(C_Verify(h, d, 8, sig.as_ptr() as *mut u8, 32));
    c.rv("C_Verify of the first verify operation", rv, &[CKR_OK]);
    Kind::Encrypt.cancel(h);
    Kind::Decrypt.cancel(h);

    // Searches and message-based operations too.
    let class = CKO_DATA;
    let mut t = [attr(CKA_CLASS, &class)];
    c.rv(
        "C_FindObjectsInit",
        ck!(C_FindObjectsInit(h, t.as_mut_ptr(), 1)),
        &[CKR_OK],
    );
    c.rv(
        "second C_FindObjectsInit",
        ck!(C_FindObjectsInit(h, t.as_mut_ptr(), 1)),
        &[CKR_OPERATION_ACTIVE],
    );
    let mut found = [0; 8];
    n = 0;
    let rv = ck!(C_FindObjects(h, found.as_mut_ptr(), 8, &mut n));
    c.rv("C_FindObjects of the first search", rv, &[CKR_OK]);
    c.ok(
        "the first search finds the data object",
        found[..n as usize].contains(&fx.data),
    );
    c.rv("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h)), &[CKR_OK]);
    c.rv(
        "C_FindObjectsFinal twice",
        ck!(C_FindObjectsFinal(h)),
        NOT_INIT,
    );
    let mut gcm_m = mech(CKM_AES_GCM);
    for (what, first, second) in [
        (
            "C_MessageEncryptInit",
            ck!(C_MessageEncryptInit(h, &mut gcm_m, fx.aes)),
            ck!(C_MessageEncryptInit(h, &mut gcm_m, fx.aes)),
        ),
        (
            "C_MessageDecryptInit",
            ck!(C_MessageDecryptInit(h, &mut gcm_m, fx.aes)),
            ck!(C_MessageDecryptInit(h, &mut gcm_m, fx.aes)),
        ),
    ] {
        c.rv(what, first, &[CKR_OK]);
        c.rv(format!("second {what}"), second, &[CKR_OPERATION_ACTIVE]);
    }
    c.rv(
        "C_MessageEncryptFinal",
        ck!(C_MessageEncryptFinal(h)),
        &[CKR_OK],
    );
    c.rv(
        "C_MessageDecryptFinal",
        ck!(C_MessageDecryptFinal(h)),
        &[CKR_OK],
    );
    c.rv(
        "C_MessageEncryptFinal twice",
        ck!(C_MessageEncryptFinal(h)),
        NOT_INIT,
    );
    close(h);
    c.done();
}

/// After an operation finished (or failed), its continuations are not initialised; a
/// single-part call cannot finish a multi-part operation.
#[test]
fn continuations_after_the_end() {
    let h = session();
    let mut c = Checks::new("continuations_after_the_end");
    let d = HMAC_DATA.as_ptr() as *mut u8;
    let mut out = [0u8; 64];
    let mut n: CK_ULONG = 64;

    c.rv("C_SignInit", Kind::Sign.init(h), &[CKR_OK]);
    c.rv(
        "C_Sign",
        ck!(C_Sign(h, d, 8, out.as_mut_ptr(), &mut n)),
        &[CKR_OK],
    );
    c.rv(
        "C_SignUpdate after C_Sign",
        ck!(C_SignUpdate(h, d, 8)),
        NOT_INIT,
    );
    n = 64;
    let rv = ck!(C_SignFinal(h, out.as_mut_ptr(), &mut n));
    c.rv("C_SignFinal after C_Sign", rv, NOT_INIT);

    c.rv("C_DigestInit", Kind::Digest.init(h), &[CKR_OK]);
    c.rv("C_DigestUpdate", ck!(C_DigestUpdate(h, d, 8)), &[CKR_OK]);
    n = 64;
    let rv = ck!(C_DigestFinal(h, out.as_mut_ptr(), &mut n));
    c.rv("C_DigestFinal", rv, &[CKR_OK]);
    n = 64;
    let rv = ck!(C_DigestFinal(h, out.as_mut_ptr(), &mut n));
    c.rv("C_DigestFinal twice", rv, NOT_INIT);

    // A single-part call after C_*Update: the spec forbids it ("cannot be used to terminate a
    // multi-part operation", §5.8.2, §5.10.2, §5.11.2, §5.13.2) without naming a code;
    // Keyward answers CKR_OPERATION_NOT_INITIALIZED (no single-part operation) and, as for
    // every failure, ends the operation.
    for kind in KINDS {
        c.rv(format!("{kind:?} init"), kind.init(h), &[CKR_OK]);
        n = 64;
        let block = [0u8; 16];
        let b = block.as_ptr() as *mut u8;
        let o = out.as_mut_ptr();
        let (update, single) = match kind {
            Kind::Encrypt => (
                ck!(C_EncryptUpdate(h, b, 16, o, &mut n)),
                ck!(C_Encrypt(h, b, 16, o, &mut { 64 })),
            ),
            Kind::Decrypt => (
                ck!(C_DecryptUpdate(h, b, 16, o, &mut n)),
                ck!(C_Decrypt(h, b, 16, o, &mut { 64 })),
            ),
            Kind::Digest => (
                ck!(C_DigestUpdate(h, d, 8)),
                ck!(C_Digest(h, d, 8, o, &mut n)),
            ),
            Kind::Sign => (ck!(C_SignUpdate(h, d, 8)), ck!(C_Sign(h, d, 8, o, &mut n))),
            Kind::Verify => (ck!(C_VerifyUpdate(h, d, 8)), ck!(C_Verify(h, d, 8, o, 32))),
        };
        c.rv(format!("{kind:?} update"), update, &[CKR_OK]);
        c.rv(
            format!("{kind:?} single-part call after an update"),
            single,
            &[CKR_OPERATION_NOT_INITIALIZED],
        );
        c.ok(
            format!("{kind:?} ended by the refused call"),
            !kind.active(h),
        );
    }

    // A verification that failed is over.
    c.rv("C_VerifyInit", Kind::Verify.init(h), &[CKR_OK]);
    let zero = [0u8; 32];
    let rv = ck!(C_Verify(h, d, 8, zero.as_ptr() as *mut u8, 32));
    c.rv(
        "C_Verify of a wrong signature",
        rv,
        &[CKR_SIGNATURE_INVALID],
    );
    let rv = ck!(C_VerifyUpdate(h, d, 8));
    c.rv("C_VerifyUpdate after the failed C_Verify", rv, NOT_INIT);

    // C_SessionCancel ends what it names and nothing else.
    c.rv("C_SignInit", Kind::Sign.init(h), &[CKR_OK]);
    c.rv("C_DigestInit", Kind::Digest.init(h), &[CKR_OK]);
    c.rv(
        "C_SessionCancel(CKF_SIGN)",
        ck!(C_SessionCancel(h, CKF_SIGN)),
        &[CKR_OK],
    );
    c.ok("signing cancelled", !Kind::Sign.active(h));
    c.ok("digest still active", Kind::Digest.active(h));
    Kind::Digest.cancel(h);
    close(h);
    c.done();
}
