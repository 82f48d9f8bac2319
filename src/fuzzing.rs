//! Safe entry points for the fuzz targets (`fuzz/`) and for `tests/fuzz_corpus.rs`, which
//! replays their corpus on stable Rust. Each takes arbitrary bytes, feeds them to one of the
//! module's parsers and checks what must hold whatever the input: no panic, and where a
//! parse succeeds, the invariants written beside each call. Not part of the module's API.
//!
//! The two targets that go through the C ABI (`template_abi`, `mechanism_abi`) need raw
//! pointers and live in `fuzz/harness/`; everything here is safe code over public parsers.

use std::sync::OnceLock;

use cryptoki_sys::*;

use crate::object::template::{self, Origin};
use crate::object::{Attributes, Object};
use crate::store::seal::{self, Sealer, Tmk};
use crate::store::StoredObject;

/// Reads a fuzz input front to back; past its end every read gives zeros.
pub struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// Up to `n` bytes (fewer at the end of the input).
    pub fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }

    /// A CK_ULONG from 8 bytes (little-endian, zero-padded at the end of the input).
    pub fn ulong(&mut self) -> CK_ULONG {
        let mut b = [0u8; 8];
        let got = self.take(8);
        b[..got.len()].copy_from_slice(got);
        CK_ULONG::from_le_bytes(b)
    }

    /// One of `table`, or (high bit of the selector set) any CK_ULONG from the input.
    pub fn pick(&mut self, table: &[CK_ULONG]) -> CK_ULONG {
        let sel = self.byte();
        if sel & 0x80 != 0 || table.is_empty() {
            self.ulong()
        } else {
            table[sel as usize % table.len()]
        }
    }
}

/// Attribute types worth meeting often (the fuzzer reaches any other through [`Input::pick`]).
pub const ATTRIBUTE_TYPES: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_CLASS,
    CKA_KEY_TYPE,
    CKA_TOKEN,
    CKA_PRIVATE,
    CKA_LABEL,
    CKA_VALUE,
    CKA_VALUE_LEN,
    CKA_SENSITIVE,
    CKA_EXTRACTABLE,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
    CKA_MODIFIABLE,
    CKA_COPYABLE,
    CKA_DESTROYABLE,
    CKA_ID,
    CKA_START_DATE,
    CKA_END_DATE,
    CKA_MODULUS,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT,
    CKA_PRIME_1,
    CKA_PRIME_2,
    CKA_EC_PARAMS,
    CKA_EC_POINT,
    CKA_ALLOWED_MECHANISMS,
    CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE,
    CKA_DERIVE_TEMPLATE,
    CKA_CERTIFICATE_TYPE,
    CKA_APPLICATION,
    CKA_OBJECT_ID,
    CKA_UNIQUE_ID,
    CKA_WRAP_WITH_TRUSTED,
    CKA_TRUSTED,
    CKA_ALWAYS_AUTHENTICATE,
    crate::object::vendor::CKA_KW_USAGE_LIMIT,
    crate::object::vendor::CKA_KW_ROTATION_PERIOD,
];

/// (type, value) pairs: a count, then per attribute a type and a value of a length byte.
/// Attribute arrays get a value in the stored form of an array (`attr::encode_template`).
pub fn pairs(input: &mut Input) -> Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)> {
    let count = input.byte() % 16;
    (0..count)
        .map(|_| {
            let ty = input.pick(ATTRIBUTE_TYPES);
            if crate::object::attr::is_template(ty) {
                let nested = (0..input.byte() % 4)
                    .map(|_| (input.pick(ATTRIBUTE_TYPES), value(input)))
                    .collect::<Vec<_>>();
                return (ty, crate::object::attr::encode_template(&nested));
            }
            (ty, value(input))
        })
        .collect()
}

/// A value: a length byte and that many bytes; lengths 0xf0.. pick the usual CK_ULONG and
/// CK_BBOOL sizes so that well-formed values are common.
fn value(input: &mut Input) -> Vec<u8> {
    let n = match input.byte() {
        0xf0..=0xf7 => 8,
        0xf8..=0xff => 1,
        n => n as usize,
    };
    input.take(n).to_vec()
}

