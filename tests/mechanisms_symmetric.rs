//! Black-box tests of the symmetric mechanisms (PKCS#11 3.0 AES, SHA-n, HMAC and
//! generic secrets): key generation, NIST/RFC known-answer vectors, single vs multi-part
//! operations, the output-length convention (§5.2), and the operation-state rules.
mod common;

use std::sync::OnceLock;

use common::assert_rv;
use cryptoki::error::{Result, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::{
    CKR_BUFFER_TOO_SMALL, CKR_OK, CKR_OPERATION_NOT_INITIALIZED, CK_AES_CTR_PARAMS, CK_BYTE_PTR,
    CK_FUNCTION_LIST, CK_FUNCTION_LIST_PTR, CK_GCM_PARAMS, CK_RV, CK_SESSION_HANDLE, CK_ULONG,
    CK_ULONG_PTR,
};

use common::hex;

/// A deterministic, non-repeating test message of `len` bytes.
fn message(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 37 + 11) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

fn import_secret(
    s: &Session,
    key_type: KeyType,
    value: &[u8],
    usage: &[Attribute],
) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Value(value.to_vec()),
    ];
    template.extend_from_slice(usage);
    s.create_object(&template)
        .expect("C_CreateObject secret key")
}

fn aes_key(s: &Session, value: &[u8]) -> ObjectHandle {
    let usage = [Attribute::Encrypt(true), Attribute::Decrypt(true)];
    import_secret(s, KeyType::AES, value, &usage)
}

fn hmac_key(s: &Session, value: &[u8]) -> ObjectHandle {
    let usage = [Attribute::Sign(true), Attribute::Verify(true)];
    import_secret(s, KeyType::GENERIC_SECRET, value, &usage)
}

/// Generate a secret key of `len` bytes with `mech`, readable so its length can be checked.
fn generate_secret(s: &Session, mech: &Mechanism, len: Option<u64>) -> Result<ObjectHandle> {
    let mut template = vec![
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Sign(true),
        Attribute::Verify(true),
    ];
    template.extend(len.map(|l| Attribute::ValueLen(l.into())));
    s.generate_key(mech, &template)
}

/// A generated key has the requested length, key type, CKA_LOCAL and CKA_KEY_GEN_MECHANISM;
/// returns its value.
fn check_generated_secret(
    s: &Session,
    key: ObjectHandle,
    key_type: KeyType,
    len: u64,
    mech: MechanismType,
) -> Vec<u8> {
    let types = [
        AttributeType::ValueLen,
        AttributeType::KeyType,
        AttributeType::Local,
        AttributeType::KeyGenMechanism,
        AttributeType::Value,
    ];
    let mut attrs = s.get_attributes(key, &types).expect("C_GetAttributeValue");
    let Some(Attribute::Value(value)) = attrs.pop() else {
        panic!("CKA_VALUE of a non-sensitive key is readable: {attrs:?}");
    };
    let expected = [
        Attribute::ValueLen(len.into()),
        Attribute::KeyType(key_type),
        Attribute::Local(true),
        Attribute::KeyGenMechanism(mech),
    ];
    assert_eq!(attrs, expected);
    assert_eq!(value.len() as u64, len, "CKA_VALUE length");
    value
}

// ---------------------------------------------------------------------------------------------
// AES modes and their parameters
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Ecb,
    Cbc,
    CbcPad,
    Ctr,
    Gcm,
}

/// The parameters of one AES operation; `mechanism()` borrows them (GCM wants `&mut` IV).
struct Cipher {
    mode: Mode,
    iv: Vec<u8>,
    aad: Vec<u8>,
    ctr: CK_AES_CTR_PARAMS,
    tag_bits: u64,
}

impl Cipher {
    fn new(mode: Mode, iv: &[u8], aad: &[u8]) -> Self {
        let mut cb = [0; 16];
        if mode == Mode::Ctr {
            cb.copy_from_slice(iv);
        }
        Cipher {
            mode,
            iv: iv.to_vec(),
            aad: aad.to_vec(),
            ctr: CK_AES_CTR_PARAMS {
                ulCounterBits: 128,
                cb,
            },
            tag_bits: 128,
        }
    }

    /// Fixed parameters for the non-KAT tests: a 16-byte IV (12 for GCM) and some AAD.
    fn with_defaults(mode: Mode) -> Self {
        let iv = message(if mode == Mode::Gcm { 12 } else { 16 });
        Cipher::new(mode, &iv, b"header")
    }

    fn block(&self) -> [u8; 16] {
        self.iv[..].try_into().expect("16-byte IV")
    }

    fn mechanism(&mut self) -> Mechanism<'_> {
        match self.mode {
            Mode::Ecb => Mechanism::AesEcb,
            Mode::Cbc => Mechanism::AesCbc(self.block()),
            Mode::CbcPad => Mechanism::AesCbcPad(self.block()),
            Mode::Ctr => Mechanism::VendorDefined(VendorDefinedMechanism::new(
                MechanismType::AES_CTR,
                Some(&self.ctr),
            )),
            Mode::Gcm => Mechanism::AesGcm(
                GcmParams::new(&mut self.iv, &self.aad, self.tag_bits.into()).expect("GCM params"),
            ),
        }
    }
}

/// Uneven pieces (1, 7, 16, 33 bytes, repeating) so multi-part paths see partial blocks.
fn pieces(data: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    for size in [1, 7, 16, 33].into_iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (piece, tail) = rest.split_at(rest.len().min(size));
        out.push(piece);
        rest = tail;
    }
    out
}

