//! Quickstart: load libkeyward.so through PKCS#11 (the `cryptoki` crate), make an RSA and
//! an EC key on the token labelled "quickstart", sign with each, and verify the signatures
//! both through the module and independently with aws-lc-rs.
//!
//! Run by `scripts/quickstart.sh`, which builds the module and initialises the token first.

use std::path::PathBuf;

use aws_lc_rs::signature::{self, UnparsedPublicKey};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn module() -> PathBuf {
    std::env::var_os("KEYWARD_MODULE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/release/libkeyward.so")
        })
}

fn attr_bytes(attrs: &[Attribute], ty: AttributeType) -> Vec<u8> {
    attrs
        .iter()
        .find_map(|a| match (a, ty) {
            (Attribute::Modulus(v), AttributeType::Modulus) => Some(v.clone()),
            (Attribute::PublicExponent(v), AttributeType::PublicExponent) => Some(v.clone()),
            (Attribute::EcPoint(v), AttributeType::EcPoint) => Some(v.clone()),
            _ => None,
        })
        .unwrap_or_default()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pin = std::env::var("KEYWARD_PIN").map_err(|_| "set KEYWARD_PIN")?;
    let p11 = Pkcs11::new(module())?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let info = p11.get_library_info()?;
    println!("loaded {} ({})", module().display(), info.manufacturer_id());
    let slot = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| {
            p11.get_token_info(*s)
                .map(|t| t.label() == "quickstart")
                .unwrap_or(false)
        })
        .ok_or("no token labelled quickstart: run scripts/quickstart.sh")?;
    let session = p11.open_rw_session(slot)?;
    session.login(UserType::User, Some(&AuthPin::new(pin.into())))?;
    let message = b"hello from keyward";

    let common = |label: &str, id: u8| {
        vec![
            Attribute::Token(true),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(vec![id]),
        ]
    };
    let mut rsa_pub = common("qs-rsa", 1);
    rsa_pub.extend([Attribute::ModulusBits(2048.into()), Attribute::Verify(true)]);
    let mut rsa_priv = common("qs-rsa", 1);
    rsa_priv.extend([Attribute::Sign(true), Attribute::Sensitive(true)]);
    let (rpub, rpriv) =
        session.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &rsa_pub, &rsa_priv)?;
    let sig = session.sign(&Mechanism::Sha256RsaPkcs, rpriv, message)?;
    session.verify(&Mechanism::Sha256RsaPkcs, rpub, message, &sig)?;
    let a = session.get_attributes(
        rpub,
        &[AttributeType::Modulus, AttributeType::PublicExponent],
    )?;
    let components = signature::RsaPublicKeyComponents {
        n: attr_bytes(&a, AttributeType::Modulus),
        e: attr_bytes(&a, AttributeType::PublicExponent),
    };
    components.verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, &sig)?;
    println!("RSA-2048 key 'qs-rsa': SHA256-RSA-PKCS signature of {} bytes verified by the module and by aws-lc-rs", sig.len());

    let p256_oid = vec![0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut ec_pub = common("qs-ec", 2);
    ec_pub.extend([Attribute::EcParams(p256_oid), Attribute::Verify(true)]);
    let mut ec_priv = common("qs-ec", 2);
    ec_priv.extend([Attribute::Sign(true), Attribute::Sensitive(true)]);
    let (epub, epriv) = session.generate_key_pair(&Mechanism::EccKeyPairGen, &ec_pub, &ec_priv)?;
    let sig = session.sign(&Mechanism::EcdsaSha256, epriv, message)?;
    session.verify(&Mechanism::EcdsaSha256, epub, message, &sig)?;
    let point_der = attr_bytes(
        &session.get_attributes(epub, &[AttributeType::EcPoint])?,
        AttributeType::EcPoint,
    );
    let point = &point_der[2..]; // strip the DER OCTET STRING header (65-byte point)
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(message, &sig)?;
    println!("EC P-256 key 'qs-ec': ECDSA-SHA256 signature (r||s, {} bytes) verified by the module and by aws-lc-rs", sig.len());

    session.logout()?;
    Ok(())
}
