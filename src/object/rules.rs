//! Declarative attribute rules per object class and key type (PKCS#11 3.0 §4, tables 10–60).
//!
//! Each attribute an object may carry has one row: where it applies, what shape its value
//! has, and named flags for how it may be supplied and changed.

use cryptoki_sys::*;

use super::vendor::*;

/// Which objects an attribute row applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Any,
    Data,
    Certificate,
    X509,
    AnyKey,
    PublicKey,
    PrivateKey,
    SecretKey,
    /// Public and private keys.
    AsymKey,
    RsaKey,
    RsaPrivate,
    EcKey,
    EcPublic,
    EcPrivate,
    /// AES and generic secret keys.
    SecretValue,
}

/// The shape of an attribute value; wrong shapes get CKR_ATTRIBUTE_VALUE_INVALID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Bool,
    Ulong,
    Bytes,
    /// CK_DATE: empty or 8 ASCII digits.
    Date,
    /// An array of CK_MECHANISM_TYPE.
    Mechanisms,
    /// An attribute array (CKF_ARRAY_ATTRIBUTE), stored as `attr::encode_template`.
    Template,
}

/// Named rule flags.
pub mod flag {
    /// Must be in a C_CreateObject template.
    pub const REQUIRED_CREATE: u16 = 1 << 0;
    /// Must be in a key generation template.
    pub const REQUIRED_GENERATE: u16 = 1 << 1;
    /// The token computes it on generation; a caller may not supply it there.
    pub const GENERATED: u16 = 1 << 2;
    /// Maintained by the token only; never accepted from a caller.
    pub const TOKEN_MANAGED: u16 = 1 << 3;
    /// Cannot change after creation (CKR_ATTRIBUTE_READ_ONLY).
    pub const FIXED: u16 = 1 << 4;
    /// Key material: hidden when sensitive or unextractable; sealed at rest.
    pub const SECRET: u16 = 1 << 5;
    /// May only change from false to true (CKA_SENSITIVE, CKA_WRAP_WITH_TRUSTED).
    pub const ONLY_TO_TRUE: u16 = 1 << 6;
    /// May only change from true to false (CKA_EXTRACTABLE, CKA_COPYABLE, CKA_DESTROYABLE).
    pub const ONLY_TO_FALSE: u16 = 1 << 7;
    /// Only the security officer may set it to true (CKA_TRUSTED).
    pub const SO_ONLY: u16 = 1 << 8;
    /// Computed by the token on C_CreateObject (CKA_MODULUS_BITS, CKA_VALUE_LEN).
    pub const COMPUTED_ON_CREATE: u16 = 1 << 9;
    /// Lifecycle: changes even when CKA_MODIFIABLE is false, along the lifecycle's rules.
    pub const LIFECYCLE: u16 = 1 << 10;
}

/// One attribute row.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub ty: CK_ATTRIBUTE_TYPE,
    pub scope: Scope,
    pub kind: Kind,
    pub flags: u16,
}

impl Rule {
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
}

const fn r(ty: CK_ATTRIBUTE_TYPE, scope: Scope, kind: Kind, flags: u16) -> Rule {
    Rule {
        ty,
        scope,
        kind,
        flags,
    }
}

use flag::*;
use Kind::*;
use Scope::*;