/// `init`, then `update` on each of `pieces(data)`, then `finish`; the output concatenated.
fn in_pieces(
    data: &[u8],
    init: impl FnOnce() -> Result<()>,
    update: impl Fn(&[u8]) -> Result<Vec<u8>>,
    finish: impl FnOnce() -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    init()?;
    let mut out = Vec::new();
    for piece in pieces(data) {
        out.extend(update(piece)?);
    }
    out.extend(finish()?);
    Ok(out)
}

fn encrypt_parts(s: &Session, c: &mut Cipher, key: ObjectHandle, data: &[u8]) -> Result<Vec<u8>> {
    let mech = c.mechanism();
    let init = || s.encrypt_init(&mech, key);
    in_pieces(data, init, |p| s.encrypt_update(p), || s.encrypt_final())
}

fn decrypt_parts(s: &Session, c: &mut Cipher, key: ObjectHandle, data: &[u8]) -> Result<Vec<u8>> {
    let mech = c.mechanism();
    let init = || s.decrypt_init(&mech, key);
    in_pieces(data, init, |p| s.decrypt_update(p), || s.decrypt_final())
}

// ---------------------------------------------------------------------------------------------
// AES key generation
// ---------------------------------------------------------------------------------------------

#[test]
fn aes_key_generation_sizes() {
    let s = common::user_session();
    for len in [16, 24, 32] {
        let key = generate_secret(&s, &Mechanism::AesKeyGen, Some(len)).expect("C_GenerateKey");
        check_generated_secret(&s, key, KeyType::AES, len, MechanismType::AES_KEY_GEN);
        let block = message(16);
        let ct = s
            .encrypt(&Mechanism::AesEcb, key, &block)
            .expect("C_Encrypt");
        assert_ne!(ct, block);
        assert_eq!(s.decrypt(&Mechanism::AesEcb, key, &ct).unwrap(), block);
    }
}

#[test]
fn aes_key_generation_rejects_other_sizes() {
    let s = common::user_session();
    for len in [1, 8, 15, 17, 20, 31, 33, 64] {
        let result = generate_secret(&s, &Mechanism::AesKeyGen, Some(len));
        assert_rv(result, RvError::KeySizeRange);
    }
}

