//! `keyward key import`: the contents of a key file (see [`keyfile`]) or a raw secret key
//! made into token objects through the provider, as C_CreateObject would: a private key with
//! its public key, certificates, public keys. Private and secret keys are sensitive and,
//! unless asked otherwise, not extractable. Objects of one import share CKA_ID: the SHA-1 of
//! the public key (RSA: of the modulus; EC and EdDSA: of the point), as NSS and OpenSSL's
//! tools do, so a certificate imported on its own later finds its key.

use cryptoki_sys::*;
use pkcs8::der::asn1::ObjectIdentifier;
use pkcs8::der::{Decode, Encode};
use x509_cert::Certificate;

use super::keyfile::{self, Item};
use super::listing::{class_name, hex};
use super::Admin;
use crate::crypto::digest::{self, DigestAlg};
use crate::crypto::ffi;
use crate::error::Result;
use crate::object::key::ec_point_der;
use crate::object::{pkcs8 as p8, Attributes};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

/// How imported objects are named and protected.
pub struct ImportOptions {
    pub label: String,
    /// CKA_ID; None: derived from the public key (secret keys: random 8 bytes).
    pub id: Option<Vec<u8>>,
    /// Private and secret keys: CKA_EXTRACTABLE (default false).
    pub extractable: bool,
}

/// A raw secret key's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawKind {
    Aes,
    Generic,
}

/// One object an import made.
#[derive(Debug, serde::Serialize)]
pub struct Imported {
    pub label: String,
    pub class: &'static str,
    pub key_type: &'static str,
    pub id: String,
}

impl Admin {
    /// Import `items` into `slot` (as the user, or the named user: a key manager).
    pub fn import(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        items: &[Item],
        options: &ImportOptions,
    ) -> std::result::Result<Vec<Imported>, String> {
        let templates = templates(items, options)?;
        self.create_all(slot, pin, &templates)
            .map_err(|e| format!("the token refused the import: {}", e.ckr_name()))
    }

    /// Import a raw secret key (`value`: the key bytes) into `slot`.
    pub fn import_raw(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        kind: RawKind,
        value: &[u8],
        options: &ImportOptions,
    ) -> std::result::Result<Vec<Imported>, String> {
        if kind == RawKind::Aes && ![16, 24, 32].contains(&value.len()) {
            return Err(format!(
                "an AES key has 16, 24 or 32 bytes, the file has {}",
                value.len()
            ));
        }
        if value.is_empty() {
            return Err("the key file is empty".into());
        }
        let mut t = common(CKO_SECRET_KEY, options);
        let id = match &options.id {
            Some(id) => id.clone(),
            None => {
                let mut id = vec![0u8; 8];
                crate::crypto::rng::fill(&mut id).map_err(|_| "no randomness".to_owned())?;
                id
            }
        };
        t.set(CKA_ID, id);
        t.set(CKA_VALUE, value.to_vec());
        let usage: &[CK_ATTRIBUTE_TYPE] = match kind {
            RawKind::Aes => {
                t.set_ulong(CKA_KEY_TYPE, CKK_AES);
                &[CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP]
            }
            RawKind::Generic => {
                t.set_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
                &[CKA_SIGN, CKA_VERIFY, CKA_DERIVE]
            }
        };
        secret_flags(&mut t, options, usage);
        self.create_all(slot, pin, &[t])
            .map_err(|e| format!("the token refused the import: {}", e.ckr_name()))
    }

    fn create_all(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        templates: &[Attributes],
    ) -> Result<Vec<Imported>> {
        let p = &self.provider;
        let h = p.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = (|| {
            self.login(h, CKU_USER, pin)?;
            let mut made = Vec::new();
            for t in templates {
                let o = match p.create_object(h, t) {
                    Ok(o) => o,
                    Err(e) => {
                        // All or nothing: what this import made so far goes again.
                        for &(o, _) in &made {
                            let _ = p.destroy_object(h, o);
                        }
                        return Err(e);
                    }
                };
                made.push((o, describe(t)));
            }
            Ok(made.into_iter().map(|(_, row)| row).collect())
        })();
        p.close_session(h)?;
        r
    }
}

