//! `keyward key show` and `keyward key destroy`: a logical key's versions, and what remains
//! of it once destroyed (a tombstone: names, versions, dates, reason, never material).

use cryptoki_sys::*;

use super::lifecycle::state_name;
use super::listing::{hex, uid_of};
use super::uri::KeyUri;
use super::Admin;
use crate::error::{Error, Result};
use crate::object::vendor::*;
use crate::object::Object;
use crate::policy::lifecycle::{now_seconds, state_of};
use crate::store::Tombstone;

/// One version of a key as `keyward key show` reports it.
#[derive(Debug, serde::Serialize)]
pub struct VersionRow {
    pub version: CK_ULONG,
    pub class: &'static str,
    pub state: &'static str,
    pub state_changed: CK_ULONG,
    pub revocation_reason: CK_ULONG,
    pub start_date: String,
    pub end_date: String,
    pub usage_limit: CK_ULONG,
    /// Protect operations counted so far.
    pub uses: u64,
    pub key_id: String,
}

/// A key's versions, newest first, or its tombstone.
#[derive(Debug, Default, serde::Serialize)]
pub struct KeyReport {
    pub versions: Vec<VersionRow>,
    pub tombstones: Vec<Tombstone>,
}

fn row(obj: &Object, uses: u64) -> VersionRow {
    let a = obj.attrs();
    let text = |ty| String::from_utf8_lossy(a.get(ty).unwrap_or_default()).into_owned();
    VersionRow {
        version: a.ulong(CKA_KW_VERSION).unwrap_or(1),
        class: match obj.class() {
            CKO_PRIVATE_KEY => "private",
            CKO_PUBLIC_KEY => "public",
            _ => "secret",
        },
        state: state_name(state_of(a)),
        state_changed: a.ulong(CKA_KW_STATE_CHANGED).unwrap_or(0),
        revocation_reason: a.ulong(CKA_KW_REVOCATION_REASON).unwrap_or(0),
        start_date: text(CKA_START_DATE),
        end_date: text(CKA_END_DATE),
        usage_limit: a.ulong(CKA_KW_USAGE_LIMIT).unwrap_or(0),
        uses,
        key_id: hex(a.get(CKA_KW_KEY_ID).unwrap_or_default()),
    }
}

impl Admin {
    /// Every version of the keys `uri` names, newest first, and the tombstones that match.
    pub fn show(&self, slot: CK_SLOT_ID, uri: &KeyUri, pin: &[u8]) -> Result<KeyReport> {
        let token = self.provider.token(slot)?;
        let versions = self.with_keys(slot, &uri.template(), pin, |_, keys| {
            keys.iter()
                .map(|(_, o)| Ok(row(o, token.uses(&uid_of(o.attrs()))?)))
                .collect::<Result<Vec<_>>>()
        })?;
        let label = uri.label.as_deref().map(String::from_utf8_lossy);
        let id = uri.id.as_deref().map(hex);
        let tombstones = token
            .tombstones()?
            .into_iter()
            .filter(|t| label.as_deref().is_none_or(|l| t.label == l))
            .filter(|t| id.as_deref().is_none_or(|i| t.id == i))
            .collect();
        Ok(KeyReport {
            versions,
            tombstones,
        })
    }

    /// Destroy every version of the keys `uri` names (their material is deleted; the store
    /// overwrites freed pages) and keep a tombstone per logical key. The number destroyed.
    pub fn destroy(&self, slot: CK_SLOT_ID, uri: &KeyUri, pin: &[u8]) -> Result<usize> {
        let token = self.provider.token(slot)?;
        self.with_keys(slot, &uri.template(), pin, |h, keys| {
            if keys.is_empty() {
                return Err(Error::KeyHandleInvalid);
            }
            let mut stones: Vec<Tombstone> = Vec::new();
            for (_, obj) in &keys {
                let a = obj.attrs();
                let key_id = hex(a.get(CKA_KW_KEY_ID).unwrap_or_default());
                let version = a.ulong(CKA_KW_VERSION).unwrap_or(1);
                match stones.iter_mut().find(|t| t.key_id == key_id) {
                    Some(t) => t.versions = t.versions.max(version),
                    None => stones.push(Tombstone {
                        key_id,
                        label: String::from_utf8_lossy(a.get(CKA_LABEL).unwrap_or_default())
                            .into_owned(),
                        id: hex(a.get(CKA_ID).unwrap_or_default()),
                        versions: version,
                        destroyed_at: now_seconds(),
                        reason: a.ulong(CKA_KW_REVOCATION_REASON).unwrap_or(0),
                    }),
                }
            }
            for t in &stones {
                token.put_tombstone(t)?;
            }
            for (o, _) in &keys {
                self.provider.destroy_object(h, *o)?;
            }
            Ok(keys.len())
        })
    }
}
