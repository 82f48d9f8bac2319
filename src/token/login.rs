//! Token initialisation, PINs and login (PKCS#11 3.0 §5.5, §5.6).

use std::sync::Arc;

use zeroize::Zeroizing;

use super::users::is_named;
use super::{Login, Token};
use crate::audit::Anchor;
use crate::error::{Error, Result};
use crate::policy::roles::Principal;
use crate::store::seal::{self, Tmk};
use crate::store::{PinRecord, TokenRecord, Who};

fn who(login: Login) -> Who {
    if login == Login::So {
        Who::So
    } else {
        Who::User
    }
}

impl Token {
    /// Check `pin` against the stored record of `who`, counting failures and enforcing the
    /// retry limit. CKR_PIN_LOCKED, CKR_PIN_INCORRECT, CKR_USER_PIN_NOT_INITIALIZED.
    fn verify_pin(&self, who: Who, pin: &[u8]) -> Result<Tmk> {
        let rec: PinRecord = self.store.pin(who)?.ok_or(match who {
            Who::User => Error::UserPinNotInitialized,
            Who::So => Error::TokenNotRecognized,
        })?;
        if rec.failures >= self.config.pin_max_retries {
            return Err(Error::PinLocked);
        }
        match seal::unwrap_tmk(who, pin, &rec) {
            Ok(tmk) => {
                if rec.failures > 0 {
                    self.store.reset_failures(who)?;
                }
                Ok(tmk)
            }
            Err(Error::PinIncorrect) => {
                self.store.record_failure(who)?;
                Err(Error::PinIncorrect)
            }
            Err(e) => Err(e),
        }
    }

    /// C_InitToken (§5.5.3): the caller has checked that no session is open. Returns the
    /// new master key's audit checkpoint key, for the caller to checkpoint the trail with
    /// once it has recorded the initialisation.
    ///
    /// The audit anchor (docs/audit.md) moves to the new key: on a re-initialisation whose
    /// old anchor verifies under the old master key (the SO PIN just unwrapped it), at the
    /// same `(seq, hash)`, so truncation of the older trail stays detectable; else at seq 0.
    pub fn init_token(&self, so_pin: &[u8], label: &str) -> Result<Zeroizing<[u8; 32]>> {
        let old = if self.store.token()?.is_some() {
            Some(self.verify_pin(Who::So, so_pin)?)
        } else {
            self.check_pin_len(so_pin)?;
            None
        };
        let tmk = Tmk::generate()?;
        let key = tmk.audit_key()?;
        let anchor = match (old, self.store.audit_anchor()?) {
            (Some(old), Some(a)) if a.made_with(&*old.audit_key()?) => {
                Anchor::new(&key, a.seq, &a.hash)
            }
            _ => Anchor::genesis(&key),
        };
        let so = seal::wrap_tmk(Who::So, so_pin, &tmk, self.config.kdf)?;
        let serial = serial_number()?;
        self.store.initialize(
            &TokenRecord {
                label: label.to_owned(),
                serial,
            },
            &so,
            &anchor,
        )?;
        if let Ok(mut l) = self.label.write() {
            *l = label.into();
        }
        let mut st = self.write()?;
        st.login = Login::Public;
        st.principal = None;
        st.tmk = None;
        st.sealer = None;
        st.objects.clear_token_objects();
        Ok(key)
    }

    /// C_Login (§5.6.1) for the SO or the user; the caller has checked session rules.
    pub fn login(&self, as_so: bool, pin: &[u8]) -> Result<()> {
        let target = if as_so { Login::So } else { Login::User };
        self.may_log_in(target)?;
        let tmk = self.verify_pin(who(target), pin)?;
        let principal = if as_so {
            Principal::so()
        } else {
            Principal::default_user()
        };
        self.enter(target, principal, tmk)
    }

    /// Become logged in as `principal` with the master key its PIN unwrapped.
    pub(super) fn enter(&self, target: Login, principal: Principal, tmk: Tmk) -> Result<()> {
        let sealer = Arc::new(tmk.sealer()?);
        self.audit_key(Some(tmk.audit_key()?));
        {
            let mut st = self.write()?;
            if st.login != Login::Public {
                return Err(Error::UserAlreadyLoggedIn);
            }
            st.login = target;
            st.principal = Some(principal);
            st.tmk = Some(tmk);
            st.sealer = Some(sealer);
        }
        self.reload()
    }

    /// Check that nobody (or someone else) is logged in before a login as `target`.
    pub(super) fn may_log_in(&self, target: Login) -> Result<()> {
        match self.read()?.login {
            Login::Public => Ok(()),
            l if l == target => Err(Error::UserAlreadyLoggedIn),
            _ => Err(Error::UserAnotherAlreadyLoggedIn),
        }
    }

    /// CKU_CONTEXT_SPECIFIC: re-check the logged-in user's PIN.
    pub fn reauthenticate(&self, pin: &[u8]) -> Result<()> {
        let (login, principal) = {
            let st = self.read()?;
            (st.login, st.principal.clone())
        };
        match (login, principal) {
            (Login::Public, _) | (_, None) => Err(Error::UserNotLoggedIn),
            (_, Some(p)) if is_named(&p) => self.verify_named(&p.name, pin).map(drop),
            (l, _) => self.verify_pin(who(l), pin).map(drop),
        }
    }

    /// C_Logout (§5.6.3): forget the master key and every decrypted object.
    pub fn logout(&self) -> Result<()> {
        {
            let mut st = self.write()?;
            if st.login == Login::Public {
                return Err(Error::UserNotLoggedIn);
            }
            st.login = Login::Public;
            st.principal = None;
            st.tmk = None;
            st.sealer = None;
        }
        self.audit_key(None);
        self.reload()
    }

    /// C_InitPIN (§5.5.4): the SO sets the user PIN, which also unlocks it.
    pub fn init_pin(&self, pin: &[u8]) -> Result<()> {
        self.check_pin_len(pin)?;
        let st = self.read()?;
        let tmk = match (st.login, &st.tmk) {
            (Login::So, Some(tmk)) => tmk,
            _ => return Err(Error::UserNotLoggedIn),
        };
        let rec = seal::wrap_tmk(Who::User, pin, tmk, self.config.kdf)?;
        self.store.set_pin(Who::User, &rec)
    }

    /// C_SetPIN (§5.5.5): the SO's PIN when the SO is logged in, else the user's.
    pub fn set_pin(&self, old: &[u8], new: &[u8]) -> Result<()> {
        if let Some(p) = self.principal()?.filter(is_named) {
            return self.change_named_pin(&p.name, old, new);
        }
        let who = who(self.read()?.login);
        let tmk = self.verify_pin(who, old)?;
        self.check_pin_len(new)?;
        let rec = seal::wrap_tmk(who, new, &tmk, self.config.kdf)?;
        self.store.set_pin(who, &rec)
    }
}

fn serial_number() -> Result<String> {
    let mut b = [0u8; 8];
    crate::crypto::rng::fill(&mut b).map_err(|_| Error::GeneralError)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}
