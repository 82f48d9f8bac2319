//! The C ABI fuzz harness, shared by the fuzz targets `template_abi` and `mechanism_abi` and by
//! `tests/fuzz_corpus.rs` (which replays their corpus on stable Rust).
//!
//! Fuzz bytes become raw PKCS#11 arguments: CK_ATTRIBUTE arrays (nested arrays, NULL values
//! with lengths, any type and length) and CK_MECHANISMs with parameter structs (any field
//! value, wrong ulParameterLen, NULL inner pointers with lengths). Every pointer the harness
//! hands over is NULL or points to memory at least as long as the length given with it: the
//! module is fuzzed, not the harness's own memory safety. The module is linked in (the
//! `keyward` rlib) and driven through its exported C functions on a token in a temporary
//! directory.
//!
//! Findings: a panic (the fuzz targets abort on one even inside the module's panic boundary),
//! CKR_GENERAL_ERROR (what that boundary turns a panic into), a write past an output buffer
//! or an output longer than announced.

#![allow(dead_code)] // each user takes the entry points it needs

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::{null, null_mut};
use std::sync::{Mutex, OnceLock};

use cryptoki_sys::*;
use keyward::fuzzing::{Input, ATTRIBUTE_TYPES};

extern "C" {
    /// The module's C_GetInterface (PKCS#11 3.0 §5.4.6), linked from the `keyward` rlib.
    fn C_GetInterface(
        name: *mut CK_UTF8CHAR,
        version: *mut CK_VERSION,
        iface: *mut *mut CK_INTERFACE,
        flags: CK_FLAGS,
    ) -> CK_RV;
}

/// Call a function of the 3.0 list.
macro_rules! ck {
    ($fl:expr, $name:ident($($arg:expr),* $(,)?)) => {{
        let f = $fl.$name.expect(stringify!($name));
        // SAFETY: the harness passes NULL or pointers to live memory at least as long as the
        // length given with each (see the module documentation).
        unsafe { f($($arg),*) }
    }};
}

/// What no input may make the module answer.
fn check(what: &str, rv: CK_RV) -> CK_RV {
    assert_ne!(
        rv, CKR_GENERAL_ERROR,
        "{what}: CKR_GENERAL_ERROR (a panic in the module?)"
    );
    rv
}

const SO_PIN: &[u8] = b"fuzz-so-pin";
const USER_PIN: &[u8] = b"fuzz-user-pin";
const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

/// A logged-in token with keys of every family; `work` is recycled now and then so the
/// session objects inputs create do not pile up.
pub struct Fixture {
    fl: &'static CK_FUNCTION_LIST_3_0,
    work: Mutex<(CK_SESSION_HANDLE, u32)>,
    slot: CK_SLOT_ID,
    keys: Vec<CK_OBJECT_HANDLE>,
    aes_extractable: CK_OBJECT_HANDLE,
    data: CK_OBJECT_HANDLE,
}

fn attr<T: ?Sized>(ty: CK_ATTRIBUTE_TYPE, v: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: v as *const T as *mut c_void,
        ulValueLen: std::mem::size_of_val(v) as CK_ULONG,
    }
}

fn function_list() -> &'static CK_FUNCTION_LIST_3_0 {
    let mut iface: *mut CK_INTERFACE = null_mut();
    // SAFETY: NULL name and version ask for the default interface; `iface` is writable.
    let rv = unsafe { C_GetInterface(null_mut(), null_mut(), &mut iface, 0) };
    assert_eq!(rv, CKR_OK, "C_GetInterface");
    // SAFETY: on CKR_OK `iface` points to the module's static 3.0 interface and list.
    unsafe { &*((*iface).pFunctionList as *const CK_FUNCTION_LIST_3_0) }
}

pub fn fixture() -> &'static Fixture {
    static FX: OnceLock<Fixture> = OnceLock::new();
    FX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("keyward-fuzz-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("fuzz token directory");
        let conf = dir.join("keyward.toml");
        std::fs::write(
            &conf,
            format!(
                "[[slot]]\npath = \"{}\"\nlabel = \"fuzz\"\nargon2_memory_kib = 64\n\
                 argon2_iterations = 1\npin_max_retries = 1000000\n",
                dir.join("slot0").display()
            ),
        )
        .expect("fuzz configuration");
        std::env::set_var("KEYWARD_CONF", &conf);
        let fl = function_list();
        assert_eq!(ck!(fl, C_Initialize(null_mut())), CKR_OK, "C_Initialize");
        let mut slots = [0; 4];
        let mut n: CK_ULONG = 4;
        assert_eq!(
            ck!(fl, C_GetSlotList(CK_FALSE, slots.as_mut_ptr(), &mut n)),
            CKR_OK
        );
        let slot = slots[0];
        let label = [b' '; 32];
        let pin = |p: &[u8]| (p.as_ptr() as *mut u8, p.len() as CK_ULONG);
        let (so, so_len) = pin(SO_PIN);
        let (user, user_len) = pin(USER_PIN);
        let rv = ck!(fl, C_InitToken(slot, so, so_len, label.as_ptr() as *mut u8));
        assert_eq!(rv, CKR_OK, "C_InitToken");
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let mut keeper = 0;
        assert_eq!(
            ck!(
                fl,
                C_OpenSession(slot, flags, null_mut(), None, &mut keeper)
            ),
            CKR_OK
        );
        assert_eq!(
            ck!(fl, C_Login(keeper, CKU_SO, so, so_len)),
            CKR_OK,
            "SO login"
        );
        assert_eq!(
            ck!(fl, C_InitPIN(keeper, user, user_len)),
            CKR_OK,
            "C_InitPIN"
        );
        assert_eq!(ck!(fl, C_Logout(keeper)), CKR_OK);
        assert_eq!(
            ck!(fl, C_Login(keeper, CKU_USER, user, user_len)),
            CKR_OK,
            "user login"
        );
        let mut fx = Fixture {
            fl,
            work: Mutex::new((0, 0)),
            slot,
            keys: Vec::new(),
            aes_extractable: 0,
            data: 0,
        };
        fx.make_keys(keeper);
        fx.work = Mutex::new((fx.open(), 0));
        // `keeper` stays open: it holds the login and the keys for the whole process.
        fx
    })
}

