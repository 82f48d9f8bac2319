//! Output buffers and lengths: the two-call convention on every call that produces output
//! (§5.2: CKR_BUFFER_TOO_SMALL with the needed length written, the operation kept, no byte
//! written past the buffer), zero lengths, and huge lengths.

use std::ffi::c_void;
use std::ptr::null_mut;

use cryptoki_sys::*;

use crate::support::*;

/// One producing call: `call(h, buf, len)`; `start` begins its operation (if any) and returns
/// whether it did so with CKR_OK.
struct Producer<'a> {
    what: &'a str,
    start: Box<dyn Fn(CK_SESSION_HANDLE) -> CK_RV + 'a>,
    call: Box<dyn Fn(CK_SESSION_HANDLE, *mut u8, *mut CK_ULONG) -> CK_RV + 'a>,
    /// Whether the operation ends with a successful call (single-part and final calls).
    ends: bool,
}

const CANARY: u8 = 0xa5;

/// For one producer: size query, a buffer one byte short, a zero-capacity buffer, a huge
/// claimed capacity, then the exact size — the output must equal the size-query answer and
/// the operation must survive every short call.
fn two_call(c: &mut Checks, p: &Producer) {
    let h = session();
    let what = p.what;
    c.rv(format!("{what}: start"), (p.start)(h), &[CKR_OK]);
    let mut need: CK_ULONG = 0;
    let rv = (p.call)(h, null_mut(), &mut need);
    c.rv(format!("{what}: size query"), rv, &[CKR_OK]);
    let need_n = need as usize;
    let mut buf = vec![CANARY; need_n + 32];
    if need_n > 0 {
        let mut len = need - 1;
        let rv = (p.call)(h, buf.as_mut_ptr(), &mut len);
        c.rv(
            format!("{what}: one byte short"),
            rv,
            &[CKR_BUFFER_TOO_SMALL],
        );
        c.ok(
            format!("{what}: needed length written ({len} vs {need})"),
            len == need,
        );
        c.ok(
            format!("{what}: nothing written past the short buffer"),
            buf[need_n - 1..].iter().all(|b| *b == CANARY),
        );
        let mut len = 0;
        let rv = (p.call)(h, buf.as_mut_ptr(), &mut len);
        c.rv(
            format!("{what}: zero capacity"),
            rv,
            &[CKR_BUFFER_TOO_SMALL],
        );
        c.ok(
            format!("{what}: needed length after zero capacity"),
            len == need,
        );
    }
    // A capacity far larger than the buffer: only the output is written.
    let mut len = CK_ULONG::MAX;
    let rv = (p.call)(h, buf.as_mut_ptr(), &mut len);
    c.rv(format!("{what}: the real call"), rv, &[CKR_OK]);
    c.ok(format!("{what}: output of the announced size"), len <= need);
    c.ok(
        format!("{what}: nothing written past the output"),
        buf[len as usize..].iter().all(|b| *b == CANARY),
    );
    if p.ends {
        let mut len = 64;
        let mut again = [0u8; 64];
        let rv = (p.call)(h, again.as_mut_ptr(), &mut len);
        c.rv(
            format!("{what}: again after the end"),
            rv,
            &[CKR_OPERATION_NOT_INITIALIZED],
        );
    }
    close(h);
}