/// The table. An attribute may appear in several rows with different scopes.
pub static RULES: &[Rule] = &[
    // Common to every object (§4.4, §4.5).
    r(CKA_CLASS, Any, Ulong, REQUIRED_CREATE | FIXED),
    r(CKA_TOKEN, Any, Bool, FIXED),
    r(CKA_PRIVATE, Any, Bool, FIXED),
    r(CKA_MODIFIABLE, Any, Bool, FIXED),
    r(CKA_LABEL, Any, Bytes, 0),
    r(CKA_COPYABLE, Any, Bool, ONLY_TO_FALSE),
    r(CKA_DESTROYABLE, Any, Bool, ONLY_TO_FALSE),
    r(CKA_UNIQUE_ID, Any, Bytes, TOKEN_MANAGED | FIXED),
    // Data objects (§4.6).
    r(CKA_APPLICATION, Data, Bytes, 0),
    r(CKA_OBJECT_ID, Data, Bytes, 0),
    r(CKA_VALUE, Data, Bytes, 0),
    // Certificates (§4.6.1, §4.6.3).
    r(
        CKA_CERTIFICATE_TYPE,
        Certificate,
        Ulong,
        REQUIRED_CREATE | FIXED,
    ),
    r(CKA_TRUSTED, Certificate, Bool, SO_ONLY),
    r(CKA_CERTIFICATE_CATEGORY, Certificate, Ulong, 0),
    r(CKA_CHECK_VALUE, Certificate, Bytes, 0),
    r(CKA_START_DATE, Certificate, Date, 0),
    r(CKA_END_DATE, Certificate, Date, 0),
    r(CKA_PUBLIC_KEY_INFO, Certificate, Bytes, 0),
    r(CKA_SUBJECT, X509, Bytes, REQUIRED_CREATE | FIXED),
    r(CKA_ID, X509, Bytes, 0),
    r(CKA_ISSUER, X509, Bytes, 0),
    r(CKA_SERIAL_NUMBER, X509, Bytes, 0),
    r(CKA_VALUE, X509, Bytes, REQUIRED_CREATE | FIXED),
    r(CKA_URL, X509, Bytes, 0),
    r(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, X509, Bytes, 0),
    r(CKA_HASH_OF_ISSUER_PUBLIC_KEY, X509, Bytes, 0),
    r(CKA_JAVA_MIDP_SECURITY_DOMAIN, X509, Ulong, 0),
    r(CKA_NAME_HASH_ALGORITHM, X509, Ulong, 0),
    // Every key (§4.7).
    r(CKA_KEY_TYPE, AnyKey, Ulong, REQUIRED_CREATE | FIXED),
    r(CKA_ID, AnyKey, Bytes, 0),
    r(CKA_START_DATE, AnyKey, Date, 0),
    r(CKA_END_DATE, AnyKey, Date, 0),
    r(CKA_DERIVE, AnyKey, Bool, 0),
    r(CKA_LOCAL, AnyKey, Bool, TOKEN_MANAGED | FIXED),
    r(CKA_KEY_GEN_MECHANISM, AnyKey, Ulong, TOKEN_MANAGED | FIXED),
    r(CKA_ALLOWED_MECHANISMS, AnyKey, Mechanisms, 0),
    // Keyward's lifecycle attributes (include/keyward.h, docs/lifecycle.md).
    r(CKA_KW_STATE, AnyKey, Ulong, LIFECYCLE),
    r(CKA_KW_STATE_CHANGED, AnyKey, Ulong, TOKEN_MANAGED),
    r(CKA_KW_REVOCATION_REASON, AnyKey, Ulong, LIFECYCLE),
    r(CKA_KW_USAGE_LIMIT, AnyKey, Ulong, 0),
    r(CKA_KW_KEY_ID, AnyKey, Bytes, TOKEN_MANAGED | FIXED),
    r(CKA_KW_VERSION, AnyKey, Ulong, TOKEN_MANAGED | FIXED),
    r(CKA_KW_ROTATION_PERIOD, AnyKey, Ulong, 0),
    r(CKA_KW_CREATED, AnyKey, Ulong, TOKEN_MANAGED | FIXED),
    r(CKA_KW_COPY_OF, AnyKey, Bytes, TOKEN_MANAGED | FIXED),
    r(CKA_KW_DEVICE_ID, AnyKey, Bytes, TOKEN_MANAGED | FIXED),
    r(CKA_KW_ACL, AnyKey, Bytes, 0),
    // Templates a wrapping, unwrapping or deriving key imposes (§4.8–4.10); fixed at
    // creation so they cannot be loosened later.
    r(CKA_WRAP_TEMPLATE, PublicKey, Template, FIXED),
    r(CKA_WRAP_TEMPLATE, SecretKey, Template, FIXED),
    r(CKA_UNWRAP_TEMPLATE, PrivateKey, Template, FIXED),
    r(CKA_UNWRAP_TEMPLATE, SecretKey, Template, FIXED),
    r(CKA_DERIVE_TEMPLATE, PrivateKey, Template, FIXED),
    r(CKA_DERIVE_TEMPLATE, SecretKey, Template, FIXED),
    // Public keys (§4.8).
    r(CKA_SUBJECT, AsymKey, Bytes, 0),
    r(CKA_ENCRYPT, PublicKey, Bool, 0),
    r(CKA_VERIFY, PublicKey, Bool, 0),
    r(CKA_VERIFY_RECOVER, PublicKey, Bool, 0),
    r(CKA_WRAP, PublicKey, Bool, 0),
    r(CKA_TRUSTED, PublicKey, Bool, SO_ONLY),
    r(CKA_PUBLIC_KEY_INFO, AsymKey, Bytes, 0),
    // Private keys (§4.9).
    r(CKA_SENSITIVE, PrivateKey, Bool, ONLY_TO_TRUE),
    r(CKA_DECRYPT, PrivateKey, Bool, 0),
    r(CKA_SIGN, PrivateKey, Bool, 0),
    r(CKA_SIGN_RECOVER, PrivateKey, Bool, 0),
    r(CKA_UNWRAP, PrivateKey, Bool, 0),
    r(CKA_EXTRACTABLE, PrivateKey, Bool, ONLY_TO_FALSE),
    r(
        CKA_ALWAYS_SENSITIVE,
        PrivateKey,
        Bool,
        TOKEN_MANAGED | FIXED,
    ),
    r(
        CKA_NEVER_EXTRACTABLE,
        PrivateKey,
        Bool,
        TOKEN_MANAGED | FIXED,
    ),
    r(CKA_WRAP_WITH_TRUSTED, PrivateKey, Bool, ONLY_TO_TRUE),
    r(CKA_ALWAYS_AUTHENTICATE, PrivateKey, Bool, 0),
    // Secret keys (§4.10).
    r(CKA_SENSITIVE, SecretKey, Bool, ONLY_TO_TRUE),
    r(CKA_ENCRYPT, SecretKey, Bool, 0),
    r(CKA_DECRYPT, SecretKey, Bool, 0),
    r(CKA_SIGN, SecretKey, Bool, 0),
    r(CKA_VERIFY, SecretKey, Bool, 0),
    r(CKA_WRAP, SecretKey, Bool, 0),
    r(CKA_UNWRAP, SecretKey, Bool, 0),
    r(CKA_EXTRACTABLE, SecretKey, Bool, ONLY_TO_FALSE),
    r(CKA_ALWAYS_SENSITIVE, SecretKey, Bool, TOKEN_MANAGED | FIXED),
    r(
        CKA_NEVER_EXTRACTABLE,
        SecretKey,
        Bool,
        TOKEN_MANAGED | FIXED,
    ),
    r(CKA_CHECK_VALUE, SecretKey, Bytes, TOKEN_MANAGED | FIXED),
    r(CKA_WRAP_WITH_TRUSTED, SecretKey, Bool, ONLY_TO_TRUE),
    r(CKA_TRUSTED, SecretKey, Bool, SO_ONLY),
    // RSA (§2.1.2, §2.1.3).
    r(
        CKA_MODULUS,
        RsaKey,
        Bytes,
        REQUIRED_CREATE | GENERATED | FIXED,
    ),
    r(CKA_MODULUS_BITS, RsaKey, Ulong, COMPUTED_ON_CREATE | FIXED),
    r(CKA_PUBLIC_EXPONENT, RsaKey, Bytes, REQUIRED_CREATE | FIXED),
    r(
        CKA_PRIVATE_EXPONENT,
        RsaPrivate,
        Bytes,
        REQUIRED_CREATE | GENERATED | FIXED | SECRET,
    ),
    r(CKA_PRIME_1, RsaPrivate, Bytes, GENERATED | FIXED | SECRET),
    r(CKA_PRIME_2, RsaPrivate, Bytes, GENERATED | FIXED | SECRET),
    r(
        CKA_EXPONENT_1,
        RsaPrivate,
        Bytes,
        GENERATED | FIXED | SECRET,
    ),
    r(
        CKA_EXPONENT_2,
        RsaPrivate,
        Bytes,
        GENERATED | FIXED | SECRET,
    ),
    r(
        CKA_COEFFICIENT,
        RsaPrivate,
        Bytes,
        GENERATED | FIXED | SECRET,
    ),
    // EC (§2.3.3, §2.3.4).
    r(CKA_EC_PARAMS, EcKey, Bytes, REQUIRED_CREATE | FIXED),
    r(
        CKA_EC_POINT,
        EcPublic,
        Bytes,
        REQUIRED_CREATE | GENERATED | FIXED,
    ),
    r(
        CKA_VALUE,
        EcPrivate,
        Bytes,
        REQUIRED_CREATE | GENERATED | FIXED | SECRET,
    ),
    // AES and generic secret (§2.8.2, §2.16.2).
    r(
        CKA_VALUE,
        SecretValue,
        Bytes,
        REQUIRED_CREATE | GENERATED | FIXED | SECRET,
    ),
    r(
        CKA_VALUE_LEN,
        SecretValue,
        Ulong,
        REQUIRED_GENERATE | COMPUTED_ON_CREATE | FIXED,
    ),
];