impl Fixture {
    fn open(&self) -> CK_SESSION_HANDLE {
        let mut h = 0;
        let flags = CKF_SERIAL_SESSION | CKF_RW_SESSION;
        let rv = ck!(
            self.fl,
            C_OpenSession(self.slot, flags, null_mut(), None, &mut h)
        );
        assert_eq!(rv, CKR_OK, "C_OpenSession");
        h
    }

    /// The work session for one input (a fresh one every 500 inputs).
    fn session(&self) -> CK_SESSION_HANDLE {
        let mut work = self.work.lock().unwrap_or_else(|e| e.into_inner());
        work.1 += 1;
        if work.1.is_multiple_of(500) {
            ck!(self.fl, C_CloseSession(work.0));
            work.0 = self.open();
        }
        work.0
    }

    fn create(&self, h: CK_SESSION_HANDLE, t: &[CK_ATTRIBUTE]) -> CK_OBJECT_HANDLE {
        let mut obj = 0;
        let rv = ck!(
            self.fl,
            C_CreateObject(
                h,
                t.as_ptr() as *mut CK_ATTRIBUTE,
                t.len() as CK_ULONG,
                &mut obj
            )
        );
        assert_eq!(rv, CKR_OK, "fixture C_CreateObject");
        obj
    }

    fn pair(
        &self,
        h: CK_SESSION_HANDLE,
        ty: CK_MECHANISM_TYPE,
        public: &[CK_ATTRIBUTE],
        private: &[CK_ATTRIBUTE],
    ) -> [CK_OBJECT_HANDLE; 2] {
        let mut m = CK_MECHANISM {
            mechanism: ty,
            pParameter: null_mut(),
            ulParameterLen: 0,
        };
        let (mut pb, mut pv) = (0, 0);
        let rv = ck!(
            self.fl,
            C_GenerateKeyPair(
                h,
                &mut m,
                public.as_ptr() as *mut CK_ATTRIBUTE,
                public.len() as CK_ULONG,
                private.as_ptr() as *mut CK_ATTRIBUTE,
                private.len() as CK_ULONG,
                &mut pb,
                &mut pv
            )
        );
        assert_eq!(rv, CKR_OK, "fixture C_GenerateKeyPair({ty:#x})");
        [pb, pv]
    }

    fn make_keys(&mut self, h: CK_SESSION_HANDLE) {
        let (t, f) = (CK_TRUE, CK_FALSE);
        let secret = CKO_SECRET_KEY;
        let (aes, generic) = (CKK_AES, CKK_GENERIC_SECRET);
        let all = [
            CKA_ENCRYPT,
            CKA_DECRYPT,
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_DERIVE,
        ];
        let key = |kt: &CK_KEY_TYPE, value: &[u8], extractable: bool| {
            let mut v = vec![
                attr(CKA_CLASS, &secret),
                attr(CKA_KEY_TYPE, kt),
                attr(CKA_TOKEN, &f),
                attr(CKA_VALUE, value),
                attr(CKA_EXTRACTABLE, if extractable { &t } else { &f }),
                attr(CKA_SENSITIVE, &f),
            ];
            v.extend(all.iter().map(|a| attr(*a, &t)));
            v
        };
        let aes_value = [7u8; 32];
        let generic_value = [11u8; 32];
        self.keys
            .push(self.create(h, &key(&aes, &aes_value, false)));
        self.keys
            .push(self.create(h, &key(&generic, &generic_value, false)));
        self.aes_extractable = self.create(h, &key(&aes, &[9u8; 16], true));
        self.keys.push(self.aes_extractable);
        let ec_pub = [
            attr(CKA_TOKEN, &f),
            attr(CKA_EC_PARAMS, &P256),
            attr(CKA_VERIFY, &t),
            attr(CKA_DERIVE, &t),
        ];
        let ec_priv = [
            attr(CKA_TOKEN, &f),
            attr(CKA_SIGN, &t),
            attr(CKA_DERIVE, &t),
            attr(CKA_EXTRACTABLE, &t),
        ];
        self.keys
            .extend(self.pair(h, CKM_EC_KEY_PAIR_GEN, &ec_pub, &ec_priv));
        let bits: CK_ULONG = 2048;
        let exponent = [1u8, 0, 1];
        let rsa_pub = [
            attr(CKA_TOKEN, &f),
            attr(CKA_MODULUS_BITS, &bits),
            attr(CKA_PUBLIC_EXPONENT, &exponent),
            attr(CKA_VERIFY, &t),
            attr(CKA_ENCRYPT, &t),
            attr(CKA_WRAP, &t),
        ];
        let rsa_priv = [
            attr(CKA_TOKEN, &f),
            attr(CKA_SIGN, &t),
            attr(CKA_DECRYPT, &t),
            attr(CKA_UNWRAP, &t),
        ];
        self.keys
            .extend(self.pair(h, CKM_RSA_PKCS_KEY_PAIR_GEN, &rsa_pub, &rsa_priv));
        let ed_pub = [attr(CKA_TOKEN, &f), attr(CKA_VERIFY, &t)];
        let ed_priv = [attr(CKA_TOKEN, &f), attr(CKA_SIGN, &t)];
        let mut ed = [0x06u8, 0x03, 0x2b, 0x65, 0x70]; // id-Ed25519
        let ed_pub = [ed_pub[0], ed_pub[1], attr(CKA_EC_PARAMS, &ed)];
        self.keys
            .extend(self.pair(h, CKM_EC_EDWARDS_KEY_PAIR_GEN, &ed_pub, &ed_priv));
        ed[4] = 0x6e; // id-X25519
        let x_pub = [attr(CKA_TOKEN, &f), attr(CKA_EC_PARAMS, &ed)];
        let x_priv = [attr(CKA_TOKEN, &f), attr(CKA_DERIVE, &t)];
        self.keys
            .extend(self.pair(h, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, &x_pub, &x_priv));
        let class = CKO_DATA;
        self.data = self.create(
            h,
            &[
                attr(CKA_CLASS, &class),
                attr(CKA_TOKEN, &f),
                attr(CKA_LABEL, b"fuzz data".as_slice()),
            ],
        );
        self.keys.push(self.data);
    }

