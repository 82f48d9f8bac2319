//! Keyward's [`MechanismRequest`] as a `cryptoki` [`Mechanism`] for the device.
//!
//! Translated: CKM_RSA_PKCS, CKM_SHA{1,224,256,384,512}_RSA_PKCS, CKM_RSA_PKCS_PSS and
//! CKM_SHA{1,256,384,512}_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_ECDSA and
//! CKM_ECDSA_SHA{1,224,256,384,512}, CKM_EDDSA, CKM_AES_ECB/CBC/CBC_PAD/GCM,
//! CKM_SHA{1,224,256,384,512}_HMAC and the key generation mechanisms CKM_RSA_PKCS_KEY_PAIR_GEN,
//! CKM_EC_KEY_PAIR_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_AES_KEY_GEN,
//! CKM_GENERIC_SECRET_KEY_GEN. Anything else is CKR_MECHANISM_INVALID — including
//! CKM_SHA224_RSA_PKCS_PSS, which `cryptoki` 0.12 has no way to express.

use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{aead::GcmParams, Mechanism, MechanismType};
use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::mechanism::param::{MechanismRequest, Param};

/// Buffers a translated mechanism borrows (GCM wants its IV mutable).
#[derive(Default)]
pub(super) struct Scratch {
    iv: Vec<u8>,
}

/// `m` for the device. CKR_MECHANISM_INVALID for a mechanism not translated,
/// CKR_MECHANISM_PARAM_INVALID for a parameter that does not fit it.
pub(super) fn translate<'a>(
    m: &'a MechanismRequest,
    scratch: &'a mut Scratch,
) -> Result<Mechanism<'a>> {
    if let Some(plain) = without_param(m.ty) {
        m.no_param()?;
        return Ok(plain);
    }
    Ok(match m.ty {
        CKM_AES_CBC => Mechanism::AesCbc(m.iv16()?),
        CKM_AES_CBC_PAD => Mechanism::AesCbcPad(m.iv16()?),
        CKM_AES_GCM => gcm(&m.param, scratch)?,
        CKM_RSA_PKCS_PSS => Mechanism::RsaPkcsPss(pss(&m.param)?),
        CKM_SHA1_RSA_PKCS_PSS => Mechanism::Sha1RsaPkcsPss(pss(&m.param)?),
        CKM_SHA256_RSA_PKCS_PSS => Mechanism::Sha256RsaPkcsPss(pss(&m.param)?),
        CKM_SHA384_RSA_PKCS_PSS => Mechanism::Sha384RsaPkcsPss(pss(&m.param)?),
        CKM_SHA512_RSA_PKCS_PSS => Mechanism::Sha512RsaPkcsPss(pss(&m.param)?),
        CKM_RSA_PKCS_OAEP => Mechanism::RsaPkcsOaep(oaep(&m.param)?),
        CKM_EDDSA => Mechanism::Eddsa(eddsa(&m.param)?),
        _ => return Err(Error::MechanismInvalid),
    })
}

/// The mechanisms that take no parameter.
fn without_param(ty: CK_MECHANISM_TYPE) -> Option<Mechanism<'static>> {
    Some(match ty {
        CKM_RSA_PKCS => Mechanism::RsaPkcs,
        CKM_SHA1_RSA_PKCS => Mechanism::Sha1RsaPkcs,
        CKM_SHA224_RSA_PKCS => Mechanism::Sha224RsaPkcs,
        CKM_SHA256_RSA_PKCS => Mechanism::Sha256RsaPkcs,
        CKM_SHA384_RSA_PKCS => Mechanism::Sha384RsaPkcs,
        CKM_SHA512_RSA_PKCS => Mechanism::Sha512RsaPkcs,
        CKM_ECDSA => Mechanism::Ecdsa,
        CKM_ECDSA_SHA1 => Mechanism::EcdsaSha1,
        CKM_ECDSA_SHA224 => Mechanism::EcdsaSha224,
        CKM_ECDSA_SHA256 => Mechanism::EcdsaSha256,
        CKM_ECDSA_SHA384 => Mechanism::EcdsaSha384,
        CKM_ECDSA_SHA512 => Mechanism::EcdsaSha512,
        CKM_AES_ECB => Mechanism::AesEcb,
        CKM_SHA_1_HMAC => Mechanism::Sha1Hmac,
        CKM_SHA224_HMAC => Mechanism::Sha224Hmac,
        CKM_SHA256_HMAC => Mechanism::Sha256Hmac,
        CKM_SHA384_HMAC => Mechanism::Sha384Hmac,
        CKM_SHA512_HMAC => Mechanism::Sha512Hmac,
        CKM_RSA_PKCS_KEY_PAIR_GEN => Mechanism::RsaPkcsKeyPairGen,
        CKM_EC_KEY_PAIR_GEN => Mechanism::EccKeyPairGen,
        CKM_EC_EDWARDS_KEY_PAIR_GEN => Mechanism::EccEdwardsKeyPairGen,
        CKM_AES_KEY_GEN => Mechanism::AesKeyGen,
        CKM_GENERIC_SECRET_KEY_GEN => Mechanism::GenericSecretKeyGen,
        _ => return None,
    })
}

