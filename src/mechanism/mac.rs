//! The MAC operation HMAC and CMAC share: a full-length tag, or for the `*_GENERAL`
//! mechanisms a tag truncated to the length in CK_MAC_GENERAL_PARAMS.

use aws_lc_rs::constant_time;
use zeroize::Zeroizing;

use super::param::{MechanismRequest, Param};
use super::{Signer, Verifier};
use crate::error::{Error, Result};
use crate::object::attr::parse_ulong;

/// A keyed MAC computation: HMAC or CMAC state.
pub(super) trait MacEngine: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn tag(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>>;
}

/// An active MAC sign or verify operation producing `len`-byte tags.
pub(super) struct Mac {
    engine: Option<Box<dyn MacEngine>>,
    len: usize,
}

impl Mac {
    pub(super) fn new(engine: Box<dyn MacEngine>, len: usize) -> Self {
        Self {
            engine: Some(engine),
            len,
        }
    }

    fn tag(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let engine = self.engine.take().ok_or(Error::OperationNotInitialized)?;
        let mut tag = engine.tag()?;
        tag.truncate(self.len);
        Ok(tag)
    }
}

impl Signer for Mac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.engine
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?
            .update(data)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(self.tag()?.to_vec())
    }
}

impl Verifier for Mac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Signer::update(self, data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        if signature.len() != self.len {
            self.engine = None;
            return Err(Error::SignatureLenRange);
        }
        constant_time::verify_slices_are_equal(&self.tag()?, signature)
            .map_err(|_| Error::SignatureInvalid)
    }
}

/// The tag length a MAC mechanism asks for: `full` without a parameter; for a `*_GENERAL`
/// mechanism the CK_MAC_GENERAL_PARAMS value, which must lie in 1..=`full`.
pub(super) fn tag_len(m: &MechanismRequest, general: bool, full: usize) -> Result<usize> {
    if !general {
        m.no_param()?;
        return Ok(full);
    }
    let Param::Bytes(b) = &m.param else {
        return Err(Error::MechanismParamInvalid);
    };
    let len = parse_ulong(b).map_err(|_| Error::MechanismParamInvalid)?;
    match usize::try_from(len) {
        Ok(n) if (1..=full).contains(&n) => Ok(n),
        _ => Err(Error::MechanismParamInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki_sys::{CKM_AES_CMAC_GENERAL, CK_ULONG};

    fn general(len: CK_ULONG) -> MechanismRequest {
        MechanismRequest::new(
            CKM_AES_CMAC_GENERAL,
            Param::Bytes(len.to_ne_bytes().to_vec()),
        )
    }

    #[test]
    fn general_length_must_be_within_the_full_tag() {
        assert_eq!(tag_len(&general(8), true, 16).unwrap(), 8);
        assert_eq!(tag_len(&general(16), true, 16).unwrap(), 16);
        for bad in [0, 17] {
            assert_eq!(
                tag_len(&general(bad), true, 16).unwrap_err(),
                Error::MechanismParamInvalid
            );
        }
        let none = MechanismRequest::new(CKM_AES_CMAC_GENERAL, Param::None);
        assert_eq!(
            tag_len(&none, true, 16).unwrap_err(),
            Error::MechanismParamInvalid
        );
        assert_eq!(
            tag_len(&general(8), false, 16).unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
