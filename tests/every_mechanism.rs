//! Every mechanism C_GetMechanismList reports is exercised here through the C ABI, in the
//! way its CK_MECHANISM_INFO flags promise (sign and verify, encrypt and decrypt, wrap and
//! unwrap, digest, derive, generate). A mechanism the module lists without an exercise below
//! fails the test, so the list cannot grow untested. Correctness against published vectors
//! is the job of the other suites; this one proves each advertised mechanism works.
mod common;

use cryptoki::session::Session;
use cryptoki_sys::*;

use common::{raw, user_session};

type OneShot =
    unsafe extern "C" fn(CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV;
type Init = unsafe extern "C" fn(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE) -> CK_RV;

fn bytes_of<T>(v: &T) -> Vec<u8> {
    // SAFETY: a plain C struct viewed as its bytes (its pointers are copied, not followed).
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
        .to_vec()
}

/// A mechanism and the parameter bytes it points to.
struct Mech {
    ty: CK_MECHANISM_TYPE,
    param: Vec<u8>,
}

impl Mech {
    fn raw(&mut self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: if self.param.is_empty() {
                std::ptr::null_mut()
            } else {
                self.param.as_mut_ptr().cast()
            },
            ulParameterLen: self.param.len() as CK_ULONG,
        }
    }
}

fn ok(rv: CK_RV, what: &str, ty: CK_MECHANISM_TYPE) {
    assert_eq!(rv, CKR_OK, "{what} with mechanism 0x{ty:x}");
}

fn init(f: Init, s: &Session, m: &mut Mech, key: CK_OBJECT_HANDLE, what: &str) {
    let mut raw_m = m.raw();
    // SAFETY: a live mechanism and a valid session.
    ok(unsafe { f(s.handle(), &mut raw_m, key) }, what, m.ty);
}

fn run(f: OneShot, s: &Session, data: &[u8], what: &str, ty: CK_MECHANISM_TYPE) -> Vec<u8> {
    let mut input = data.to_vec();
    let mut out = vec![0u8; 4096];
    let mut len = out.len() as CK_ULONG;
    // SAFETY: live buffers of the stated lengths.
    let rv = unsafe {
        f(
            s.handle(),
            input.as_mut_ptr(),
            input.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut len,
        )
    };
    ok(rv, what, ty);
    out.truncate(len as usize);
    out
}

/// The keys every exercise draws from, made with the generation mechanisms.
struct Keys {
    rsa: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    ec: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    ec_point: Vec<u8>,
    ed: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    x: (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE),
    x_point: Vec<u8>,
    aes: CK_OBJECT_HANDLE,
    secret: CK_OBJECT_HANDLE,
}

fn attr_bool(ty: CK_ATTRIBUTE_TYPE, v: &mut [u8; 1]) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v.as_mut_ptr().cast(),
        ulValueLen: 1,
    }
}

fn attr_bytes(ty: CK_ATTRIBUTE_TYPE, v: &mut Vec<u8>) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v.as_mut_ptr().cast(),
        ulValueLen: v.len() as CK_ULONG,
    }
}

/// The usage flags of a public key, and of a private key, all set.
const PUBLIC_USAGES: [CK_ATTRIBUTE_TYPE; 4] = [CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP, CKA_DERIVE];
const PRIVATE_USAGES: [CK_ATTRIBUTE_TYPE; 5] = [
    CKA_SIGN,
    CKA_DECRYPT,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_EXTRACTABLE,
];

/// Every usage flag of a secret key set, so one key serves every exercise of its type.
const USAGES: [CK_ATTRIBUTE_TYPE; 8] = [
    CKA_SIGN,
    CKA_VERIFY,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_EXTRACTABLE,
];

