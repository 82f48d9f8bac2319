//! Reading SoftHSMv2's file object store (`objectstore.backend = file`, SoftHSM 2.x).
//!
//! A token is one directory: `token.object` (the token's label, serial, flags and the two
//! PIN-encrypted blobs of its token key), one `<uuid>.object` per object, a `.lock` file
//! beside each, and `generation`. Every `.object` file has the same layout, all integers
//! 8 bytes big-endian whatever the platform:
//!
//! ```text
//! generation
//! then until the end of the file, per attribute:
//!   CKA_ type, encoding, value
//!     encoding 1  boolean:         1 byte, non-zero is true
//!     encoding 2  unsigned long:   8 bytes
//!     encoding 3  byte string:     length, bytes
//!     encoding 4  attribute map:   total length in bytes, then entries of
//!                                  (CKA_ type, encoding 1/2/3/5, value) as above
//!     encoding 5  mechanism set:   count, count mechanism types
//! ```
//!
//! Byte strings of objects whose CKA_PRIVATE is true are encrypted under the token key
//! ([`super::secure`]); everything else is in the clear. Files are only ever read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use cryptoki_sys::{CKA_VENDOR_DEFINED, CK_ATTRIBUTE_TYPE};
use zeroize::Zeroizing;

/// SoftHSM's own attributes in `token.object` (its `CKA_VENDOR_SOFTHSM` range, 'SH').
const VENDOR_SOFTHSM: CK_ATTRIBUTE_TYPE = CKA_VENDOR_DEFINED + 0x5348;
const TOKEN_LABEL: CK_ATTRIBUTE_TYPE = VENDOR_SOFTHSM + 1;
const TOKEN_SERIAL: CK_ATTRIBUTE_TYPE = VENDOR_SOFTHSM + 2;
const SO_PIN_BLOB: CK_ATTRIBUTE_TYPE = VENDOR_SOFTHSM + 4;
const USER_PIN_BLOB: CK_ATTRIBUTE_TYPE = VENDOR_SOFTHSM + 5;

const BOOLEAN: u64 = 1;
const ULONG: u64 = 2;
const BYTES: u64 = 3;
const ATTRIBUTE_MAP: u64 = 4;
const MECHANISM_SET: u64 = 5;

/// One stored attribute value. Byte strings may be key material (SoftHSM keeps the
/// CKA_VALUE of a non-private secret key in the clear), so they are zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub(super) enum Value {
    Bool(bool),
    Ulong(u64),
    Bytes(Zeroizing<Vec<u8>>),
    /// An attribute map (CKA_WRAP_TEMPLATE and friends): never encrypted.
    Map(Vec<(CK_ATTRIBUTE_TYPE, Value)>),
    /// A mechanism set (CKA_ALLOWED_MECHANISMS).
    Mechanisms(Vec<u64>),
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ulong(v) => write!(f, "{v}"),
            Value::Bytes(_) => f.write_str("[redacted]"),
            Value::Map(m) => write!(f, "map of {}", m.len()),
            Value::Mechanisms(m) => write!(f, "{m:x?}"),
        }
    }
}

/// The attributes of one `.object` file, by CKA_ type.
pub(super) type Stored = BTreeMap<CK_ATTRIBUTE_TYPE, Value>;

/// What `token.object` says about the token.
pub(super) struct TokenFile {
    pub label: String,
    pub serial: String,
    /// salt ‖ IV ‖ AES-256-CBC("RJR" ‖ token key) under the SO PIN.
    pub so_blob: Option<Vec<u8>>,
    /// The same under the user PIN; absent until the user PIN is set.
    pub user_blob: Option<Vec<u8>>,
}

/// Read `dir/token.object`.
pub(super) fn read_token(dir: &Path) -> Result<TokenFile, String> {
    let path = dir.join("token.object");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let stored = parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = |ty| match stored.get(&ty) {
        Some(Value::Bytes(b)) => String::from_utf8_lossy(b).trim_end().to_owned(),
        _ => String::new(),
    };
    let blob = |ty| match stored.get(&ty) {
        Some(Value::Bytes(b)) if !b.is_empty() => Some(b.to_vec()),
        _ => None,
    };
    Ok(TokenFile {
        label: text(TOKEN_LABEL),
        serial: text(TOKEN_SERIAL),
        so_blob: blob(SO_PIN_BLOB),
        user_blob: blob(USER_PIN_BLOB),
    })
}

