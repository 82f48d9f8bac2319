//! AES (GCM, key wrap, CBC-PAD, CMAC), HMAC and HKDF vectors.

use cryptoki::error::{Result, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType};
use cryptoki::session::Session;
use serde::Deserialize;

use crate::{
    both, check, forward, is_code, new_secret_value, run, secret, step, verified, Case, Expect,
    Hex, NoParams, Outcome, Verdict,
};

const CIPHERTEXT_REFUSALS: &[RvError] = &[
    RvError::EncryptedDataInvalid,
    RvError::EncryptedDataLenRange,
];
const MAC_REFUSALS: &[RvError] = &[RvError::SignatureInvalid, RvError::SignatureLenRange];

fn cipher_usage() -> [Attribute; 3] {
    [
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Unwrap(true),
    ]
}

/// Both directions of a cipher vector: decrypting `ct` must give `msg` (an invalid `ct` must be
/// refused with `refusals`), and encrypting `msg` must give `ct` (never, if it is invalid).
fn both_ways(
    expect: Expect,
    decrypt: Result<Vec<u8>>,
    encrypt: Result<Vec<u8>>,
    (msg, ct): (&[u8], &[u8]),
    refusals: &[RvError],
) -> Outcome {
    both(
        check(expect, decrypt, msg, refusals),
        forward(expect, encrypt, ct),
    )
}

// ---------------------------------------------------------------------------------------------
// AES-GCM
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct AeadCase {
    key: Hex,
    iv: Hex,
    aad: Hex,
    msg: Hex,
    ct: Hex,
    tag: Hex,
}

const GCM_SIZE_SKIP: &str = "IV/tag size refused (CKR_MECHANISM_PARAM_INVALID)";

fn gcm_vector(s: &Session, _: &NoParams, c: &Case<AeadCase>) -> Outcome {
    let v = &c.data;
    let key = secret(s, KeyType::AES, &v.key, &cipher_usage()).map_err(step("import"))?;
    let sealed = [&v.ct[..], &v.tag[..]].concat();
    let call = |decrypt: bool| {
        let mut iv = v.iv.to_vec();
        let tag_bits = (v.tag.len() as u64 * 8).into();
        let params = GcmParams::new(&mut iv, &v.aad, tag_bits).expect("GCM parameters");
        let m = Mechanism::AesGcm(params);
        if decrypt {
            s.decrypt(&m, key.h, &sealed)
        } else {
            s.encrypt(&m, key.h, &v.msg)
        }
    };
    let (decrypted, encrypted) = (call(true), call(false));
    let param_refused = |r: &Result<Vec<u8>>| is_code(r, RvError::MechanismParamInvalid);
    let standard = v.iv.len() == 12 && v.tag.len() == 16;
    if !standard && c.result == Expect::Valid && param_refused(&decrypted) {
        return if param_refused(&encrypted) {
            Ok(Verdict::Skipped(GCM_SIZE_SKIP))
        } else {
            let got = encrypted.map(|out| out.len());
            Err(format!(
                "decrypt refused the IV/tag size, encrypt did not: {got:?}"
            ))
        };
    }
    let refusals = if v.iv.is_empty() {
        &[RvError::MechanismParamInvalid][..]
    } else {
        CIPHERTEXT_REFUSALS
    };
    both_ways(c.result, decrypted, encrypted, (&v.msg, &sealed), refusals)
}

#[test]
fn aes_gcm() {
    run("aes_gcm", "aes_gcm_test.json", 200, gcm_vector);
}

// ---------------------------------------------------------------------------------------------
// AES key wrap (RFC 3394) and key wrap with padding (RFC 5649)
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct WrapCase {
    key: Hex,
    msg: Hex,
    ct: Hex,
}

/// C_Decrypt / C_Encrypt, and C_UnwrapKey of `ct` into a readable generic secret.
fn key_wrap(mech: Mechanism<'static>) -> impl Fn(&Session, &NoParams, &Case<WrapCase>) -> Outcome {
    move |s, _, c| {
        let v = &c.data;
        let kek = secret(s, KeyType::AES, &v.key, &cipher_usage()).map_err(step("import"))?;
        let unwrapped = new_secret_value(s, None, |t| s.unwrap_key(&mech, kek.h, &v.ct, t));
        let unwrap_refusals = [RvError::WrappedKeyInvalid, RvError::WrappedKeyLenRange];
        both(
            both_ways(
                c.result,
                s.decrypt(&mech, kek.h, &v.ct),
                s.encrypt(&mech, kek.h, &v.msg),
                (&v.msg, &v.ct),
                CIPHERTEXT_REFUSALS,
            ),
            check(c.result, unwrapped, &v.msg, &unwrap_refusals)
                .map_err(|e| format!("unwrap: {e}")),
        )
    }
}

