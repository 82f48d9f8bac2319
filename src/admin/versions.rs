//! `keyward key show` and `keyward key destroy`: a logical key's versions, and what remains
//! of it once destroyed (a tombstone: names, versions, dates, reason, never material).

use cryptoki_sys::*;

use super::lifecycle::{state_name, VersionState};
use super::listing::{class_name, hex, uid_of};
use super::uri::KeyUri;
use super::Admin;
use crate::error::{Error, Result};
use crate::object::vendor::*;
use crate::object::Object;
use crate::policy::lifecycle::{now_seconds, state_of};
use crate::store::{DestroyedVersion, Tombstone};

/// One version of a key as `keyward key show` reports it.
#[derive(Debug, serde::Serialize)]
pub struct VersionRow {
    pub version: CK_ULONG,
    pub class: &'static str,
    pub state: &'static str,
    /// When this version was made, and when its state or reason was last set (Unix seconds).
    pub created: CK_ULONG,
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
        class: class_name(obj.class()),
        state: state_name(state_of(a)),
        created: a.ulong(CKA_KW_CREATED).unwrap_or(0),
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

    /// Destroy every version of the keys `uri` names, whatever their state (their material is
    /// deleted; the store overwrites freed pages and empties its log), and keep a tombstone
    /// per logical key: label, ids, versions, dates, last states and reasons. The report
    /// names the versions that were still in use (active or suspended).
    /// CKR_KEY_HANDLE_INVALID if nothing matches.
    pub fn destroy(&self, slot: CK_SLOT_ID, uri: &KeyUri, pin: &[u8]) -> Result<Destroyed> {
        let token = self.provider.token(slot)?;
        self.with_keys(slot, &uri.template(), pin, |h, keys| {
            if keys.is_empty() {
                return Err(Error::KeyHandleInvalid);
            }
            let in_use: Vec<VersionState> = keys
                .iter()
                .filter(|(_, o)| {
                    matches!(state_of(o.attrs()), KW_STATE_ACTIVE | KW_STATE_SUSPENDED)
                })
                .map(|(_, o)| VersionState::of(o))
                .collect();
            let now = now_seconds();
            let earlier = token.tombstones()?;
            let mut stones: Vec<Tombstone> = Vec::new();
            for (_, obj) in &keys {
                let key_id = hex(obj.attrs().get(CKA_KW_KEY_ID).unwrap_or_default());
                let at = match stones.iter().position(|t| t.key_id == key_id) {
                    Some(i) => i,
                    None => {
                        // Versions destroyed earlier (one half of a pair, say) stay listed.
                        let before = earlier.iter().find(|t| t.key_id == key_id);
                        stones.push(before.cloned().unwrap_or_else(|| Tombstone {
                            key_id,
                            ..Tombstone::default()
                        }));
                        stones.len() - 1
                    }
                };
                bury(&mut stones[at], obj, now);
            }
            for t in &stones {
                token.put_tombstone(t)?;
            }
            for (o, _) in &keys {
                self.provider.destroy_object(h, *o)?;
            }
            Ok(Destroyed {
                objects: keys.len(),
                in_use,
            })
        })
    }
}

/// What `keyward key destroy` did: how many key objects it destroyed, and which of them were
/// still in use (active or suspended).
#[derive(Debug, serde::Serialize)]
pub struct Destroyed {
    pub objects: usize,
    pub in_use: Vec<VersionState>,
}

/// Add `obj` (being destroyed at `now`) to its logical key's tombstone: its own line in the
/// history, and the key's names, first creation date and newest state.
fn bury(t: &mut Tombstone, obj: &Object, now: u64) {
    let a = obj.attrs();
    #[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
    let num = |ty| a.ulong(ty).unwrap_or(0) as u64;
    let version = DestroyedVersion {
        version: num(CKA_KW_VERSION).max(1),
        class: super::listing::class_name(obj.class()).to_owned(),
        created: num(CKA_KW_CREATED),
        state: state_name(state_of(a)).to_owned(),
        state_changed: num(CKA_KW_STATE_CHANGED),
        reason: num(CKA_KW_REVOCATION_REASON),
    };
    if version.version >= t.versions {
        t.versions = version.version;
        t.state = version.state.clone();
        t.state_changed = version.state_changed;
        t.reason = version.reason;
        t.label = String::from_utf8_lossy(a.get(CKA_LABEL).unwrap_or_default()).into_owned();
        t.id = hex(a.get(CKA_ID).unwrap_or_default());
    }
    if t.created == 0 || (version.created != 0 && version.created < t.created) {
        t.created = version.created;
    }
    t.destroyed_at = now;
    t.history
        .retain(|v| (v.version, &v.class) != (version.version, &version.class));
    t.history.push(version);
    t.history.sort_by(|x, y| {
        y.version
            .cmp(&x.version)
            .then_with(|| x.class.cmp(&y.class))
    });
}
