//! Malformed mechanism parameters: NULL pParameter with a length, a parameter where none is
//! taken, wrong ulParameterLen for CK_GCM_PARAMS / CK_RSA_PKCS_PSS_PARAMS /
//! CK_RSA_PKCS_OAEP_PARAMS / CK_AES_CTR_PARAMS / a CBC IV, absurd tag, IV and salt lengths,
//! unknown hashes and MGFs. Each must fail at *Init (CKR_MECHANISM_PARAM_INVALID, or
//! CKR_ARGUMENTS_BAD for NULL with a length) and leave no operation behind.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::null;

use cryptoki_sys::*;

use crate::support::*;

const MPI: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID];
const NULL_WITH_LEN: &[CK_RV] = &[CKR_MECHANISM_PARAM_INVALID, CKR_ARGUMENTS_BAD];

/// Which *Init a row goes through.
#[derive(Clone, Copy, Debug)]
enum Init {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Digest,
}

impl Init {
    fn kind(self) -> Kind {
        match self {
            Init::Encrypt => Kind::Encrypt,
            Init::Decrypt => Kind::Decrypt,
            Init::Sign => Kind::Sign,
            Init::Verify => Kind::Verify,
            Init::Digest => Kind::Digest,
        }
    }

    fn call(self, h: CK_SESSION_HANDLE, m: &mut CK_MECHANISM, key: CK_OBJECT_HANDLE) -> CK_RV {
        match self {
            Init::Encrypt => ck!(C_EncryptInit(h, m, key)),
            Init::Decrypt => ck!(C_DecryptInit(h, m, key)),
            Init::Sign => ck!(C_SignInit(h, m, key)),
            Init::Verify => ck!(C_VerifyInit(h, m, key)),
            Init::Digest => ck!(C_DigestInit(h, m)),
        }
    }
}

/// Bytes a parameter pointer may point at, longer than any claimed length below.
static ZEROS: [u8; 256] = [0; 256];

fn raw(ty: CK_MECHANISM_TYPE, len: usize) -> CK_MECHANISM {
    mech_raw(ty, ZEROS.as_ptr() as *const c_void, len as CK_ULONG)
}

