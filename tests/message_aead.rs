//! PKCS#11 3.0 message-based AES-GCM (C_MessageEncryptInit, C_EncryptMessage, the
//! Begin/Next forms, C_MessageEncryptFinal and the decrypt side) through the raw C ABI,
//! checked against the GCM specification's test case 4.
mod common;

use std::ffi::c_void;

use cryptoki::mechanism::MechanismType;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;

use common::{c_fn, user_session};

use common::hex;

const KEY: &str = "feffe9928665731c6d6a8f9467308308";
const IV: &str = "cafebabefacedbaddecaf888";
const AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const PT: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                  1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
const CT: &str = "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
                  21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091";
const TAG: &str = "5bc94fbc3221a5db94fae95ae7121a47";

type InitFn = unsafe extern "C" fn(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE) -> CK_RV;
type OneFn = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    *mut c_void,
    CK_ULONG,
    *mut u8,
    CK_ULONG,
    *mut u8,
    CK_ULONG,
    *mut u8,
    *mut CK_ULONG,
) -> CK_RV;
type BeginFn =
    unsafe extern "C" fn(CK_SESSION_HANDLE, *mut c_void, CK_ULONG, *mut u8, CK_ULONG) -> CK_RV;
type NextFn = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    *mut c_void,
    CK_ULONG,
    *mut u8,
    CK_ULONG,
    *mut u8,
    *mut CK_ULONG,
    CK_FLAGS,
) -> CK_RV;
type FinalFn = unsafe extern "C" fn(CK_SESSION_HANDLE) -> CK_RV;

/// One side (encrypt or decrypt) of the message API.
struct Side {
    init: InitFn,
    one: OneFn,
    begin: BeginFn,
    next: NextFn,
    fin: FinalFn,
}

fn side(encrypt: bool) -> Side {
    let (e, d) = if encrypt {
        ("Encrypt", "Encrypt")
    } else {
        ("Decrypt", "Decrypt")
    };
    Side {
        init: c_fn(&format!("C_Message{e}Init")),
        one: c_fn(&format!("C_{d}Message")),
        begin: c_fn(&format!("C_{d}MessageBegin")),
        next: c_fn(&format!("C_{d}MessageNext")),
        fin: c_fn(&format!("C_Message{e}Final")),
    }
}

/// A message's parameter with the buffers it points to.
struct Msg {
    iv: Vec<u8>,
    tag: Vec<u8>,
    params: CK_GCM_MESSAGE_PARAMS,
}

impl Msg {
    fn new(
        iv: Vec<u8>,
        fixed_bits: CK_ULONG,
        generator: CK_GENERATOR_FUNCTION,
        tag: Vec<u8>,
    ) -> Box<Self> {
        let mut m = Box::new(Msg {
            iv,
            tag,
            params: CK_GCM_MESSAGE_PARAMS::default(),
        });
        m.params = CK_GCM_MESSAGE_PARAMS {
            pIv: m.iv.as_mut_ptr(),
            ulIvLen: m.iv.len() as CK_ULONG,
            ulIvFixedBits: fixed_bits,
            ivGenerator: generator,
            pTag: m.tag.as_mut_ptr(),
            ulTagBits: (m.tag.len() * 8) as CK_ULONG,
        };
        m
    }
    fn ptr(&mut self) -> (*mut c_void, CK_ULONG) {
        (
            (&mut self.params as *mut CK_GCM_MESSAGE_PARAMS).cast(),
            std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() as CK_ULONG,
        )
    }
}

fn key(s: &Session) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(hex(KEY)),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ])
    .unwrap()
}

