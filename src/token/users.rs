//! Named users (`C_LoginUser`): each has a role and a PIN of its own that wraps the token
//! master key (no shared secret: removing a user removes its wrap), a retry limit with
//! lockout, an admin unlock, and an optional TOTP second factor typed after the PIN.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::{Login, Token};
use crate::crypto::{rng, totp};
use crate::error::{Error, Result};
use crate::policy::acl::valid_name;
use crate::policy::roles::{Principal, Role, NAMED_ROLES};
use crate::store::seal::{self, Tmk};
use crate::store::UserRecord;

/// A named user as listings show it (no secrets).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UserInfo {
    pub name: String,
    pub role: String,
    pub failures: u32,
    pub locked: bool,
    pub mfa: bool,
}

/// Whether a principal is a named user (not the built-in "so" or "user").
pub(super) fn is_named(p: &Principal) -> bool {
    p != &Principal::so() && p != &Principal::default_user()
}

/// The holder name `rec`'s PIN record is wrapped for: with its role in it for a user made
/// before role MACs.
fn holder(rec: &UserRecord) -> String {
    match rec.role_mac {
        Some(_) => seal::named(&rec.name),
        None => seal::named_with_role(&rec.name, &rec.role),
    }
}

fn totp_context(name: &str) -> String {
    format!("keyward/v1/totp/{name}")
}

impl Token {
    /// The master key, while the admin (SO) is logged in: CKR_USER_NOT_LOGGED_IN otherwise.
    fn admin_tmk<T>(&self, f: impl FnOnce(&Tmk) -> Result<T>) -> Result<T> {
        let st = self.read()?;
        match (&st.principal, &st.tmk) {
            (Some(p), Some(tmk)) if p.role == Role::Admin => f(tmk),
            _ => Err(Error::UserNotLoggedIn),
        }
    }

    /// C_LoginUser: log `name` in as `user_type` (CKU_SO for admins, CKU_USER for the other
    /// roles). An unknown name or a wrong PIN is CKR_PIN_INCORRECT (names are not revealed);
    /// a right PIN with the wrong user type is CKR_USER_TYPE_INVALID.
    pub fn login_named(&self, user_type: CK_USER_TYPE, pin: &[u8], name: &str) -> Result<()> {
        let target = match user_type {
            CKU_SO => Login::So,
            CKU_USER => Login::User,
            _ => return Err(Error::UserTypeInvalid),
        };
        self.may_log_in(target)?;
        let (tmk, role) = self.verify_named(name, pin)?;
        if role.user_type() != user_type {
            return Err(Error::UserTypeInvalid);
        }
        let principal = Principal {
            name: name.into(),
            role,
        };
        self.enter(target, principal, tmk)
    }

    /// Check a named user's PIN (and TOTP code, when enrolled), counting failures against the
    /// retry limit: the master key and the user's role.
    pub(super) fn verify_named(&self, name: &str, pin: &[u8]) -> Result<(Tmk, Role)> {
        let rec = self.store.user(name)?.ok_or(Error::PinIncorrect)?;
        if rec.pin.failures >= self.config.pin_max_retries {
            return Err(Error::PinLocked);
        }
        let role = Role::parse(&rec.role).map_err(|_| Error::DeviceError)?;
        let (pin, code) = match &rec.totp {
            Some(_) if pin.len() > totp::DIGITS => pin.split_at(pin.len() - totp::DIGITS),
            Some(_) => (pin, &b""[..]),
            None => (pin, &b""[..]),
        };
        let checked = seal::unwrap_tmk_for(&holder(&rec), pin, &rec.pin).and_then(|tmk| {
            // A role edited in the database fails its MAC: the PIN then opens nothing.
            let bound = rec
                .role_mac
                .as_deref()
                .is_none_or(|mac| tmk.role_mac_ok(name, &rec.role, mac));
            if !bound {
                return Err(Error::PinIncorrect);
            }
            if let Some(sealed) = &rec.totp {
                let secret = tmk.open_secret(&totp_context(name), sealed)?;
                let step =
                    totp::matching_step(&secret, code, crate::policy::lifecycle::now_seconds())
                        .map_err(|_| Error::GeneralError)?;
                match step {
                    Some(step) if self.store.use_totp_step(name, step)? => {}
                    _ => return Err(Error::PinIncorrect),
                }
            }
            Ok(tmk)
        });
        match checked {
            Ok(tmk) => {
                if rec.pin.failures > 0 {
                    self.store.reset_user_failures(name)?;
                }
                Ok((tmk, role))
            }
            Err(Error::PinIncorrect) => {
                self.store.record_user_failure(name)?;
                Err(Error::PinIncorrect)
            }
            Err(e) => Err(e),
        }
    }