fn describe(t: &Attributes) -> Imported {
    let key_type = match t.ulong(CKA_KEY_TYPE) {
        Some(CKK_RSA) => "RSA",
        Some(CKK_EC) => "EC",
        Some(CKK_EC_EDWARDS) => "EdDSA",
        Some(CKK_EC_MONTGOMERY) => "X25519",
        Some(CKK_AES) => "AES",
        Some(CKK_GENERIC_SECRET) => "generic secret",
        _ => "X.509",
    };
    Imported {
        label: String::from_utf8_lossy(t.get(CKA_LABEL).unwrap_or_default()).into_owned(),
        class: class_name(t.ulong(CKA_CLASS).unwrap_or(CKO_DATA)),
        key_type,
        id: hex(t.get(CKA_ID).unwrap_or_default()),
    }
}

/// The templates for `items`: each private key with its public key, then public keys,
/// then certificates; the certificates after the first get "LABEL-2", "LABEL-3"…
fn templates(
    items: &[Item],
    options: &ImportOptions,
) -> std::result::Result<Vec<Attributes>, String> {
    let mut out = Vec::new();
    let mut certificates = 0;
    for item in items {
        match item {
            Item::PrivateKey(der) => {
                let spki = ffi::pkcs8_public_key(der)
                    .map_err(|_| "the private key is not one the token can hold".to_owned())?;
                let public = public_template(&spki, options)?;
                let id = public.get(CKA_ID).unwrap_or_default().to_vec();
                out.push(private_template(der, id, options)?);
                out.push(public);
            }
            Item::PublicKey(spki) => out.push(public_template(spki, options)?),
            Item::Certificate(der) => {
                certificates += 1;
                let label = match certificates {
                    1 => options.label.clone(),
                    n => format!("{}-{n}", options.label),
                };
                out.push(certificate_template(der, label, options)?);
            }
        }
    }
    Ok(out)
}

fn common(class: CK_OBJECT_CLASS, options: &ImportOptions) -> Attributes {
    let mut t = Attributes::new();
    t.set_ulong(CKA_CLASS, class);
    t.set_bool(CKA_TOKEN, true);
    t.set(CKA_LABEL, options.label.as_bytes().to_vec());
    t
}

fn secret_flags(t: &mut Attributes, options: &ImportOptions, usage: &[CK_ATTRIBUTE_TYPE]) {
    t.set_bool(CKA_PRIVATE, true);
    t.set_bool(CKA_SENSITIVE, true);
    t.set_bool(CKA_EXTRACTABLE, options.extractable);
    for &u in usage {
        t.set_bool(u, true);
    }
}

fn private_template(
    der: &[u8],
    id: Vec<u8>,
    options: &ImportOptions,
) -> std::result::Result<Attributes, String> {
    let (key_type, material) = p8::decode(der).map_err(|e| {
        format!(
            "the private key is not one the token can hold ({})",
            e.ckr_name()
        )
    })?;
    let mut t = common(CKO_PRIVATE_KEY, options);
    t.set_ulong(CKA_KEY_TYPE, key_type);
    t.set(CKA_ID, id);
    t.extend(&material);
    let usage: &[CK_ATTRIBUTE_TYPE] = match key_type {
        CKK_RSA => &[CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP],
        CKK_EC => &[CKA_SIGN, CKA_DERIVE],
        CKK_EC_MONTGOMERY => &[CKA_DERIVE],
        _ => &[CKA_SIGN],
    };
    secret_flags(&mut t, options, usage);
    Ok(t)
}

