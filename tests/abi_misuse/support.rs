//! Shared pieces of the ABI misuse suite: the 3.0 function list, the `ck!` call macro, the
//! table of expected codes ([`Checks`]), attribute/mechanism builders and the key fixture.

use std::ffi::c_void;
use std::mem::size_of_val;
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use cryptoki_sys::*;

use crate::common;

/// The module's PKCS#11 3.0 function list (C_GetInterface with a NULL name: the default).
pub fn fl() -> &'static CK_FUNCTION_LIST_3_0 {
    static LIST: OnceLock<usize> = OnceLock::new();
    let addr = *LIST.get_or_init(|| {
        common::p11();
        let get: CK_C_GetInterface = common::c_fn("C_GetInterface");
        let get = get.expect("C_GetInterface");
        let mut iface: *mut CK_INTERFACE = null_mut();
        // SAFETY: NULL name and version ask for the default interface; `iface` is writable.
        let rv = unsafe { get(null_mut(), null_mut(), &mut iface, 0) };
        assert_eq!(rv, CKR_OK, "C_GetInterface");
        // SAFETY: on CKR_OK the module stored a pointer to its static CK_INTERFACE.
        let iface = unsafe { &*iface };
        iface.pFunctionList as usize
    });
    // SAFETY: the default interface is the 3.0 list, a static of the module (never unloaded).
    unsafe { &*(addr as *const CK_FUNCTION_LIST_3_0) }
}

/// Call a function of the 3.0 list: `ck!(C_Encrypt(h, p, n, out, &mut len))`.
macro_rules! ck {
    ($name:ident($($arg:expr),* $(,)?)) => {{
        let f = $crate::support::fl().$name.expect(stringify!($name));
        // SAFETY: every call in this suite passes NULL or pointers to live buffers at least
        // as long as the lengths given with them: the misuse is in values, never in memory.
        unsafe { f($($arg),*) }
    }};
}

/// Every check made by this binary, summed over its tests.
static TOTAL: AtomicUsize = AtomicUsize::new(0);

/// A table of calls and the codes each may return; mismatches are collected, then reported
/// together by [`Checks::done`].
pub struct Checks {
    test: &'static str,
    count: usize,
    wrong: Vec<String>,
}

/// A return code with its name, e.g. `0x150 CKR_BUFFER_TOO_SMALL`.
pub fn name(rv: CK_RV) -> String {
    format!("{rv:#x} {:?}", cryptoki::error::Rv::from(rv))
}

impl Checks {
    pub fn new(test: &'static str) -> Self {
        Self {
            test,
            count: 0,
            wrong: Vec::new(),
        }
    }

    /// `rv` must be one of `allowed`.
    pub fn rv(&mut self, what: impl std::fmt::Display, rv: CK_RV, allowed: &[CK_RV]) {
        self.count += 1;
        if !allowed.contains(&rv) {
            let allowed: Vec<String> = allowed.iter().map(|c| name(*c)).collect();
            self.wrong.push(format!(
                "{what}: got {}, expected {}",
                name(rv),
                allowed.join(" or ")
            ));
        }
    }

    /// A non-code condition.
    pub fn ok(&mut self, what: impl std::fmt::Display, holds: bool) {
        self.count += 1;
        if !holds {
            self.wrong.push(format!("{what}: does not hold"));
        }
    }

    /// Take over another table's checks (one kept by worker threads).
    pub fn absorb(&mut self, other: Checks) {
        self.count += other.count;
        self.wrong.extend(other.wrong);
    }