    /// C_SetPIN by a named user: their own PIN (the old one, with its TOTP code if enrolled).
    pub(super) fn change_named_pin(&self, name: &str, old: &[u8], new: &[u8]) -> Result<()> {
        let (tmk, _) = self.verify_named(name, old)?;
        self.check_pin_len(new)?;
        let mut rec = self.store.user(name)?.ok_or(Error::UserNotLoggedIn)?;
        self.bind(&mut rec, new, &tmk)?;
        self.store.put_user(&rec)
    }

    /// Add named user `name` with `role` and `pin` (the admin is logged in).
    /// CKR_ARGUMENTS_BAD for a bad name or role, or a name already taken.
    pub fn add_user(&self, name: &str, role: Role, pin: &[u8]) -> Result<()> {
        if !valid_name(name) || !NAMED_ROLES.contains(&role) || ["so", "user"].contains(&name) {
            return Err(Error::ArgumentsBad);
        }
        self.check_pin_len(pin)?;
        self.admin_tmk(|tmk| {
            if self.store.user(name)?.is_some() {
                return Err(Error::ArgumentsBad);
            }
            let mut rec = UserRecord {
                name: name.to_owned(),
                role: role.name().to_owned(),
                pin: crate::store::PinRecord::default(),
                totp: None,
                totp_step: 0,
                role_mac: None,
            };
            self.bind(&mut rec, pin, tmk)?;
            self.store.put_user(&rec)
        })
    }

    /// Remove named user `name` and its wrap of the master key (admin).
    pub fn remove_user(&self, name: &str) -> Result<()> {
        self.admin_tmk(|_| {
            self.store
                .delete_user(name)?
                .then_some(())
                .ok_or(Error::ArgumentsBad)
        })
    }

    /// Set a named user's PIN (an admin reset: also unlocks it).
    pub fn reset_user_pin(&self, name: &str, pin: &[u8]) -> Result<()> {
        self.check_pin_len(pin)?;
        self.admin_tmk(|tmk| {
            let mut rec = self.store.user(name)?.ok_or(Error::ArgumentsBad)?;
            self.bind(&mut rec, pin, tmk)?;
            self.store.put_user(&rec)
        })
    }

    /// Wrap the master key under `pin` for `rec` and bind its role with a MAC (the current
    /// format; a user of the older one, role bound into the wrap, moves to it here).
    fn bind(&self, rec: &mut UserRecord, pin: &[u8], tmk: &Tmk) -> Result<()> {
        rec.pin = seal::wrap_tmk_for(&seal::named(&rec.name), pin, tmk, self.config.kdf)?;
        rec.role_mac = Some(tmk.role_mac(&rec.name, &rec.role)?);
        Ok(())
    }

    /// Give named user `name` another role (admin): it takes effect at the user's next
    /// login. The role is re-bound with the master key the admin holds, not the user's PIN.
    /// CKR_ARGUMENTS_BAD for an unknown user or a role named users cannot have;
    /// CKR_ACTION_PROHIBITED for a user whose PIN record still binds its role (made before
    /// role MACs: `keyward user passwd` moves it to the current format first).
    pub fn set_user_role(&self, name: &str, role: Role) -> Result<()> {
        if !NAMED_ROLES.contains(&role) {
            return Err(Error::ArgumentsBad);
        }
        self.admin_tmk(|tmk| {
            let mut rec = self.store.user(name)?.ok_or(Error::ArgumentsBad)?;
            if rec.role_mac.is_none() {
                return Err(Error::ActionProhibited);
            }
            rec.role = role.name().to_owned();
            rec.role_mac = Some(tmk.role_mac(name, &rec.role)?);
            self.store.put_user(&rec)
        })
    }

    /// Clear a named user's failed-login count (admin).
    pub fn unlock_user(&self, name: &str) -> Result<()> {
        self.admin_tmk(|_| {
            self.store.user(name)?.ok_or(Error::ArgumentsBad)?;
            self.store.reset_user_failures(name)
        })
    }

    /// Enrol a named user in TOTP (admin): a fresh 160-bit secret, sealed under the master
    /// key; returned once so it can be shown as an otpauth URI and QR code.
    pub fn enable_mfa(&self, name: &str) -> Result<Zeroizing<Vec<u8>>> {
        self.admin_tmk(|tmk| {
            let mut rec = self.store.user(name)?.ok_or(Error::ArgumentsBad)?;
            let mut secret = Zeroizing::new(vec![0u8; 20]);
            rng::fill(&mut secret).map_err(|_| Error::GeneralError)?;
            rec.totp = Some(tmk.seal_secret(&totp_context(name), &secret)?);
            rec.totp_step = 0;
            self.store.put_user(&rec)?;
            Ok(secret)
        })
    }

    /// The named users, by name.
    pub fn users(&self) -> Result<Vec<UserInfo>> {
        Ok(self
            .store
            .users()?
            .into_iter()
            .map(|u| UserInfo {
                locked: u.pin.failures >= self.config.pin_max_retries,
                failures: u.pin.failures,
                mfa: u.totp.is_some(),
                role: u.role,
                name: u.name,
            })
            .collect())
    }
}