#[test]
fn secret_key_generation_requires_value_len() {
    let s = common::user_session();
    for mech in [Mechanism::AesKeyGen, Mechanism::GenericSecretKeyGen] {
        assert_rv(
            generate_secret(&s, &mech, None),
            RvError::TemplateIncomplete,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Known-answer vectors
// ---------------------------------------------------------------------------------------------

struct Kat {
    name: &'static str,
    mode: Mode,
    key: &'static str,
    iv: &'static str,
    aad: &'static str,
    pt: &'static str,
    /// Ciphertext, with the tag appended for GCM.
    ct: &'static str,
}

const FIPS197_PT: &str = "00112233445566778899aabbccddeeff";
const SP800_38A_PT: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                            30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
const SP800_38A_KEY128: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP800_38A_KEY256: &str = "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
const SP800_38A_IV: &str = "000102030405060708090a0b0c0d0e0f";
const SP800_38A_CTR: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
const GCM_IV: &str = "cafebabefacedbaddecaf888";
const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
const GCM_PT64: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const GCM_PT60: &str = "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
                        1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";

const ECB_KATS: [Kat; 2] = [
    Kat {
        name: "FIPS-197 C.1 AES-128",
        mode: Mode::Ecb,
        key: "000102030405060708090a0b0c0d0e0f",
        iv: "",
        aad: "",
        pt: FIPS197_PT,
        ct: "69c4e0d86a7b0430d8cdb78070b4c55a",
    },
    Kat {
        name: "FIPS-197 C.3 AES-256",
        mode: Mode::Ecb,
        key: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        iv: "",
        aad: "",
        pt: FIPS197_PT,
        ct: "8ea2b7ca516745bfeafc49904b496089",
    },
];

const CBC_KATS: [Kat; 2] = [
    Kat {
        name: "SP 800-38A F.2.1 CBC-AES128",
        mode: Mode::Cbc,
        key: SP800_38A_KEY128,
        iv: SP800_38A_IV,
        aad: "",
        pt: SP800_38A_PT,
        ct: "7649abac8119b246cee98e9b12e9197d 5086cb9b507219ee95db113a917678b2
             73bed6b8e3c1743b7116e69e22229516 3ff1caa1681fac09120eca307586e1a7",
    },
    Kat {
        name: "SP 800-38A F.2.5 CBC-AES256",
        mode: Mode::Cbc,
        key: SP800_38A_KEY256,
        iv: SP800_38A_IV,
        aad: "",
        pt: SP800_38A_PT,
        ct: "f58c4c04d6e5f1ba779eabfb5f7bfbd6 9cfc4e967edb808d679f777bc6702c7d
             39f23369a9d9bacfa530e26304231461 b2eb05e2c39be9fcda6c19078c6a9d1b",
    },
];

const CTR_KATS: [Kat; 2] = [
    Kat {
        name: "SP 800-38A F.5.1 CTR-AES128",
        mode: Mode::Ctr,
        key: SP800_38A_KEY128,
        iv: SP800_38A_CTR,
        aad: "",
        pt: SP800_38A_PT,
        ct: "874d6191b620e3261bef6864990db6ce 9806f66b7970fdff8617187bb9fffdff
             5ae4df3edbd5d35e5b4f09020db03eab 1e031dda2fbe03d1792170a0f3009cee",
    },
    Kat {
        name: "SP 800-38A F.5.5 CTR-AES256",
        mode: Mode::Ctr,
        key: SP800_38A_KEY256,
        iv: SP800_38A_CTR,
        aad: "",
        pt: SP800_38A_PT,
        ct: "601ec313775789a5b7a7f504bbf3d228 f443e3ca4d62b59aca84e990cacaf5c5
             2b0930daa23de94ce87017ba2d84988d dfc9c58db67aada613c2dd08457941a6",
    },
];

/// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 3, 4 and 16.
const GCM_KATS: [Kat; 3] = [
    Kat {
        name: "GCM test case 3",
        mode: Mode::Gcm,
        key: GCM_KEY,
        iv: GCM_IV,
        aad: "",
        pt: GCM_PT64,
        ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985
             4d5c2af327cd64a62cf35abd2ba6fab4",
    },
    Kat {
        name: "GCM test case 4",
        mode: Mode::Gcm,
        key: GCM_KEY,
        iv: GCM_IV,
        aad: GCM_AAD,
        pt: GCM_PT60,
        ct: "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e
             21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091
             5bc94fbc3221a5db94fae95ae7121a47",
    },
    Kat {
        name: "GCM test case 16 (AES-256)",
        mode: Mode::Gcm,
        key: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
        iv: GCM_IV,
        aad: GCM_AAD,
        pt: GCM_PT60,
        ct: "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662
             76fc6ece0f4e1768cddf8853bb2d551b",
    },
];

impl Kat {
    fn setup(&self, s: &Session) -> (ObjectHandle, Cipher, Vec<u8>, Vec<u8>) {
        let key = aes_key(s, &hex(self.key));
        let cipher = Cipher::new(self.mode, &hex(self.iv), &hex(self.aad));
        (key, cipher, hex(self.pt), hex(self.ct))
    }
}

/// Every vector encrypts to its ciphertext and decrypts back, single and multi-part.
fn run_kats(s: &Session, kats: &[Kat]) {
    for kat in kats {
        let (key, mut c, pt, ct) = kat.setup(s);
        let name = kat.name;
        assert_eq!(
            s.encrypt(&c.mechanism(), key, &pt).unwrap(),
            ct,
            "{name} encrypt"
        );
        assert_eq!(
            s.decrypt(&c.mechanism(), key, &ct).unwrap(),
            pt,
            "{name} decrypt"
        );
        assert_eq!(
            encrypt_parts(s, &mut c, key, &pt).unwrap(),
            ct,
            "{name} multi-part"
        );
        assert_eq!(
            decrypt_parts(s, &mut c, key, &ct).unwrap(),
            pt,
            "{name} multi-part"
        );
    }
}

#[test]
fn aes_ecb_known_answers() {
    run_kats(&common::user_session(), &ECB_KATS);
}

#[test]
fn aes_cbc_known_answers() {
    run_kats(&common::user_session(), &CBC_KATS);
}

#[test]
fn aes_ctr_known_answers() {
    run_kats(&common::user_session(), &CTR_KATS);
}

#[test]
fn aes_gcm_known_answers_and_tag_check() {
    let s = common::user_session();
    run_kats(&s, &GCM_KATS);
    // Test case 4 with a 96-bit tag: the same ciphertext, the tag truncated (SP 800-38D §5.2.1.2).
    let (key, mut c, pt, ct) = GCM_KATS[1].setup(&s);
    c.tag_bits = 96;
    let short_tag = &ct[..ct.len() - 4];
    assert_eq!(s.encrypt(&c.mechanism(), key, &pt).unwrap(), short_tag);
    assert_eq!(s.decrypt(&c.mechanism(), key, short_tag).unwrap(), pt);
    for kat in &GCM_KATS {
        let (key, mut c, _, ct) = kat.setup(&s);
        // A flipped bit in the tag, and in the ciphertext: authentication fails.
        for index in [ct.len() - 1, 0] {
            let mut tampered = ct.clone();
            tampered[index] ^= 0x80;
            let single = s.decrypt(&c.mechanism(), key, &tampered);
            assert_rv(single, RvError::EncryptedDataInvalid);
            let multi = decrypt_parts(&s, &mut c, key, &tampered);
            assert_rv(multi, RvError::EncryptedDataInvalid);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CBC_PAD, block-size and parameter errors
// ---------------------------------------------------------------------------------------------

#[test]
fn aes_cbc_pad_round_trips() {
    let s = common::user_session();
    let key = aes_key(&s, &message(32));
    let mut pad = Cipher::with_defaults(Mode::CbcPad);
    let mut raw = Cipher::with_defaults(Mode::Cbc);
    for len in [0, 1, 15, 16, 17, 100] {
        let pt = message(len);
        let ct = s.encrypt(&pad.mechanism(), key, &pt).expect("C_Encrypt");
        assert_eq!(ct.len(), (len / 16 + 1) * 16, "ciphertext of {len} bytes");
        // PKCS #7: CBC over the data padded with n bytes of value n.
        let n = 16 - len % 16;
        let padded = [pt.clone(), vec![n as u8; n]].concat();
        assert_eq!(s.encrypt(&raw.mechanism(), key, &padded).unwrap(), ct);
        assert_eq!(s.decrypt(&pad.mechanism(), key, &ct).unwrap(), pt);
    }
}

#[test]
fn aes_cbc_pad_rejects_bad_padding() {
    let s = common::user_session();
    let key = aes_key(&s, &message(16));
    let mut pad = Cipher::with_defaults(Mode::CbcPad);
    let mut raw = Cipher::with_defaults(Mode::Cbc);
    // Last plaintext bytes: padding value 0, 17 (> block), and 3 preceded by non-3 bytes.
    for tail in [&[0x00][..], &[0x11], &[0x05, 0x02, 0x03]] {
        let mut pt = message(32);
        pt[32 - tail.len()..].copy_from_slice(tail);
        let ct = s.encrypt(&raw.mechanism(), key, &pt).expect("C_Encrypt");
        let single = s.decrypt(&pad.mechanism(), key, &ct);
        assert_rv(single, RvError::EncryptedDataInvalid);
        assert_rv(
            decrypt_parts(&s, &mut pad, key, &ct),
            RvError::EncryptedDataInvalid,
        );
    }
}

#[test]
fn aes_block_modes_reject_partial_blocks() {
    let s = common::user_session();
    let key = aes_key(&s, &message(16));
    let data = message(64);
    // (mode, whether encryption needs whole blocks too, bad lengths)
    let cases: [(Mode, bool, &[usize]); 3] = [
        (Mode::Ecb, true, &[1, 15, 17, 33]),
        (Mode::Cbc, true, &[1, 15, 17, 33]),
        (Mode::CbcPad, false, &[0, 1, 15, 17, 33]),
    ];
    for (mode, encrypt_too, lens) in cases {
        let mut c = Cipher::with_defaults(mode);
        for &len in lens {
            let part = &data[..len];
            if encrypt_too {
                assert_rv(s.encrypt(&c.mechanism(), key, part), RvError::DataLenRange);
                assert_rv(encrypt_parts(&s, &mut c, key, part), RvError::DataLenRange);
            }
            let single = s.decrypt(&c.mechanism(), key, part);
            assert_rv(single, RvError::EncryptedDataLenRange);
            let multi = decrypt_parts(&s, &mut c, key, part);
            assert_rv(multi, RvError::EncryptedDataLenRange);
        }
    }
}

#[test]
fn aes_rejects_bad_iv_and_parameters() {
    let s = common::user_session();
    let key = aes_key(&s, &message(16));
    let mut iv = [0u8; 12];
    let iv = iv.as_mut_ptr();
    let gcm = |iv_len, tag_bits| CK_GCM_PARAMS {
        pIv: iv,
        ulIvLen: iv_len,
        ulIvBits: iv_len * 8,
        pAAD: std::ptr::null_mut(),
        ulAADLen: 0,
        ulTagBits: tag_bits,
    };
    let (empty_iv_gcm, long_tag_gcm) = (gcm(0, 128), gcm(12, 136));
    let wide_counter = CK_AES_CTR_PARAMS {
        ulCounterBits: 129,
        cb: [0; 16],
    };
    let short = [0u8; 8];
    let long = [0u8; 32];
    let fifteen = [0u8; 15];
    let cases = [
        VendorDefinedMechanism::new(MechanismType::AES_CBC, Some(&short)),
        VendorDefinedMechanism::new(MechanismType::AES_CBC, Some(&long)),
        VendorDefinedMechanism::new::<()>(MechanismType::AES_CBC, None),
        VendorDefinedMechanism::new(MechanismType::AES_CBC_PAD, Some(&fifteen)),
        VendorDefinedMechanism::new(MechanismType::AES_CTR, Some(&long)),
        VendorDefinedMechanism::new(MechanismType::AES_CTR, Some(&wide_counter)),
        VendorDefinedMechanism::new(MechanismType::AES_GCM, Some(&empty_iv_gcm)),
        VendorDefinedMechanism::new(MechanismType::AES_GCM, Some(&long_tag_gcm)),
    ];
    for case in cases {
        let mech = Mechanism::VendorDefined(case);
        assert_rv(s.encrypt_init(&mech, key), RvError::MechanismParamInvalid);
        assert_rv(s.decrypt_init(&mech, key), RvError::MechanismParamInvalid);
    }
}

#[test]
fn aes_multi_part_matches_single_part() {
    let s = common::user_session();
    let key = aes_key(&s, &message(32));
    for mode in [Mode::Ecb, Mode::Cbc, Mode::CbcPad, Mode::Ctr, Mode::Gcm] {
        let whole_blocks = matches!(mode, Mode::Ecb | Mode::Cbc);
        let pt = message(if whole_blocks { 64 } else { 57 });
        let mut c = Cipher::with_defaults(mode);
        let ct = s.encrypt(&c.mechanism(), key, &pt).expect("C_Encrypt");
        assert_eq!(
            encrypt_parts(&s, &mut c, key, &pt).unwrap(),
            ct,
            "{mode:?} encrypt"
        );
        assert_eq!(
            decrypt_parts(&s, &mut c, key, &ct).unwrap(),
            pt,
            "{mode:?} decrypt"
        );
        assert_eq!(s.decrypt(&c.mechanism(), key, &ct).unwrap(), pt, "{mode:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Digests and HMAC
// ---------------------------------------------------------------------------------------------

/// FIPS 180-4 examples: (mechanism, digest of "abc", digest of "").
const DIGESTS: [(Mechanism<'static>, &str, &str); 5] = [
    (
        Mechanism::Sha1,
        "a9993e364706816aba3e25717850c26c9cd0d89d",
        "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    ),
    (
        Mechanism::Sha224,
        "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
        "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f",
    ),
    (
        Mechanism::Sha256,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    ),
    (
        Mechanism::Sha384,
        "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed
         8086072ba1e7cc2358baeca134c825a7",
        "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da
         274edebfe76f65fbd51ad2f14898b95b",
    ),
    (
        Mechanism::Sha512,
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce
         47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
    ),
];

fn digest_parts(s: &Session, mech: &Mechanism, data: &[u8]) -> Result<Vec<u8>> {
    let update = |p: &[u8]| s.digest_update(p).map(|()| Vec::new());
    in_pieces(data, || s.digest_init(mech), update, || s.digest_final())
}

#[test]
fn digest_known_answers() {
    let s = common::user_session();
    for (mech, abc, empty) in &DIGESTS {
        for (data, expected) in [(&b"abc"[..], abc), (&b""[..], empty)] {
            let expected = hex(expected);
            assert_eq!(s.digest(mech, data).unwrap(), expected, "{mech:?} {data:?}");
            let multi = digest_parts(&s, mech, data).unwrap();
            assert_eq!(multi, expected, "{mech:?} {data:?} multi-part");
        }
    }
}

/// RFC 4231 test cases 1, 2 and 6 (131-byte key, hashed first).
struct Rfc4231 {
    case: u32,
    key: &'static [u8],
    data: &'static [u8],
    macs: [(Mechanism<'static>, &'static str); 3],
}

const TC1_KEY: [u8; 20] = [0x0b; 20];
const TC6_KEY: [u8; 131] = [0xaa; 131];
const RFC4231: [Rfc4231; 3] = [
    Rfc4231 {
        case: 1,
        key: &TC1_KEY,
        data: b"Hi There",
        macs: [
            (
                Mechanism::Sha256Hmac,
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                Mechanism::Sha384Hmac,
                "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c
                 faea9ea9076ede7f4af152e8b2fa9cb6",
            ),
            (
                Mechanism::Sha512Hmac,
                "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde
                 daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
            ),
        ],
    },
    Rfc4231 {
        case: 2,
        key: b"Jefe",
        data: b"what do ya want for nothing?",
        macs: [
            (
                Mechanism::Sha256Hmac,
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                Mechanism::Sha384Hmac,
                "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e
                 8e2240ca5e69e2c78b3239ecfab21649",
            ),
            (
                Mechanism::Sha512Hmac,
                "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554
                 9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
            ),
        ],
    },
    Rfc4231 {
        case: 6,
        key: &TC6_KEY,
        data: b"Test Using Larger Than Block-Size Key - Hash Key First",
        macs: [
            (
                Mechanism::Sha256Hmac,
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                Mechanism::Sha384Hmac,
                "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6
                 0c2ef6ab4030fe8296248df163f44952",
            ),
            (
                Mechanism::Sha512Hmac,
                "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352
                 6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
            ),
        ],
    },
];

fn sign_parts(s: &Session, mech: &Mechanism, key: ObjectHandle, data: &[u8]) -> Result<Vec<u8>> {
    let update = |p: &[u8]| s.sign_update(p).map(|()| Vec::new());
    in_pieces(data, || s.sign_init(mech, key), update, || s.sign_final())
}

fn verify_parts(
    s: &Session,
    mech: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
    mac: &[u8],
) -> Result<()> {
    let update = |p: &[u8]| s.verify_update(p).map(|()| Vec::new());
    let finish = || s.verify_final(mac).map(|()| Vec::new());
    in_pieces(data, || s.verify_init(mech, key), update, finish).map(drop)
}

#[test]
fn hmac_rfc4231_sign_and_verify() {
    let s = common::user_session();
    for tc in &RFC4231 {
        let key = hmac_key(&s, tc.key);
        for (mech, mac) in &tc.macs {
            let (mac, what) = (hex(mac), format!("RFC 4231 case {} {mech:?}", tc.case));
            assert_eq!(s.sign(mech, key, tc.data).unwrap(), mac, "{what}");
            assert_eq!(
                sign_parts(&s, mech, key, tc.data).unwrap(),
                mac,
                "{what} multi-part"
            );
            let mut flipped = mac.clone();
            flipped[0] ^= 0x01;
            // (signature, expected outcome): good, one bit off, a byte short (C_Verify).
            let cases = [
                (&mac[..], None),
                (&flipped[..], Some(RvError::SignatureInvalid)),
                (&mac[..mac.len() - 1], Some(RvError::SignatureLenRange)),
            ];
            for (candidate, expected) in cases {
                let single = s.verify(mech, key, tc.data, candidate);
                let multi = verify_parts(&s, mech, key, tc.data, candidate);
                for result in [single, multi] {
                    match expected {
                        None => result.unwrap_or_else(|e| panic!("{what}: {e}")),
                        Some(rv) => assert_rv(result, rv),
                    }
                }
            }
        }
    }
}

#[test]
fn generic_secret_key_generation() {
    let s = common::user_session();
    let mech = Mechanism::GenericSecretKeyGen;
    for len in [1, 32, 100] {
        let key = generate_secret(&s, &mech, Some(len)).expect("C_GenerateKey");
        let value = check_generated_secret(
            &s,
            key,
            KeyType::GENERIC_SECRET,
            len,
            MechanismType::GENERIC_SECRET_KEY_GEN,
        );
        let data = message(50);
        let independent = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &value),
            &data,
        );
        let mac = s.sign(&Mechanism::Sha256Hmac, key, &data).expect("C_Sign");
        assert_eq!(mac, independent.as_ref(), "{len}-byte generated key");
    }
}

// ---------------------------------------------------------------------------------------------
// Key type and usage checks at C_*Init
// ---------------------------------------------------------------------------------------------

/// A whole single-part operation with one key (value `message(32)`) and fixed data.
type Operation = fn(&Session, ObjectHandle) -> Result<()>;
const DATA: &[u8] = b"sixteen byte msg";

fn aes_encrypt(s: &Session, key: ObjectHandle) -> Result<()> {
    s.encrypt(&Mechanism::AesEcb, key, DATA).map(drop)
}

fn aes_decrypt(s: &Session, key: ObjectHandle) -> Result<()> {
    s.decrypt(&Mechanism::AesEcb, key, DATA).map(drop)
}

fn hmac_sign(s: &Session, key: ObjectHandle) -> Result<()> {
    s.sign(&Mechanism::Sha256Hmac, key, DATA).map(drop)
}

fn hmac_verify(s: &Session, key: ObjectHandle) -> Result<()> {
    let independent = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &message(32));
    let mac = aws_lc_rs::hmac::sign(&independent, DATA);
    s.verify(&Mechanism::Sha256Hmac, key, DATA, mac.as_ref())
}

/// A 32-byte key allowed every use except `denied`.
fn usage_key(s: &Session, key_type: KeyType, denied: Option<AttributeType>) -> ObjectHandle {
    let usage: Vec<Attribute> = [
        (
            AttributeType::Encrypt,
            Attribute::Encrypt as fn(bool) -> Attribute,
        ),
        (AttributeType::Decrypt, Attribute::Decrypt),
        (AttributeType::Sign, Attribute::Sign),
        (AttributeType::Verify, Attribute::Verify),
    ]
    .into_iter()
    .map(|(ty, make)| make(Some(ty) != denied))
    .collect();
    import_secret(s, key_type, &message(32), &usage)
}

#[test]
fn wrong_key_type_is_key_type_inconsistent() {
    let s = common::user_session();
    let cases: [(KeyType, Operation); 4] = [
        (KeyType::GENERIC_SECRET, aes_encrypt),
        (KeyType::GENERIC_SECRET, aes_decrypt),
        (KeyType::AES, hmac_sign),
        (KeyType::AES, hmac_verify),
    ];
    for (key_type, operation) in cases {
        let key = usage_key(&s, key_type, None);
        assert_rv(operation(&s, key), RvError::KeyTypeInconsistent);
    }
}

#[test]
fn key_without_usage_is_function_not_permitted() {
    let s = common::user_session();
    let cases: [(KeyType, AttributeType, Operation); 4] = [
        (KeyType::AES, AttributeType::Encrypt, aes_encrypt),
        (KeyType::AES, AttributeType::Decrypt, aes_decrypt),
        (KeyType::GENERIC_SECRET, AttributeType::Sign, hmac_sign),
        (KeyType::GENERIC_SECRET, AttributeType::Verify, hmac_verify),
    ];
    for (key_type, denied, operation) in cases {
        let key = usage_key(&s, key_type, Some(denied));
        assert_rv(operation(&s, key), RvError::KeyFunctionNotPermitted);
        // The same operation with a key that allows it succeeds.
        let allowed = usage_key(&s, key_type, None);
        operation(&s, allowed).unwrap_or_else(|e| panic!("{denied:?} allowed: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Raw calls: the output-length convention (PKCS#11 3.0 §5.2) and uninitialised operations
// ---------------------------------------------------------------------------------------------

type OneShotFn = unsafe extern "C" fn(
    CK_SESSION_HANDLE,
    CK_BYTE_PTR,
    CK_ULONG,
    CK_BYTE_PTR,
    CK_ULONG_PTR,
) -> CK_RV;
type FinalFn = unsafe extern "C" fn(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR) -> CK_RV;

/// The module's function list. Loading the same path again hands back the image cryptoki
/// already loaded and initialised, so these calls share its sessions.
fn functions() -> &'static CK_FUNCTION_LIST {
    static LIST: OnceLock<&'static CK_FUNCTION_LIST> = OnceLock::new();
    LIST.get_or_init(|| {
        common::p11();
        // SAFETY: loading the module runs no initialisers beyond those already run.
        let lib = unsafe { libloading::Library::new(common::module_path()) }.expect("dlopen");
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        type GetFunctionList = unsafe extern "C" fn(*mut CK_FUNCTION_LIST_PTR) -> CK_RV;
        // SAFETY: the symbol has the C_GetFunctionList signature of the PKCS#11 headers.
        let get = unsafe { lib.get::<GetFunctionList>(b"C_GetFunctionList\0") }.expect("symbol");
        let mut list: CK_FUNCTION_LIST_PTR = std::ptr::null_mut();
        // SAFETY: `list` is a valid out-pointer; the list lives as long as the loaded module.
        assert_eq!(unsafe { get(&mut list) }, CKR_OK, "C_GetFunctionList");
        unsafe { list.as_ref() }.expect("function list")
    })
}

/// One raw output-producing call: a single-part function on `input`, or a C_*Final.
#[derive(Clone, Copy)]
enum Call {
    Single(OneShotFn, &'static str),
    Final(FinalFn, &'static str),
}

impl Call {
    fn encrypt() -> Call {
        Call::Single(functions().C_Encrypt.unwrap(), "C_Encrypt")
    }
    fn decrypt() -> Call {
        Call::Single(functions().C_Decrypt.unwrap(), "C_Decrypt")
    }
    fn sign() -> Call {
        Call::Single(functions().C_Sign.unwrap(), "C_Sign")
    }
    fn digest() -> Call {
        Call::Single(functions().C_Digest.unwrap(), "C_Digest")
    }

    /// Call with `out` (None: a NULL buffer) and return the CKR code and *pulLen.
    fn run(self, s: &Session, input: &[u8], out: Option<&mut [u8]>) -> (CK_RV, usize) {
        let mut len = out.as_ref().map_or(0, |b| b.len()) as CK_ULONG;
        let out = out.map_or(std::ptr::null_mut(), |b| b.as_mut_ptr());
        let (data, data_len) = (input.as_ptr() as CK_BYTE_PTR, input.len() as CK_ULONG);
        // SAFETY: the buffers and lengths describe live memory; the session handle is valid.
        let rv = unsafe {
            match self {
                Call::Single(f, _) => f(s.handle(), data, data_len, out, &mut len),
                Call::Final(f, _) => f(s.handle(), out, &mut len),
            }
        };
        (rv, len as usize)
    }

    fn name(self) -> &'static str {
        match self {
            Call::Single(_, name) | Call::Final(_, name) => name,
        }
    }
}

/// Starts an operation through cryptoki (C_*Init, maybe some updates).
type Start = Box<dyn Fn(&Session) -> Result<()>>;

/// An operation started through cryptoki, then completed with a raw `call`.
struct Case {
    start: Start,
    call: Call,
    input: Vec<u8>,
    expected: Vec<u8>,
}

fn case(
    start: impl Fn(&Session) -> Result<()> + 'static,
    call: Call,
    input: &[u8],
    expected: &[u8],
) -> Case {
    let (input, expected) = (input.to_vec(), expected.to_vec());
    let start = Box::new(start);
    Case {
        start,
        call,
        input,
        expected,
    }
}

/// Starts an encryption (`true`) or decryption with `key` in `mode`.
fn cipher_init(
    key: ObjectHandle,
    mode: Mode,
    iv: Vec<u8>,
    aad: Vec<u8>,
) -> impl Fn(&Session, bool) -> Result<()> + Clone + 'static {
    move |s, encrypt| {
        let mut c = Cipher::new(mode, &iv, &aad);
        match encrypt {
            true => s.encrypt_init(&c.mechanism(), key),
            false => s.decrypt_init(&c.mechanism(), key),
        }
    }
}

/// Raw C_Encrypt and C_Decrypt of a KAT.
fn cipher_cases(s: &Session, kat: &Kat) -> [Case; 2] {
    let (key, _, pt, ct) = kat.setup(s);
    let init = cipher_init(key, kat.mode, hex(kat.iv), hex(kat.aad));
    let init2 = init.clone();
    [
        case(move |s| init(s, true), Call::encrypt(), &pt, &ct),
        case(move |s| init2(s, false), Call::decrypt(), &ct, &pt),
    ]
}

/// CBC_PAD C_EncryptFinal and C_DecryptFinal of 5 bytes: the updates hold everything back.
fn cbc_pad_final_cases(s: &Session) -> [Case; 2] {
    let f = functions();
    let key = aes_key(s, &message(16));
    let mut c = Cipher::with_defaults(Mode::CbcPad);
    let init = cipher_init(key, Mode::CbcPad, c.iv.clone(), c.aad.clone());
    let init2 = init.clone();
    let pt = message(5);
    let ct = s
        .encrypt(&c.mechanism(), key, &pt)
        .expect("C_Encrypt CBC_PAD");
    let (pt_in, ct_in) = (pt.clone(), ct.clone());
    [
        case(
            move |s| {
                init(s, true)?;
                let out = s.encrypt_update(&pt_in)?;
                assert!(out.is_empty(), "less than a block is held");
                Ok(())
            },
            Call::Final(f.C_EncryptFinal.unwrap(), "C_EncryptFinal"),
            &[],
            &ct,
        ),
        case(
            move |s| {
                init2(s, false)?;
                let out = s.decrypt_update(&ct_in)?;
                assert!(out.is_empty(), "the last block is held");
                Ok(())
            },
            Call::Final(f.C_DecryptFinal.unwrap(), "C_DecryptFinal"),
            &[],
            &pt,
        ),
    ]
}

fn convention_cases(s: &Session) -> Vec<Case> {
    let f = functions();
    let tc2 = &RFC4231[1];
    let (sha256, mac) = (hex(DIGESTS[2].1), hex(tc2.macs[0].1));
    let hmac = hmac_key(s, tc2.key);
    let hmac_start = move |s: &Session| s.sign_init(&Mechanism::Sha256Hmac, hmac);
    let digest_start = |s: &Session| s.digest_init(&Mechanism::Sha256);
    let mut cases = Vec::new();
    cases.extend(cipher_cases(s, &CBC_KATS[0]));
    cases.extend(cipher_cases(s, &GCM_KATS[1]));
    cases.extend(cbc_pad_final_cases(s));
    cases.extend([
        case(hmac_start, Call::sign(), tc2.data, &mac),
        case(digest_start, Call::digest(), b"abc", &sha256),
        case(
            move |s| hmac_start(s).and_then(|()| s.sign_update(tc2.data)),
            Call::Final(f.C_SignFinal.unwrap(), "C_SignFinal"),
            &[],
            &mac,
        ),
        case(
            move |s| digest_start(s).and_then(|()| s.digest_update(b"abc")),
            Call::Final(f.C_DigestFinal.unwrap(), "C_DigestFinal"),
            &[],
            &sha256,
        ),
    ]);
    cases
}

/// With a buffer of `size` bytes the call succeeds with the expected output, which ends the
/// operation: calling again is CKR_OPERATION_NOT_INITIALIZED.
fn complete(s: &Session, case: &Case, size: usize) {
    let name = case.call.name();
    let mut buf = vec![0; size];
    let (rv, len) = case.call.run(s, &case.input, Some(&mut buf));
    assert_eq!(rv, CKR_OK, "{name}: the operation is still active");
    assert_eq!(&buf[..len], case.expected, "{name}: output");
    let (rv, _) = case.call.run(s, &case.input, None);
    assert_eq!(
        rv, CKR_OPERATION_NOT_INITIALIZED,
        "{name}: success ends the operation"
    );
}

#[test]
fn size_query_does_not_end_operation() {
    let s = common::user_session();
    for case in convention_cases(&s) {
        let name = case.call.name();
        (case.start)(&s).unwrap_or_else(|e| panic!("{name}: start: {e}"));
        let (rv, needed) = case.call.run(&s, &case.input, None);
        assert_eq!(rv, CKR_OK, "{name}: size query with a NULL buffer");
        assert!(
            needed >= case.expected.len(),
            "{name}: {needed} bytes suffice"
        );
        complete(&s, &case, needed);
    }
}

#[test]
fn buffer_too_small_does_not_end_operation() {
    let s = common::user_session();
    for case in convention_cases(&s) {
        let name = case.call.name();
        (case.start)(&s).unwrap_or_else(|e| panic!("{name}: start: {e}"));
        let mut small = vec![0; case.expected.len() - 1];
        let (rv, needed) = case.call.run(&s, &case.input, Some(&mut small));
        assert_eq!(rv, CKR_BUFFER_TOO_SMALL, "{name}: one byte short");
        assert!(
            needed >= case.expected.len(),
            "{name}: reports {needed} bytes needed"
        );
        complete(&s, &case, needed);
    }
}

#[test]
fn operation_without_init_is_not_initialized() {
    let s = common::user_session();
    let block = message(16);
    let results = [
        s.encrypt_update(&block).map(drop),
        s.encrypt_final().map(drop),
        s.decrypt_update(&block).map(drop),
        s.decrypt_final().map(drop),
        s.sign_update(&block),
        s.sign_final().map(drop),
        s.verify_update(&block),
        s.verify_final(&block),
        s.digest_update(&block),
        s.digest_final().map(drop),
    ];
    for result in results {
        assert_rv(result, RvError::OperationNotInitialized);
    }
    for call in [
        Call::encrypt(),
        Call::decrypt(),
        Call::sign(),
        Call::digest(),
    ] {
        let (rv, _) = call.run(&s, &block, None);
        assert_eq!(rv, CKR_OPERATION_NOT_INITIALIZED, "{}", call.name());
    }
}

/// Start an operation, finish it with known output (cryptoki multi-part calls).
struct Active<'a> {
    init: Box<dyn Fn() -> Result<()> + 'a>,
    finish: Box<dyn Fn() -> Result<Vec<u8>> + 'a>,
    expected: Vec<u8>,
}

#[test]
fn second_init_while_active_is_operation_active() {
    let s = common::user_session();
    let (ecb, tc2) = (&ECB_KATS[0], &RFC4231[1]);
    let (aes, hmac) = (aes_key(&s, &hex(ecb.key)), hmac_key(&s, tc2.key));
    let (pt, ct, mac) = (hex(ecb.pt), hex(ecb.ct), hex(tc2.macs[0].1));
    let s = &s;
    let mac_check = mac.clone();
    let (pt_in, ct_in) = (pt.clone(), ct.clone());
    let cases = [
        Active {
            init: Box::new(move || s.encrypt_init(&Mechanism::AesEcb, aes)),
            finish: Box::new(move || Ok([s.encrypt_update(&pt_in)?, s.encrypt_final()?].concat())),
            expected: ct.clone(),
        },
        Active {
            init: Box::new(move || s.decrypt_init(&Mechanism::AesEcb, aes)),
            finish: Box::new(move || Ok([s.decrypt_update(&ct_in)?, s.decrypt_final()?].concat())),
            expected: pt,
        },
        Active {
            init: Box::new(move || s.sign_init(&Mechanism::Sha256Hmac, hmac)),
            finish: Box::new(move || {
                s.sign_update(tc2.data)?;
                s.sign_final()
            }),
            expected: mac,
        },
        Active {
            init: Box::new(move || s.verify_init(&Mechanism::Sha256Hmac, hmac)),
            finish: Box::new(move || {
                s.verify_update(tc2.data)?;
                s.verify_final(&mac_check).map(|()| Vec::new())
            }),
            expected: Vec::new(),
        },
        Active {
            init: Box::new(move || s.digest_init(&Mechanism::Sha256)),
            finish: Box::new(move || {
                s.digest_update(b"abc")?;
                s.digest_final()
            }),
            expected: hex(DIGESTS[2].1),
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        (case.init)().unwrap_or_else(|e| panic!("case {i}: first init: {e}"));
        assert_rv((case.init)(), RvError::OperationActive);
        let output = (case.finish)().unwrap_or_else(|e| panic!("case {i}: finish: {e}"));
        assert_eq!(
            output, case.expected,
            "case {i}: the first operation is intact"
        );
    }
}