    pub fn done(mut self) {
        if self.wrong.len() > 60 {
            let more = self.wrong.len() - 60;
            self.wrong.truncate(60);
            self.wrong.push(format!("... and {more} more"));
        }
        let total = TOTAL.fetch_add(self.count, Ordering::SeqCst) + self.count;
        println!(
            "{}: {} checks ({} so far in this binary)",
            self.test, self.count, total
        );
        assert!(
            self.wrong.is_empty(),
            "{}: {} of {} checks failed:\n  {}",
            self.test,
            self.wrong.len().min(60),
            self.count,
            self.wrong.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Builders

/// An attribute pointing at `v` (which must outlive its use).
pub fn attr<T: ?Sized>(ty: CK_ATTRIBUTE_TYPE, v: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v as *const T as *mut c_void,
        ulValueLen: size_of_val(v) as CK_ULONG,
    }
}

/// An attribute with any pointer and length.
pub fn attr_raw(ty: CK_ATTRIBUTE_TYPE, p: *const c_void, len: CK_ULONG) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: p as *mut c_void,
        ulValueLen: len,
    }
}

/// A mechanism without parameter.
pub fn mech(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    mech_raw(ty, null(), 0)
}

/// A mechanism whose parameter is `p` (which must outlive its use).
pub fn mech_p<T: ?Sized>(ty: CK_MECHANISM_TYPE, p: &T) -> CK_MECHANISM {
    mech_raw(
        ty,
        p as *const T as *const c_void,
        size_of_val(p) as CK_ULONG,
    )
}

/// A mechanism with any parameter pointer and length.
pub fn mech_raw(ty: CK_MECHANISM_TYPE, p: *const c_void, len: CK_ULONG) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: p as *mut c_void,
        ulParameterLen: len,
    }
}

/// A CK_GCM_PARAMS over `iv` and `aad` with a tag of `tag_bits`.
pub fn gcm(iv: &[u8], aad: &[u8], tag_bits: CK_ULONG) -> CK_GCM_PARAMS {
    CK_GCM_PARAMS {
        pIv: iv.as_ptr() as *mut u8,
        ulIvLen: iv.len() as CK_ULONG,
        ulIvBits: (iv.len() * 8) as CK_ULONG,
        pAAD: aad.as_ptr() as *mut u8,
        ulAADLen: aad.len() as CK_ULONG,
        ulTagBits: tag_bits,
    }
}

pub const TRUE: CK_BBOOL = CK_TRUE;
pub const FALSE: CK_BBOOL = CK_FALSE;
pub const RW: CK_FLAGS = CKF_SERIAL_SESSION | CKF_RW_SESSION;
/// A handle no call ever handed out.
pub const BOGUS: CK_ULONG = 0xdead_beef;
/// RFC 4231 test case 1 key and message, and its HMAC-SHA-256.
pub const HMAC_KEY: [u8; 20] = [0x0b; 20];
pub const HMAC_DATA: &[u8] = b"Hi There";
pub const HMAC_SHA256: &str = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
/// FIPS 180-2: SHA-256("abc").
pub const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
/// DER of the P-256 curve OID.
pub const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

// ---------------------------------------------------------------------------------------------
// Fixture

/// One token for the whole binary, logged in as the user, with session keys that every
/// session of this process can use (session objects belong to the application).
pub struct Fixture {
    pub slot: CK_SLOT_ID,
    /// AES-256: encrypt, decrypt, wrap, unwrap.
    pub aes: CK_OBJECT_HANDLE,
    /// AES-128, extractable: what C_WrapKey wraps.
    pub aes_extractable: CK_OBJECT_HANDLE,
    /// Generic secret of RFC 4231 case 1: sign, verify, derive.
    pub hmac: CK_OBJECT_HANDLE,
    pub ec_private: CK_OBJECT_HANDLE,
    pub ec_public: CK_OBJECT_HANDLE,
    pub rsa_private: CK_OBJECT_HANDLE,
    pub rsa_public: CK_OBJECT_HANDLE,
    /// A modifiable, copyable data object.
    pub data: CK_OBJECT_HANDLE,
}