/// A public key object from a SubjectPublicKeyInfo; CKA_ID as given or derived.
fn public_template(
    spki: &[u8],
    options: &ImportOptions,
) -> std::result::Result<Attributes, String> {
    let keyfile::SpkiParts {
        algorithm: oid,
        parameters: params,
        key,
    } = keyfile::spki_parts(spki)?;
    let mut t = common(CKO_PUBLIC_KEY, options);
    t.set_bool(CKA_PRIVATE, false);
    let (key_type, id_source, usage): (CK_KEY_TYPE, Vec<u8>, &[CK_ATTRIBUTE_TYPE]) = match oid {
        RSA => {
            let rsa = pkcs1::RsaPublicKey::from_der(&key)
                .map_err(|e| format!("malformed RSA public key: {e}"))?;
            let n = rsa.modulus.as_bytes().to_vec();
            t.set(CKA_PUBLIC_EXPONENT, rsa.public_exponent.as_bytes().to_vec());
            t.set(CKA_MODULUS, n.clone());
            (CKK_RSA, n, &[CKA_VERIFY, CKA_ENCRYPT, CKA_WRAP])
        }
        EC_PUBLIC => {
            t.set(
                CKA_EC_PARAMS,
                params.ok_or("the EC public key names no curve")?,
            );
            t.set(CKA_EC_POINT, ec_point_der(&key));
            (CKK_EC, key, &[CKA_VERIFY])
        }
        ED25519 | X25519 => {
            let (key_type, params) = if oid == ED25519 {
                (CKK_EC_EDWARDS, crate::object::key::ED25519_PARAMS[0])
            } else {
                (CKK_EC_MONTGOMERY, crate::object::key::X25519_PARAMS[0])
            };
            t.set(CKA_EC_PARAMS, params.to_vec());
            t.set(CKA_EC_POINT, ec_point_der(&key));
            let usage: &[CK_ATTRIBUTE_TYPE] = if oid == ED25519 {
                &[CKA_VERIFY]
            } else {
                &[CKA_DERIVE]
            };
            (key_type, key, usage)
        }
        other => {
            return Err(format!(
                "public keys of algorithm {other} are not supported"
            ))
        }
    };
    t.set_ulong(CKA_KEY_TYPE, key_type);
    for &u in usage {
        t.set_bool(u, true);
    }
    let id = match &options.id {
        Some(id) => id.clone(),
        None => {
            let mut sha1 = digest::Digest::new(DigestAlg::Sha1);
            sha1.update(&id_source);
            sha1.finish()
        }
    };
    t.set(CKA_ID, id);
    Ok(t)
}

fn certificate_template(
    der: &[u8],
    label: String,
    options: &ImportOptions,
) -> std::result::Result<Attributes, String> {
    let cert = Certificate::from_der(der).map_err(|e| format!("malformed certificate: {e}"))?;
    let tbs = &cert.tbs_certificate;
    let encode = |r: std::result::Result<Vec<u8>, pkcs8::der::Error>| {
        r.map_err(|e| format!("cannot encode the certificate's names: {e}"))
    };
    let mut t = Attributes::new();
    t.set_ulong(CKA_CLASS, CKO_CERTIFICATE);
    t.set_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509);
    t.set_bool(CKA_TOKEN, true);
    t.set_bool(CKA_PRIVATE, false);
    t.set(CKA_LABEL, label.into_bytes());
    t.set(CKA_SUBJECT, encode(tbs.subject.to_der())?);
    t.set(CKA_ISSUER, encode(tbs.issuer.to_der())?);
    t.set(CKA_SERIAL_NUMBER, encode(tbs.serial_number.to_der())?);
    t.set(CKA_VALUE, der.to_vec());
    let spki = encode(tbs.subject_public_key_info.to_der())?;
    let key_id = public_template(&spki, options)?
        .get(CKA_ID)
        .unwrap_or_default()
        .to_vec();
    t.set(CKA_ID, key_id);
    Ok(t)
}