fn init(s: &Session, side: &Side, ty: CK_MECHANISM_TYPE, key: ObjectHandle) -> CK_RV {
    let mut m = CK_MECHANISM {
        mechanism: ty,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    // SAFETY: a live mechanism without parameter and a valid session.
    unsafe { (side.init)(s.handle(), &mut m, key.handle()) }
}

/// One whole message; `out` None is a size query. Returns (rv, output, reported length).
fn one(
    s: &Session,
    side: &Side,
    msg: &mut Msg,
    aad: &[u8],
    input: &[u8],
    out: Option<usize>,
) -> (CK_RV, Vec<u8>, usize) {
    let (p, pl) = msg.ptr();
    let mut buf = vec![0u8; out.unwrap_or(0)];
    let mut len = buf.len() as CK_ULONG;
    let out_ptr = if out.is_some() {
        buf.as_mut_ptr()
    } else {
        std::ptr::null_mut()
    };
    let (mut a, mut i) = (aad.to_vec(), input.to_vec());
    // SAFETY: every buffer is live for the length passed with it.
    let rv = unsafe {
        (side.one)(
            s.handle(),
            p,
            pl,
            a.as_mut_ptr(),
            a.len() as CK_ULONG,
            i.as_mut_ptr(),
            i.len() as CK_ULONG,
            out_ptr,
            &mut len,
        )
    };
    buf.truncate(len as usize);
    (rv, buf, len as usize)
}

/// A message in parts of `chunk` bytes via Begin/Next.
fn in_parts(
    s: &Session,
    side: &Side,
    msg: &mut Msg,
    aad: &[u8],
    input: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let (p, pl) = msg.ptr();
    let mut a = aad.to_vec();
    // SAFETY: live parameter and AAD buffers.
    assert_eq!(
        unsafe { (side.begin)(s.handle(), p, pl, a.as_mut_ptr(), a.len() as CK_ULONG) },
        CKR_OK
    );
    let mut out = Vec::new();
    let chunks: Vec<&[u8]> = input.chunks(chunk).collect();
    for (n, part) in chunks.iter().enumerate() {
        let flags = if n + 1 == chunks.len() {
            CKF_END_OF_MESSAGE
        } else {
            0
        };
        let mut part = part.to_vec();
        let mut buf = vec![0u8; input.len()];
        let mut len = buf.len() as CK_ULONG;
        // SAFETY: live buffers of the stated lengths.
        let rv = unsafe {
            (side.next)(
                s.handle(),
                p,
                pl,
                part.as_mut_ptr(),
                part.len() as CK_ULONG,
                buf.as_mut_ptr(),
                &mut len,
                flags,
            )
        };
        assert_eq!(rv, CKR_OK, "part {n}");
        out.extend_from_slice(&buf[..len as usize]);
    }
    out
}

#[test]
fn mechanism_info_advertises_message_encryption() {
    let (slot, _) = common::fresh_token();
    let info = common::p11()
        .get_mechanism_info(slot, MechanismType::AES_GCM)
        .unwrap();
    assert!(info.message_encrypt() && info.message_decrypt() && info.multi_message());
}

#[test]
fn encrypt_and_decrypt_messages_match_the_gcm_vector() {
    let s = user_session();
    let k = key(&s);
    let (enc, dec) = (side(true), side(false));
    assert_eq!(init(&s, &enc, CKM_AES_GCM, k), CKR_OK);
    assert_eq!(init(&s, &enc, CKM_AES_GCM, k), CKR_OPERATION_ACTIVE);

    let mut m = Msg::new(hex(IV), 0, CKG_NO_GENERATE, vec![0; 16]);
    let (rv, _, len) = one(&s, &enc, &mut m, &hex(AAD), &hex(PT), None);
    assert_eq!((rv, len), (CKR_OK, 60), "size query");
    assert_eq!(m.tag, vec![0; 16], "a size query writes no tag");
    let (rv, _, len) = one(&s, &enc, &mut m, &hex(AAD), &hex(PT), Some(10));
    assert_eq!((rv, len), (CKR_BUFFER_TOO_SMALL, 60));
    let (rv, ct, _) = one(&s, &enc, &mut m, &hex(AAD), &hex(PT), Some(60));
    assert_eq!((rv, ct, m.tag.clone()), (CKR_OK, hex(CT), hex(TAG)));

    let mut parts = Msg::new(hex(IV), 0, CKG_NO_GENERATE, vec![0; 16]);
    assert_eq!(
        in_parts(&s, &enc, &mut parts, &hex(AAD), &hex(PT), 7),
        hex(CT)
    );
    assert_eq!(parts.tag, hex(TAG));

    assert_eq!(init(&s, &dec, CKM_AES_GCM, k), CKR_OK);
    let mut d = Msg::new(hex(IV), 0, CKG_NO_GENERATE, hex(TAG));
    let (rv, pt, _) = one(&s, &dec, &mut d, &hex(AAD), &hex(CT), Some(60));
    assert_eq!((rv, pt), (CKR_OK, hex(PT)));
    let mut dp = Msg::new(hex(IV), 0, CKG_NO_GENERATE, hex(TAG));
    assert_eq!(
        in_parts(&s, &dec, &mut dp, &hex(AAD), &hex(CT), 16),
        hex(PT)
    );
    let mut bad_tag = hex(TAG);
    bad_tag[15] ^= 1;
    let mut bad = Msg::new(hex(IV), 0, CKG_NO_GENERATE, bad_tag);
    let (rv, _, _) = one(&s, &dec, &mut bad, &hex(AAD), &hex(CT), Some(60));
    assert_eq!(rv, CKR_ENCRYPTED_DATA_INVALID);

    // SAFETY: valid session handle.
    assert_eq!(unsafe { (enc.fin)(s.handle()) }, CKR_OK);
    let (rv, _, _) = one(&s, &enc, &mut m, &hex(AAD), &hex(PT), Some(60));
    assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
    // SAFETY: valid session handle.
    assert_eq!(unsafe { (dec.fin)(s.handle()) }, CKR_OK);
    // SAFETY: valid session handle.
    assert_eq!(
        unsafe { (dec.fin)(s.handle()) },
        CKR_OPERATION_NOT_INITIALIZED
    );
}

#[test]
fn the_token_generates_counter_ivs_and_they_decrypt() {
    let s = user_session();
    let k = key(&s);
    let (enc, dec) = (side(true), side(false));
    assert_eq!(init(&s, &enc, CKM_AES_GCM, k), CKR_OK);
    assert_eq!(init(&s, &dec, CKM_AES_GCM, k), CKR_OK);
    let mut ivs = Vec::new();
    for n in 0..3u8 {
        let mut m = Msg::new(vec![0x11; 12], 32, CKG_GENERATE_COUNTER, vec![0; 16]);
        let (rv, ct, _) = one(&s, &enc, &mut m, b"hdr", &[n; 20], Some(20));
        assert_eq!(rv, CKR_OK);
        assert_eq!(&m.iv[..4], &[0x11; 4], "the fixed part is kept");
        let mut back = Msg::new(m.iv.clone(), 0, CKG_NO_GENERATE, m.tag.clone());
        let (rv, pt, _) = one(&s, &dec, &mut back, b"hdr", &ct, Some(20));
        assert_eq!((rv, pt), (CKR_OK, vec![n; 20]));
        ivs.push(m.iv);
    }
    ivs.dedup();
    assert_eq!(ivs.len(), 3, "every message gets a fresh IV");
}

#[test]
fn only_aes_gcm_serves_messages() {
    let s = user_session();
    let k = key(&s);
    assert_eq!(init(&s, &side(true), CKM_AES_CBC, k), CKR_MECHANISM_INVALID);
    let mut m = Msg::new(hex(IV), 0, CKG_NO_GENERATE, vec![0; 16]);
    let (rv, _, _) = one(&s, &side(true), &mut m, b"", b"x", Some(1));
    assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED);
}
