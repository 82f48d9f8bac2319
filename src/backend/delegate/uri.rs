//! RFC 7512 `pkcs11:` URIs as the device layer reads them: the token a device configuration
//! names, and the key objects `keyward adopt` names. Path attributes are percent-decoded;
//! the query (`?pin-value=…`) and attributes not listed here are ignored.

use cryptoki::slot::TokenInfo;
use cryptoki_sys::{CKO_PRIVATE_KEY, CKO_SECRET_KEY, CK_OBJECT_CLASS};
use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// The `name=value` path attributes of a `pkcs11:` URI, values percent-decoded.
/// CKR_ARGUMENTS_BAD if `uri` is not one or an attribute has no `=`.
fn path_attributes(uri: &str) -> Result<Vec<(&str, Vec<u8>)>> {
    let rest = uri.strip_prefix("pkcs11:").ok_or(Error::ArgumentsBad)?;
    let path = rest.split('?').next().unwrap_or_default();
    path.split(';')
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (name, value) = part.split_once('=').ok_or(Error::ArgumentsBad)?;
            Ok((name, percent_decode_str(value).collect()))
        })
        .collect()
}

/// Which token a device configuration names: a plain label, or a URI with any of `token`,
/// `serial`, `manufacturer`, `model` (all given must match).
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct TokenSelector {
    label: Option<String>,
    serial: Option<String>,
    manufacturer: Option<String>,
    model: Option<String>,
}

impl TokenSelector {
    /// CKR_ARGUMENTS_BAD for a malformed URI or one that names no token attribute.
    pub(super) fn parse(spec: &str) -> Result<Self> {
        if !spec.starts_with("pkcs11:") {
            return Ok(TokenSelector {
                label: Some(spec.to_owned()),
                ..Default::default()
            });
        }
        let mut sel = TokenSelector::default();
        for (name, value) in path_attributes(spec)? {
            let text = String::from_utf8(value).map_err(|_| Error::ArgumentsBad)?;
            match name {
                "token" => sel.label = Some(text),
                "serial" => sel.serial = Some(text),
                "manufacturer" => sel.manufacturer = Some(text),
                "model" => sel.model = Some(text),
                _ => {}
            }
        }
        if sel == TokenSelector::default() {
            return Err(Error::ArgumentsBad);
        }
        Ok(sel)
    }

    /// Whether the token described by `info` is the one selected (padding already trimmed).
    pub(super) fn matches(&self, info: &TokenInfo) -> bool {
        let same = |want: &Option<String>, have: &str| {
            want.as_deref()
                .is_none_or(|w| w.trim_end_matches(' ') == have.trim_end_matches(' '))
        };
        same(&self.label, info.label())
            && same(&self.serial, info.serial_number())
            && same(&self.manufacturer, info.manufacturer_id())
            && same(&self.model, info.model())
    }
}

/// The key objects a `keyward adopt` URI names: `object=` (CKA_LABEL), `id=` (CKA_ID) and
/// `type=private|secret-key` (both classes when absent).
#[derive(Debug, PartialEq, Eq)]
pub(super) struct KeyQuery {
    pub(super) label: Option<Vec<u8>>,
    pub(super) id: Option<Vec<u8>>,
    pub(super) classes: Vec<CK_OBJECT_CLASS>,
}

impl KeyQuery {
    /// CKR_ARGUMENTS_BAD for a malformed URI or a `type` other than private or secret-key.
    pub(super) fn parse(uri: &str) -> Result<Self> {
        let mut q = KeyQuery {
            label: None,
            id: None,
            classes: vec![CKO_PRIVATE_KEY, CKO_SECRET_KEY],
        };
        for (name, value) in path_attributes(uri)? {
            match name {
                "object" => q.label = Some(value),
                "id" => q.id = Some(value),
                "type" => {
                    q.classes = match value.as_slice() {
                        b"private" => vec![CKO_PRIVATE_KEY],
                        b"secret-key" => vec![CKO_SECRET_KEY],
                        _ => return Err(Error::ArgumentsBad),
                    }
                }
                _ => {}
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_spec_is_a_label_or_a_uri() {
        let plain = TokenSelector::parse("pkcs11 token").unwrap();
        assert_eq!(plain.label.as_deref(), Some("pkcs11 token"));
        let uri =
            TokenSelector::parse("pkcs11:token=My%20HSM;serial=42;object=x?pin-value=1").unwrap();
        assert_eq!(uri.label.as_deref(), Some("My HSM"));
        assert_eq!(uri.serial.as_deref(), Some("42"));
        assert_eq!(uri.model, None);
        assert_eq!(
            TokenSelector::parse("pkcs11:object=k"),
            Err(Error::ArgumentsBad)
        );
        assert_eq!(
            TokenSelector::parse("pkcs11:token"),
            Err(Error::ArgumentsBad)
        );
    }

    #[test]
    fn key_query_reads_object_id_and_type() {
        let q = KeyQuery::parse("pkcs11:token=T;object=sig%3bkey;id=%01%ff;type=private").unwrap();
        assert_eq!(q.label.as_deref(), Some(&b"sig;key"[..]));
        assert_eq!(q.id.as_deref(), Some(&[1u8, 0xff][..]));
        assert_eq!(q.classes, vec![CKO_PRIVATE_KEY]);
        let all = KeyQuery::parse("pkcs11:id=%02").unwrap();
        assert_eq!(all.classes, vec![CKO_PRIVATE_KEY, CKO_SECRET_KEY]);
        assert_eq!(
            KeyQuery::parse("pkcs11:type=cert").unwrap_err(),
            Error::ArgumentsBad
        );
        assert_eq!(
            KeyQuery::parse("object=k").unwrap_err(),
            Error::ArgumentsBad
        );
    }
}