#[test]
fn malformed_mechanism_parameters() {
    let fx = fixture();
    let h = session();
    let mut c = Checks::new("malformed_mechanism_parameters");
    let iv12 = [0u8; 12];
    let aad = [0u8; 8];
    let gcm_size = size_of::<CK_GCM_PARAMS>();
    let pss_size = size_of::<CK_RSA_PKCS_PSS_PARAMS>();
    let oaep_size = size_of::<CK_RSA_PKCS_OAEP_PARAMS>();
    let ctr_size = size_of::<CK_AES_CTR_PARAMS>();

    let gcm_with = |f: &dyn Fn(&mut CK_GCM_PARAMS)| {
        let mut p = gcm(&iv12, &aad, 128);
        f(&mut p);
        p
    };
    let gcm_rows: Vec<(String, CK_GCM_PARAMS)> = vec![
        ("tag of 0 bits".into(), gcm_with(&|p| p.ulTagBits = 0)),
        ("tag of 7 bits".into(), gcm_with(&|p| p.ulTagBits = 7)),
        ("tag of 129 bits".into(), gcm_with(&|p| p.ulTagBits = 129)),
        ("tag of 136 bits".into(), gcm_with(&|p| p.ulTagBits = 136)),
        (
            "tag of 2^64-1 bits".into(),
            gcm_with(&|p| p.ulTagBits = CK_ULONG::MAX),
        ),
        (
            "IV of 0 bytes".into(),
            gcm_with(&|p| {
                p.ulIvLen = 0;
                p.ulIvBits = 0;
            }),
        ),
        (
            "IV NULL with 12 bytes".into(),
            gcm_with(&|p| p.pIv = std::ptr::null_mut()),
        ),
        (
            "IV NULL with a huge length".into(),
            gcm_with(&|p| {
                p.pIv = std::ptr::null_mut();
                p.ulIvLen = CK_ULONG::MAX;
                p.ulIvBits = CK_ULONG::MAX;
            }),
        ),
        (
            "AAD NULL with 8 bytes".into(),
            gcm_with(&|p| p.pAAD = std::ptr::null_mut()),
        ),
        (
            "AAD NULL with a huge length".into(),
            gcm_with(&|p| {
                p.pAAD = std::ptr::null_mut();
                p.ulAADLen = CK_ULONG::MAX;
            }),
        ),
    ];
    for init in [Init::Encrypt, Init::Decrypt] {
        for (what, p) in &gcm_rows {
            let mut m = mech_p(CKM_AES_GCM, p);
            let rv = init.call(h, &mut m, fx.aes);
            c.rv(format!("{init:?}Init AES-GCM: {what}"), rv, NULL_WITH_LEN);
        }
        let lengths = [0, 1, gcm_size - 1, gcm_size + 1, 2 * gcm_size];
        for len in lengths {
            let mut m = raw(CKM_AES_GCM, len);
            let rv = init.call(h, &mut m, fx.aes);
            c.rv(
                format!("{init:?}Init AES-GCM: ulParameterLen {len}"),
                rv,
                MPI,
            );
        }
        let mut m = mech_raw(CKM_AES_GCM, null(), gcm_size as CK_ULONG);
        let rv = init.call(h, &mut m, fx.aes);
        c.rv(
            format!("{init:?}Init AES-GCM: pParameter NULL, full length"),
            rv,
            NULL_WITH_LEN,
        );
        let mut m = mech(CKM_AES_GCM);
        let rv = init.call(h, &mut m, fx.aes);
        c.rv(format!("{init:?}Init AES-GCM: no parameter"), rv, MPI);

        // CBC: the IV is exactly one block.
        for len in [0, 1, 15, 17, 32] {
            let mut m = raw(CKM_AES_CBC_PAD, len);
            let rv = init.call(h, &mut m, fx.aes);
            c.rv(
                format!("{init:?}Init AES-CBC-PAD: IV of {len} bytes"),
                rv,
                MPI,
            );
        }
        let mut m = mech_raw(CKM_AES_CBC_PAD, null(), 16);
        let rv = init.call(h, &mut m, fx.aes);
        c.rv(
            format!("{init:?}Init AES-CBC-PAD: IV NULL with 16 bytes"),
            rv,
            NULL_WITH_LEN,
        );
        let mut m = mech(CKM_AES_CBC_PAD);
        let rv = init.call(h, &mut m, fx.aes);
        c.rv(format!("{init:?}Init AES-CBC-PAD: no IV"), rv, MPI);

        // CTR: the struct's size, counter widths 0 and > 128.
        for len in [0, ctr_size - 1, ctr_size + 1] {
            let mut m = raw(CKM_AES_CTR, len);
            let rv = init.call(h, &mut m, fx.aes);
            c.rv(
                format!("{init:?}Init AES-CTR: ulParameterLen {len}"),
                rv,
                MPI,
            );
        }
        for bits in [0, 129, CK_ULONG::MAX] {
            let p = CK_AES_CTR_PARAMS {
                ulCounterBits: bits,
                cb: [0; 16],
            };
            let mut m = mech_p(CKM_AES_CTR, &p);
            let rv = init.call(h, &mut m, fx.aes);
            c.rv(
                format!("{init:?}Init AES-CTR: counter of {bits} bits"),
                rv,
                MPI,
            );
        }
        // ECB takes no parameter.
        let mut m = raw(CKM_AES_ECB, 16);
        let rv = init.call(h, &mut m, fx.aes);
        c.rv(format!("{init:?}Init AES-ECB with a parameter"), rv, MPI);
    }

    // RSA-PSS on both the raw and the hashing mechanism.
    let pss = |hash, mgf, salt| CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: hash,
        mgf,
        sLen: salt,
    };
    let pss_rows = [
        ("unknown hash", pss(0x7fff_0000, CKG_MGF1_SHA256, 32)),
        (
            "a hash that is no hash (CKM_AES_ECB)",
            pss(CKM_AES_ECB, CKG_MGF1_SHA256, 32),
        ),
        ("unknown MGF", pss(CKM_SHA256, 0x7fff_0000, 32)),
        ("MGF 0", pss(CKM_SHA256, 0, 32)),
        (
            "salt of 2^64-1 bytes",
            pss(CKM_SHA256, CKG_MGF1_SHA256, CK_ULONG::MAX),
        ),
        // A 2048-bit key holds at most 256 - 32 - 2 = 222 salt bytes with SHA-256.
        ("salt of 223 bytes", pss(CKM_SHA256, CKG_MGF1_SHA256, 223)),
    ];
    for (ty, name) in [
        (CKM_RSA_PKCS_PSS, "RSA-PKCS-PSS"),
        (CKM_SHA256_RSA_PKCS_PSS, "SHA256-RSA-PKCS-PSS"),
    ] {
        for (init, key) in [(Init::Sign, fx.rsa_private), (Init::Verify, fx.rsa_public)] {
            for (what, p) in &pss_rows {
                let mut m = mech_p(ty, p);
                let rv = init.call(h, &mut m, key);
                c.rv(format!("{init:?}Init {name}: {what}"), rv, MPI);
                init.kind().cancel(h);
            }
            for len in [0, 1, pss_size - 1, pss_size + 1] {
                let mut m = raw(ty, len);
                let rv = init.call(h, &mut m, key);
                c.rv(
                    format!("{init:?}Init {name}: ulParameterLen {len}"),
                    rv,
                    MPI,
                );
            }
            let mut m = mech_raw(ty, null(), pss_size as CK_ULONG);
            let rv = init.call(h, &mut m, key);
            c.rv(
                format!("{init:?}Init {name}: pParameter NULL, full length"),
                rv,
                NULL_WITH_LEN,
            );
            let mut m = mech(ty);
            let rv = init.call(h, &mut m, key);
            c.rv(format!("{init:?}Init {name}: no parameter"), rv, MPI);
        }
    }
    // A hashing PSS mechanism whose parameter names another hash (§2.1.14 of the mechanisms
    // document: hashAlg must be the mechanism's hash).
    let sha384 = pss(CKM_SHA384, CKG_MGF1_SHA384, 48);
    let mut m = mech_p(CKM_SHA256_RSA_PKCS_PSS, &sha384);
    let rv = Init::Sign.call(h, &mut m, fx.rsa_private);
    c.rv("SignInit SHA256-RSA-PKCS-PSS with hashAlg SHA-384", rv, MPI);
    Kind::Sign.cancel(h);

    // RSA-OAEP.
    let label = [0u8; 8];
    let oaep = |hash, mgf, source, p: *const u8, len| CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash,
        mgf,
        source,
        pSourceData: p as *mut c_void,
        ulSourceDataLen: len,
    };
    let lp = label.as_ptr();
    let oaep_rows = [
        (
            "unknown hash",
            oaep(0x7fff_0000, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, lp, 8),
            MPI,
        ),
        (
            "unknown MGF",
            oaep(CKM_SHA256, 0x7fff_0000, CKZ_DATA_SPECIFIED, lp, 8),
            MPI,
        ),
        (
            "unknown source",
            oaep(CKM_SHA256, CKG_MGF1_SHA256, 0x7f, lp, 8),
            MPI,
        ),
        (
            "label NULL with 8 bytes",
            oaep(CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, null(), 8),
            NULL_WITH_LEN,
        ),
        (
            "label NULL with a huge length",
            oaep(
                CKM_SHA256,
                CKG_MGF1_SHA256,
                CKZ_DATA_SPECIFIED,
                null(),
                CK_ULONG::MAX,
            ),
            NULL_WITH_LEN,
        ),
    ];
    for (init, key) in [
        (Init::Encrypt, fx.rsa_public),
        (Init::Decrypt, fx.rsa_private),
    ] {
        for (what, p, allowed) in &oaep_rows {
            let mut m = mech_p(CKM_RSA_PKCS_OAEP, p);
            let rv = init.call(h, &mut m, key);
            c.rv(format!("{init:?}Init RSA-OAEP: {what}"), rv, allowed);
            init.kind().cancel(h);
        }
        for len in [0, 1, oaep_size - 1, oaep_size + 1] {
            let mut m = raw(CKM_RSA_PKCS_OAEP, len);
            let rv = init.call(h, &mut m, key);
            c.rv(
                format!("{init:?}Init RSA-OAEP: ulParameterLen {len}"),
                rv,
                MPI,
            );
        }
        let mut m = mech_raw(CKM_RSA_PKCS_OAEP, null(), oaep_size as CK_ULONG);
        let rv = init.call(h, &mut m, key);
        c.rv(
            format!("{init:?}Init RSA-OAEP: pParameter NULL, full length"),
            rv,
            NULL_WITH_LEN,
        );
        let mut m = mech(CKM_RSA_PKCS_OAEP);
        let rv = init.call(h, &mut m, key);
        c.rv(format!("{init:?}Init RSA-OAEP: no parameter"), rv, MPI);
    }

    // Mechanisms that take no parameter, given one; HMAC-GENERAL lengths.
    // The CK_MAC_GENERAL_PARAMS values live as long as the rows that point at them.
    let (zero, over, huge): (CK_ULONG, CK_ULONG, CK_ULONG) = (0, 33, CK_ULONG::MAX);
    let rows: [(Init, &str, CK_MECHANISM, CK_OBJECT_HANDLE, &[CK_RV]); 9] = [
        (
            Init::Sign,
            "HMAC-SHA256 with 4 bytes",
            raw(CKM_SHA256_HMAC, 4),
            fx.hmac,
            MPI,
        ),
        (
            Init::Verify,
            "HMAC-SHA256 with 4 bytes",
            raw(CKM_SHA256_HMAC, 4),
            fx.hmac,
            MPI,
        ),
        (
            Init::Sign,
            "ECDSA-SHA256 with 8 bytes",
            raw(CKM_ECDSA_SHA256, 8),
            fx.ec_private,
            MPI,
        ),
        (
            Init::Digest,
            "SHA-256 with 8 bytes",
            raw(CKM_SHA256, 8),
            0,
            MPI,
        ),
        (
            Init::Digest,
            "SHA-256 with NULL of 8 bytes",
            mech_raw(CKM_SHA256, null(), 8),
            0,
            NULL_WITH_LEN,
        ),
        (
            Init::Sign,
            "HMAC-SHA256-GENERAL of 0 bytes",
            mech_p(CKM_SHA256_HMAC_GENERAL, &zero),
            fx.hmac,
            MPI,
        ),
        (
            Init::Sign,
            "HMAC-SHA256-GENERAL of 33 bytes",
            mech_p(CKM_SHA256_HMAC_GENERAL, &over),
            fx.hmac,
            MPI,
        ),
        (
            Init::Sign,
            "HMAC-SHA256-GENERAL of 2^64-1 bytes",
            mech_p(CKM_SHA256_HMAC_GENERAL, &huge),
            fx.hmac,
            MPI,
        ),
        (
            Init::Sign,
            "HMAC-SHA256-GENERAL with a 4-byte parameter",
            raw(CKM_SHA256_HMAC_GENERAL, 4),
            fx.hmac,
            MPI,
        ),
    ];
    for (init, what, mut m, key, allowed) in rows {
        let rv = init.call(h, &mut m, key);
        c.rv(format!("{init:?}Init {what}"), rv, allowed);
        init.kind().cancel(h);
    }

    // Message-based GCM with a bad per-message parameter: the message fails, the operation
    // goes on.
    let mut m = mech(CKM_AES_GCM);
    c.rv(
        "C_MessageEncryptInit(AES-GCM)",
        ck!(C_MessageEncryptInit(h, &mut m, fx.aes)),
        &[CKR_OK],
    );
    let mut iv = [0u8; 12];
    let mut tag = [0u8; 32];
    let data = [0u8; 16];
    let mut out = [0u8; 64];
    let size = size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG;
    for (what, tag_bits, iv_len, len) in [
        ("tag of 0 bits", 0, 12, size),
        ("tag of 129 bits", 129, 12, size),
        ("tag of 256 bits", 256, 12, size),
        ("IV of 0 bytes", 128, 0, size),
        ("ulParameterLen one short", 128, 12, size - 1),
        ("ulParameterLen 0", 128, 12, 0),
    ] {
        let mut p = CK_GCM_MESSAGE_PARAMS {
            pIv: iv.as_mut_ptr(),
            ulIvLen: iv_len,
            ulIvFixedBits: 0,
            ivGenerator: CKG_NO_GENERATE,
            pTag: tag.as_mut_ptr(),
            ulTagBits: tag_bits,
        };
        let mut n: CK_ULONG = 64;
        let rv = ck!(C_EncryptMessage(
            h,
            &mut p as *mut CK_GCM_MESSAGE_PARAMS as *mut c_void,
            len,
            std::ptr::null_mut(),
            0,
            data.as_ptr() as *mut u8,
            16,
            out.as_mut_ptr(),
            &mut n
        ));
        c.rv(format!("C_EncryptMessage: {what}"), rv, MPI);
    }
    c.rv(
        "C_MessageEncryptFinal",
        ck!(C_MessageEncryptFinal(h)),
        &[CKR_OK],
    );

    for kind in KINDS {
        c.ok(
            format!("no {kind:?} operation left by a malformed parameter"),
            !kind.active(h),
        );
    }
    // And a good parameter still works afterwards.
    let good = gcm(&iv12, &aad, 128);
    let mut m = mech_p(CKM_AES_GCM, &good);
    c.rv(
        "EncryptInit AES-GCM, good parameter",
        ck!(C_EncryptInit(h, &mut m, fx.aes)),
        &[CKR_OK],
    );
    Kind::Encrypt.cancel(h);
    close(h);
    c.done();
}