pub fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let (slot, _) = common::fresh_token();
        let slot: CK_SLOT_ID = slot.id();
        let mut h = 0;
        let rv = ck!(C_OpenSession(slot, RW, null_mut(), None, &mut h));
        assert_eq!(rv, CKR_OK, "C_OpenSession");
        let pin = common::USER_PIN.as_bytes();
        let rv = ck!(C_Login(
            h,
            CKU_USER,
            pin.as_ptr() as *mut u8,
            pin.len() as CK_ULONG
        ));
        assert_eq!(rv, CKR_OK, "C_Login");
        // `h` stays open for the life of the process: it keeps the login and the keys.
        Fixture {
            slot,
            aes: secret_key(
                h,
                CKK_AES,
                &[7; 32],
                &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
            ),
            aes_extractable: secret_key(h, CKK_AES, &[9; 16], &[CKA_EXTRACTABLE]),
            hmac: secret_key(
                h,
                CKK_GENERIC_SECRET,
                &HMAC_KEY,
                &[CKA_SIGN, CKA_VERIFY, CKA_DERIVE],
            ),
            ec_private: 0,
            ec_public: 0,
            rsa_private: 0,
            rsa_public: 0,
            data: data_object(h),
        }
        .with_pairs(h)
    })
}

impl Fixture {
    fn with_pairs(mut self, h: CK_SESSION_HANDLE) -> Self {
        let ec_pub = [
            attr(CKA_TOKEN, &FALSE),
            attr(CKA_EC_PARAMS, &P256),
            attr(CKA_VERIFY, &TRUE),
        ];
        let ec_priv = [
            attr(CKA_TOKEN, &FALSE),
            attr(CKA_SIGN, &TRUE),
            attr(CKA_DERIVE, &TRUE),
        ];
        (self.ec_public, self.ec_private) = key_pair(h, CKM_EC_KEY_PAIR_GEN, &ec_pub, &ec_priv);
        let bits: CK_ULONG = 2048;
        let exponent = [1u8, 0, 1];
        let rsa_pub = [
            attr(CKA_TOKEN, &FALSE),
            attr(CKA_MODULUS_BITS, &bits),
            attr(CKA_PUBLIC_EXPONENT, &exponent),
            attr(CKA_VERIFY, &TRUE),
            attr(CKA_ENCRYPT, &TRUE),
        ];
        let rsa_priv = [
            attr(CKA_TOKEN, &FALSE),
            attr(CKA_SIGN, &TRUE),
            attr(CKA_DECRYPT, &TRUE),
        ];
        (self.rsa_public, self.rsa_private) =
            key_pair(h, CKM_RSA_PKCS_KEY_PAIR_GEN, &rsa_pub, &rsa_priv);
        self
    }
}

/// A session object secret key of `value` with `usages` set.
pub fn secret_key(
    h: CK_SESSION_HANDLE,
    key_type: CK_KEY_TYPE,
    value: &[u8],
    usages: &[CK_ATTRIBUTE_TYPE],
) -> CK_OBJECT_HANDLE {
    let class = CKO_SECRET_KEY;
    let mut t = vec![
        attr(CKA_CLASS, &class),
        attr(CKA_KEY_TYPE, &key_type),
        attr(CKA_TOKEN, &FALSE),
        attr(CKA_VALUE, value),
    ];
    t.extend(usages.iter().map(|u| attr(*u, &TRUE)));
    let mut key = 0;
    let rv = ck!(C_CreateObject(
        h,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut key
    ));
    assert_eq!(rv, CKR_OK, "C_CreateObject(secret key)");
    key
}