    /// A key (or, now and then, a handle that is none).
    fn key(&self, input: &mut Input) -> CK_OBJECT_HANDLE {
        let i = input.byte() as usize;
        self.keys
            .get(i % (self.keys.len() + 1))
            .copied()
            .unwrap_or(0xdead)
    }

    fn destroy(&self, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE) {
        check("C_DestroyObject", ck!(self.fl, C_DestroyObject(h, obj)));
    }
}

// ---------------------------------------------------------------------------------------------
// Templates

/// A CK_ATTRIBUTE array built from fuzz bytes, with the memory its pointers refer to.
pub struct RawTemplate {
    attrs: Vec<CK_ATTRIBUTE>,
    _values: Vec<Vec<u8>>,
    _nested: Vec<Vec<CK_ATTRIBUTE>>,
}

impl RawTemplate {
    pub fn decode(input: &mut Input) -> Self {
        let mut t = RawTemplate {
            attrs: Vec::new(),
            _values: Vec::new(),
            _nested: Vec::new(),
        };
        for _ in 0..input.byte() % 12 {
            let ty = input.pick(ATTRIBUTE_TYPES);
            let a = t.one(input, ty, true);
            t.attrs.push(a);
        }
        t
    }

    fn one(&mut self, input: &mut Input, ty: CK_ATTRIBUTE_TYPE, nest: bool) -> CK_ATTRIBUTE {
        let mode = input.byte();
        // An attribute array's value is read as CK_ATTRIBUTEs, pointers included: it gets a
        // real nested array (or NULL), never raw fuzz bytes, which would be wild pointers.
        let nested_value = nest && (mode % 8 == 7 || keyward::object::attr::is_template(ty));
        let (p, len) = match mode % 8 {
            5 => (null(), (input.byte() % 3) as CK_ULONG),
            6 => (null(), input.ulong()),
            _ if nested_value => {
                let nested: Vec<CK_ATTRIBUTE> = (0..input.byte() % 4)
                    .map(|_| {
                        let ty = input.pick(ATTRIBUTE_TYPES);
                        self.one(input, ty, false)
                    })
                    .collect();
                let full = nested.len() * size_of::<CK_ATTRIBUTE>();
                // Sometimes a length that is no whole number of attributes (never longer
                // than the array, which is all the memory there is).
                let short = (input.byte() as usize % 8).min(full);
                let p = nested.as_ptr() as *const c_void;
                self._nested.push(nested);
                (p, (full - short) as CK_ULONG)
            }
            _ => {
                let n = match input.byte() {
                    0xf0..=0xf7 => 8,
                    0xf8..=0xff => 1,
                    n => n as usize,
                };
                let v = input.take(n).to_vec();
                let p = if v.is_empty() && mode & 0x80 != 0 {
                    null()
                } else {
                    v.as_ptr() as *const c_void
                };
                let len = v.len() as CK_ULONG;
                self._values.push(v);
                (p, len)
            }
        };
        CK_ATTRIBUTE {
            type_: ty,
            pValue: p as *mut c_void,
            ulValueLen: len,
        }
    }

    fn ptr(&self) -> (*mut CK_ATTRIBUTE, CK_ULONG) {
        if self.attrs.is_empty() {
            return (null_mut(), 0);
        }
        (
            self.attrs.as_ptr() as *mut CK_ATTRIBUTE,
            self.attrs.len() as CK_ULONG,
        )
    }
}