#[test]
fn short_output_buffers_keep_the_operation() {
    let fx = fixture();
    let mut c = Checks::new("short_output_buffers_keep_the_operation");
    let data = [0x42u8; 40];
    let d = data.as_ptr() as *mut u8;
    let abc = b"abc".as_ptr() as *mut u8;
    let hd = HMAC_DATA.as_ptr() as *mut u8;
    // A CBC-PAD ciphertext of 48 bytes for the decryption rows.
    let ct = {
        let h = session();
        Kind::Encrypt.init(h);
        let mut out = [0u8; 48];
        let mut n: CK_ULONG = 48;
        let rv = ck!(C_Encrypt(h, d, 40, out.as_mut_ptr(), &mut n));
        assert_eq!(rv, CKR_OK, "C_Encrypt for the decryption rows");
        close(h);
        out
    };
    let cp = ct.as_ptr() as *mut u8;
    let ok = |_| CKR_OK;
    let producers = vec![
        Producer {
            what: "C_Encrypt(AES-CBC-PAD)",
            start: Box::new(|h| Kind::Encrypt.init(h)),
            call: Box::new(|h, b, l| ck!(C_Encrypt(h, d, 40, b, l))),
            ends: true,
        },
        Producer {
            what: "C_EncryptUpdate(AES-CBC-PAD, 40 bytes)",
            start: Box::new(|h| Kind::Encrypt.init(h)),
            call: Box::new(|h, b, l| ck!(C_EncryptUpdate(h, d, 40, b, l))),
            ends: false,
        },
        Producer {
            what: "C_EncryptFinal(AES-CBC-PAD)",
            start: Box::new(|h| {
                Kind::Encrypt.init(h);
                let mut out = [0u8; 48];
                let mut n: CK_ULONG = 48;
                ck!(C_EncryptUpdate(h, d, 40, out.as_mut_ptr(), &mut n))
            }),
            call: Box::new(|h, b, l| ck!(C_EncryptFinal(h, b, l))),
            ends: true,
        },
        Producer {
            what: "C_Decrypt(AES-CBC-PAD)",
            start: Box::new(|h| Kind::Decrypt.init(h)),
            call: Box::new(|h, b, l| ck!(C_Decrypt(h, cp, 48, b, l))),
            ends: true,
        },
        Producer {
            what: "C_DecryptFinal(AES-CBC-PAD)",
            start: Box::new(|h| {
                Kind::Decrypt.init(h);
                let mut out = [0u8; 48];
                let mut n: CK_ULONG = 48;
                ck!(C_DecryptUpdate(h, cp, 48, out.as_mut_ptr(), &mut n))
            }),
            call: Box::new(|h, b, l| ck!(C_DecryptFinal(h, b, l))),
            ends: true,
        },
        Producer {
            what: "C_Digest(SHA-256)",
            start: Box::new(|h| Kind::Digest.init(h)),
            call: Box::new(|h, b, l| ck!(C_Digest(h, abc, 3, b, l))),
            ends: true,
        },
        Producer {
            what: "C_DigestFinal(SHA-256)",
            start: Box::new(|h| {
                Kind::Digest.init(h);
                ck!(C_DigestUpdate(h, abc, 3))
            }),
            call: Box::new(|h, b, l| ck!(C_DigestFinal(h, b, l))),
            ends: true,
        },
        Producer {
            what: "C_Sign(HMAC-SHA-256)",
            start: Box::new(|h| Kind::Sign.init(h)),
            call: Box::new(|h, b, l| ck!(C_Sign(h, hd, 8, b, l))),
            ends: true,
        },
        Producer {
            what: "C_SignFinal(HMAC-SHA-256)",
            start: Box::new(|h| {
                Kind::Sign.init(h);
                ck!(C_SignUpdate(h, hd, 8))
            }),
            call: Box::new(|h, b, l| ck!(C_SignFinal(h, b, l))),
            ends: true,
        },
        Producer {
            what: "C_Sign(ECDSA P-256)",
            start: Box::new(|h| {
                let mut m = mech(CKM_ECDSA_SHA256);
                ck!(C_SignInit(h, &mut m, fx.ec_private))
            }),
            call: Box::new(|h, b, l| ck!(C_Sign(h, hd, 8, b, l))),
            ends: true,
        },
        Producer {
            what: "C_GetOperationState(SHA-256)",
            start: Box::new(|h| {
                Kind::Digest.init(h);
                ck!(C_DigestUpdate(h, abc, 3))
            }),
            call: Box::new(|h, b, l| ck!(C_GetOperationState(h, b, l))),
            ends: false,
        },
        Producer {
            what: "C_WrapKey(AES-KEY-WRAP-PAD)",
            start: Box::new(ok),
            call: Box::new(|h, b, l| {
                let mut m = mech(CKM_AES_KEY_WRAP_PAD);
                ck!(C_WrapKey(h, &mut m, fx.aes, fx.aes_extractable, b, l))
            }),
            ends: false,
        },
        Producer {
            what: "C_EncryptMessage(AES-GCM)",
            start: Box::new(|h| {
                let mut m = mech(CKM_AES_GCM);
                ck!(C_MessageEncryptInit(h, &mut m, fx.aes))
            }),
            call: Box::new(|h, b, l| {
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
                let ps = std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
                ck!(C_EncryptMessage(h, pp, ps, null_mut(), 0, d, 40, b, l))
            }),
            ends: false,
        },
    ];
    for p in &producers {
        two_call(&mut c, p);
    }
    c.done();
}

