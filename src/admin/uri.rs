//! PKCS#11 URIs (RFC 7512) naming keys for the CLI: the path attributes `token`, `object`,
//! `id` and `type`, percent-decoded; other attributes (and the query) are ignored.

use cryptoki_sys::*;
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::object::Attributes;

/// Bytes written as they are in a URI attribute value: RFC 3986's unreserved characters.
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 7512's `type` values and the object classes they name.
const TYPES: [(&str, CK_OBJECT_CLASS); 5] = [
    ("private", CKO_PRIVATE_KEY),
    ("public", CKO_PUBLIC_KEY),
    ("secret-key", CKO_SECRET_KEY),
    ("cert", CKO_CERTIFICATE),
    ("data", CKO_DATA),
];

/// The URI naming one object: `pkcs11:token=T;object=L;id=%01%02;type=private` (the id
/// percent-encoded byte by byte, as tools print it; no `type` for a class RFC 7512 does not
/// name).
pub fn key_uri(token: &str, label: &[u8], id: &[u8], class: CK_OBJECT_CLASS) -> String {
    use std::fmt::Write;
    let mut uri = format!("pkcs11:token={}", percent_encode(token.as_bytes(), KEEP));
    if !label.is_empty() {
        let _ = write!(uri, ";object={}", percent_encode(label, KEEP));
    }
    if !id.is_empty() {
        uri += ";id=";
        for b in id {
            let _ = write!(uri, "%{b:02x}");
        }
    }
    if let Some((name, _)) = TYPES.iter().find(|(_, c)| *c == class) {
        let _ = write!(uri, ";type={name}");
    }
    uri
}

/// What a `pkcs11:` URI selects.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyUri {
    pub token: Option<String>,
    pub label: Option<Vec<u8>>,
    pub id: Option<Vec<u8>>,
    pub class: Option<CK_OBJECT_CLASS>,
}

impl KeyUri {
    /// Parse `pkcs11:token=T;object=L;id=%01;type=private`. An error names what is wrong.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let out = Self::parse_any(uri)?;
        if out.label.is_none() && out.id.is_none() {
            return Err(format!("{uri:?} names no key: give object=LABEL or id=ID"));
        }
        Ok(out)
    }

    /// The token a URI names (`pkcs11:token=T`, other attributes allowed): None if it names
    /// none.
    pub fn parse_token(uri: &str) -> Result<Option<String>, String> {
        Ok(Self::parse_any(uri)?.token)
    }

    fn parse_any(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("pkcs11:")
            .ok_or_else(|| format!("{uri:?} is not a PKCS#11 URI (it must start with pkcs11:)"))?;
        let path = rest.split('?').next().unwrap_or_default();
        let mut out = KeyUri::default();
        for part in path.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} in {uri:?} has no '='"))?;
            let bytes: Vec<u8> = percent_decode_str(value).collect();
            match name {
                "token" => out.token = Some(String::from_utf8_lossy(&bytes).into_owned()),
                "object" => out.label = Some(bytes),
                "id" => out.id = Some(bytes),
                "type" => {
                    let (_, class) = TYPES
                        .iter()
                        .find(|(name, _)| *name == value)
                        .ok_or_else(|| format!("unknown object type {value:?} in {uri:?}"))?;
                    out.class = Some(*class);
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The C_FindObjects template that selects the URI's objects.
    pub fn template(&self) -> Attributes {
        let mut t = Attributes::new();
        if let Some(l) = &self.label {
            t.set(CKA_LABEL, l.clone());
        }
        if let Some(id) = &self.id {
            t.set(CKA_ID, id.clone());
        }
        if let Some(c) = self.class {
            t.set_ulong(CKA_CLASS, c);
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_uri_round_trips_through_the_parser() {
        let uri = key_uri("prod keys", b"web/tls 1", &[0x01, 0xab], CKO_PRIVATE_KEY);
        assert_eq!(
            uri,
            "pkcs11:token=prod%20keys;object=web%2Ftls%201;id=%01%ab;type=private"
        );
        let parsed = KeyUri::parse(&uri).unwrap();
        assert_eq!(parsed.token.as_deref(), Some("prod keys"));
        assert_eq!(parsed.label.as_deref(), Some(&b"web/tls 1"[..]));
        assert_eq!(parsed.id.as_deref(), Some(&[0x01, 0xab][..]));
        assert_eq!(parsed.class, Some(CKO_PRIVATE_KEY));
    }

    #[test]
    fn parses_rfc7512_paths() {
        let u = KeyUri::parse(
            "pkcs11:token=My%20Token;object=sig%3bkey;id=%01%02;type=private?pin-value=x",
        )
        .unwrap();
        assert_eq!(u.token.as_deref(), Some("My Token"));
        assert_eq!(u.label.as_deref(), Some(&b"sig;key"[..]));
        assert_eq!(u.id.as_deref(), Some(&[1u8, 2][..]));
        assert_eq!(u.class, Some(CKO_PRIVATE_KEY));
        assert!(KeyUri::parse("token=x").is_err());
        assert!(KeyUri::parse("pkcs11:token=x").is_err());
        assert!(KeyUri::parse("pkcs11:object=a;type=weird").is_err());
    }
}
