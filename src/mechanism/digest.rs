//! Message digests: SHA-1, SHA-2 (with SHA-512/224 and SHA-512/256) and SHA-3.

use cryptoki_sys::*;

use super::param::MechanismRequest;
use super::{Digester, Info, Mechanism};
use crate::crypto::digest::{Digest, DigestAlg};
use crate::error::{Error, Result};

pub(super) struct Sha;

/// The algorithm of a plain digest mechanism.
pub(super) fn alg(ty: CK_MECHANISM_TYPE) -> Result<DigestAlg> {
    Ok(match ty {
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
        _ => return Err(Error::MechanismInvalid),
    })
}

#[derive(Clone)]
struct Running(Option<Digest>);

impl Digester for Running {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?
            .update(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .0
            .take()
            .ok_or(Error::OperationNotInitialized)?
            .finish())
    }
    fn snapshot(&self) -> Result<Box<dyn Digester>> {
        Ok(Box::new(self.clone()))
    }
}

impl Mechanism for Sha {
    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 0,
            max_key: 0,
            flags: CKF_DIGEST,
        }
    }

    fn digest(&self, m: &MechanismRequest) -> Result<Box<dyn Digester>> {
        m.no_param()?;
        Ok(Box::new(Running(Some(Digest::new(alg(m.ty)?)))))
    }
}
