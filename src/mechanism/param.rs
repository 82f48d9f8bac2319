//! Mechanism parameters, already copied out of C memory by the ABI layer.

use cryptoki_sys::*;

use crate::crypto::digest::DigestAlg;
use crate::error::{Error, Result};

/// A mechanism parameter in safe form.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Param {
    #[default]
    None,
    /// An opaque byte parameter (an IV, for example).
    Bytes(Vec<u8>),
    /// CK_RSA_PKCS_PSS_PARAMS.
    Pss {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        salt_len: CK_ULONG,
    },
    /// CK_RSA_PKCS_OAEP_PARAMS (source data is the label).
    Oaep {
        hash: CK_MECHANISM_TYPE,
        mgf: CK_RSA_PKCS_MGF_TYPE,
        source: CK_ULONG,
        label: Vec<u8>,
    },
    /// CK_GCM_PARAMS.
    Gcm {
        iv: Vec<u8>,
        iv_bits: CK_ULONG,
        aad: Vec<u8>,
        tag_bits: CK_ULONG,
    },
    /// CK_EDDSA_PARAMS.
    EdDsa { prehash: bool, context: Vec<u8> },
    /// CK_ECDH1_DERIVE_PARAMS.
    Ecdh {
        kdf: CK_EC_KDF_TYPE,
        shared_data: Vec<u8>,
        public_data: Vec<u8>,
    },
    /// CK_HKDF_PARAMS.
    Hkdf {
        extract: bool,
        expand: bool,
        prf: CK_MECHANISM_TYPE,
        salt_type: CK_ULONG,
        salt: Vec<u8>,
        info: Vec<u8>,
    },
    /// CK_PKCS5_PBKD2_PARAMS2 (or the 2.40 CK_PKCS5_PBKD2_PARAMS), salt specified.
    Pbkdf2 {
        salt: Vec<u8>,
        iterations: CK_ULONG,
        prf: CK_ULONG,
        password: SecretBytes,
    },
    /// CK_SP800_108_KDF_PARAMS (counter mode, no additional derived keys).
    Kbkdf {
        prf: CK_MECHANISM_TYPE,
        parts: Vec<KbkdfPart>,
    },
    /// CK_AES_CBC_ENCRYPT_DATA_PARAMS.
    CbcEncryptData { iv: [u8; 16], data: Vec<u8> },
    /// CK_AES_CTR_PARAMS.
    Ctr {
        counter_bits: CK_ULONG,
        block: [u8; 16],
    },
}

/// One CK_PRF_DATA_PARAM of an SP 800-108 KDF: what goes into each PRF input, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KbkdfPart {
    /// The iteration counter, `bits` wide.
    Counter { little_endian: bool, bits: CK_ULONG },
    /// The derived length L in bits, `bits` wide; `segments`: L counts whole PRF outputs.
    Length {
        segments: bool,
        little_endian: bool,
        bits: CK_ULONG,
    },
    /// Fixed bytes (label, context, separator).
    Bytes(Vec<u8>),
}

/// Secret bytes in a mechanism parameter (a password): zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretBytes(pub zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A CK_MECHANISM in safe form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MechanismRequest {
    pub ty: CK_MECHANISM_TYPE,
    pub param: Param,
}

impl MechanismRequest {
    pub fn new(ty: CK_MECHANISM_TYPE, param: Param) -> Self {
        Self { ty, param }
    }

    /// CKR_MECHANISM_PARAM_INVALID unless the mechanism came without a parameter.
    pub fn no_param(&self) -> Result<()> {
        match &self.param {
            Param::None => Ok(()),
            Param::Bytes(b) if b.is_empty() => Ok(()),
            _ => Err(Error::MechanismParamInvalid),
        }
    }

    /// A 16-byte IV parameter.
    pub fn iv16(&self) -> Result<[u8; 16]> {
        match &self.param {
            Param::Bytes(b) => b
                .as_slice()
                .try_into()
                .map_err(|_| Error::MechanismParamInvalid),
            _ => Err(Error::MechanismParamInvalid),
        }
    }
}

/// The digest named by a CKM_SHA* hash mechanism (PSS/OAEP hashAlg).
pub fn hash_alg(m: CK_MECHANISM_TYPE) -> Result<DigestAlg> {
    Ok(match m {
        CKM_SHA_1 => DigestAlg::Sha1,
        CKM_SHA224 => DigestAlg::Sha224,
        CKM_SHA256 => DigestAlg::Sha256,
        CKM_SHA384 => DigestAlg::Sha384,
        CKM_SHA512 => DigestAlg::Sha512,
        CKM_SHA512_224 => DigestAlg::Sha512_224,
        CKM_SHA512_256 => DigestAlg::Sha512_256,
        CKM_SHA3_224 => DigestAlg::Sha3_224,
        CKM_SHA3_256 => DigestAlg::Sha3_256,
        CKM_SHA3_384 => DigestAlg::Sha3_384,
        CKM_SHA3_512 => DigestAlg::Sha3_512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

/// The digest named by a CKG_MGF1_* constant.
pub fn mgf1_alg(mgf: CK_RSA_PKCS_MGF_TYPE) -> Result<DigestAlg> {
    Ok(match mgf {
        CKG_MGF1_SHA1 => DigestAlg::Sha1,
        CKG_MGF1_SHA224 => DigestAlg::Sha224,
        CKG_MGF1_SHA256 => DigestAlg::Sha256,
        CKG_MGF1_SHA384 => DigestAlg::Sha384,
        CKG_MGF1_SHA512 => DigestAlg::Sha512,
        CKG_MGF1_SHA3_224 => DigestAlg::Sha3_224,
        CKG_MGF1_SHA3_256 => DigestAlg::Sha3_256,
        CKG_MGF1_SHA3_384 => DigestAlg::Sha3_384,
        CKG_MGF1_SHA3_512 => DigestAlg::Sha3_512,
        _ => return Err(Error::MechanismParamInvalid),
    })
}