/// Target `template_abi`: a fuzzed template through C_FindObjectsInit, C_CreateObject,
/// C_GenerateKey, C_GenerateKeyPair, C_CopyObject or C_SetAttributeValue.
pub fn template_abi(data: &[u8]) {
    let fx = fixture();
    let fl = fx.fl;
    let h = fx.session();
    let mut input = Input::new(data);
    let op = input.byte();
    let t = RawTemplate::decode(&mut input);
    let (p, n) = t.ptr();
    let mut obj = 0;
    match op % 6 {
        0 => {
            if check("C_FindObjectsInit", ck!(fl, C_FindObjectsInit(h, p, n))) == CKR_OK {
                let mut found = [0; 8];
                let mut count: CK_ULONG = 0;
                check(
                    "C_FindObjects",
                    ck!(fl, C_FindObjects(h, found.as_mut_ptr(), 8, &mut count)),
                );
                assert!(count <= 8, "C_FindObjects returned more than asked");
                check("C_FindObjectsFinal", ck!(fl, C_FindObjectsFinal(h)));
            }
        }
        1 => {
            if check("C_CreateObject", ck!(fl, C_CreateObject(h, p, n, &mut obj))) == CKR_OK {
                read_back(fx, h, obj, &t);
                fx.destroy(h, obj);
            }
        }
        2 => {
            let mut m = CK_MECHANISM {
                mechanism: [CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN][op as usize / 6 % 2],
                pParameter: null_mut(),
                ulParameterLen: 0,
            };
            let rv = ck!(fl, C_GenerateKey(h, &mut m, p, n, &mut obj));
            if check("C_GenerateKey", rv) == CKR_OK {
                read_back(fx, h, obj, &t);
                fx.destroy(h, obj);
            }
        }
        3 => {
            let mut m = CK_MECHANISM {
                mechanism: CKM_EC_KEY_PAIR_GEN,
                pParameter: null_mut(),
                ulParameterLen: 0,
            };
            let other = RawTemplate::decode(&mut input);
            let (q, k) = other.ptr();
            // The fuzzed template as the public or the private one.
            let ((public, pn), (private, kn)) = if op & 0x80 != 0 {
                ((p, n), (q, k))
            } else {
                ((q, k), (p, n))
            };
            let (mut pb, mut pv) = (0, 0);
            let rv = ck!(
                fl,
                C_GenerateKeyPair(h, &mut m, public, pn, private, kn, &mut pb, &mut pv)
            );
            if check("C_GenerateKeyPair", rv) == CKR_OK {
                fx.destroy(h, pb);
                fx.destroy(h, pv);
            }
        }
        4 => {
            let source = fx.key(&mut input);
            if check(
                "C_CopyObject",
                ck!(fl, C_CopyObject(h, source, p, n, &mut obj)),
            ) == CKR_OK
            {
                read_back(fx, h, obj, &t);
                fx.destroy(h, obj);
            }
        }
        _ => {
            // On an object of this input's own, so a change hurts nobody.
            let class = CKO_DATA;
            let f = CK_FALSE;
            let base = [attr(CKA_CLASS, &class), attr(CKA_TOKEN, &f)];
            let own = fx.create(h, &base);
            check(
                "C_SetAttributeValue",
                ck!(fl, C_SetAttributeValue(h, own, p, n)),
            );
            read_back(fx, h, own, &t);
            fx.destroy(h, own);
        }
    }
}

/// C_GetAttributeValue of the template's types on `obj`: a size query, then buffers of the
/// announced sizes (with a guard area that must stay untouched).
fn read_back(fx: &Fixture, h: CK_SESSION_HANDLE, obj: CK_OBJECT_HANDLE, t: &RawTemplate) {
    let mut q: Vec<CK_ATTRIBUTE> = t
        .attrs
        .iter()
        .map(|a| CK_ATTRIBUTE {
            type_: a.type_,
            pValue: null_mut(),
            ulValueLen: 0,
        })
        .collect();
    if q.is_empty() {
        return;
    }
    let n = q.len() as CK_ULONG;
    check(
        "C_GetAttributeValue (sizes)",
        ck!(fx.fl, C_GetAttributeValue(h, obj, q.as_mut_ptr(), n)),
    );
    const GUARD: usize = 16;
    // Attribute arrays stay size queries: their value is nested CK_ATTRIBUTEs whose own
    // pointers the caller would have to set up.
    let mut bufs: Vec<Vec<u8>> = q
        .iter()
        .map(|a| match a.ulValueLen {
            _ if is_array(a.type_) => Vec::new(),
            CK_UNAVAILABLE_INFORMATION => Vec::new(),
            len => vec![0xa5; (len as usize).min(1 << 20) + GUARD],
        })
        .collect();
    for (a, b) in q.iter_mut().zip(bufs.iter_mut()) {
        if b.is_empty() {
            continue;
        }
        a.pValue = b.as_mut_ptr() as *mut c_void;
        a.ulValueLen = (b.len() - GUARD) as CK_ULONG;
    }
    check(
        "C_GetAttributeValue (values)",
        ck!(fx.fl, C_GetAttributeValue(h, obj, q.as_mut_ptr(), n)),
    );
    for (a, b) in q.iter().zip(&bufs) {
        if b.is_empty() {
            continue;
        }
        let cap = b.len() - GUARD;
        assert!(
            b[cap..].iter().all(|x| *x == 0xa5),
            "C_GetAttributeValue wrote past a buffer"
        );
        if a.ulValueLen != CK_UNAVAILABLE_INFORMATION {
            assert!(
                a.ulValueLen as usize <= cap,
                "value longer than its size query"
            );
        }
    }
}

/// Whether `ty` is an attribute array (CKA_WRAP_TEMPLATE …).
fn is_array(ty: CK_ATTRIBUTE_TYPE) -> bool {
    ty & CKF_ARRAY_ATTRIBUTE != 0
}

// ---------------------------------------------------------------------------------------------
// Mechanisms