/// C_GenerateKeyPair with `public` extra attributes; every usage on both halves.
fn pair(
    s: &Session,
    ty: CK_MECHANISM_TYPE,
    mut public: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut yes = [[1u8]; 8];
    let mut pub_t: Vec<CK_ATTRIBUTE> = public.iter_mut().map(|(t, v)| attr_bytes(*t, v)).collect();
    let mut yes2 = [[1u8]; 8];
    let mut priv_t: Vec<CK_ATTRIBUTE> = PRIVATE_USAGES
        .iter()
        .zip(yes2.iter_mut())
        .map(|(t, v)| attr_bool(*t, v))
        .collect();
    pub_t.extend(
        PUBLIC_USAGES
            .iter()
            .zip(yes.iter_mut())
            .map(|(t, v)| attr_bool(*t, v)),
    );
    let mut m = Mech {
        ty,
        param: Vec::new(),
    };
    let mut raw_m = m.raw();
    let (mut public_h, mut private_h) = (0, 0);
    // SAFETY: live templates and out-handles.
    let rv = unsafe {
        raw().C_GenerateKeyPair.unwrap()(
            s.handle(),
            &mut raw_m,
            pub_t.as_mut_ptr(),
            pub_t.len() as CK_ULONG,
            priv_t.as_mut_ptr(),
            priv_t.len() as CK_ULONG,
            &mut public_h,
            &mut private_h,
        )
    };
    ok(rv, "C_GenerateKeyPair", ty);
    (public_h, private_h)
}

fn secret_key(s: &Session, mut m: Mech, len: CK_ULONG) -> CK_OBJECT_HANDLE {
    let ty = m.ty;
    let mut yes = [[1u8]; 8];
    let mut len = len.to_ne_bytes().to_vec();
    let mut t: Vec<CK_ATTRIBUTE> = USAGES
        .iter()
        .zip(yes.iter_mut())
        .map(|(a, v)| attr_bool(*a, v))
        .collect();
    let mut no = [0u8];
    t.push(attr_bool(CKA_SENSITIVE, &mut no));
    t.push(attr_bytes(CKA_VALUE_LEN, &mut len));
    let mut raw_m = m.raw();
    let mut h = 0;
    // SAFETY: a live template and out-handle.
    ok(
        unsafe {
            raw().C_GenerateKey.unwrap()(
                s.handle(),
                &mut raw_m,
                t.as_mut_ptr(),
                t.len() as CK_ULONG,
                &mut h,
            )
        },
        "C_GenerateKey",
        ty,
    );
    h
}

fn point(s: &Session, public: CK_OBJECT_HANDLE) -> Vec<u8> {
    let mut buf = vec![0u8; 200];
    let mut a = attr_bytes(CKA_EC_POINT, &mut buf);
    // SAFETY: one live attribute with a 200-byte buffer.
    ok(
        unsafe { raw().C_GetAttributeValue.unwrap()(s.handle(), public, &mut a, 1) },
        "CKA_EC_POINT",
        0,
    );
    buf.truncate(a.ulValueLen as usize);
    buf[2..].to_vec() // strip the DER OCTET STRING header (short form for these sizes)
}

fn make_keys(s: &Session) -> Keys {
    let p256 = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let rsa = pair(
        s,
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        vec![(CKA_MODULUS_BITS, 2048u64.to_ne_bytes().to_vec())],
    );
    let ec = pair(s, CKM_EC_KEY_PAIR_GEN, vec![(CKA_EC_PARAMS, p256)]);
    let ed = pair(
        s,
        CKM_EC_EDWARDS_KEY_PAIR_GEN,
        vec![(CKA_EC_PARAMS, vec![0x06, 0x03, 0x2b, 0x65, 0x70])],
    );
    let x = pair(
        s,
        CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        vec![(CKA_EC_PARAMS, vec![0x06, 0x03, 0x2b, 0x65, 0x6e])],
    );
    Keys {
        ec_point: point(s, ec.0),
        x_point: point(s, x.0),
        rsa,
        ec,
        ed,
        x,
        aes: secret_key(
            s,
            Mech {
                ty: CKM_AES_KEY_GEN,
                param: vec![],
            },
            32,
        ),
        secret: secret_key(
            s,
            Mech {
                ty: CKM_GENERIC_SECRET_KEY_GEN,
                param: vec![],
            },
            32,
        ),
    }
}

/// What to do with one mechanism.
enum Exercise {
    /// Used to make the keys above.
    Generation,
    /// C_GenerateKey of a generic secret of this length with the mechanism's parameter.
    Generate(CK_ULONG),
    Digest(usize),
    /// Sign with `.0`, verify with `.1`, on `data`.
    Sign(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, Vec<u8>),
    /// Encrypt with `.0`, decrypt with `.1`: the round trip gives `data` back.
    Crypt(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE, Vec<u8>),
    /// Rotate the key (Keyward's CKM_KW_ROTATE): C_GenerateKey makes its next version.
    Rotate(CK_OBJECT_HANDLE),
    /// Derive a data object (CKM_HKDF_DATA) of the given length from the base key.
    DeriveData(CK_OBJECT_HANDLE, CK_ULONG),
    /// Derive a generic secret of the given length from the base key.
    Derive(CK_OBJECT_HANDLE, Option<CK_ULONG>),
}