/// The object files of the token in `dir` (every `*.object` but `token.object`), sorted.
pub(super) fn object_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".object") && name != "token.object" && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Parse the contents of an `.object` file. Errors say what is wrong and where.
pub(super) fn parse(bytes: &[u8]) -> Result<Stored, String> {
    let mut r = Reader { buf: bytes, pos: 0 };
    if bytes.is_empty() {
        return Err("empty object file".into());
    }
    r.ulong()?; // the generation counter
    let mut stored = Stored::new();
    while !r.at_end() {
        let ty = r.attribute_type()?;
        let encoding = r.ulong()?;
        let value = r.value(encoding, true)?;
        stored.insert(ty, value);
    }
    Ok(stored)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn take(&mut self, n: u64) -> Result<&[u8], String> {
        let available = self.buf.len() - self.pos;
        let n = usize::try_from(n)
            .ok()
            .filter(|&n| n <= available)
            .ok_or_else(|| format!("truncated at byte {} (wants {n} more)", self.pos))?;
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    fn ulong(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        let mut v = [0u8; 8];
        v.copy_from_slice(b);
        Ok(u64::from_be_bytes(v))
    }

    fn attribute_type(&mut self) -> Result<CK_ATTRIBUTE_TYPE, String> {
        let at = self.pos;
        CK_ATTRIBUTE_TYPE::try_from(self.ulong()?)
            .map_err(|_| format!("attribute type out of range at byte {at}"))
    }

    /// One value of `encoding`; attribute maps only at the top level.
    fn value(&mut self, encoding: u64, top: bool) -> Result<Value, String> {
        let at = self.pos;
        Ok(match encoding {
            BOOLEAN => Value::Bool(self.take(1)?[0] != 0),
            ULONG => Value::Ulong(self.ulong()?),
            BYTES => {
                let len = self.ulong()?;
                Value::Bytes(Zeroizing::new(self.take(len)?.to_vec()))
            }
            MECHANISM_SET => {
                let count = self.ulong()?;
                // Each entry is 8 bytes: refuse a count the file cannot hold before allocating.
                if count > (self.buf.len() - self.pos) as u64 / 8 {
                    return Err(format!("truncated mechanism set at byte {at}"));
                }
                Value::Mechanisms((0..count).map(|_| self.ulong()).collect::<Result<_, _>>()?)
            }
            ATTRIBUTE_MAP if top => {
                let len = self.ulong()?;
                let body = self.take(len)?;
                let mut inner = Reader { buf: body, pos: 0 };
                let mut entries = Vec::new();
                while !inner.at_end() {
                    let ty = inner.attribute_type()?;
                    let encoding = inner.ulong()?;
                    entries.push((ty, inner.value(encoding, false)?));
                }
                Value::Map(entries)
            }
            other => return Err(format!("unknown attribute encoding {other} at byte {at}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulong(v: u64) -> Vec<u8> {
        v.to_be_bytes().to_vec()
    }

    fn sample() -> Vec<u8> {
        let mut f = ulong(7); // generation
        f.extend([ulong(0), ulong(ULONG), ulong(3)].concat()); // CKA_CLASS = private key
        f.extend([ulong(1), ulong(BOOLEAN), vec![0xff]].concat()); // CKA_TOKEN
        f.extend([ulong(3), ulong(BYTES), ulong(2), b"k1".to_vec()].concat()); // CKA_LABEL
        f.extend(
            [
                ulong(0x4000_0600),
                ulong(MECHANISM_SET),
                ulong(1),
                ulong(0x1040),
            ]
            .concat(),
        );
        let entry = [ulong(0x104), ulong(BOOLEAN), vec![0]].concat();
        f.extend(
            [
                ulong(0x4000_0211),
                ulong(ATTRIBUTE_MAP),
                ulong(entry.len() as u64),
                entry,
            ]
            .concat(),
        );
        f
    }

    #[test]
    fn every_encoding_is_read() {
        let s = parse(&sample()).unwrap();
        assert_eq!(s[&0], Value::Ulong(3));
        assert_eq!(s[&1], Value::Bool(true));
        assert_eq!(s[&3], Value::Bytes(Zeroizing::new(b"k1".to_vec())));
        assert_eq!(s[&0x4000_0600], Value::Mechanisms(vec![0x1040]));
        assert_eq!(
            s[&0x4000_0211],
            Value::Map(vec![(0x104, Value::Bool(false))])
        );
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let good = sample();
        for cut in 1..good.len() {
            // Cuts on an attribute boundary leave a shorter, valid file.
            let _ = parse(&good[..cut]);
        }
        assert!(parse(&good[..good.len() - 1]).is_err());
        assert!(parse(&[]).is_err());
        let mut bad = ulong(1);
        bad.extend([ulong(3), ulong(9), ulong(0)].concat());
        assert!(parse(&bad)
            .unwrap_err()
            .contains("unknown attribute encoding 9"));
        let mut huge = ulong(1);
        huge.extend([ulong(3), ulong(BYTES), ulong(u64::MAX)].concat());
        assert!(parse(&huge).unwrap_err().contains("truncated"));
        let mut many = ulong(1);
        many.extend([ulong(3), ulong(MECHANISM_SET), ulong(u64::MAX)].concat());
        assert!(parse(&many).unwrap_err().contains("truncated"));
    }
}
