//! NIST SP 800-108 key derivation in counter mode (PKCS#11 3.0 §2.43,
//! CKM_SP800_108_COUNTER_KDF): PRF(K, input_i) for i = 1, 2, … concatenated, where each
//! input is the caller's CK_PRF_DATA_PARAM list with the counter and the length L encoded
//! as it asks. PRFs: HMAC with SHA-1/SHA-2/SHA-3 (generic secret base key) or AES-CMAC (AES).

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::param::{hash_alg, KbkdfPart, MechanismRequest, Param};
use super::{Info, Mechanism};
use crate::crypto::{cmac, hmac};
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

pub(super) struct Kbkdf;

/// Longest output (in PRF blocks) the counter may number.
const MAX_BLOCKS: usize = 1 << 16;

/// One PRF evaluation over the concatenated `input`.
fn prf(ty: CK_MECHANISM_TYPE, key: &[u8], input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if ty == CKM_AES_CMAC {
        let mut c = cmac::Cmac::new(key).map_err(|_| Error::KeyTypeInconsistent)?;
        c.update(input).map_err(|_| Error::GeneralError)?;
        return c.finish().map_err(|_| Error::GeneralError);
    }
    let alg = match ty {
        CKM_SHA_1_HMAC => CKM_SHA_1,
        CKM_SHA224_HMAC => CKM_SHA224,
        CKM_SHA256_HMAC => CKM_SHA256,
        CKM_SHA384_HMAC => CKM_SHA384,
        CKM_SHA512_HMAC => CKM_SHA512,
        CKM_SHA3_224_HMAC => CKM_SHA3_224,
        CKM_SHA3_256_HMAC => CKM_SHA3_256,
        CKM_SHA3_384_HMAC => CKM_SHA3_384,
        CKM_SHA3_512_HMAC => CKM_SHA3_512,
        _ => return Err(Error::MechanismParamInvalid),
    };
    let mut h = hmac::Hmac::new(hash_alg(alg)?, key).map_err(|_| Error::KeyTypeInconsistent)?;
    h.update(input);
    Ok(h.finish())
}

/// `value` in `bits` (a multiple of 8, at most 64) bits, big- or little-endian.
fn encode(value: u64, bits: CK_ULONG, little_endian: bool) -> Result<Vec<u8>> {
    if bits == 0 || bits > 64 || !bits.is_multiple_of(8) {
        return Err(Error::MechanismParamInvalid);
    }
    let n = (bits / 8) as usize;
    if n < 8 && value >> (8 * n) != 0 {
        return Err(Error::MechanismParamInvalid);
    }
    let be = value.to_be_bytes();
    let mut out = be[8 - n..].to_vec();
    if little_endian {
        out.reverse();
    }
    Ok(out)
}

impl Mechanism for Kbkdf {
    fn accepts(&self, _ty: CK_MECHANISM_TYPE, key_type: CK_KEY_TYPE) -> bool {
        matches!(key_type, CKK_GENERIC_SECRET | CKK_AES)
    }

    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 1,
            max_key: 512,
            flags: CKF_DERIVE,
        }
    }

    fn derive(
        &self,
        m: &MechanismRequest,
        base: &KeyMaterial,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let Param::Kbkdf { prf: prf_ty, parts } = &m.param else {
            return Err(Error::MechanismParamInvalid);
        };
        let KeyMaterial::Secret(key) = base else {
            return Err(Error::KeyTypeInconsistent);
        };
        let counters = parts
            .iter()
            .filter(|p| matches!(p, KbkdfPart::Counter { .. }))
            .count();
        if counters != 1 {
            return Err(Error::MechanismParamInvalid);
        }
        let len = len.ok_or(Error::TemplateIncomplete)?;
        let block = prf(*prf_ty, key, &[])?.len();
        let blocks = len.div_ceil(block);
        if blocks > MAX_BLOCKS {
            return Err(Error::TemplateInconsistent);
        }
        let mut out = Zeroizing::new(Vec::with_capacity(blocks * block));
        for i in 1..=blocks {
            let mut input = Vec::new();
            for part in parts {
                match part {
                    KbkdfPart::Counter {
                        little_endian,
                        bits,
                    } => input.extend(encode(i as u64, *bits, *little_endian)?),
                    KbkdfPart::Length {
                        segments,
                        little_endian,
                        bits,
                    } => {
                        let l = if *segments { blocks * block } else { len } * 8;
                        input.extend(encode(l as u64, *bits, *little_endian)?)
                    }
                    KbkdfPart::Bytes(b) => input.extend_from_slice(b),
                }
            }
            out.extend_from_slice(&prf(*prf_ty, key, &input)?);
        }
        out.truncate(len);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(encode(1, 32, false).unwrap(), [0, 0, 0, 1]);
        assert_eq!(encode(1, 16, true).unwrap(), [1, 0]);
        assert_eq!(
            encode(256, 8, false).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            encode(1, 12, false).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }

    /// The same construction aws-lc's KBKDF_ctr_hmac implements: a 32-bit big-endian counter
    /// before the fixed input.
    #[test]
    fn matches_aws_lc_kbkdf_ctr_hmac() {
        use aws_lc_rs::kdf::{
            get_kbkdf_ctr_hmac_algorithm, kbkdf_ctr_hmac, KbkdfCtrHmacAlgorithmId,
        };
        let key = [7u8; 32];
        let info = b"label\x00context".to_vec();
        let m = MechanismRequest::new(
            CKM_SP800_108_COUNTER_KDF,
            Param::Kbkdf {
                prf: CKM_SHA256_HMAC,
                parts: vec![
                    KbkdfPart::Counter {
                        little_endian: false,
                        bits: 32,
                    },
                    KbkdfPart::Bytes(info.clone()),
                ],
            },
        );
        let ours = Kbkdf
            .derive(
                &m,
                &KeyMaterial::Secret(Zeroizing::new(key.to_vec()).into()),
                Some(70),
            )
            .unwrap();
        let alg = get_kbkdf_ctr_hmac_algorithm(KbkdfCtrHmacAlgorithmId::Sha256).unwrap();
        let mut theirs = [0u8; 70];
        kbkdf_ctr_hmac(alg, &key, &info, &mut theirs).unwrap();
        assert_eq!(ours.as_slice(), &theirs[..]);
    }
}
