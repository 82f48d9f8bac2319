//! The token's object table: token objects mirrored from the store (refreshed when another
//! process commits) and session objects that live only in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cryptoki_sys::*;

use super::audit::Commit;
use super::{Login, Token};
use crate::error::{Error, Result};
use crate::object::vendor::CKA_KW_DEVICE_ID;
use crate::object::{Attributes, Object};
use crate::session::SessionHandle;
use crate::store::seal;

/// A PKCS#11 object handle; never reused while the module is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectHandle(pub CK_OBJECT_HANDLE);

/// Which objects a caller may see (§4.4: private objects need a user login).
#[derive(Clone, Copy, Debug)]
pub struct Visibility(pub Login);

impl Visibility {
    pub fn can_see(self, obj: &Object) -> bool {
        !obj.is_private() || self.0 == Login::User
    }
}

struct Entry {
    obj: Arc<Object>,
    uid: String,
    /// The owning session for session objects.
    session: Option<SessionHandle>,
    generation: i64,
}

pub(crate) struct Table {
    handles: Arc<AtomicU64>,
    entries: BTreeMap<ObjectHandle, Entry>,
    by_uid: HashMap<String, ObjectHandle>,
    counter: Option<u64>,
    /// Handles by CKA_ID and by CKA_LABEL value, newest first: built on the first search that
    /// can use it, dropped by every change to the table (see [`Table::entries_mut`]).
    index: std::sync::OnceLock<Index>,
}

/// (attribute type, value) → handles, newest first.
type Index = HashMap<(CK_ATTRIBUTE_TYPE, Vec<u8>), Vec<ObjectHandle>>;

/// The attributes searches are indexed on: what tools look keys up by.
const INDEXED: [CK_ATTRIBUTE_TYPE; 2] = [CKA_ID, CKA_LABEL];

impl Table {
    pub(crate) fn new(handles: Arc<AtomicU64>) -> Self {
        Self {
            handles,
            entries: BTreeMap::new(),
            by_uid: HashMap::new(),
            counter: None,
            index: std::sync::OnceLock::new(),
        }
    }

    /// The entries, for a change: the search index no longer holds.
    fn entries_mut(&mut self) -> &mut BTreeMap<ObjectHandle, Entry> {
        self.index.take();
        &mut self.entries
    }

    /// Candidate handles for `template` (newest first): from the index when the template
    /// names an indexed attribute, else every handle.
    fn candidates(&self, template: &Attributes) -> Vec<ObjectHandle> {
        let key = INDEXED
            .iter()
            .find_map(|t| template.get(*t).map(|v| (*t, v.to_vec())));
        let Some(key) = key else {
            return self.entries.keys().rev().copied().collect();
        };
        let index = self.index.get_or_init(|| {
            let mut index = Index::new();
            for (h, e) in self.entries.iter().rev() {
                for t in INDEXED {
                    if let Some(v) = e.obj.attrs().get(t) {
                        index.entry((t, v.to_vec())).or_default().push(*h);
                    }
                }
            }
            index
        });
        index.get(&key).cloned().unwrap_or_default()
    }

    fn handle_for(&mut self, uid: &str) -> ObjectHandle {
        if let Some(h) = self.by_uid.get(uid) {
            return *h;
        }
        let h = ObjectHandle(self.handles.fetch_add(1, Ordering::Relaxed));
        self.by_uid.insert(uid.to_owned(), h);
        h
    }

    pub(crate) fn clear_token_objects(&mut self) {
        self.entries_mut().retain(|_, e| e.session.is_some());
        self.counter = None;
    }

    fn insert(
        &mut self,
        uid: String,
        obj: Arc<Object>,
        session: Option<SessionHandle>,
        generation: i64,
    ) -> ObjectHandle {
        let h = self.handle_for(&uid);
        self.entries_mut().insert(
            h,
            Entry {
                obj,
                uid,
                session,
                generation,
            },
        );
        h
    }
}