/// What an object is, for rule lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub class: CK_OBJECT_CLASS,
    /// CKK_* for keys, CKC_* for certificates, unused otherwise.
    pub subtype: CK_ULONG,
}

impl Scope {
    /// Whether a row with this scope applies to objects of `shape`.
    pub fn covers(self, s: Shape) -> bool {
        let key = matches!(s.class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY);
        let asym = matches!(s.class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY);
        match self {
            Any => true,
            Data => s.class == CKO_DATA,
            Certificate => s.class == CKO_CERTIFICATE,
            X509 => s.class == CKO_CERTIFICATE && s.subtype == CKC_X_509,
            AnyKey => key,
            PublicKey => s.class == CKO_PUBLIC_KEY,
            PrivateKey => s.class == CKO_PRIVATE_KEY,
            SecretKey => s.class == CKO_SECRET_KEY,
            AsymKey => asym,
            RsaKey => asym && s.subtype == CKK_RSA,
            RsaPrivate => s.class == CKO_PRIVATE_KEY && s.subtype == CKK_RSA,
            EcKey => asym && is_ec_family(s.subtype),
            EcPublic => s.class == CKO_PUBLIC_KEY && is_ec_family(s.subtype),
            EcPrivate => s.class == CKO_PRIVATE_KEY && is_ec_family(s.subtype),
            SecretValue => {
                s.class == CKO_SECRET_KEY && matches!(s.subtype, CKK_AES | CKK_GENERIC_SECRET)
            }
        }
    }
}