#[test]
fn aes_key_wrap() {
    run(
        "aes_kw",
        "aes_wrap_test.json",
        160,
        key_wrap(Mechanism::AesKeyWrap),
    );
}

/// cryptoki 0.12 has no CKM_AES_KEY_WRAP_KWP variant; the module serves CKM_AES_KEY_WRAP_PAD
/// as RFC 5649 (docs/mechanisms.md).
#[test]
fn aes_key_wrap_pad() {
    run(
        "aes_kwp",
        "aes_kwp_test.json",
        250,
        key_wrap(Mechanism::AesKeyWrapPad),
    );
}

// ---------------------------------------------------------------------------------------------
// AES-CBC with PKCS#7 padding
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct CipherCase {
    key: Hex,
    iv: Hex,
    msg: Hex,
    ct: Hex,
}

#[test]
fn aes_cbc_pkcs5() {
    run(
        "aes_cbc_pkcs5",
        "aes_cbc_pkcs5_test.json",
        210,
        |s, _: &NoParams, c: &Case<CipherCase>| {
            let v = &c.data;
            let key = secret(s, KeyType::AES, &v.key, &cipher_usage()).map_err(step("import"))?;
            let iv: [u8; 16] = v.iv[..]
                .try_into()
                .map_err(|_| "IV is not 16 bytes".to_string())?;
            let m = Mechanism::AesCbcPad(iv);
            both_ways(
                c.result,
                s.decrypt(&m, key.h, &v.ct),
                s.encrypt(&m, key.h, &v.msg),
                (&v.msg, &v.ct),
                CIPHERTEXT_REFUSALS,
            )
        },
    );
}

// ---------------------------------------------------------------------------------------------
// MACs: AES-CMAC and HMAC
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MacParams {
    tag_size: usize,
}

#[derive(Deserialize)]
struct MacCase {
    key: Hex,
    msg: Hex,
    tag: Hex,
}

/// cryptoki 0.12 cannot name the `*_GENERAL` MAC mechanisms, so truncated tags go through the
/// module's raw C_SignInit / C_Sign / C_VerifyInit / C_Verify with CK_MAC_GENERAL_PARAMS.
mod general {
    use cryptoki::context::Function;
    use cryptoki::error::{Result, Rv};
    use cryptoki::object::ObjectHandle;
    use cryptoki::session::Session;
    use cryptoki_sys::*;

    fn init(
        s: &Session,
        ty: CK_MECHANISM_TYPE,
        len: usize,
        key: ObjectHandle,
        sign: bool,
    ) -> Result<()> {
        let mut param = (len as CK_ULONG).to_ne_bytes();
        let mut m = CK_MECHANISM {
            mechanism: ty,
            pParameter: param.as_mut_ptr().cast(),
            ulParameterLen: param.len() as CK_ULONG,
        };
        let f = crate::common::raw();
        // SAFETY: a live mechanism and parameter; a valid session and key handle.
        let rv = unsafe {
            match sign {
                true => f.C_SignInit.unwrap()(s.handle(), &mut m, key.handle()),
                false => f.C_VerifyInit.unwrap()(s.handle(), &mut m, key.handle()),
            }
        };
        Rv::from(rv).into_result(Function::SignInit)
    }

    pub fn sign(
        s: &Session,
        ty: CK_MECHANISM_TYPE,
        len: usize,
        key: ObjectHandle,
        msg: &[u8],
    ) -> Result<Vec<u8>> {
        init(s, ty, len, key, true)?;
        let (mut input, mut out, mut out_len) = (msg.to_vec(), vec![0u8; 64], 64 as CK_ULONG);
        // SAFETY: live buffers of the stated lengths.
        let rv = unsafe {
            crate::common::raw().C_Sign.unwrap()(
                s.handle(),
                input.as_mut_ptr(),
                input.len() as CK_ULONG,
                out.as_mut_ptr(),
                &mut out_len,
            )
        };
        Rv::from(rv).into_result(Function::Sign)?;
        out.truncate(out_len as usize);
        Ok(out)
    }

