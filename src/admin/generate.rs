//! `keyward key generate`: keys made on the token through the provider, as C_GenerateKey /
//! C_GenerateKeyPair would make them, one or many at a time. Private and secret keys are
//! sensitive and, unless asked otherwise, not extractable.

use cryptoki_sys::*;

use super::listing::{class_name, hex};
use super::Admin;
use crate::crypto::ec::Curve;
use crate::error::Result;
use crate::mechanism::{MechanismRequest, Param};
use crate::object::key::{ED25519_PARAMS, X25519_PARAMS};
use crate::object::Attributes;

/// What to generate: `rsa:BITS`, `ec:p256|p384|p521`, `ed25519`, `x25519`, `aes:BITS`,
/// `generic:BYTES`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySpec {
    Rsa(CK_ULONG),
    Ec(Curve),
    Ed25519,
    X25519,
    Aes(CK_ULONG),
    Generic(CK_ULONG),
}

impl KeySpec {
    /// Parse the CLI form; the error says what is accepted.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let lower = text.to_ascii_lowercase();
        let (kind, size) = lower.split_once(':').unwrap_or((lower.as_str(), ""));
        let number = |default: CK_ULONG| -> std::result::Result<CK_ULONG, String> {
            if size.is_empty() {
                return Ok(default);
            }
            size.parse()
                .map_err(|_| format!("{size:?} in {text:?} is not a number"))
        };
        let spec = match kind {
            "rsa" => KeySpec::Rsa(number(3072)?),
            "ec" => KeySpec::Ec(match size {
                "" | "p256" | "p-256" | "prime256v1" | "secp256r1" => Curve::P256,
                "p384" | "p-384" | "secp384r1" => Curve::P384,
                "p521" | "p-521" | "secp521r1" => Curve::P521,
                other => return Err(format!("unknown curve {other:?}: p256, p384 or p521")),
            }),
            "ed25519" => KeySpec::Ed25519,
            "x25519" => KeySpec::X25519,
            "aes" => KeySpec::Aes(number(256)?),
            "generic" => KeySpec::Generic(number(32)?),
            _ => {
                return Err(format!(
                    "unknown key type {text:?}: rsa:BITS, ec:p256|p384|p521, ed25519, x25519, \
                     aes:128|192|256, generic:BYTES"
                ))
            }
        };
        if let KeySpec::Aes(bits) = spec {
            if ![128, 192, 256].contains(&bits) {
                return Err(format!("AES keys have 128, 192 or 256 bits, not {bits}"));
            }
        }
        Ok(spec)
    }
}

/// What to generate: `labels.len()` keys of `spec`, each with a fresh random CKA_ID (or
/// `id` when there is only one).
pub struct GenerateRequest {
    pub spec: KeySpec,
    pub labels: Vec<String>,
    pub id: Option<Vec<u8>>,
    pub extractable: bool,
}

/// One object `keyward key generate` made.
#[derive(Debug, serde::Serialize)]
pub struct Generated {
    pub label: String,
    pub class: &'static str,
    pub id: String,
    /// The RFC 7512 URI naming the object.
    pub uri: String,
}

impl Admin {
    /// Generate what `request` asks for in `slot` (as the user, or a named key manager);
    /// `done(n)` is called after the n-th key.
    pub fn generate(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        request: &GenerateRequest,
        mut done: impl FnMut(usize),
    ) -> Result<Vec<Generated>> {
        let GenerateRequest {
            spec,
            labels,
            id,
            extractable,
        } = request;
        let p = &self.provider;
        let h = p.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = (|| {
            self.login(h, CKU_USER, pin)?;
            let token_label = p.session_token(h)?.1.label()?;
            let mut made = Vec::new();
            for (n, label) in labels.iter().enumerate() {
                let id = match id {
                    Some(id) if labels.len() == 1 => id.clone(),
                    _ => {
                        let mut id = vec![0u8; 8];
                        crate::crypto::rng::fill(&mut id)
                            .map_err(|_| crate::error::Error::GeneralError)?;
                        id
                    }
                };
                let (public, private) = templates(spec, label, &id, *extractable);
                let secret = matches!(spec, KeySpec::Aes(_) | KeySpec::Generic(_));
                let classes: &[CK_OBJECT_CLASS] = if secret {
                    p.generate_key(h, &mechanism(spec), &private)?;
                    &[CKO_SECRET_KEY]
                } else {
                    p.generate_key_pair(h, &mechanism(spec), &public, &private)?;
                    &[CKO_PRIVATE_KEY, CKO_PUBLIC_KEY]
                };
                for &class in classes {
                    made.push(Generated {
                        label: label.clone(),
                        class: class_name(class),
                        id: hex(&id),
                        uri: super::uri::key_uri(&token_label, label.as_bytes(), &id, class),
                    });
                }
                done(n + 1);
            }
            Ok(made)
        })();
        p.close_session(h)?;
        r
    }
}