/// Key types with CKA_EC_PARAMS / CKA_EC_POINT / CKA_VALUE: Weierstrass, Edwards, Montgomery.
pub fn is_ec_family(key_type: CK_KEY_TYPE) -> bool {
    matches!(key_type, CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY)
}

/// The rule for attribute `ty` on an object of `shape`, if that object may carry it.
pub fn rule(shape: Shape, ty: CK_ATTRIBUTE_TYPE) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.ty == ty && r.scope.covers(shape))
}

/// Every rule that applies to `shape`.
pub fn rules(shape: Shape) -> impl Iterator<Item = &'static Rule> {
    RULES.iter().filter(move |r| r.scope.covers(shape))
}

/// Whether `ty` is key material that must be sealed at rest for `shape`.
pub fn is_secret(shape: Shape, ty: CK_ATTRIBUTE_TYPE) -> bool {
    rule(shape, ty).is_some_and(|r| r.has(SECRET))
}

/// Whether the shape itself is supported (class and key/certificate type).
pub fn supported(shape: Shape) -> bool {
    match shape.class {
        CKO_DATA => true,
        CKO_CERTIFICATE => shape.subtype == CKC_X_509,
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY => shape.subtype == CKK_RSA || is_ec_family(shape.subtype),
        CKO_SECRET_KEY => matches!(shape.subtype, CKK_AES | CKK_GENERIC_SECRET),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_rule_depends_on_the_shape() {
        let aes = Shape {
            class: CKO_SECRET_KEY,
            subtype: CKK_AES,
        };
        let data = Shape {
            class: CKO_DATA,
            subtype: 0,
        };
        assert!(is_secret(aes, CKA_VALUE));
        assert!(!is_secret(data, CKA_VALUE));
        assert!(rule(data, CKA_SENSITIVE).is_none());
        assert!(rule(aes, CKA_MODULUS).is_none());
    }
}
