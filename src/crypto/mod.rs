//! TEMPORARY compile stub; replaced by the real crypto layer.
pub mod aead;
pub mod kdf;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    InvalidLength,
    InvalidData,
    BadSignature,
    BadSignatureLength,
    BadKey,
    BadParameter,
    Internal,
}
pub type Result<T> = core::result::Result<T, CryptoError>;
pub mod rng {
    pub fn fill(buf: &mut [u8]) -> super::Result<()> {
        aws_lc_rs::rand::fill(buf).map_err(|_| super::CryptoError::Internal)
    }
}
pub mod digest {
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum DigestAlg {
        Sha1,
        Sha224,
        Sha256,
        Sha384,
        Sha512,
    }
    #[derive(Clone)]
    pub struct Digest(DigestAlg);
    impl Digest {
        pub fn new(a: DigestAlg) -> Self {
            Self(a)
        }
        pub fn update(&mut self, _d: &[u8]) {}
        pub fn finish(self) -> Vec<u8> {
            todo!()
        }
        pub fn alg(&self) -> DigestAlg {
            self.0
        }
    }
}
pub mod hmac {
    use zeroize::Zeroizing;
    pub struct Hmac;
    impl Hmac {
        pub fn new(_a: super::digest::DigestAlg, _k: &[u8]) -> super::Result<Self> {
            todo!()
        }
        pub fn update(&mut self, _d: &[u8]) {}
        pub fn finish(self) -> Zeroizing<Vec<u8>> {
            todo!()
        }
        pub fn verify(self, _t: &[u8]) -> super::Result<()> {
            todo!()
        }
    }
}
pub mod rsa {
    use super::digest::DigestAlg;
    use zeroize::Zeroizing;
    pub struct RsaComponents {
        pub n: Vec<u8>,
        pub e: Vec<u8>,
        pub d: Vec<u8>,
        pub p: Vec<u8>,
        pub q: Vec<u8>,
        pub dp: Vec<u8>,
        pub dq: Vec<u8>,
        pub qinv: Vec<u8>,
    }
    pub fn generate(_b: u32, _e: &[u8]) -> super::Result<RsaComponents> {
        todo!()
    }
    pub struct RsaPrivateKey;
    pub struct RsaPublicKey;
    pub enum SignPadding {
        Pkcs1 {
            digest: Option<DigestAlg>,
        },
        Pss {
            digest: DigestAlg,
            mgf1: DigestAlg,
            salt_len: usize,
        },
        Raw,
    }
    pub enum EncPadding {
        Pkcs1,
        Oaep {
            digest: DigestAlg,
            mgf1: DigestAlg,
            label: Vec<u8>,
        },
        Raw,
    }
    impl RsaPrivateKey {
        pub fn from_components(_c: &RsaComponents) -> super::Result<Self> {
            todo!()
        }
        pub fn modulus_len(&self) -> usize {
            0
        }
        pub fn sign(&self, _p: &SignPadding, _i: &[u8]) -> super::Result<Vec<u8>> {
            todo!()
        }
        pub fn decrypt(&self, _p: &EncPadding, _c: &[u8]) -> super::Result<Zeroizing<Vec<u8>>> {
            todo!()
        }
    }
    impl RsaPublicKey {
        pub fn from_components(_n: &[u8], _e: &[u8]) -> super::Result<Self> {
            todo!()
        }
        pub fn modulus_bits(&self) -> u32 {
            0
        }
        pub fn verify(&self, _p: &SignPadding, _i: &[u8], _s: &[u8]) -> super::Result<()> {
            todo!()
        }
        pub fn encrypt(&self, _p: &EncPadding, _d: &[u8]) -> super::Result<Vec<u8>> {
            todo!()
        }
    }
}
pub mod ec {
    use zeroize::Zeroizing;
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Curve {
        P256,
        P384,
        P521,
    }
    impl Curve {
        pub fn ec_params(self) -> &'static [u8] {
            &[]
        }
        pub fn from_ec_params(_d: &[u8]) -> Option<Curve> {
            None
        }
        pub fn bits(self) -> u32 {
            0
        }
    }
    pub struct EcKeyPair {
        pub private: Zeroizing<Vec<u8>>,
        pub public_point: Vec<u8>,
    }
    pub fn generate(_c: Curve) -> super::Result<EcKeyPair> {
        todo!()
    }
    pub struct EcPrivateKey;
    pub struct EcPublicKey;
    impl EcPrivateKey {
        pub fn from_scalar(_c: Curve, _d: &[u8]) -> super::Result<Self> {
            todo!()
        }
        pub fn curve(&self) -> Curve {
            Curve::P256
        }
        pub fn sign_hash(&self, _h: &[u8]) -> super::Result<Vec<u8>> {
            todo!()
        }
    }
    impl EcPublicKey {
        pub fn from_point(_c: Curve, _p: &[u8]) -> super::Result<Self> {
            todo!()
        }
        pub fn curve(&self) -> Curve {
            Curve::P256
        }
        pub fn verify_hash(&self, _h: &[u8], _s: &[u8]) -> super::Result<()> {
            todo!()
        }
    }
}
pub mod aes {
    use zeroize::Zeroizing;
    pub enum AesMode {
        Ecb,
        Cbc {
            iv: [u8; 16],
        },
        CbcPad {
            iv: [u8; 16],
        },
        Ctr {
            counter_block: [u8; 16],
            counter_bits: u32,
        },
        Gcm {
            iv: Vec<u8>,
            aad: Vec<u8>,
            tag_bits: u32,
        },
    }
    pub struct AesCipher;
    impl AesCipher {
        pub fn new(_k: &[u8], _m: &AesMode, _e: bool) -> super::Result<Self> {
            todo!()
        }
        pub fn update(&mut self, _i: &[u8]) -> super::Result<Zeroizing<Vec<u8>>> {
            todo!()
        }
        pub fn finish(self) -> super::Result<Zeroizing<Vec<u8>>> {
            todo!()
        }
    }
}