fn new_uid() -> Result<String> {
    let mut b = [0u8; 16];
    crate::crypto::rng::fill(&mut b).map_err(|_| Error::GeneralError)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

impl Token {
    /// Bring the token objects up to date with the store if another process committed
    /// since the last look (one cheap counter read when nothing changed).
    /// [`Self::sync`] only when the token's WAL file shows a write since the last look: the
    /// cheap check for the operation hot path.
    pub fn sync_if_written(&self) -> Result<()> {
        if self.watch.changed() {
            self.sync()?;
        }
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        let counter = self.store.change_counter()?;
        if self.read()?.objects.counter == Some(counter) {
            return Ok(());
        }
        self.refresh(Some(counter))
    }

    /// Reload every token object (after login or logout).
    pub(crate) fn reload(&self) -> Result<()> {
        self.write()?.objects.clear_token_objects();
        let counter = self.store.change_counter()?;
        self.refresh(Some(counter))
    }

    fn refresh(&self, counter: Option<u64>) -> Result<()> {
        let versions = self.store.object_versions()?;
        let (sealer, known) = {
            let st = self.read()?;
            let known: HashMap<String, i64> = st
                .objects
                .entries
                .values()
                .filter(|e| e.session.is_none())
                .map(|e| (e.uid.clone(), e.generation))
                .collect();
            (st.sealer.clone(), known)
        };
        let mut fresh = Vec::new();
        for (uid, generation) in &versions {
            if known.get(uid) == Some(generation) {
                continue;
            }
            let Some(stored) = self.store.object(uid)? else {
                continue;
            };
            let attrs = match &sealer {
                Some(s) => s.open(&stored).map(Some),
                None => seal::open_public(&stored),
            };
            match attrs.and_then(|a| a.map(Object::new).transpose()) {
                Ok(Some(obj)) => fresh.push((uid.clone(), stored.generation, obj)),
                Ok(None) => {}
                Err(_) => self.refuse_tampered(uid, stored.generation),
            }
        }
        // The list is read again under the write lock: a thread of this process may have
        // added, changed or destroyed an object since the first read (its store write comes
        // before its table change), and the first list would undo that.
        let mut st = self.write()?;
        let live: HashMap<String, i64> = self.store.object_versions()?.into_iter().collect();
        st.objects
            .entries_mut()
            .retain(|_, e| e.session.is_some() || live.contains_key(&e.uid));
        for (uid, generation, obj) in fresh {
            if live.get(&uid) == Some(&generation) {
                st.objects.insert(uid, Arc::new(obj), None, generation);
            }
        }
        st.objects.counter = counter;
        Ok(())
    }

    /// Add a complete object (attributes checked by the caller). Token objects are sealed
    /// and written first; CKR_USER_NOT_LOGGED_IN if that needs the master key.
    pub fn add_object(
        &self,
        mut attrs: Attributes,
        session: SessionHandle,
    ) -> Result<ObjectHandle> {
        let uid = new_uid()?;
        attrs.set(CKA_UNIQUE_ID, uid.clone().into_bytes());
        let obj = Object::new(attrs)?;
        self.before_commit(Commit::Create, &obj)?;
        let (owner, generation) = if obj.is_token() {
            let sealer = self.read()?.sealer.clone();
            let stored = seal::store_form(sealer.as_deref(), &uid, &obj)?;
            (None, self.store.put_object(&stored)?)
        } else {
            (Some(session), 0)
        };
        Ok(self
            .write()?
            .objects
            .insert(uid, Arc::new(obj), owner, generation))
    }

    /// The object behind `h` if the caller may see it; CKR_OBJECT_HANDLE_INVALID otherwise.
    pub fn object(&self, h: ObjectHandle, vis: Visibility) -> Result<Arc<Object>> {
        let st = self.read()?;
        match st.objects.entries.get(&h) {
            Some(e) if vis.can_see(&e.obj) => Ok(e.obj.clone()),
            _ => Err(Error::ObjectHandleInvalid),
        }
    }

    /// The store id of object `h` and whether it is a token object.
    fn identity(&self, h: ObjectHandle) -> Result<(String, bool)> {
        let st = self.read()?;
        let e = st
            .objects
            .entries
            .get(&h)
            .ok_or(Error::ObjectHandleInvalid)?;
        Ok((e.uid.clone(), e.session.is_none()))
    }

    /// Replace the attributes of object `h` (C_SetAttributeValue).
    pub fn replace_object(&self, h: ObjectHandle, attrs: Attributes) -> Result<()> {
        let obj = Object::new(attrs)?;
        let (uid, is_token) = self.identity(h)?;
        self.before_commit(Commit::Change, &obj)?;
        let generation = if is_token {
            let sealer = self.read()?.sealer.clone();
            self.store
                .put_object(&seal::store_form(sealer.as_deref(), &uid, &obj)?)?
        } else {
            0
        };
        let mut st = self.write()?;
        let e = st
            .objects
            .entries_mut()
            .get_mut(&h)
            .ok_or(Error::ObjectHandleInvalid)?;
        e.obj = Arc::new(obj);
        e.generation = generation;
        Ok(())
    }

    /// Remove object `h` from memory and, for token objects, from the store (in a strict
    /// slot, once its record is written).
    pub fn destroy_object(&self, h: ObjectHandle) -> Result<()> {
        let obj = self.read()?.objects.entries.get(&h).map(|e| e.obj.clone());
        self.before_commit(Commit::Destroy, &*obj.ok_or(Error::ObjectHandleInvalid)?)?;
        self.discard_object(h)
    }

    /// Remove object `h` without recording it: undoing a write that failed (the other half
    /// of a key pair), whose own records say what happened.
    pub fn discard_object(&self, h: ObjectHandle) -> Result<()> {
        let (uid, is_token) = self.identity(h)?;
        self.destroy_on_device(h)?;
        if is_token {
            self.store.delete_object(&uid)?;
        }
        self.write()?.objects.entries_mut().remove(&h);
        Ok(())
    }

    /// Destroying the last object that refers to a device key destroys it on the device
    /// first (CKR_DEVICE_ERROR, and nothing destroyed, while the device cannot be reached).
    fn destroy_on_device(&self, h: ObjectHandle) -> Result<()> {
        let Some(device) = self.device() else {
            return Ok(());
        };
        let st = self.read()?;
        let entries = &st.objects.entries;
        let Some(id) = entries
            .get(&h)
            .and_then(|e| e.obj.attrs().get(CKA_KW_DEVICE_ID))
        else {
            return Ok(());
        };
        let shared = entries
            .iter()
            .any(|(other, e)| *other != h && e.obj.attrs().get(CKA_KW_DEVICE_ID) == Some(id));
        let id = id.to_vec();
        drop(st);
        if shared {
            return Ok(());
        }
        device.destroy(&id)
    }

    /// The visible object whose CKA_UNIQUE_ID is `uid`, if any.
    pub fn object_by_uid(&self, uid: &[u8], vis: Visibility) -> Result<Option<Arc<Object>>> {
        let st = self.read()?;
        let uid = String::from_utf8_lossy(uid);
        Ok(st
            .objects
            .by_uid
            .get(uid.as_ref())
            .and_then(|h| st.objects.entries.get(h))
            .filter(|e| vis.can_see(&e.obj))
            .map(|e| e.obj.clone()))
    }

    /// Handles of the visible objects matching `template`, newest first.
    pub fn find(&self, template: &Attributes, vis: Visibility) -> Result<Vec<ObjectHandle>> {
        let st = self.read()?;
        let table = &st.objects;
        Ok(table
            .candidates(template)
            .into_iter()
            .filter(|h| {
                table
                    .entries
                    .get(h)
                    .is_some_and(|e| vis.can_see(&e.obj) && e.obj.attrs().matches(template))
            })
            .collect())
    }

    /// Destroy the session objects of a closing session.
    pub fn drop_session_objects(&self, session: SessionHandle) -> Result<()> {
        self.write()?
            .objects
            .entries_mut()
            .retain(|_, e| e.session != Some(session));
        Ok(())
    }

    /// Every visible object (for the admin listing).
    pub fn objects(&self, vis: Visibility) -> Result<Vec<(ObjectHandle, Arc<Object>)>> {
        let st = self.read()?;
        Ok(st
            .objects
            .entries
            .iter()
            .filter(|(_, e)| vis.can_see(&e.obj))
            .map(|(h, e)| (*h, e.obj.clone()))
            .collect())
    }
}

/// What `keyward store verify` found.
#[derive(Debug, Default, serde::Serialize)]
pub struct StoreReport {
    /// Token objects that passed their integrity check.
    pub intact: usize,
    /// CKA_UNIQUE_IDs of the token objects that failed it (edited, corrupted, or sealed under
    /// another token's key).
    pub failed: Vec<String>,
    /// Problems SQLite's own consistency check reports (a damaged file).
    pub database: Vec<String>,
}

impl StoreReport {
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty() && self.database.is_empty()
    }
}

impl Token {
    /// Check every token object against its seal (the whole record: sealed part and clear
    /// attributes) and the database file against SQLite's consistency check. Needs a login
    /// (CKR_USER_NOT_LOGGED_IN): private objects can only be checked with the master key.
    /// A database too damaged to list its objects is CKR_DEVICE_ERROR.
    pub fn verify_store(&self) -> Result<StoreReport> {
        let sealer = self.read()?.sealer.clone().ok_or(Error::UserNotLoggedIn)?;
        let mut report = StoreReport {
            database: self.store.integrity_check()?,
            ..StoreReport::default()
        };
        for (uid, _) in self.store.object_versions()? {
            let intact = self
                .store
                .object(&uid)
                .ok()
                .flatten()
                .is_some_and(|stored| sealer.open(&stored).and_then(Object::new).is_ok());
            if intact {
                report.intact += 1;
            } else {
                report.failed.push(uid);
            }
        }
        Ok(report)
    }
}