    pub fn verify(
        s: &Session,
        ty: CK_MECHANISM_TYPE,
        len: usize,
        key: ObjectHandle,
        msg: &[u8],
        tag: &[u8],
    ) -> Result<()> {
        init(s, ty, len, key, false)?;
        let (mut input, mut sig) = (msg.to_vec(), tag.to_vec());
        // SAFETY: live buffers of the stated lengths.
        let rv = unsafe {
            crate::common::raw().C_Verify.unwrap()(
                s.handle(),
                input.as_mut_ptr(),
                input.len() as CK_ULONG,
                sig.as_mut_ptr(),
                sig.len() as CK_ULONG,
            )
        };
        Rv::from(rv).into_result(Function::Verify)
    }
}

/// C_Verify of the tag and C_Sign of the message under a `ty` key: full-size tags with `mech`,
/// truncated ones with the `general` (`*_GENERAL`) mechanism.
fn mac(
    mech: Mechanism<'static>,
    general: cryptoki_sys::CK_MECHANISM_TYPE,
    ty: KeyType,
    full_bits: usize,
) -> impl Fn(&Session, &MacParams, &Case<MacCase>) -> Outcome {
    move |s, group, c| {
        let v = &c.data;
        let usage = [Attribute::Sign(true), Attribute::Verify(true)];
        let key = match secret(s, ty, &v.key, &usage) {
            Ok(key) => key,
            // Wycheproof's invalid AES key sizes: refusing the key is the right answer.
            Err(e) => return check(c.result, Err(e), &[], &[]).map_err(|e| format!("import: {e}")),
        };
        let len = group.tag_size / 8;
        let (verify, sign) = if group.tag_size == full_bits {
            (
                s.verify(&mech, key.h, &v.msg, &v.tag),
                s.sign(&mech, key.h, &v.msg),
            )
        } else {
            (
                general::verify(s, general, len, key.h, &v.msg, &v.tag),
                general::sign(s, general, len, key.h, &v.msg),
            )
        };
        both(
            check(c.result, verified(verify), &[], MAC_REFUSALS),
            forward(c.result, sign, &v.tag),
        )
    }
}

#[test]
fn aes_cmac() {
    run(
        "aes_cmac",
        "aes_cmac_test.json",
        300,
        mac(
            Mechanism::AesCMac,
            cryptoki_sys::CKM_AES_CMAC_GENERAL,
            KeyType::AES,
            128,
        ),
    );
}

#[test]
fn hmac_sha256() {
    let vectors = mac(
        Mechanism::Sha256Hmac,
        cryptoki_sys::CKM_SHA256_HMAC_GENERAL,
        KeyType::GENERIC_SECRET,
        256,
    );
    run("hmac_sha256", "hmac_sha256_test.json", 85, vectors);
}

#[test]
fn hmac_sha384() {
    let vectors = mac(
        Mechanism::Sha384Hmac,
        cryptoki_sys::CKM_SHA384_HMAC_GENERAL,
        KeyType::GENERIC_SECRET,
        384,
    );
    run("hmac_sha384", "hmac_sha384_test.json", 85, vectors);
}

#[test]
fn hmac_sha512() {
    let vectors = mac(
        Mechanism::Sha512Hmac,
        cryptoki_sys::CKM_SHA512_HMAC_GENERAL,
        KeyType::GENERIC_SECRET,
        512,
    );
    run("hmac_sha512", "hmac_sha512_test.json", 85, vectors);
}

// ---------------------------------------------------------------------------------------------
// HKDF-SHA-256
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct HkdfCase {
    ikm: Hex,
    salt: Hex,
    info: Hex,
    size: usize,
    okm: Hex,
}

/// CKM_HKDF_DERIVE (extract and expand) into a generic secret of CKA_VALUE_LEN `size`; an
/// output longer than 255 hash lengths must be refused.
#[test]
fn hkdf_sha256() {
    run(
        "hkdf_sha256",
        "hkdf_sha256_test.json",
        85,
        |s, _: &NoParams, c: &Case<HkdfCase>| {
            let v = &c.data;
            let base = secret(
                s,
                KeyType::GENERIC_SECRET,
                &v.ikm,
                &[Attribute::Derive(true)],
            )
            .map_err(step("import"))?;
            let salt = match &v.salt[..] {
                [] => HkdfSalt::Null,
                salt => HkdfSalt::Data(salt),
            };
            let params = HkdfParams::new(MechanismType::SHA256, Some(salt), Some(&v.info));
            let m = Mechanism::HkdfDerive(params);
            let okm = new_secret_value(s, Some(v.size), |t| s.derive_key(&m, base.h, t));
            let refusals = [
                RvError::TemplateInconsistent,
                RvError::AttributeValueInvalid,
                RvError::KeySizeRange,
            ];
            check(c.result, okm, &v.okm, &refusals)
        },
    );
}