fn hash_len(ty: CK_MECHANISM_TYPE) -> usize {
    match ty {
        CKM_SHA_1 => 20,
        CKM_SHA224 | CKM_SHA512_224 | CKM_SHA3_224 => 28,
        CKM_SHA256 | CKM_SHA512_256 | CKM_SHA3_256 => 32,
        CKM_SHA384 | CKM_SHA3_384 => 48,
        _ => 64,
    }
}

/// CK_HKDF_PARAMS: extract and expand with SHA-256, no salt, `info`.
fn hkdf_params(info: &'static [u8]) -> Vec<u8> {
    bytes_of(&CK_HKDF_PARAMS {
        bExtract: 1,
        bExpand: 1,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_NULL,
        pSalt: std::ptr::null_mut(),
        ulSaltLen: 0,
        hSaltKey: 0,
        pInfo: info.as_ptr() as *mut u8,
        ulInfoLen: info.len() as CK_ULONG,
    })
}

/// CK_SP800_108_KDF_PARAMS: HMAC-SHA-256, a 32-bit big-endian counter, then a label. The
/// memory it points to is leaked: it must outlive every call of the test.
fn kbkdf_params() -> Vec<u8> {
    let counter = Box::leak(Box::new(CK_SP800_108_COUNTER_FORMAT {
        bLittleEndian: 0,
        ulWidthInBits: 32,
    }));
    let label: &'static mut [u8] = Box::leak(b"keyward kbkdf".to_vec().into_boxed_slice());
    let data = Box::leak(Box::new([
        CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_ITERATION_VARIABLE,
            pValue: (counter as *mut CK_SP800_108_COUNTER_FORMAT).cast(),
            ulValueLen: std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>() as CK_ULONG,
        },
        CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_BYTE_ARRAY,
            pValue: label.as_mut_ptr().cast(),
            ulValueLen: label.len() as CK_ULONG,
        },
    ]));
    bytes_of(&CK_SP800_108_KDF_PARAMS {
        prfType: CKM_SHA256_HMAC,
        ulNumberOfDataParams: 2,
        pDataParams: data.as_mut_ptr(),
        ulAdditionalDerivedKeys: 0,
        pAdditionalDerivedKeys: std::ptr::null_mut(),
    })
}

/// Keyward's vendor rotation mechanism (include/keyward.h).
const CKM_KW_ROTATE: CK_MECHANISM_TYPE = CKM_VENDOR_DEFINED | 0x4B57_0000 | 0x01;
const CKM_KW_VERSIONED_AES_GCM: CK_MECHANISM_TYPE = CKM_VENDOR_DEFINED | 0x4B57_0000 | 0x02;