fn mechanism(spec: &KeySpec) -> MechanismRequest {
    let ty = match spec {
        KeySpec::Rsa(_) => CKM_RSA_PKCS_KEY_PAIR_GEN,
        KeySpec::Ec(_) => CKM_EC_KEY_PAIR_GEN,
        KeySpec::Ed25519 => CKM_EC_EDWARDS_KEY_PAIR_GEN,
        KeySpec::X25519 => CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        KeySpec::Aes(_) => CKM_AES_KEY_GEN,
        KeySpec::Generic(_) => CKM_GENERIC_SECRET_KEY_GEN,
    };
    MechanismRequest::new(ty, Param::None)
}

/// (public template, private or secret template).
fn templates(
    spec: &KeySpec,
    label: &str,
    id: &[u8],
    extractable: bool,
) -> (Attributes, Attributes) {
    let base = |class| {
        let mut t = Attributes::new();
        t.set_ulong(CKA_CLASS, class);
        t.set_bool(CKA_TOKEN, true);
        t.set(CKA_LABEL, label.as_bytes().to_vec());
        t.set(CKA_ID, id.to_vec());
        t
    };
    let mut public = base(CKO_PUBLIC_KEY);
    let secret_class = match spec {
        KeySpec::Aes(_) | KeySpec::Generic(_) => CKO_SECRET_KEY,
        _ => CKO_PRIVATE_KEY,
    };
    let mut private = base(secret_class);
    private.set_bool(CKA_PRIVATE, true);
    private.set_bool(CKA_SENSITIVE, true);
    private.set_bool(CKA_EXTRACTABLE, extractable);
    let flags = |t: &mut Attributes, usage: &[CK_ATTRIBUTE_TYPE]| {
        for &u in usage {
            t.set_bool(u, true);
        }
    };
    match spec {
        KeySpec::Rsa(bits) => {
            public.set_ulong(CKA_MODULUS_BITS, *bits);
            public.set(CKA_PUBLIC_EXPONENT, vec![1, 0, 1]);
            flags(&mut public, &[CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP]);
            flags(&mut private, &[CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP]);
        }
        KeySpec::Ec(curve) => {
            public.set(CKA_EC_PARAMS, curve.ec_params().to_vec());
            flags(&mut public, &[CKA_VERIFY]);
            flags(&mut private, &[CKA_SIGN, CKA_DERIVE]);
        }
        KeySpec::Ed25519 => {
            public.set(CKA_EC_PARAMS, ED25519_PARAMS[0].to_vec());
            flags(&mut public, &[CKA_VERIFY]);
            flags(&mut private, &[CKA_SIGN]);
        }
        KeySpec::X25519 => {
            public.set(CKA_EC_PARAMS, X25519_PARAMS[0].to_vec());
            flags(&mut private, &[CKA_DERIVE]);
        }
        KeySpec::Aes(bits) => {
            private.set_ulong(CKA_VALUE_LEN, bits / 8);
            flags(
                &mut private,
                &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP],
            );
        }
        KeySpec::Generic(bytes) => {
            private.set_ulong(CKA_VALUE_LEN, *bytes);
            flags(&mut private, &[CKA_SIGN, CKA_VERIFY, CKA_DERIVE]);
        }
    }
    (public, private)
}