/// Mechanisms worth meeting often (any other through [`Input::pick`]).
const MECHANISMS: &[CK_MECHANISM_TYPE] = &[
    CKM_AES_GCM,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_ECB,
    CKM_AES_CTR,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_PAD,
    CKM_AES_CMAC,
    CKM_AES_CMAC_GENERAL,
    CKM_SHA256_HMAC,
    CKM_SHA256_HMAC_GENERAL,
    CKM_SHA_1_HMAC,
    CKM_SHA256,
    CKM_SHA512,
    CKM_SHA3_256,
    CKM_RSA_PKCS,
    CKM_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_RSA_PKCS_OAEP,
    CKM_SHA256_RSA_PKCS,
    CKM_RSA_X_509,
    CKM_ECDSA,
    CKM_ECDSA_SHA256,
    CKM_EDDSA,
    CKM_ECDH1_DERIVE,
    CKM_ECDH1_COFACTOR_DERIVE,
    CKM_HKDF_DERIVE,
    CKM_HKDF_DATA,
    CKM_PKCS5_PBKD2,
    CKM_SP800_108_COUNTER_KDF,
    CKM_AES_ECB_ENCRYPT_DATA,
    CKM_AES_CBC_ENCRYPT_DATA,
    CKM_AES_KEY_GEN,
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_EC_KEY_PAIR_GEN,
];

/// The parameter sizes at which the module reads pointers out of a mechanism's parameter.
fn pointer_struct_sizes(ty: CK_MECHANISM_TYPE) -> &'static [usize] {
    const GCM: &[usize] = &[40, size_of::<CK_GCM_PARAMS>()];
    const OAEP: &[usize] = &[size_of::<CK_RSA_PKCS_OAEP_PARAMS>()];
    const ECDH: &[usize] = &[size_of::<CK_ECDH1_DERIVE_PARAMS>()];
    const HKDF: &[usize] = &[size_of::<CK_HKDF_PARAMS>()];
    const PBKDF2: &[usize] = &[size_of::<CK_PKCS5_PBKD2_PARAMS2>()];
    const KBKDF: &[usize] = &[size_of::<CK_SP800_108_KDF_PARAMS>()];
    const STRING: &[usize] = &[size_of::<CK_KEY_DERIVATION_STRING_DATA>()];
    const CBC_DATA: &[usize] = &[size_of::<CK_AES_CBC_ENCRYPT_DATA_PARAMS>()];
    const EDDSA: &[usize] = &[size_of::<CK_EDDSA_PARAMS>()];
    match ty {
        CKM_AES_GCM => GCM,
        CKM_RSA_PKCS_OAEP => OAEP,
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => ECDH,
        CKM_HKDF_DERIVE | CKM_HKDF_DATA => HKDF,
        CKM_PKCS5_PBKD2 => PBKDF2,
        CKM_SP800_108_COUNTER_KDF => KBKDF,
        CKM_AES_ECB_ENCRYPT_DATA => STRING,
        CKM_AES_CBC_ENCRYPT_DATA => CBC_DATA,
        CKM_EDDSA => EDDSA,
        _ => &[],
    }
}

/// A CK_MECHANISM from fuzz bytes and the memory its parameter points to.
pub struct RawMechanism {
    ty: CK_MECHANISM_TYPE,
    param: Vec<u8>,
    null_with: Option<CK_ULONG>,
    /// Buffers the parameter struct's own pointers refer to.
    _inner: Vec<Vec<u8>>,
    _prf: Vec<CK_PRF_DATA_PARAM>,
}

/// The bytes of a parameter struct.
fn bytes_of<T>(v: &T) -> Vec<u8> {
    // SAFETY: `v` is a live T; its size_of::<T>() bytes are read as plain bytes (the
    // parameter structs are repr(C) of integers and pointers; padding bytes may be
    // uninitialised, which the module must cope with anyway as a caller's padding).
    unsafe { std::slice::from_raw_parts(v as *const T as *const u8, size_of::<T>()) }.to_vec()
}

impl RawMechanism {
    pub fn decode(input: &mut Input) -> Self {
        let ty = input.pick(MECHANISMS);
        let mut m = RawMechanism {
            ty,
            param: Vec::new(),
            null_with: None,
            _inner: Vec::new(),
            _prf: Vec::new(),
        };
        match input.byte() % 8 {
            0 => {}
            1 => {
                let n = input.byte() as usize;
                m.param = input.take(n).to_vec();
                // Raw bytes the size of a struct with pointers would be read as one: fuzz
                // bytes for pointers (a lying caller). One byte more makes it a length error.
                if pointer_struct_sizes(ty).contains(&m.param.len()) {
                    m.param.push(0);
                }
            }
            2 => m.null_with = Some(input.ulong()),
            _ => {
                m.param = m.structure(input);
                let right = m.param.len();
                // Sometimes the wrong ulParameterLen: a few bytes short or long (the buffer
                // grows with it, so the module may read all it is told).
                match input.byte() % 8 {
                    0 => {
                        let short = input.byte() as usize % 9;
                        m.param.truncate(m.param.len().saturating_sub(short));
                    }
                    1 => {
                        let long = input.byte() as usize % 9;
                        m.param.resize(m.param.len() + long, 0);
                    }
                    _ => {}
                }
                // CK_GCM_PARAMS is 48 bytes, its 2.40 form without ulIvBits 40: the module
                // tells them apart by length alone, so a 48-byte struct cut to 40 (or a 40-byte
                // one grown to 48) is the other layout with fuzz bytes for pointers. That is a
                // lying caller, not a length error: keep the right length then.
                if m.param.len() != right && pointer_struct_sizes(m.ty).contains(&m.param.len()) {
                    m.param.resize(right, 0);
                }
            }
        }
        m
    }

