//! The token objects the find operations search among: small secret keys named
//! `bench-obj-00042` (the same bytes as `CKA_ID` and `CKA_LABEL`), created before the first
//! find and destroyed when the module is closed (after the table is printed).

use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use super::keys::LABEL_PREFIX;
use super::progress::Progress;
use super::Result;

/// The `CKA_ID` and `CKA_LABEL` of population object `i`.
pub(crate) fn name(i: usize) -> String {
    format!("{LABEL_PREFIX}obj-{i:05}")
}

/// The population objects created so far on one module.
#[derive(Debug, Default)]
pub(crate) struct Population {
    objects: Vec<ObjectHandle>,
}

impl Population {
    /// How many objects exist.
    pub(crate) fn len(&self) -> usize {
        self.objects.len()
    }

    /// Create objects until there are `n`, showing progress.
    pub(crate) fn grow_to(
        &mut self,
        session: &Session,
        n: usize,
        progress: &Progress,
    ) -> Result<()> {
        for i in self.objects.len()..n {
            if i % 100 == 0 {
                progress.line(&format!("creating {} token objects: {i}", n));
            }
            let name = name(i).into_bytes();
            let handle = session.create_object(&[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(true),
                Attribute::Id(name.clone()),
                Attribute::Label(name),
                Attribute::Value((i as u64).to_be_bytes().repeat(2)),
            ])?;
            self.objects.push(handle);
        }
        Ok(())
    }

    /// Destroy every object, showing progress; the first error is returned after trying all.
    pub(crate) fn destroy(&mut self, session: &Session, progress: &Progress) -> Result<()> {
        let total = self.objects.len();
        let mut first_error = Ok(());
        for (i, handle) in self.objects.drain(..).enumerate() {
            if i % 100 == 0 {
                progress.line(&format!("removing {total} token objects: {i}"));
            }
            if let Err(e) = session.destroy_object(handle) {
                first_error = first_error.and(Err(e.into()));
            }
        }
        first_error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_fixed_width_and_prefixed() {
        assert_eq!(name(42), "bench-obj-00042");
        assert_eq!(name(9999).len(), name(0).len());
    }
}
