//! Message digests: SHA-1, SHA-2 (with SHA-512/224 and SHA-512/256) and SHA-3.

use cryptoki_sys::*;

use super::param::MechanismRequest;
use super::{Digester, Info, Mechanism};
use crate::crypto::digest::{Digest, DigestAlg};
use crate::error::{Error, Result};

pub(super) struct Sha;

/// The algorithm of a plain digest mechanism (the same table PSS and OAEP name hashes by).
pub(super) fn alg(ty: CK_MECHANISM_TYPE) -> Result<DigestAlg> {
    super::param::hash_alg(ty).map_err(|_| Error::MechanismInvalid)
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
