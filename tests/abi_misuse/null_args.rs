//! NULL in each pointer argument of every export (PKCS#11 3.0 §5.1: CKR_ARGUMENTS_BAD), and
//! the rule that a failed continuation call ends its operation (§5.2).

use std::ffi::c_void;
use std::ptr::{null, null_mut};

use cryptoki_sys::*;

use crate::support::*;

const AB: &[CK_RV] = &[CKR_ARGUMENTS_BAD];
/// A NULL message parameter (the spec names no code of its own for it).
const AB_OR_PARAM: &[CK_RV] = &[CKR_ARGUMENTS_BAD, CKR_MECHANISM_PARAM_INVALID];

/// Calls that do not continue an operation: NULL in each pointer, one at a time.
#[test]
fn null_pointers_outside_operations() {
    let fx = fixture();
    let h = session();
    let mut c = Checks::new("null_pointers_outside_operations");
    let (slot, obj, aes) = (fx.slot, fx.data, fx.aes);
    let mut n: CK_ULONG = 0;
    let mut handle: CK_ULONG = 0;
    let mut buf = [0u8; 256];
    let pin = crate::common::USER_PIN.as_bytes();
    let pin_p = pin.as_ptr() as *mut u8;
    let pin_n = pin.len() as CK_ULONG;
    let name = *b"nobody";
    let label = [b' '; 32];
    let class = CKO_DATA;
    let mut tmpl = [attr(CKA_CLASS, &class), attr(CKA_TOKEN, &FALSE)];
    let tp = tmpl.as_mut_ptr();
    let mut label_q = [attr_raw(CKA_LABEL, null(), 0)];
    let mut aes_gen = mech(CKM_AES_KEY_GEN);
    let len32: CK_ULONG = 32;
    let mut key_tmpl = [attr(CKA_VALUE_LEN, &len32), attr(CKA_TOKEN, &FALSE)];
    let kt = key_tmpl.as_mut_ptr();
    let mut ec_gen = mech(CKM_EC_KEY_PAIR_GEN);
    let mut ec_pub = [attr(CKA_EC_PARAMS, &P256), attr(CKA_TOKEN, &FALSE)];
    let mut ec_priv = [attr(CKA_TOKEN, &FALSE)];
    let (ep, ev) = (ec_pub.as_mut_ptr(), ec_priv.as_mut_ptr());
    let mut kw = mech(CKM_AES_KEY_WRAP_PAD);
    let wrapped = [0u8; 40];

    let rows: Vec<(&str, CK_RV, &[CK_RV])> = vec![
        ("C_GetInfo(NULL)", ck!(C_GetInfo(null_mut())), AB),
        (
            "C_GetFunctionList(NULL)",
            ck!(C_GetFunctionList(null_mut())),
            AB,
        ),
        (
            "C_GetInterfaceList(NULL, NULL)",
            ck!(C_GetInterfaceList(null_mut(), null_mut())),
            AB,
        ),
        (
            "C_GetInterface(.., ppInterface NULL)",
            ck!(C_GetInterface(null_mut(), null_mut(), null_mut(), 0)),
            AB,
        ),
        (
            "C_GetSlotList(pulCount NULL)",
            ck!(C_GetSlotList(CK_FALSE, null_mut(), null_mut())),
            AB,
        ),
        (
            "C_GetSlotInfo(pInfo NULL)",
            ck!(C_GetSlotInfo(slot, null_mut())),
            AB,
        ),
        (
            "C_GetTokenInfo(pInfo NULL)",
            ck!(C_GetTokenInfo(slot, null_mut())),
            AB,
        ),
        (
            "C_GetMechanismList(pulCount NULL)",
            ck!(C_GetMechanismList(slot, null_mut(), null_mut())),
            AB,
        ),
        (
            "C_GetMechanismInfo(pInfo NULL)",
            ck!(C_GetMechanismInfo(slot, CKM_AES_GCM, null_mut())),
            AB,
        ),
        (
            "C_InitToken(pPin NULL, len 8)",
            ck!(C_InitToken(slot, null_mut(), 8, label.as_ptr() as *mut u8)),
            AB,
        ),
        (
            "C_InitToken(pLabel NULL)",
            ck!(C_InitToken(slot, pin_p, pin_n, null_mut())),
            &[CKR_ARGUMENTS_BAD, CKR_SESSION_EXISTS],
        ),
        (
            "C_InitPIN(pPin NULL, len 8)",
            ck!(C_InitPIN(h, null_mut(), 8)),
            AB,
        ),
        (
            "C_SetPIN(pOldPin NULL)",
            ck!(C_SetPIN(h, null_mut(), 8, pin_p, pin_n)),
            AB,
        ),
        (
            "C_SetPIN(pNewPin NULL)",
            ck!(C_SetPIN(h, pin_p, pin_n, null_mut(), 8)),
            AB,
        ),
        (
            "C_OpenSession(phSession NULL)",
            ck!(C_OpenSession(slot, RW, null_mut(), None, null_mut())),
            AB,
        ),
        (
            "C_GetSessionInfo(pInfo NULL)",
            ck!(C_GetSessionInfo(h, null_mut())),
            AB,
        ),
        (
            "C_GetOperationState(pulLen NULL)",
            ck!(C_GetOperationState(h, buf.as_mut_ptr(), null_mut())),
            AB,
        ),
        (
            "C_SetOperationState(pState NULL, len 16)",
            ck!(C_SetOperationState(h, null_mut(), 16, 0, 0)),
            AB,
        ),
        (
            "C_Login(pPin NULL, len 8)",
            ck!(C_Login(h, CKU_USER, null_mut(), 8)),
            AB,
        ),
        (
            "C_LoginUser(pPin NULL)",
            ck!(C_LoginUser(
                h,
                CKU_USER,
                null_mut(),
                8,
                name.as_ptr() as *mut u8,
                6
            )),
            AB,
        ),
        (
            "C_LoginUser(pUsername NULL)",
            ck!(C_LoginUser(h, CKU_USER, pin_p, pin_n, null_mut(), 6)),
            AB,
        ),
        (
            "C_CreateObject(pTemplate NULL, count 2)",
            ck!(C_CreateObject(h, null_mut(), 2, &mut handle)),
            AB,
        ),
        (
            "C_CreateObject(phObject NULL)",
            ck!(C_CreateObject(h, tp, 2, null_mut())),
            AB,
        ),
        (
            "C_CopyObject(pTemplate NULL, count 1)",
            ck!(C_CopyObject(h, obj, null_mut(), 1, &mut handle)),
            AB,
        ),
        (
            "C_CopyObject(phNewObject NULL)",
            ck!(C_CopyObject(h, obj, null_mut(), 0, null_mut())),
            AB,
        ),
        (
            "C_GetObjectSize(pulSize NULL)",
            ck!(C_GetObjectSize(h, obj, null_mut())),
            AB,
        ),
        (
            "C_GetAttributeValue(pTemplate NULL, count 1)",
            ck!(C_GetAttributeValue(h, obj, null_mut(), 1)),
            AB,
        ),
        (
            "C_SetAttributeValue(pTemplate NULL, count 1)",
            ck!(C_SetAttributeValue(h, obj, null_mut(), 1)),
            AB,
        ),
        (
            "C_FindObjectsInit(pTemplate NULL, count 1)",
            ck!(C_FindObjectsInit(h, null_mut(), 1)),
            AB,
        ),
        (
            "C_EncryptInit(pMechanism NULL)",
            ck!(C_EncryptInit(h, null_mut(), aes)),
            AB,
        ),
        (
            "C_DecryptInit(pMechanism NULL)",
            ck!(C_DecryptInit(h, null_mut(), aes)),
            AB,
        ),
        (
            "C_DigestInit(pMechanism NULL)",
            ck!(C_DigestInit(h, null_mut())),
            AB,
        ),
        (
            "C_SignInit(pMechanism NULL)",
            ck!(C_SignInit(h, null_mut(), fx.hmac)),
            AB,
        ),
        (
            "C_VerifyInit(pMechanism NULL)",
            ck!(C_VerifyInit(h, null_mut(), fx.hmac)),
            AB,
        ),
        (
            "C_MessageEncryptInit(pMechanism NULL)",
            ck!(C_MessageEncryptInit(h, null_mut(), aes)),
            AB,
        ),
        (
            "C_MessageDecryptInit(pMechanism NULL)",
            ck!(C_MessageDecryptInit(h, null_mut(), aes)),
            AB,
        ),
        (
            "C_GenerateKey(pMechanism NULL)",
            ck!(C_GenerateKey(h, null_mut(), kt, 2, &mut handle)),
            AB,
        ),
        (
            "C_GenerateKey(pTemplate NULL, count 2)",
            ck!(C_GenerateKey(h, &mut aes_gen, null_mut(), 2, &mut handle)),
            AB,
        ),
        (
            "C_GenerateKey(phKey NULL)",
            ck!(C_GenerateKey(h, &mut aes_gen, kt, 2, null_mut())),
            AB,
        ),
        (
            "C_GenerateKeyPair(pMechanism NULL)",
            ck!(C_GenerateKeyPair(
                h,
                null_mut(),
                ep,
                2,
                ev,
                1,
                &mut handle,
                &mut n
            )),
            AB,
        ),
        (
            "C_GenerateKeyPair(pPublicKeyTemplate NULL, count 2)",
            ck!(C_GenerateKeyPair(
                h,
                &mut ec_gen,
                null_mut(),
                2,
                ev,
                1,
                &mut handle,
                &mut n
            )),
            AB,
        ),
        (
            "C_GenerateKeyPair(pPrivateKeyTemplate NULL, count 1)",
            ck!(C_GenerateKeyPair(
                h,
                &mut ec_gen,
                ep,
                2,
                null_mut(),
                1,
                &mut handle,
                &mut n
            )),
            AB,
        ),
        (
            "C_GenerateKeyPair(phPublicKey NULL)",
            ck!(C_GenerateKeyPair(
                h,
                &mut ec_gen,
                ep,
                2,
                ev,
                1,
                null_mut(),
                &mut n
            )),
            AB,
        ),
        (
            "C_GenerateKeyPair(phPrivateKey NULL)",
            ck!(C_GenerateKeyPair(
                h,
                &mut ec_gen,
                ep,
                2,
                ev,
                1,
                &mut handle,
                null_mut()
            )),
            AB,
        ),
        (
            "C_WrapKey(pMechanism NULL)",
            ck!(C_WrapKey(
                h,
                null_mut(),
                aes,
                fx.aes_extractable,
                buf.as_mut_ptr(),
                &mut n
            )),
            AB,
        ),
        (
            "C_WrapKey(pulWrappedKeyLen NULL)",
            ck!(C_WrapKey(
                h,
                &mut kw,
                aes,
                fx.aes_extractable,
                buf.as_mut_ptr(),
                null_mut()
            )),
            AB,
        ),
        (
            "C_UnwrapKey(pMechanism NULL)",
            ck!(C_UnwrapKey(
                h,
                null_mut(),
                aes,
                wrapped.as_ptr() as *mut u8,
                40,
                kt,
                2,
                &mut handle
            )),
            AB,
        ),
        (
            "C_UnwrapKey(pWrappedKey NULL, len 40)",
            ck!(C_UnwrapKey(
                h,
                &mut kw,
                aes,
                null_mut(),
                40,
                kt,
                2,
                &mut handle
            )),
            AB,
        ),
        (
            "C_UnwrapKey(pTemplate NULL, count 2)",
            ck!(C_UnwrapKey(
                h,
                &mut kw,
                aes,
                wrapped.as_ptr() as *mut u8,
                40,
                null_mut(),
                2,
                &mut handle
            )),
            AB,
        ),
        (
            "C_UnwrapKey(phKey NULL)",
            ck!(C_UnwrapKey(
                h,
                &mut kw,
                aes,
                wrapped.as_ptr() as *mut u8,
                40,
                kt,
                2,
                null_mut()
            )),
            AB,
        ),
        (
            "C_DeriveKey(pMechanism NULL)",
            ck!(C_DeriveKey(h, null_mut(), fx.hmac, kt, 2, &mut handle)),
            AB,
        ),
        (
            "C_DeriveKey(phKey NULL)",
            ck!(C_DeriveKey(
                h,
                &mut mech_p(CKM_HKDF_DERIVE, &hkdf_params()),
                fx.hmac,
                kt,
                2,
                null_mut()
            )),
            AB,
        ),
        (
            "C_SeedRandom(pSeed NULL, len 8)",
            ck!(C_SeedRandom(h, null_mut(), 8)),
            AB,
        ),
        (
            "C_GenerateRandom(pRandomData NULL, len 8)",
            ck!(C_GenerateRandom(h, null_mut(), 8)),
            AB,
        ),
        (
            "C_Finalize(pReserved non-NULL)",
            ck!(C_Finalize(buf.as_mut_ptr() as *mut c_void)),
            AB,
        ),
    ];
    for (what, rv, allowed) in rows {
        c.rv(what, rv, allowed);
    }

    // C_GetAttributeValue: a NULL pValue is a size query, not an error.
    let rv = ck!(C_GetAttributeValue(h, obj, label_q.as_mut_ptr(), 1));
    c.rv(
        "C_GetAttributeValue(pValue NULL): size query",
        rv,
        &[CKR_OK],
    );
    c.ok(
        "C_GetAttributeValue size query gives the label's length",
        label_q[0].ulValueLen == 11,
    );

    // C_FindObjects inside a search: NULL handle array with max > 0, NULL count.
    let rv = ck!(C_FindObjectsInit(h, tp, 2));
    c.rv("C_FindObjectsInit(data objects)", rv, &[CKR_OK]);
    let rv = ck!(C_FindObjects(h, null_mut(), 4, &mut n));
    c.rv("C_FindObjects(phObject NULL, max 4)", rv, AB);
    let rv = ck!(C_FindObjects(h, &mut handle, 1, null_mut()));
    c.rv("C_FindObjects(pulObjectCount NULL)", rv, AB);
    c.rv("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h)), &[CKR_OK]);

    // No operation was started by any of the failed *Init calls above.
    for kind in KINDS {
        c.ok(
            format!("no {kind:?} operation left active by a NULL mechanism"),
            !kind.active(h),
        );
    }
    close(h);
    c.done();
}

/// The calls that continue an operation: NULL in each pointer fails with CKR_ARGUMENTS_BAD
/// and ends the operation (§5.2: every failure but CKR_BUFFER_TOO_SMALL does).
#[test]
fn null_pointers_end_the_operation() {
    let h = session();
    let mut c = Checks::new("null_pointers_end_the_operation");
    let data = [0x61u8; 16];
    let dp = data.as_ptr() as *mut u8;
    let mut out = [0u8; 64];
    let op = out.as_mut_ptr();
    let mut len: CK_ULONG;
    type Call<'a> = Box<dyn Fn(CK_SESSION_HANDLE, *mut CK_ULONG) -> CK_RV + 'a>;
    let rows: Vec<(Kind, &str, Call)> = vec![
        (
            Kind::Encrypt,
            "C_Encrypt(pData NULL, len 16)",
            Box::new(|h, l| ck!(C_Encrypt(h, null_mut(), 16, op, l))),
        ),
        (
            Kind::Encrypt,
            "C_Encrypt(pulEncryptedDataLen NULL)",
            Box::new(|h, _| ck!(C_Encrypt(h, dp, 16, op, null_mut()))),
        ),
        (
            Kind::Encrypt,
            "C_EncryptUpdate(pPart NULL, len 16)",
            Box::new(|h, l| ck!(C_EncryptUpdate(h, null_mut(), 16, op, l))),
        ),
        (
            Kind::Encrypt,
            "C_EncryptUpdate(pulEncryptedPartLen NULL)",
            Box::new(|h, _| ck!(C_EncryptUpdate(h, dp, 16, op, null_mut()))),
        ),
        (
            Kind::Encrypt,
            "C_EncryptFinal(pulLastEncryptedPartLen NULL)",
            Box::new(|h, _| ck!(C_EncryptFinal(h, op, null_mut()))),
        ),
        (
            Kind::Decrypt,
            "C_Decrypt(pEncryptedData NULL, len 16)",
            Box::new(|h, l| ck!(C_Decrypt(h, null_mut(), 16, op, l))),
        ),
        (
            Kind::Decrypt,
            "C_Decrypt(pulDataLen NULL)",
            Box::new(|h, _| ck!(C_Decrypt(h, dp, 16, op, null_mut()))),
        ),
        (
            Kind::Decrypt,
            "C_DecryptUpdate(pEncryptedPart NULL, len 16)",
            Box::new(|h, l| ck!(C_DecryptUpdate(h, null_mut(), 16, op, l))),
        ),
        (
            Kind::Decrypt,
            "C_DecryptUpdate(pulPartLen NULL)",
            Box::new(|h, _| ck!(C_DecryptUpdate(h, dp, 16, op, null_mut()))),
        ),
        (
            Kind::Decrypt,
            "C_DecryptFinal(pulLastPartLen NULL)",
            Box::new(|h, _| ck!(C_DecryptFinal(h, op, null_mut()))),
        ),
        (
            Kind::Digest,
            "C_Digest(pData NULL, len 16)",
            Box::new(|h, l| ck!(C_Digest(h, null_mut(), 16, op, l))),
        ),
        (
            Kind::Digest,
            "C_Digest(pulDigestLen NULL)",
            Box::new(|h, _| ck!(C_Digest(h, dp, 16, op, null_mut()))),
        ),
        (
            Kind::Digest,
            "C_DigestUpdate(pPart NULL, len 16)",
            Box::new(|h, _| ck!(C_DigestUpdate(h, null_mut(), 16))),
        ),
        (
            Kind::Digest,
            "C_DigestFinal(pulDigestLen NULL)",
            Box::new(|h, _| ck!(C_DigestFinal(h, op, null_mut()))),
        ),
        (
            Kind::Sign,
            "C_Sign(pData NULL, len 16)",
            Box::new(|h, l| ck!(C_Sign(h, null_mut(), 16, op, l))),
        ),
        (
            Kind::Sign,
            "C_Sign(pulSignatureLen NULL)",
            Box::new(|h, _| ck!(C_Sign(h, dp, 16, op, null_mut()))),
        ),
        (
            Kind::Sign,
            "C_SignUpdate(pPart NULL, len 16)",
            Box::new(|h, _| ck!(C_SignUpdate(h, null_mut(), 16))),
        ),
        (
            Kind::Sign,
            "C_SignFinal(pulSignatureLen NULL)",
            Box::new(|h, _| ck!(C_SignFinal(h, op, null_mut()))),
        ),
        (
            Kind::Verify,
            "C_Verify(pData NULL, len 16)",
            Box::new(|h, _| ck!(C_Verify(h, null_mut(), 16, op, 32))),
        ),
        (
            Kind::Verify,
            "C_Verify(pSignature NULL, len 32)",
            Box::new(|h, _| ck!(C_Verify(h, dp, 16, null_mut(), 32))),
        ),
        (
            Kind::Verify,
            "C_VerifyUpdate(pPart NULL, len 16)",
            Box::new(|h, _| ck!(C_VerifyUpdate(h, null_mut(), 16))),
        ),
        (
            Kind::Verify,
            "C_VerifyFinal(pSignature NULL, len 32)",
            Box::new(|h, _| ck!(C_VerifyFinal(h, null_mut(), 32))),
        ),
    ];
    for (kind, what, call) in &rows {
        c.rv(format!("{kind:?} init for {what}"), kind.init(h), &[CKR_OK]);
        len = 64;
        c.rv(what, call(h, &mut len), AB);
        c.ok(format!("{what} ended the operation"), !kind.active(h));
        kind.cancel(h);
    }
    close(h);
    c.done();
}

/// The message-based calls (3.0 §5.9–5.10 message functions): NULL parameter, data, output
/// and length pointers.
#[test]
fn null_pointers_in_message_calls() {
    let fx = fixture();
    let h = session();
    let mut c = Checks::new("null_pointers_in_message_calls");
    let mut m = mech(CKM_AES_GCM);
    let rv = ck!(C_MessageEncryptInit(h, &mut m, fx.aes));
    c.rv("C_MessageEncryptInit(AES-GCM)", rv, &[CKR_OK]);
    let mut iv = [0u8; 12];
    let mut tag = [0u8; 16];
    let mut p = CK_GCM_MESSAGE_PARAMS {
        pIv: iv.as_mut_ptr(),
        ulIvLen: 12,
        ulIvFixedBits: 0,
        ivGenerator: CKG_NO_GENERATE,
        pTag: tag.as_mut_ptr(),
        ulTagBits: 128,
    };
    let pp = &mut p as *mut CK_GCM_MESSAGE_PARAMS as *mut c_void;
    let psize = std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
    let data = [1u8; 16];
    let dp = data.as_ptr() as *mut u8;
    let mut out = [0u8; 64];
    let op = out.as_mut_ptr();
    let mut len: CK_ULONG = 64;
    let rows: Vec<(&str, CK_RV, &[CK_RV])> = vec![
        (
            "C_EncryptMessage(pParameter NULL)",
            ck!(C_EncryptMessage(
                h,
                null_mut(),
                psize,
                null_mut(),
                0,
                dp,
                16,
                op,
                &mut len
            )),
            AB_OR_PARAM,
        ),
        (
            "C_EncryptMessage(pAssociatedData NULL, len 8)",
            ck!(C_EncryptMessage(
                h,
                pp,
                psize,
                null_mut(),
                8,
                dp,
                16,
                op,
                &mut len
            )),
            AB,
        ),
        (
            "C_EncryptMessage(pPlaintext NULL, len 16)",
            ck!(C_EncryptMessage(
                h,
                pp,
                psize,
                null_mut(),
                0,
                null_mut(),
                16,
                op,
                &mut len
            )),
            AB,
        ),
        (
            "C_EncryptMessage(pulCiphertextLen NULL)",
            ck!(C_EncryptMessage(
                h,
                pp,
                psize,
                null_mut(),
                0,
                dp,
                16,
                op,
                null_mut()
            )),
            AB,
        ),
        (
            "C_EncryptMessageBegin(pParameter NULL)",
            ck!(C_EncryptMessageBegin(h, null_mut(), psize, null_mut(), 0)),
            AB_OR_PARAM,
        ),
        (
            "C_EncryptMessageBegin(pAssociatedData NULL, len 8)",
            ck!(C_EncryptMessageBegin(h, pp, psize, null_mut(), 8)),
            AB,
        ),
        (
            "C_EncryptMessageNext(pParameter NULL)",
            ck!(C_EncryptMessageNext(
                h,
                null_mut(),
                psize,
                dp,
                16,
                op,
                &mut len,
                CKF_END_OF_MESSAGE
            )),
            AB_OR_PARAM,
        ),
        (
            "C_DecryptMessage(pParameter NULL) [no decrypt operation]",
            ck!(C_DecryptMessage(
                h,
                null_mut(),
                psize,
                null_mut(),
                0,
                dp,
                16,
                op,
                &mut len
            )),
            &[
                CKR_ARGUMENTS_BAD,
                CKR_MECHANISM_PARAM_INVALID,
                CKR_OPERATION_NOT_INITIALIZED,
            ],
        ),
    ];
    for (what, rv, allowed) in rows {
        c.rv(what, rv, allowed);
    }
    // The message-based encryption survives bad calls (the spec ends only the message, not the
    // operation): a good message still goes through.
    len = 64;
    let rv = ck!(C_EncryptMessage(
        h,
        pp,
        psize,
        null_mut(),
        0,
        dp,
        16,
        op,
        &mut len
    ));
    c.rv("C_EncryptMessage after the bad calls", rv, &[CKR_OK]);
    c.ok("ciphertext of 16 bytes", len == 16);
    c.rv(
        "C_MessageEncryptFinal",
        ck!(C_MessageEncryptFinal(h)),
        &[CKR_OK],
    );
    close(h);
    c.done();
}