    /// A buffer of fuzz bytes for a struct's pointer: (pointer, length), NULL at times, and
    /// now and then NULL with a length.
    fn buffer(&mut self, input: &mut Input) -> (*mut u8, CK_ULONG) {
        match input.byte() {
            0xf0..=0xf7 => (null_mut(), 0),
            0xf8..=0xfb => (null_mut(), input.byte() as CK_ULONG + 1),
            0xfc..=0xff => (null_mut(), input.ulong()),
            n => {
                let mut v = input.take(n as usize).to_vec();
                let p = v.as_mut_ptr();
                let len = v.len() as CK_ULONG;
                self._inner.push(v);
                (p, len)
            }
        }
    }

    fn structure(&mut self, input: &mut Input) -> Vec<u8> {
        match self.ty {
            CKM_AES_GCM => {
                let (iv, iv_len) = self.buffer(input);
                let (aad, aad_len) = self.buffer(input);
                let bits = [iv_len.wrapping_mul(8), input.ulong()][input.byte() as usize % 2];
                let tag = [128, 96, 64, 32, 0, 129, input.ulong()][input.byte() as usize % 7];
                if input.byte().is_multiple_of(4) {
                    // The 2.40 layout without ulIvBits.
                    [
                        bytes_of(&iv),
                        bytes_of(&iv_len),
                        bytes_of(&aad),
                        bytes_of(&aad_len),
                        bytes_of(&tag),
                    ]
                    .concat()
                } else {
                    bytes_of(&CK_GCM_PARAMS {
                        pIv: iv,
                        ulIvLen: iv_len,
                        ulIvBits: bits,
                        pAAD: aad,
                        ulAADLen: aad_len,
                        ulTagBits: tag,
                    })
                }
            }
            CKM_RSA_PKCS_PSS | CKM_SHA256_RSA_PKCS_PSS => bytes_of(&CK_RSA_PKCS_PSS_PARAMS {
                hashAlg: input.pick(&[CKM_SHA256, CKM_SHA_1, CKM_SHA384, CKM_SHA512]),
                mgf: input.pick(&[CKG_MGF1_SHA256, CKG_MGF1_SHA1, CKG_MGF1_SHA512]),
                sLen: input.pick(&[32, 0, 20, 64, 222, 223]),
            }),
            CKM_RSA_PKCS_OAEP => {
                let hash = input.pick(&[CKM_SHA256, CKM_SHA_1, CKM_SHA512]);
                let mgf = input.pick(&[CKG_MGF1_SHA256, CKG_MGF1_SHA1, CKG_MGF1_SHA512]);
                let source = input.pick(&[CKZ_DATA_SPECIFIED, 0]);
                let (label, len) = self.buffer(input);
                bytes_of(&CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: hash,
                    mgf,
                    source,
                    pSourceData: label as *mut c_void,
                    ulSourceDataLen: len,
                })
            }
            CKM_AES_CTR => {
                let mut cb = [0u8; 16];
                cb.copy_from_slice(&{
                    let mut b = input.take(16).to_vec();
                    b.resize(16, 0);
                    b
                });
                bytes_of(&CK_AES_CTR_PARAMS {
                    ulCounterBits: input.pick(&[128, 32, 64, 0, 129]),
                    cb,
                })
            }
            CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => {
                let kdf = input.pick(&[CKD_NULL, CKD_SHA256_KDF, CKD_SHA1_KDF]);
                let (shared, shared_len) = self.buffer(input);
                let (public, public_len) = self.buffer(input);
                bytes_of(&CK_ECDH1_DERIVE_PARAMS {
                    kdf,
                    ulSharedDataLen: shared_len,
                    pSharedData: shared,
                    ulPublicDataLen: public_len,
                    pPublicData: public,
                })
            }
            CKM_HKDF_DERIVE | CKM_HKDF_DATA => {
                let flags = input.byte();
                let salt_type =
                    input.pick(&[CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY]);
                let (salt, salt_len) = self.buffer(input);
                let (info, info_len) = self.buffer(input);
                bytes_of(&CK_HKDF_PARAMS {
                    bExtract: flags & 1,
                    bExpand: (flags >> 1) & 1,
                    prfHashMechanism: input.pick(&[CKM_SHA256, CKM_SHA_1, CKM_SHA512]),
                    ulSaltType: salt_type,
                    pSalt: salt,
                    ulSaltLen: salt_len,
                    hSaltKey: input.byte() as CK_ULONG,
                    pInfo: info,
                    ulInfoLen: info_len,
                })
            }
            CKM_PKCS5_PBKD2 => {
                let (salt, salt_len) = self.buffer(input);
                let (password, password_len) = self.buffer(input);
                // Above 4096 the module takes this field for the 2.40 layout's pointer to the
                // length: give it one (a CK_ULONG no longer than the password).
                let password_len = if password_len > 4096 {
                    let len =
                        password_len % (self._inner.last().map_or(0, |v| v.len()) as CK_ULONG + 1);
                    let mut holder = bytes_of(&len);
                    let p = holder.as_mut_ptr() as CK_ULONG;
                    self._inner.push(holder);
                    p
                } else {
                    password_len
                };
                bytes_of(&CK_PKCS5_PBKD2_PARAMS2 {
                    saltSource: input.pick(&[CKZ_SALT_SPECIFIED, 0]),
                    pSaltSourceData: salt as *mut c_void,
                    ulSaltSourceDataLen: salt_len,
                    // Capped: the cost of a huge count is the caller's own time.
                    iterations: input.ulong() % 64,
                    prf: input.pick(&[CKP_PKCS5_PBKD2_HMAC_SHA256, CKP_PKCS5_PBKD2_HMAC_SHA1]),
                    pPrfData: null_mut(),
                    ulPrfDataLen: 0,
                    pPassword: password,
                    ulPasswordLen: password_len,
                })
            }
            CKM_SP800_108_COUNTER_KDF => {
                for _ in 0..input.byte() % 5 {
                    let part = match input.byte() % 4 {
                        0 => bytes_of(&CK_SP800_108_COUNTER_FORMAT {
                            bLittleEndian: input.byte() & 1,
                            ulWidthInBits: input.pick(&[8, 16, 24, 32, 0, 7, 33]),
                        }),
                        1 => bytes_of(&CK_SP800_108_DKM_LENGTH_FORMAT {
                            dkmLengthMethod: input.pick(&[
                                CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
                                CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
                            ]),
                            bLittleEndian: input.byte() & 1,
                            ulWidthInBits: input.pick(&[8, 16, 32, 64, 0, 65]),
                        }),
                        _ => {
                            let n = input.byte() as usize % 32;
                            input.take(n).to_vec()
                        }
                    };
                    let ty = input.pick(&[
                        CK_SP800_108_ITERATION_VARIABLE,
                        CK_SP800_108_DKM_LENGTH,
                        CK_SP800_108_BYTE_ARRAY,
                    ]);
                    let mut part = part;
                    let (p, len) = if part.is_empty() {
                        (null_mut(), 0)
                    } else {
                        (part.as_mut_ptr() as *mut c_void, part.len() as CK_ULONG)
                    };
                    self._inner.push(part);
                    self._prf.push(CK_PRF_DATA_PARAM {
                        type_: ty,
                        pValue: p,
                        ulValueLen: len,
                    });
                }
                let list = if self._prf.is_empty() {
                    null_mut()
                } else {
                    self._prf.as_mut_ptr()
                };
                bytes_of(&CK_SP800_108_KDF_PARAMS {
                    prfType: input.pick(&[CKM_SHA256_HMAC, CKM_AES_CMAC, CKM_SHA_1_HMAC]),
                    ulNumberOfDataParams: self._prf.len() as CK_ULONG,
                    pDataParams: list,
                    ulAdditionalDerivedKeys: 0,
                    pAdditionalDerivedKeys: null_mut(),
                })
            }
            CKM_AES_ECB_ENCRYPT_DATA => {
                let (data, len) = self.buffer(input);
                bytes_of(&CK_KEY_DERIVATION_STRING_DATA {
                    pData: data,
                    ulLen: len,
                })
            }
            CKM_AES_CBC_ENCRYPT_DATA => {
                let mut iv = [0u8; 16];
                let got = input.take(16);
                iv[..got.len()].copy_from_slice(got);
                let (data, len) = self.buffer(input);
                bytes_of(&CK_AES_CBC_ENCRYPT_DATA_PARAMS {
                    iv,
                    pData: data,
                    length: len,
                })
            }
            CKM_EDDSA => {
                let flag = input.byte() & 1;
                let (context, len) = self.buffer(input);
                bytes_of(&CK_EDDSA_PARAMS {
                    phFlag: flag,
                    ulContextDataLen: len,
                    pContextData: context,
                })
            }
            CKM_AES_CBC | CKM_AES_CBC_PAD => {
                let mut iv = input.take(16).to_vec();
                iv.resize(16, 0);
                iv
            }
            // CK_MAC_GENERAL_PARAMS and anything else: a CK_ULONG.
            _ => bytes_of(&input.pick(&[16, 32, 0, 8, 33, 64])),
        }
    }

    fn ck(&mut self) -> CK_MECHANISM {
        let (p, len) = match self.null_with {
            Some(len) => (null_mut(), len),
            None if self.param.is_empty() => (null_mut(), 0),
            None => (
                self.param.as_mut_ptr() as *mut c_void,
                self.param.len() as CK_ULONG,
            ),
        };
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: p,
            ulParameterLen: len,
        }
    }
}