/// A session data object, modifiable and copyable.
pub fn data_object(h: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let class = CKO_DATA;
    let label = *b"misuse data";
    let value = *b"some value";
    let mut t = [
        attr(CKA_CLASS, &class),
        attr(CKA_TOKEN, &FALSE),
        attr(CKA_LABEL, &label),
        attr(CKA_VALUE, &value),
    ];
    let mut obj = 0;
    let rv = ck!(C_CreateObject(
        h,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    assert_eq!(rv, CKR_OK, "C_CreateObject(data)");
    obj
}

fn key_pair(
    h: CK_SESSION_HANDLE,
    ty: CK_MECHANISM_TYPE,
    public: &[CK_ATTRIBUTE],
    private: &[CK_ATTRIBUTE],
) -> (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) {
    let mut m = mech(ty);
    let (mut pb, mut pv) = (0, 0);
    let rv = ck!(C_GenerateKeyPair(
        h,
        &mut m,
        public.as_ptr() as *mut CK_ATTRIBUTE,
        public.len() as CK_ULONG,
        private.as_ptr() as *mut CK_ATTRIBUTE,
        private.len() as CK_ULONG,
        &mut pb,
        &mut pv
    ));
    assert_eq!(rv, CKR_OK, "C_GenerateKeyPair({ty:#x})");
    (pb, pv)
}

/// CKM_HKDF_DERIVE (extract and expand with SHA-256, no salt, no info): a derivation the
/// fixture's generic secret can do.
pub fn hkdf_params() -> CK_HKDF_PARAMS {
    CK_HKDF_PARAMS {
        bExtract: CK_TRUE,
        bExpand: CK_TRUE,
        prfHashMechanism: CKM_SHA256,
        ulSaltType: CKF_HKDF_SALT_NULL,
        pSalt: null_mut(),
        ulSaltLen: 0,
        hSaltKey: 0,
        pInfo: null_mut(),
        ulInfoLen: 0,
    }
}

/// A new read-write session on the fixture's token (already logged in).
pub fn session() -> CK_SESSION_HANDLE {
    let slot = fixture().slot;
    let mut h = 0;
    let rv = ck!(C_OpenSession(slot, RW, null_mut(), None, &mut h));
    assert_eq!(rv, CKR_OK, "C_OpenSession");
    h
}

pub fn close(h: CK_SESSION_HANDLE) {
    assert_eq!(ck!(C_CloseSession(h)), CKR_OK, "C_CloseSession");
}

/// Lowercase hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// ---------------------------------------------------------------------------------------------
// Operations

/// The five classic operation kinds, each started on the fixture's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Encrypt,
    Decrypt,
    Digest,
    Sign,
    Verify,
}

pub const KINDS: [Kind; 5] = [
    Kind::Encrypt,
    Kind::Decrypt,
    Kind::Digest,
    Kind::Sign,
    Kind::Verify,
];

/// The all-zero IV of the AES-CBC-PAD operations.
pub static IV: [u8; 16] = [0; 16];

impl Kind {
    /// Start this operation on `h` (AES-CBC-PAD, SHA-256, HMAC-SHA-256).
    pub fn init(self, h: CK_SESSION_HANDLE) -> CK_RV {
        let fx = fixture();
        let mut cbc = mech_p(CKM_AES_CBC_PAD, &IV);
        let mut sha = mech(CKM_SHA256);
        let mut hmac = mech(CKM_SHA256_HMAC);
        match self {
            Kind::Encrypt => ck!(C_EncryptInit(h, &mut cbc, fx.aes)),
            Kind::Decrypt => ck!(C_DecryptInit(h, &mut cbc, fx.aes)),
            Kind::Digest => ck!(C_DigestInit(h, &mut sha)),
            Kind::Sign => ck!(C_SignInit(h, &mut hmac, fx.hmac)),
            Kind::Verify => ck!(C_VerifyInit(h, &mut hmac, fx.hmac)),
        }
    }

    /// The CKF_* flag C_SessionCancel takes for this kind.
    pub fn flag(self) -> CK_FLAGS {
        match self {
            Kind::Encrypt => CKF_ENCRYPT,
            Kind::Decrypt => CKF_DECRYPT,
            Kind::Digest => CKF_DIGEST,
            Kind::Sign => CKF_SIGN,
            Kind::Verify => CKF_VERIFY,
        }
    }

    /// Whether an operation of this kind is active on `h`, asked without touching it: a
    /// new *Init answers CKR_OPERATION_ACTIVE then (and is cancelled again if it started).
    pub fn active(self, h: CK_SESSION_HANDLE) -> bool {
        match self.init(h) {
            CKR_OPERATION_ACTIVE => true,
            CKR_OK => {
                self.cancel(h);
                false
            }
            rv => panic!("{self:?} init as a probe: {}", name(rv)),
        }
    }

    /// End any operation of this kind on `h`.
    pub fn cancel(self, h: CK_SESSION_HANDLE) {
        ck!(C_SessionCancel(h, self.flag()));
    }
}