const CLASSES: &[CK_ULONG] = &[
    CKO_DATA,
    CKO_SECRET_KEY,
    CKO_PUBLIC_KEY,
    CKO_PRIVATE_KEY,
    CKO_CERTIFICATE,
];
const KEY_TYPES: &[CK_ULONG] = &[
    CKK_AES,
    CKK_GENERIC_SECRET,
    CKK_RSA,
    CKK_EC,
    CKK_EC_EDWARDS,
    CKK_EC_MONTGOMERY,
    CKK_SHA256_HMAC,
];

/// Template checks: a decoded template through `shape_of`, `new_object` for every origin,
/// and on success `Object::new`, key material parsing, `modify` and `copy`.
pub fn template_checks(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let default_class = (flags & 1 != 0).then(|| input.pick(CLASSES));
    let default_subtype = (flags & 2 != 0).then(|| input.pick(KEY_TYPES));
    let is_so = flags & 4 != 0;
    let Ok(attrs) = Attributes::from_pairs(pairs(&mut input)) else {
        return;
    };
    let change = Attributes::from_pairs(pairs(&mut input)).unwrap_or_default();
    let Ok(shape) = template::shape_of(&attrs, default_class, default_subtype) else {
        return;
    };
    let origins = [
        Origin::Create,
        Origin::Generate(CKM_AES_KEY_GEN),
        Origin::Generate(CKM_EC_KEY_PAIR_GEN),
        Origin::Derive {
            always_sensitive: flags & 8 != 0,
            never_extractable: flags & 16 != 0,
        },
        Origin::Unwrap,
    ];
    for origin in origins {
        let Ok(full) = template::new_object(shape, &attrs, origin, is_so) else {
            continue;
        };
        // Every attribute the caller gave is kept as given.
        for (ty, v) in attrs.iter() {
            assert_eq!(
                full.get(ty),
                Some(v),
                "new_object changed attribute {ty:#x}"
            );
        }
        let Ok(obj) = Object::new(full.clone()) else {
            panic!("new_object accepted a template Object::new refuses");
        };
        let _ = obj.key();
        if let Ok(next) = template::modify(shape, &full, &change, is_so) {
            let _ = Object::new(next);
        }
        if let Ok(next) = template::copy(shape, &full, &change, is_so) {
            let _ = Object::new(next);
        }
    }
}

/// The sealer of one random master key (the same for the whole process).
fn sealer() -> &'static Sealer {
    static SEALER: OnceLock<Sealer> = OnceLock::new();
    SEALER.get_or_init(|| {
        Tmk::generate()
            .and_then(|t| t.sealer())
            .expect("a sealer from a fresh master key")
    })
}

/// The store's object records: `data` as the clear CBOR of a public record (what any process
/// reads without a login), then as the sealed part of a record (which must never open), and,
/// when it decodes to an object, sealed and opened again (which must give it back).
pub fn store_record(data: &[u8]) {
    let stored = StoredObject {
        uid: "fuzz".to_owned(),
        generation: 0,
        private: false,
        clear: data.to_vec(),
        sealed: None,
    };
    if let Ok(Some(attrs)) = seal::open_public(&stored) {
        if let Ok(obj) = Object::new(attrs) {
            let _ = obj.key();
            if let Ok(sealed) = sealer().seal("fuzz", &obj) {
                let back = sealer().open(&sealed).expect("a record sealed here opens");
                assert!(
                    back == *obj.attrs(),
                    "sealing and opening changed the object"
                );
            }
        }
    }
    let forged = StoredObject {
        sealed: Some(data.to_vec()),
        clear: Attributes::new()
            .to_cbor()
            .map(|c| c.to_vec())
            .unwrap_or_default(),
        ..stored
    };
    assert!(
        sealer().open(&forged).is_err(),
        "a sealed part not made by the sealer opened"
    );
}

/// The configuration file parser.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::config::Config::parse(text);
    }
}

/// The audit record parser (canonical JSON only): a record that parses serialises back to the
/// same bytes, which `parse_record` checks itself; here it must not panic, and parsing its
/// own output again must give the same record.
pub fn audit_record(data: &[u8]) {
    if let Ok(record) = crate::audit::parse_record(data) {
        let again = crate::audit::parse_record(data).expect("the same bytes parse again");
        assert_eq!(record, again);
    }
}