/// CK_PKCS5_PBKD2_PARAMS2 and the 2.40 CK_PKCS5_PBKD2_PARAMS have one size; the last field is
/// a length in one and a pointer to the length in the other. A 3.0 length too long to take
/// must be refused, never followed as a pointer (it was, and crashed the caller's process).
#[test]
fn pbkdf2_password_length_is_never_taken_for_a_pointer() {
    let h = session();
    let mut c = Checks::new("pbkdf2_password_length_is_never_taken_for_a_pointer");
    let salt = [7u8; 16];
    let password = vec![b'p'; 70_000];
    let (class, kt, len) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET, 32 as CK_ULONG);
    let mut t = [
        attr(CKA_CLASS, &class),
        attr(CKA_KEY_TYPE, &kt),
        attr(CKA_VALUE_LEN, &len),
        attr(CKA_TOKEN, &FALSE),
    ];
    let params = |password_len: CK_ULONG| CK_PKCS5_PBKD2_PARAMS2 {
        saltSource: CKZ_SALT_SPECIFIED,
        pSaltSourceData: salt.as_ptr() as *mut c_void,
        ulSaltSourceDataLen: salt.len() as CK_ULONG,
        iterations: 2,
        prf: CKP_PKCS5_PBKD2_HMAC_SHA256,
        pPrfData: std::ptr::null_mut(),
        ulPrfDataLen: 0,
        pPassword: password.as_ptr() as *mut u8,
        ulPasswordLen: password_len,
    };
    for password_len in [4097, 5000, 0xffff, 0x1_0001] {
        let p = params(password_len);
        let mut m = mech_p(CKM_PKCS5_PBKD2, &p);
        let mut key = 0;
        let rv = ck!(C_GenerateKey(h, &mut m, t.as_mut_ptr(), 4, &mut key));
        c.rv(
            format!("C_GenerateKey(PBKDF2) with a {password_len}-byte 3.0 password"),
            rv,
            MPI,
        );
    }
    // The 2.40 layout still works: the field points to the length.
    let short_len: CK_ULONG = 12;
    let p = params(&short_len as *const CK_ULONG as CK_ULONG);
    let mut m = mech_p(CKM_PKCS5_PBKD2, &p);
    let mut key = 0;
    let rv = ck!(C_GenerateKey(h, &mut m, t.as_mut_ptr(), 4, &mut key));
    c.rv("C_GenerateKey(PBKDF2), 2.40 layout", rv, &[CKR_OK]);
    // And a 3.0 length that is one.
    let p = params(12);
    let mut m = mech_p(CKM_PKCS5_PBKD2, &p);
    let mut same = 0;
    let rv = ck!(C_GenerateKey(h, &mut m, t.as_mut_ptr(), 4, &mut same));
    c.rv("C_GenerateKey(PBKDF2), 3.0 layout", rv, &[CKR_OK]);
    close(h);
    c.done();
}