/// The parameter and the exercise for `ty`; None if the test does not know it.
fn plan(ty: CK_MECHANISM_TYPE, k: &Keys) -> Option<(Vec<u8>, Exercise)> {
    use Exercise::*;
    let pss = |hash, mgf, salt: CK_ULONG| {
        bytes_of(&CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: hash,
            mgf,
            sLen: salt,
        })
    };
    let general = (10 as CK_ULONG).to_ne_bytes().to_vec();
    let msg = b"every mechanism, exercised".to_vec();
    let (rsa, ec, aes, sec) = (k.rsa, k.ec, k.aes, k.secret);
    Some(match ty {
        CKM_RSA_PKCS_KEY_PAIR_GEN
        | CKM_EC_KEY_PAIR_GEN
        | CKM_EC_EDWARDS_KEY_PAIR_GEN
        | CKM_EC_MONTGOMERY_KEY_PAIR_GEN
        | CKM_AES_KEY_GEN
        | CKM_GENERIC_SECRET_KEY_GEN => (vec![], Generation),
        CKM_SHA_1 | CKM_SHA224 | CKM_SHA256 | CKM_SHA384 | CKM_SHA512 | CKM_SHA512_224
        | CKM_SHA512_256 | CKM_SHA3_224 | CKM_SHA3_256 | CKM_SHA3_384 | CKM_SHA3_512 => {
            (vec![], Digest(hash_len(ty)))
        }
        CKM_RSA_PKCS => (vec![], Crypt(rsa.0, rsa.1, msg)),
        CKM_RSA_X_509 => (
            vec![],
            Crypt(rsa.0, rsa.1, [vec![0u8], vec![7u8; 255]].concat()),
        ),
        CKM_RSA_PKCS_OAEP => {
            let p = CK_RSA_PKCS_OAEP_PARAMS {
                hashAlg: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
                source: CKZ_DATA_SPECIFIED,
                pSourceData: std::ptr::null_mut(),
                ulSourceDataLen: 0,
            };
            (bytes_of(&p), Crypt(rsa.0, rsa.1, msg))
        }
        CKM_RSA_PKCS_PSS => (
            pss(CKM_SHA256, CKG_MGF1_SHA256, 32),
            Sign(rsa.1, rsa.0, vec![5; 32]),
        ),
        CKM_SHA1_RSA_PKCS_PSS => (pss(CKM_SHA_1, CKG_MGF1_SHA1, 20), Sign(rsa.1, rsa.0, msg)),
        CKM_SHA224_RSA_PKCS_PSS => (
            pss(CKM_SHA224, CKG_MGF1_SHA224, 28),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA256_RSA_PKCS_PSS => (
            pss(CKM_SHA256, CKG_MGF1_SHA256, 32),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA384_RSA_PKCS_PSS => (
            pss(CKM_SHA384, CKG_MGF1_SHA384, 48),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA512_RSA_PKCS_PSS => (
            pss(CKM_SHA512, CKG_MGF1_SHA512, 64),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA3_224_RSA_PKCS_PSS => (
            pss(CKM_SHA3_224, CKG_MGF1_SHA3_224, 28),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA3_256_RSA_PKCS_PSS => (
            pss(CKM_SHA3_256, CKG_MGF1_SHA3_256, 32),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA3_384_RSA_PKCS_PSS => (
            pss(CKM_SHA3_384, CKG_MGF1_SHA3_384, 48),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA3_512_RSA_PKCS_PSS => (
            pss(CKM_SHA3_512, CKG_MGF1_SHA3_512, 64),
            Sign(rsa.1, rsa.0, msg),
        ),
        CKM_SHA1_RSA_PKCS
        | CKM_SHA224_RSA_PKCS
        | CKM_SHA256_RSA_PKCS
        | CKM_SHA384_RSA_PKCS
        | CKM_SHA512_RSA_PKCS
        | CKM_SHA3_224_RSA_PKCS
        | CKM_SHA3_256_RSA_PKCS
        | CKM_SHA3_384_RSA_PKCS
        | CKM_SHA3_512_RSA_PKCS => (vec![], Sign(rsa.1, rsa.0, msg)),
        CKM_ECDSA => (vec![], Sign(ec.1, ec.0, vec![9; 32])),
        CKM_ECDSA_SHA1 | CKM_ECDSA_SHA224 | CKM_ECDSA_SHA256 | CKM_ECDSA_SHA384
        | CKM_ECDSA_SHA512 | CKM_ECDSA_SHA3_224 | CKM_ECDSA_SHA3_256 | CKM_ECDSA_SHA3_384
        | CKM_ECDSA_SHA3_512 => (vec![], Sign(ec.1, ec.0, msg)),
        CKM_EDDSA => (vec![], Sign(k.ed.1, k.ed.0, msg)),
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
            let p = CK_ECDH1_DERIVE_PARAMS {
                kdf: CKD_SHA256_KDF,
                ulSharedDataLen: 0,
                pSharedData: std::ptr::null_mut(),
                ulPublicDataLen: k.ec_point.len() as CK_ULONG,
                pPublicData: k.ec_point.as_ptr() as *mut u8,
            };
            (bytes_of(&p), Derive(ec.1, Some(32)))
        }
        CKM_AES_ECB | CKM_AES_KEY_WRAP => (vec![], Crypt(aes, aes, vec![3; 32])),
        CKM_AES_KEY_WRAP_PAD | CKM_AES_KEY_WRAP_KWP => (vec![], Crypt(aes, aes, vec![3; 21])),
        CKM_AES_CBC => (vec![1; 16], Crypt(aes, aes, vec![3; 48])),
        CKM_AES_CBC_PAD => (vec![1; 16], Crypt(aes, aes, msg)),
        CKM_AES_CTR => (
            bytes_of(&CK_AES_CTR_PARAMS {
                ulCounterBits: 128,
                cb: [2; 16],
            }),
            Crypt(aes, aes, msg),
        ),
        CKM_AES_GCM => {
            static IV: [u8; 12] = [4; 12];
            let p = CK_GCM_PARAMS {
                pIv: IV.as_ptr() as *mut u8,
                ulIvLen: 12,
                ulIvBits: 96,
                pAAD: std::ptr::null_mut(),
                ulAADLen: 0,
                ulTagBits: 128,
            };
            (bytes_of(&p), Crypt(aes, aes, msg))
        }
        CKM_AES_ECB_ENCRYPT_DATA => {
            static DATA: [u8; 32] = [6; 32];
            let p = CK_KEY_DERIVATION_STRING_DATA {
                pData: DATA.as_ptr() as *mut u8,
                ulLen: 32,
            };
            (bytes_of(&p), Derive(aes, Some(32)))
        }
        CKM_AES_CBC_ENCRYPT_DATA => {
            static DATA: [u8; 32] = [6; 32];
            let p = CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                iv: [1; 16],
                pData: DATA.as_ptr() as *mut u8,
                length: 32,
            };
            (bytes_of(&p), Derive(aes, Some(32)))
        }
        CKM_AES_CMAC => (vec![], Sign(aes, aes, msg)),
        CKM_AES_CMAC_GENERAL => (general, Sign(aes, aes, msg)),
        CKM_SHA_1_HMAC | CKM_SHA224_HMAC | CKM_SHA256_HMAC | CKM_SHA384_HMAC | CKM_SHA512_HMAC
        | CKM_SHA512_224_HMAC | CKM_SHA512_256_HMAC | CKM_SHA3_224_HMAC | CKM_SHA3_256_HMAC
        | CKM_SHA3_384_HMAC | CKM_SHA3_512_HMAC => (vec![], Sign(sec, sec, msg)),
        CKM_SHA_1_HMAC_GENERAL
        | CKM_SHA224_HMAC_GENERAL
        | CKM_SHA256_HMAC_GENERAL
        | CKM_SHA384_HMAC_GENERAL
        | CKM_SHA512_HMAC_GENERAL
        | CKM_SHA512_224_HMAC_GENERAL
        | CKM_SHA512_256_HMAC_GENERAL
        | CKM_SHA3_224_HMAC_GENERAL
        | CKM_SHA3_256_HMAC_GENERAL
        | CKM_SHA3_384_HMAC_GENERAL
        | CKM_SHA3_512_HMAC_GENERAL => (general, Sign(sec, sec, msg)),
        CKM_HKDF_DERIVE => (hkdf_params(b"info"), Derive(sec, Some(42))),
        CKM_HKDF_DATA => (hkdf_params(b"data"), DeriveData(sec, 40)),
        CKM_SP800_108_COUNTER_KDF => (kbkdf_params(), Derive(sec, Some(48))),
        // Keyward's vendor rotation mechanism (include/keyward.h); listed last, so rotating
        // the shared secret does not disturb the other exercises.
        CKM_KW_ROTATE => (sec.to_ne_bytes().to_vec(), Rotate(sec)),
        CKM_KW_VERSIONED_AES_GCM => (b"aad".to_vec(), Crypt(aes, aes, msg)),
        CKM_PKCS5_PBKD2 => {
            static SALT: [u8; 4] = *b"salt";
            static PASSWORD: [u8; 8] = *b"password";
            let p = CK_PKCS5_PBKD2_PARAMS2 {
                saltSource: CKZ_SALT_SPECIFIED,
                pSaltSourceData: SALT.as_ptr() as *mut _,
                ulSaltSourceDataLen: 4,
                iterations: 2,
                prf: CKP_PKCS5_PBKD2_HMAC_SHA256,
                pPrfData: std::ptr::null_mut(),
                ulPrfDataLen: 0,
                pPassword: PASSWORD.as_ptr() as *mut u8,
                ulPasswordLen: 8,
            };
            (bytes_of(&p), Generate(20))
        }
        _ => return None,
    })
}

fn exercise(s: &Session, mut m: Mech, ex: Exercise) {
    let f = raw();
    let ty = m.ty;
    match ex {
        Exercise::Generation => {}
        Exercise::Generate(len) => {
            let key = secret_key(s, m, len);
            let mut value = vec![0u8; 64];
            let mut a = attr_bytes(CKA_VALUE, &mut value);
            // SAFETY: one live attribute with a 64-byte buffer.
            let rv = unsafe { raw().C_GetAttributeValue.unwrap()(s.handle(), key, &mut a, 1) };
            ok(rv, "CKA_VALUE of the generated key", ty);
            assert_eq!(a.ulValueLen, len);
        }
        Exercise::Digest(len) => {
            let mut raw_m = m.raw();
            // SAFETY: a live mechanism and a valid session.
            ok(
                unsafe { f.C_DigestInit.unwrap()(s.handle(), &mut raw_m) },
                "C_DigestInit",
                ty,
            );
            assert_eq!(
                run(f.C_Digest.unwrap(), s, b"abc", "C_Digest", ty).len(),
                len
            );
        }
        Exercise::Sign(private, public, data) => {
            init(f.C_SignInit.unwrap(), s, &mut m, private, "C_SignInit");
            let sig = run(f.C_Sign.unwrap(), s, &data, "C_Sign", ty);
            init(f.C_VerifyInit.unwrap(), s, &mut m, public, "C_VerifyInit");
            let (mut d, mut g) = (data.clone(), sig.clone());
            // SAFETY: live buffers of the stated lengths.
            let rv = unsafe {
                f.C_Verify.unwrap()(
                    s.handle(),
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    g.as_mut_ptr(),
                    g.len() as CK_ULONG,
                )
            };
            ok(rv, "C_Verify", ty);
            init(f.C_VerifyInit.unwrap(), s, &mut m, public, "C_VerifyInit");
            d[0] ^= 1;
            // SAFETY: as above.
            let rv = unsafe {
                f.C_Verify.unwrap()(
                    s.handle(),
                    d.as_mut_ptr(),
                    d.len() as CK_ULONG,
                    g.as_mut_ptr(),
                    g.len() as CK_ULONG,
                )
            };
            assert_eq!(
                rv, CKR_SIGNATURE_INVALID,
                "tampered data with mechanism 0x{ty:x}"
            );
        }
        Exercise::Crypt(enc_key, dec_key, data) => {
            init(
                f.C_EncryptInit.unwrap(),
                s,
                &mut m,
                enc_key,
                "C_EncryptInit",
            );
            let ct = run(f.C_Encrypt.unwrap(), s, &data, "C_Encrypt", ty);
            init(
                f.C_DecryptInit.unwrap(),
                s,
                &mut m,
                dec_key,
                "C_DecryptInit",
            );
            let pt = run(f.C_Decrypt.unwrap(), s, &ct, "C_Decrypt", ty);
            assert_eq!(pt, data, "round trip with mechanism 0x{ty:x}");
        }
        Exercise::Rotate(current) => {
            let mut raw_m = m.raw();
            let mut h = 0;
            // SAFETY: a live mechanism (its parameter is the current handle) and out-handle.
            let rv = unsafe {
                raw().C_GenerateKey.unwrap()(
                    s.handle(),
                    &mut raw_m,
                    std::ptr::null_mut(),
                    0,
                    &mut h,
                )
            };
            ok(rv, "C_GenerateKey (rotate)", ty);
            assert!(h != 0 && h != current);
        }
        Exercise::DeriveData(base, len) => {
            let mut class = CKO_DATA.to_ne_bytes().to_vec();
            let mut value_len = len.to_ne_bytes().to_vec();
            let mut t = [
                attr_bytes(CKA_CLASS, &mut class),
                attr_bytes(CKA_VALUE_LEN, &mut value_len),
            ];
            let mut raw_m = m.raw();
            let mut h = 0;
            // SAFETY: live mechanism, template and out-handle.
            let rv = unsafe {
                raw().C_DeriveKey.unwrap()(s.handle(), &mut raw_m, base, t.as_mut_ptr(), 2, &mut h)
            };
            ok(rv, "C_DeriveKey (data)", ty);
            let mut value = vec![0u8; 64];
            let mut a = attr_bytes(CKA_VALUE, &mut value);
            // SAFETY: one live attribute with a 64-byte buffer.
            let rv = unsafe { raw().C_GetAttributeValue.unwrap()(s.handle(), h, &mut a, 1) };
            ok(rv, "CKA_VALUE of the derived data object", ty);
            assert_eq!(a.ulValueLen, len);
        }
        Exercise::Derive(base, len) => {
            let (mut class, mut kt) = (
                CKO_SECRET_KEY.to_ne_bytes().to_vec(),
                CKK_GENERIC_SECRET.to_ne_bytes().to_vec(),
            );
            let mut len = len.map(|l| l.to_ne_bytes().to_vec());
            let mut t = vec![
                attr_bytes(CKA_CLASS, &mut class),
                attr_bytes(CKA_KEY_TYPE, &mut kt),
            ];
            t.extend(len.as_mut().map(|l| attr_bytes(CKA_VALUE_LEN, l)));
            let mut raw_m = m.raw();
            let mut h = 0;
            // SAFETY: live mechanism, template and out-handle.
            let rv = unsafe {
                f.C_DeriveKey.unwrap()(
                    s.handle(),
                    &mut raw_m,
                    base,
                    t.as_mut_ptr(),
                    t.len() as CK_ULONG,
                    &mut h,
                )
            };
            ok(rv, "C_DeriveKey", ty);
            assert_ne!(h, 0);
        }
    }
}

/// Also X25519 through ECDH1 (the base key type the mechanism list cannot show).
fn x25519_derive(s: &Session, k: &Keys) {
    let p = CK_ECDH1_DERIVE_PARAMS {
        kdf: CKD_NULL,
        ulSharedDataLen: 0,
        pSharedData: std::ptr::null_mut(),
        ulPublicDataLen: k.x_point.len() as CK_ULONG,
        pPublicData: k.x_point.as_ptr() as *mut u8,
    };
    exercise(
        s,
        Mech {
            ty: CKM_ECDH1_DERIVE,
            param: bytes_of(&p),
        },
        Exercise::Derive(k.x.1, None),
    );
}

#[test]
fn every_listed_mechanism_does_what_its_info_says() {
    let s = user_session();
    let keys = make_keys(&s);
    let slot = s.get_session_info().unwrap().slot_id();
    // The raw list: cryptoki drops mechanism types it has no name for.
    let mut count: CK_ULONG = 0;
    // SAFETY: a NULL list is a size query; `count` is a live out-value.
    let rv =
        unsafe { raw().C_GetMechanismList.unwrap()(slot.id(), std::ptr::null_mut(), &mut count) };
    ok(rv, "C_GetMechanismList", 0);
    let mut mechanisms = vec![0 as CK_MECHANISM_TYPE; count as usize];
    // SAFETY: the buffer holds `count` entries.
    let rv = unsafe {
        raw().C_GetMechanismList.unwrap()(slot.id(), mechanisms.as_mut_ptr(), &mut count)
    };
    ok(rv, "C_GetMechanismList", 0);
    assert!(mechanisms.len() >= 70, "{} mechanisms", mechanisms.len());
    let mut unknown = Vec::new();
    for &ty in &mechanisms {
        let Some((param, ex)) = plan(ty, &keys) else {
            unknown.push(format!("0x{ty:x}"));
            continue;
        };
        let mut info = CK_MECHANISM_INFO::default();
        // SAFETY: a live out-struct.
        let rv = unsafe { raw().C_GetMechanismInfo.unwrap()(slot.id(), ty, &mut info) };
        ok(rv, "C_GetMechanismInfo", ty);
        let has = |f: CK_FLAGS| info.flags & f == f;
        let promised = match &ex {
            Exercise::Generation => has(CKF_GENERATE) || has(CKF_GENERATE_KEY_PAIR),
            Exercise::Generate(_) | Exercise::Rotate(_) => has(CKF_GENERATE),
            Exercise::Digest(_) => has(CKF_DIGEST),
            Exercise::Sign(..) => has(CKF_SIGN | CKF_VERIFY),
            Exercise::Crypt(..) => has(CKF_ENCRYPT | CKF_DECRYPT),
            Exercise::Derive(..) | Exercise::DeriveData(..) => has(CKF_DERIVE),
        };
        assert!(
            promised,
            "0x{ty:x}: the info flags do not promise what the exercise does"
        );
        exercise(&s, Mech { ty, param }, ex);
    }
    x25519_derive(&s, &keys);
    assert!(
        unknown.is_empty(),
        "mechanisms listed but not exercised: {unknown:?}"
    );
    println!("{} mechanisms exercised", mechanisms.len());
}