/// Lists and attribute values: a short buffer gets CKR_BUFFER_TOO_SMALL and the count (lists)
/// or CK_UNAVAILABLE_INFORMATION (attributes, §5.7.5), never a write past the buffer.
#[test]
fn short_lists_and_attribute_buffers() {
    let fx = fixture();
    let mut c = Checks::new("short_lists_and_attribute_buffers");
    let mut n: CK_ULONG = 0;
    c.rv(
        "C_GetSlotList size query",
        ck!(C_GetSlotList(CK_FALSE, null_mut(), &mut n)),
        &[CKR_OK],
    );
    let slots = n;
    let mut list = vec![CK_ULONG::MAX; slots as usize + 4];
    n = slots - 1;
    let rv = ck!(C_GetSlotList(CK_FALSE, list.as_mut_ptr(), &mut n));
    c.rv("C_GetSlotList one short", rv, &[CKR_BUFFER_TOO_SMALL]);
    c.ok("C_GetSlotList gives the count", n == slots);
    c.ok(
        "C_GetSlotList wrote nothing past the short list",
        list[slots as usize - 1..]
            .iter()
            .all(|v| *v == CK_ULONG::MAX),
    );

    n = 0;
    let rv = ck!(C_GetMechanismList(fx.slot, null_mut(), &mut n));
    c.rv("C_GetMechanismList size query", rv, &[CKR_OK]);
    let mechs = n;
    let mut list = vec![CK_ULONG::MAX; mechs as usize + 4];
    n = 1;
    let rv = ck!(C_GetMechanismList(fx.slot, list.as_mut_ptr(), &mut n));
    c.rv(
        "C_GetMechanismList(room for 1)",
        rv,
        &[CKR_BUFFER_TOO_SMALL],
    );
    c.ok("C_GetMechanismList gives the count", n == mechs);
    c.ok(
        "C_GetMechanismList wrote nothing past the short list",
        list[1..].iter().all(|v| *v == CK_ULONG::MAX),
    );

    n = 0;
    let rv = ck!(C_GetInterfaceList(null_mut(), &mut n));
    c.rv("C_GetInterfaceList size query", rv, &[CKR_OK]);
    let count = n;
    let mut ifaces = vec![
        CK_INTERFACE {
            pInterfaceName: null_mut(),
            pFunctionList: null_mut(),
            flags: 0,
        };
        count as usize
    ];
    n = count - 1;
    let rv = ck!(C_GetInterfaceList(ifaces.as_mut_ptr(), &mut n));
    c.rv("C_GetInterfaceList one short", rv, &[CKR_BUFFER_TOO_SMALL]);
    c.ok("C_GetInterfaceList gives the count", n == count);

    // Attributes: one short, zero, and a CK_ULONG attribute into 4 bytes.
    let h = session();
    let mut label = [CANARY; 16];
    let mut class = [CANARY; 16];
    let mut t = [
        attr_raw(CKA_LABEL, label.as_mut_ptr() as *const c_void, 10),
        attr_raw(CKA_CLASS, class.as_mut_ptr() as *const c_void, 4),
    ];
    let rv = ck!(C_GetAttributeValue(h, fx.data, t.as_mut_ptr(), 2));
    c.rv(
        "C_GetAttributeValue, both buffers short",
        rv,
        &[CKR_BUFFER_TOO_SMALL],
    );
    c.ok(
        "short attributes get CK_UNAVAILABLE_INFORMATION",
        t.iter().all(|a| a.ulValueLen == CK_UNAVAILABLE_INFORMATION),
    );
    c.ok(
        "nothing written past the short attribute buffers",
        label[10..].iter().all(|b| *b == CANARY) && class[4..].iter().all(|b| *b == CANARY),
    );
    let mut t = [attr_raw(
        CKA_LABEL,
        label.as_mut_ptr() as *const c_void,
        CK_ULONG::MAX,
    )];
    let rv = ck!(C_GetAttributeValue(h, fx.data, t.as_mut_ptr(), 1));
    c.rv(
        "C_GetAttributeValue with a huge claimed length",
        rv,
        &[CKR_OK],
    );
    c.ok("the label's own length comes back", t[0].ulValueLen == 11);
    c.ok(
        "nothing written past the label",
        label[11..].iter().all(|b| *b == CANARY),
    );

    // C_FindObjects with max 0 returns nothing and keeps the search.
    let kind = CKO_DATA;
    let mut q = [attr(CKA_CLASS, &kind)];
    c.rv(
        "C_FindObjectsInit",
        ck!(C_FindObjectsInit(h, q.as_mut_ptr(), 1)),
        &[CKR_OK],
    );
    let mut found = [0; 4];
    n = 99;
    let rv = ck!(C_FindObjects(h, found.as_mut_ptr(), 0, &mut n));
    c.rv("C_FindObjects(max 0)", rv, &[CKR_OK]);
    c.ok("C_FindObjects(max 0) found 0", n == 0);
    let rv = ck!(C_FindObjects(h, found.as_mut_ptr(), 4, &mut n));
    c.rv("C_FindObjects(max 4) after max 0", rv, &[CKR_OK]);
    c.ok("the search still finds the data object", n >= 1);
    c.rv("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h)), &[CKR_OK]);
    close(h);
    c.done();
}

/// Zero-length inputs are valid data; NULL with a huge length is CKR_ARGUMENTS_BAD (it is
/// refused before anything is read).
#[test]
fn zero_and_huge_lengths() {
    let fx = fixture();
    let h = session();
    let mut c = Checks::new("zero_and_huge_lengths");
    let mut out = [0u8; 64];
    let o = out.as_mut_ptr();
    let mut n: CK_ULONG = 64;
    const HUGE: CK_ULONG = CK_ULONG::MAX;
    const HALF: CK_ULONG = CK_ULONG::MAX / 2 + 1;

    // Zero lengths (NULL data with length 0 is "no data").
    c.rv("C_DigestInit", Kind::Digest.init(h), &[CKR_OK]);
    let rv = ck!(C_Digest(h, null_mut(), 0, o, &mut n));
    c.rv("C_Digest of nothing", rv, &[CKR_OK]);
    c.ok(
        "SHA-256 of the empty string",
        hex(&out[..n as usize])
            == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    );
    c.rv("C_DigestInit", Kind::Digest.init(h), &[CKR_OK]);
    c.rv(
        "C_DigestUpdate of nothing",
        ck!(C_DigestUpdate(h, null_mut(), 0)),
        &[CKR_OK],
    );
    n = 64;
    c.rv("C_DigestFinal", ck!(C_DigestFinal(h, o, &mut n)), &[CKR_OK]);
    c.rv("C_SignInit", Kind::Sign.init(h), &[CKR_OK]);
    n = 64;
    c.rv(
        "C_Sign of nothing",
        ck!(C_Sign(h, null_mut(), 0, o, &mut n)),
        &[CKR_OK],
    );
    c.ok("an HMAC-SHA-256 of 32 bytes", n == 32);
    c.rv("C_EncryptInit", Kind::Encrypt.init(h), &[CKR_OK]);
    n = 64;
    let rv = ck!(C_EncryptUpdate(h, null_mut(), 0, o, &mut n));
    c.rv("C_EncryptUpdate of nothing", rv, &[CKR_OK]);
    c.ok("no output from an empty update", n == 0);
    n = 64;
    c.rv(
        "C_EncryptFinal",
        ck!(C_EncryptFinal(h, o, &mut n)),
        &[CKR_OK],
    );
    c.ok("CBC-PAD of nothing is one block", n == 16);
    let iv = [1u8; 12];
    let p = gcm(&iv, &[], 128);
    let mut m = mech_p(CKM_AES_GCM, &p);
    c.rv(
        "C_EncryptInit(GCM)",
        ck!(C_EncryptInit(h, &mut m, fx.aes)),
        &[CKR_OK],
    );
    n = 64;
    let rv = ck!(C_Encrypt(h, null_mut(), 0, o, &mut n));
    c.rv("C_Encrypt(GCM) of nothing", rv, &[CKR_OK]);
    c.ok("GCM of nothing is its tag", n == 16);
    // Raw RSA of no data signs the number 0, which aws-lc will not exponentiate: the data
    // is refused (it was CKR_GENERAL_ERROR, found by the mechanism_abi fuzz target).
    for (what, multi) in [("C_Sign", false), ("C_SignUpdate + C_SignFinal", true)] {
        let mut m = mech(CKM_RSA_X_509);
        c.rv(
            "C_SignInit(RSA-X-509)",
            ck!(C_SignInit(h, &mut m, fx.rsa_private)),
            &[CKR_OK],
        );
        let mut sig = [0u8; 256];
        n = 256;
        let rv = if multi {
            ck!(C_SignUpdate(h, null_mut(), 0));
            ck!(C_SignFinal(h, sig.as_mut_ptr(), &mut n))
        } else {
            ck!(C_Sign(h, null_mut(), 0, sig.as_mut_ptr(), &mut n))
        };
        c.rv(
            format!("{what}(RSA-X-509) of nothing"),
            rv,
            &[CKR_DATA_INVALID, CKR_OK],
        );
        Kind::Sign.cancel(h);
    }
    c.rv(
        "C_GenerateRandom of 0 bytes (NULL)",
        ck!(C_GenerateRandom(h, null_mut(), 0)),
        &[CKR_OK],
    );
    c.rv(
        "C_SeedRandom of 0 bytes",
        ck!(C_SeedRandom(h, null_mut(), 0)),
        &[CKR_OK, CKR_RANDOM_SEED_NOT_SUPPORTED],
    );
    let mut big = vec![0u8; 1 << 20];
    let rv = ck!(C_GenerateRandom(h, big.as_mut_ptr(), big.len() as CK_ULONG));
    c.rv("C_GenerateRandom of 1 MiB", rv, &[CKR_OK]);
    c.ok(
        "1 MiB of random is not all zero",
        big.iter().any(|b| *b != 0),
    );
    c.rv(
        "C_FindObjectsInit with an empty template",
        ck!(C_FindObjectsInit(h, null_mut(), 0)),
        &[CKR_OK],
    );
    c.rv("C_FindObjectsFinal", ck!(C_FindObjectsFinal(h)), &[CKR_OK]);
    let mut copy = 0;
    let rv = ck!(C_CopyObject(h, fx.data, null_mut(), 0, &mut copy));
    c.rv("C_CopyObject with an empty template", rv, &[CKR_OK]);
    c.rv(
        "C_DestroyObject(copy)",
        ck!(C_DestroyObject(h, copy)),
        &[CKR_OK],
    );
    let rv = ck!(C_SetAttributeValue(h, fx.data, null_mut(), 0));
    c.rv("C_SetAttributeValue of nothing", rv, &[CKR_OK]);
    let rv = ck!(C_GetAttributeValue(h, fx.data, null_mut(), 0));
    c.rv("C_GetAttributeValue of nothing", rv, &[CKR_OK]);
    let class = CKO_DATA;
    let rv = ck!(C_CreateObject(h, null_mut(), 0, &mut copy));
    c.rv(
        "C_CreateObject with an empty template",
        rv,
        &[CKR_TEMPLATE_INCOMPLETE],
    );

    // Huge lengths with a NULL pointer: refused before any read.
    let huge_rows = [
        (Kind::Digest, "C_Digest(NULL, huge)", HUGE),
        (Kind::Digest, "C_DigestUpdate(NULL, 2^63)", HALF),
        (Kind::Sign, "C_SignUpdate(NULL, huge)", HUGE),
        (Kind::Encrypt, "C_Encrypt(NULL, huge)", HUGE),
        (
            Kind::Verify,
            "C_Verify(data, NULL signature of huge length)",
            HUGE,
        ),
    ];
    for (kind, what, len) in huge_rows {
        c.rv(format!("{kind:?} init"), kind.init(h), &[CKR_OK]);
        n = 64;
        let rv = match what {
            "C_Digest(NULL, huge)" => ck!(C_Digest(h, null_mut(), len, o, &mut n)),
            "C_DigestUpdate(NULL, 2^63)" => ck!(C_DigestUpdate(h, null_mut(), len)),
            "C_SignUpdate(NULL, huge)" => ck!(C_SignUpdate(h, null_mut(), len)),
            "C_Encrypt(NULL, huge)" => ck!(C_Encrypt(h, null_mut(), len, o, &mut n)),
            _ => ck!(C_Verify(h, o, 8, null_mut(), len)),
        };
        c.rv(what, rv, &[CKR_ARGUMENTS_BAD]);
        kind.cancel(h);
    }
    let mut handle = 0;
    let rows = [
        (
            "C_GenerateRandom(NULL, huge)",
            ck!(C_GenerateRandom(h, null_mut(), HUGE)),
        ),
        (
            "C_SeedRandom(NULL, huge)",
            ck!(C_SeedRandom(h, null_mut(), HUGE)),
        ),
        (
            "C_Login(NULL PIN, huge)",
            ck!(C_Login(h, CKU_USER, null_mut(), HUGE)),
        ),
        (
            "C_CreateObject(NULL template, huge count)",
            ck!(C_CreateObject(h, null_mut(), HUGE, &mut handle)),
        ),
        (
            "C_FindObjectsInit(NULL template, huge count)",
            ck!(C_FindObjectsInit(h, null_mut(), HUGE)),
        ),
        (
            "C_GetAttributeValue(NULL template, huge count)",
            ck!(C_GetAttributeValue(h, fx.data, null_mut(), HUGE)),
        ),
        (
            "C_SetOperationState(NULL, huge)",
            ck!(C_SetOperationState(h, null_mut(), HUGE, 0, 0)),
        ),
        ("C_FindObjects outside a search, NULL, huge max", {
            let mut count = 0;
            ck!(C_FindObjects(h, null_mut(), HUGE, &mut count))
        }),
    ];
    for (what, rv) in rows {
        c.rv(what, rv, &[CKR_ARGUMENTS_BAD]);
    }
    // An attribute whose NULL value claims a huge length.
    let mut t = [
        attr(CKA_CLASS, &class),
        attr_raw(CKA_LABEL, std::ptr::null(), HUGE),
    ];
    let rv = ck!(C_CreateObject(h, t.as_mut_ptr(), 2, &mut handle));
    c.rv(
        "C_CreateObject(label NULL, huge length)",
        rv,
        &[CKR_ARGUMENTS_BAD],
    );
    close(h);
    c.done();
}