/// Run a two-call output function: the size query, then a buffer of that size with a guard
/// area. Returns the code of the real call.
fn two_call(what: &str, mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> CK_RV {
    let mut need: CK_ULONG = 0;
    let rv = check(what, f(null_mut(), &mut need));
    if rv != CKR_OK {
        return rv;
    }
    assert!(need <= 1 << 24, "{what}: announces {need} bytes");
    const GUARD: usize = 32;
    let mut buf = vec![0x5a; need as usize + GUARD];
    let mut len = need;
    let rv = check(what, f(buf.as_mut_ptr(), &mut len));
    assert!(
        buf[need as usize..].iter().all(|b| *b == 0x5a),
        "{what}: wrote past the announced size"
    );
    if rv == CKR_OK {
        assert!(len <= need, "{what}: output longer than announced");
    }
    rv
}

/// A secret-key template with a fuzzed CKA_VALUE_LEN, for derivation and generation.
fn key_template(input: &mut Input, len: &mut CK_ULONG) -> [CK_ATTRIBUTE; 5] {
    *len = input.pick(&[16, 32, 24, 1, 0, 64, 4096]);
    static CLASS: CK_OBJECT_CLASS = CKO_SECRET_KEY;
    static GENERIC: CK_KEY_TYPE = CKK_GENERIC_SECRET;
    static FALSE: CK_BBOOL = CK_FALSE;
    static TRUE: CK_BBOOL = CK_TRUE;
    [
        attr(CKA_CLASS, &CLASS),
        attr(CKA_KEY_TYPE, &GENERIC),
        attr(CKA_TOKEN, &FALSE),
        attr(CKA_EXTRACTABLE, &TRUE),
        attr(CKA_VALUE_LEN, len),
    ]
}

/// Target `mechanism_abi`: a fuzzed CK_MECHANISM through one of the *Init calls (and, when it
/// starts, the operation on fuzzed data), C_DeriveKey, C_WrapKey, C_UnwrapKey or
/// C_GenerateKey.
pub fn mechanism_abi(data: &[u8]) {
    let fx = fixture();
    let fl = fx.fl;
    let h = fx.session();
    let mut input = Input::new(data);
    let op = input.byte();
    let mut raw = RawMechanism::decode(&mut input);
    let mut m = raw.ck();
    let key = fx.key(&mut input);
    let n = input.byte() as usize;
    let payload = input.take(n).to_vec();
    let (d, dl) = (payload.as_ptr() as *mut u8, payload.len() as CK_ULONG);
    let mut obj = 0;
    match op % 9 {
        0 | 1 => {
            let decrypt = op % 9 == 1;
            let rv = if decrypt {
                ck!(fl, C_DecryptInit(h, &mut m, key))
            } else {
                ck!(fl, C_EncryptInit(h, &mut m, key))
            };
            if check("C_EncryptInit/C_DecryptInit", rv) == CKR_OK {
                two_call("C_Encrypt/C_Decrypt", |b, l| {
                    if decrypt {
                        ck!(fl, C_Decrypt(h, d, dl, b, l))
                    } else {
                        ck!(fl, C_Encrypt(h, d, dl, b, l))
                    }
                });
            }
        }
        2 => {
            if check("C_SignInit", ck!(fl, C_SignInit(h, &mut m, key))) == CKR_OK {
                if op & 0x80 != 0 {
                    check("C_SignUpdate", ck!(fl, C_SignUpdate(h, d, dl)));
                    two_call("C_SignFinal", |b, l| ck!(fl, C_SignFinal(h, b, l)));
                } else {
                    two_call("C_Sign", |b, l| ck!(fl, C_Sign(h, d, dl, b, l)));
                }
            }
        }
        3 => {
            if check("C_VerifyInit", ck!(fl, C_VerifyInit(h, &mut m, key))) == CKR_OK {
                let split = payload.len() / 2;
                let sig = payload[split..].as_ptr() as *mut u8;
                let sl = (payload.len() - split) as CK_ULONG;
                check(
                    "C_Verify",
                    ck!(fl, C_Verify(h, d, split as CK_ULONG, sig, sl)),
                );
            }
        }
        4 => {
            if check("C_DigestInit", ck!(fl, C_DigestInit(h, &mut m))) == CKR_OK {
                two_call("C_Digest", |b, l| ck!(fl, C_Digest(h, d, dl, b, l)));
            }
        }
        5 => {
            let mut len = 0;
            let mut t = key_template(&mut input, &mut len);
            let rv = ck!(fl, C_DeriveKey(h, &mut m, key, t.as_mut_ptr(), 5, &mut obj));
            if check("C_DeriveKey", rv) == CKR_OK {
                fx.destroy(h, obj);
            }
        }
        6 => {
            let target = [fx.aes_extractable, key][input.byte() as usize % 2];
            two_call("C_WrapKey", |b, l| {
                ck!(fl, C_WrapKey(h, &mut m, key, target, b, l))
            });
        }
        7 => {
            let mut len = 0;
            let mut t = key_template(&mut input, &mut len);
            let rv = ck!(
                fl,
                C_UnwrapKey(h, &mut m, key, d, dl, t.as_mut_ptr(), 4, &mut obj)
            );
            if check("C_UnwrapKey", rv) == CKR_OK {
                fx.destroy(h, obj);
            }
        }
        _ => {
            let mut len = 0;
            let mut t = key_template(&mut input, &mut len);
            let rv = if m.mechanism == CKM_EC_KEY_PAIR_GEN {
                let public = [attr(CKA_EC_PARAMS, &P256), t[2]];
                let (mut pb, mut pv) = (0, 0);
                let rv = ck!(
                    fl,
                    C_GenerateKeyPair(
                        h,
                        &mut m,
                        public.as_ptr() as *mut CK_ATTRIBUTE,
                        2,
                        t[2..3].as_mut_ptr(),
                        1,
                        &mut pb,
                        &mut pv
                    )
                );
                if rv == CKR_OK {
                    fx.destroy(h, pb);
                    obj = pv;
                }
                rv
            } else if m.mechanism == CKM_RSA_PKCS_KEY_PAIR_GEN {
                // Key-pair generation of any size is the caller's own time: not fuzzed.
                CKR_MECHANISM_INVALID
            } else {
                ck!(
                    fl,
                    C_GenerateKey(h, &mut m, t[2..].as_mut_ptr(), 3, &mut obj)
                )
            };
            if check("C_GenerateKey", rv) == CKR_OK {
                fx.destroy(h, obj);
            }
        }
    }
    let every = CKF_ENCRYPT | CKF_DECRYPT | CKF_DIGEST | CKF_SIGN | CKF_VERIFY;
    check("C_SessionCancel", ck!(fl, C_SessionCancel(h, every)));
    let _ = &raw;
}