/// A CKM_SHA* digest named in a PSS or OAEP parameter.
fn hash(ty: CK_MECHANISM_TYPE) -> Result<MechanismType> {
    Ok(match ty {
        CKM_SHA_1 => MechanismType::SHA1,
        CKM_SHA224 => MechanismType::SHA224,
        CKM_SHA256 => MechanismType::SHA256,
        CKM_SHA384 => MechanismType::SHA384,
        CKM_SHA512 => MechanismType::SHA512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

fn mgf(mgf: CK_RSA_PKCS_MGF_TYPE) -> Result<PkcsMgfType> {
    PkcsMgfType::try_from(mgf).map_err(|_| Error::MechanismParamInvalid)
}

fn pss(p: &Param) -> Result<PkcsPssParams> {
    let Param::Pss {
        hash: h,
        mgf: g,
        salt_len,
    } = p
    else {
        return Err(Error::MechanismParamInvalid);
    };
    Ok(PkcsPssParams {
        hash_alg: hash(*h)?,
        mgf: mgf(*g)?,
        s_len: (*salt_len).into(),
    })
}

fn oaep(p: &Param) -> Result<PkcsOaepParams<'_>> {
    let Param::Oaep {
        hash: h,
        mgf: g,
        source,
        label,
    } = p
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let source = match *source {
        CKZ_DATA_SPECIFIED if !label.is_empty() => PkcsOaepSource::data_specified(label),
        CKZ_DATA_SPECIFIED | 0 if label.is_empty() => PkcsOaepSource::empty(),
        _ => return Err(Error::MechanismParamInvalid),
    };
    Ok(PkcsOaepParams::new(hash(*h)?, mgf(*g)?, source))
}

fn gcm<'a>(p: &'a Param, scratch: &'a mut Scratch) -> Result<Mechanism<'a>> {
    let Param::Gcm {
        iv, aad, tag_bits, ..
    } = p
    else {
        return Err(Error::MechanismParamInvalid);
    };
    if iv.is_empty() || *tag_bits > 128 {
        return Err(Error::MechanismParamInvalid);
    }
    scratch.iv.clone_from(iv);
    let params = GcmParams::new(&mut scratch.iv, aad, (*tag_bits).into())
        .map_err(|_| Error::MechanismParamInvalid)?;
    Ok(Mechanism::AesGcm(params))
}

/// No parameter: the curve's plain scheme (Ed25519 / Ed448); a parameter: the prehash flag and
/// context as given (the bytes sent are the same whichever curve the key is on).
fn eddsa(p: &Param) -> Result<EddsaParams<'_>> {
    Ok(EddsaParams::new(match p {
        Param::None => EddsaSignatureScheme::Pure,
        Param::Bytes(b) if b.is_empty() => EddsaSignatureScheme::Pure,
        Param::EdDsa {
            prehash: false,
            context,
        } => EddsaSignatureScheme::Ed25519ctx(context),
        Param::EdDsa {
            prehash: true,
            context,
        } => EddsaSignatureScheme::Ed25519ph(context),
        _ => return Err(Error::MechanismParamInvalid),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ty(m: &MechanismRequest) -> Result<CK_MECHANISM_TYPE> {
        let mut s = Scratch::default();
        translate(m, &mut s).map(|x| x.mechanism_type().into())
    }

    #[test]
    fn plain_mechanisms_translate_to_the_same_type() {
        for t in [
            CKM_RSA_PKCS,
            CKM_SHA224_RSA_PKCS,
            CKM_SHA512_RSA_PKCS,
            CKM_ECDSA,
            CKM_ECDSA_SHA384,
            CKM_AES_ECB,
            CKM_SHA256_HMAC,
            CKM_EC_EDWARDS_KEY_PAIR_GEN,
            CKM_GENERIC_SECRET_KEY_GEN,
        ] {
            assert_eq!(ty(&MechanismRequest::new(t, Param::None)), Ok(t));
        }
        assert_eq!(
            ty(&MechanismRequest::new(CKM_ECDSA, Param::Bytes(vec![1]))),
            Err(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn parameters_are_checked() {
        let pss = Param::Pss {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        };
        let m = MechanismRequest::new(CKM_SHA256_RSA_PKCS_PSS, pss.clone());
        assert_eq!(ty(&m), Ok(CKM_SHA256_RSA_PKCS_PSS));
        let bad = Param::Pss {
            hash: CKM_MD5,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        };
        assert_eq!(
            ty(&MechanismRequest::new(CKM_RSA_PKCS_PSS, bad)),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            ty(&MechanismRequest::new(CKM_RSA_PKCS_PSS, Param::None)),
            Err(Error::MechanismParamInvalid)
        );
        let gcm = Param::Gcm {
            iv: vec![0; 12],
            iv_bits: 96,
            aad: vec![1],
            tag_bits: 128,
        };
        assert_eq!(
            ty(&MechanismRequest::new(CKM_AES_GCM, gcm)),
            Ok(CKM_AES_GCM)
        );
        assert_eq!(
            ty(&MechanismRequest::new(
                CKM_AES_CBC,
                Param::Bytes(vec![0; 15])
            )),
            Err(Error::MechanismParamInvalid)
        );
        assert_eq!(
            ty(&MechanismRequest::new(CKM_EDDSA, Param::None)),
            Ok(CKM_EDDSA)
        );
    }

    #[test]
    fn untranslated_mechanisms_are_invalid() {
        for t in [
            CKM_SHA224_RSA_PKCS_PSS,
            CKM_AES_CTR,
            CKM_RSA_X_509,
            CKM_ECDH1_DERIVE,
        ] {
            assert_eq!(
                ty(&MechanismRequest::new(t, Param::None)),
                Err(Error::MechanismInvalid)
            );
        }
    }
}
