//! Slot, token, PIN, login and session management (PKCS#11 3.0 §5.5, §5.6) and the
//! random-number and mechanism-information functions, checked against the specification.
mod common;

use std::collections::HashSet;

use common::{assert_rv, p11, pin, MAX_RETRIES, SO_PIN, USER_PIN};
use cryptoki::context::Function;
use cryptoki::error::{Result, Rv, RvError};
use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::{Slot, TokenInfo};
use cryptoki_sys::{CKF_RW_SESSION, CKF_SERIAL_SESSION, CK_FUNCTION_LIST, CK_RV};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The module's own function list (shared harness).
fn raw() -> &'static CK_FUNCTION_LIST {
    common::raw()
}

fn rv_result(rv: CK_RV, function: Function) -> Result<()> {
    Rv::from(rv).into_result(function)
}

/// C_OpenSession with raw flags; the session handle on success.
fn raw_open_session(slot: Slot, flags: u64) -> Result<u64> {
    let open = raw().C_OpenSession.expect("C_OpenSession");
    let mut handle = 0;
    // SAFETY: no callback, valid out-pointer.
    let rv = unsafe { open(slot.id(), flags, std::ptr::null_mut(), None, &mut handle) };
    rv_result(rv, Function::OpenSession).map(|()| handle)
}

fn raw_close_all_sessions(slot: Slot) -> Result<()> {
    let close_all = raw().C_CloseAllSessions.expect("C_CloseAllSessions");
    // SAFETY: plain value argument.
    rv_result(unsafe { close_all(slot.id()) }, Function::CloseAllSessions)
}

fn token_info(slot: Slot) -> TokenInfo {
    p11().get_token_info(slot).expect("C_GetTokenInfo")
}

fn state(session: &Session) -> SessionState {
    session
        .get_session_info()
        .expect("C_GetSessionInfo")
        .session_state()
}

fn login_user(session: &Session) -> Result<()> {
    session.login(UserType::User, Some(&pin(USER_PIN)))
}

fn login_so(session: &Session) -> Result<()> {
    session.login(UserType::So, Some(&pin(SO_PIN)))
}

/// A claimed, initialised token and a read/write session on it, nobody logged in.
fn rw_public() -> (Slot, Session) {
    let (slot, _) = common::fresh_token();
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    (slot, session)
}

/// A public token data object with `label`.
fn create_public_data(session: &Session, label: &str) {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .expect("C_CreateObject");
}

/// The (count_low, final_try, locked) flags of the user or the SO PIN.
fn pin_flags(slot: Slot, so: bool) -> (bool, bool, bool) {
    let info = token_info(slot);
    if so {
        (
            info.so_pin_count_low(),
            info.so_pin_final_try(),
            info.so_pin_locked(),
        )
    } else {
        (
            info.user_pin_count_low(),
            info.user_pin_final_try(),
            info.user_pin_locked(),
        )
    }
}

/// Enter a wrong PIN `MAX_RETRIES - 1` times, checking after each failure that the token
/// reports COUNT_LOW and, with exactly one try left, FINAL_TRY (§5.5.3, CK_TOKEN_INFO flags).
fn fail_until_final_try(slot: Slot, session: &Session, user: UserType, so: bool) {
    for failures in 1..MAX_RETRIES {
        assert_rv(
            session.login(user, Some(&pin("not-the-pin"))),
            RvError::PinIncorrect,
        );
        let (low, final_try, locked) = pin_flags(slot, so);
        assert!(low, "COUNT_LOW after {failures} failure(s)");
        assert_eq!(
            final_try,
            failures == MAX_RETRIES - 1,
            "FINAL_TRY after {failures} failure(s) of {MAX_RETRIES}"
        );
        assert!(!locked, "not locked after {failures} failure(s)");
    }
}

// ---------------------------------------------------------------------------------------------
// Slots and tokens
// ---------------------------------------------------------------------------------------------

#[test]
fn slot_ids_are_unique_and_stable_across_init_token() {
    let ids = || -> Vec<u64> {
        p11()
            .get_all_slots()
            .expect("C_GetSlotList")
            .iter()
            .map(Slot::id)
            .collect()
    };
    let (slot, index) = common::claim_slot();
    let before = ids();
    assert_eq!(before.len(), common::SLOTS);
    assert_eq!(
        before.iter().collect::<HashSet<_>>().len(),
        before.len(),
        "slot ids are unique"
    );
    common::init_token(slot, "stable ids");
    assert_eq!(ids(), before, "C_InitToken does not renumber slots");
    assert_eq!(before[index], slot.id());
    let with_token: Vec<u64> = p11()
        .get_slots_with_token()
        .expect("C_GetSlotList(tokenPresent)")
        .iter()
        .map(Slot::id)
        .collect();
    assert_eq!(with_token, before, "every configured slot holds a token");
}

#[test]
fn slot_info_reports_token_present_and_configured_label() {
    let (slot, index) = common::claim_slot();
    let info = p11().get_slot_info(slot).expect("C_GetSlotInfo");
    assert!(info.token_present());
    assert_eq!(info.slot_description(), format!("test slot {index}"));
    assert!(!info.manufacturer_id().is_empty());
    let bogus = Slot::try_from(0xdead_beef_u64).expect("slot id");
    assert_rv(p11().get_slot_info(bogus), RvError::SlotIdInvalid);
    assert_rv(p11().get_token_info(bogus), RvError::SlotIdInvalid);
}

#[test]
fn token_info_of_an_initialised_token() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, &format!("labelled {index}"));
    let info = token_info(slot);
    assert_eq!(info.label(), format!("labelled {index}"));
    assert!(info.token_initialized());
    assert!(info.user_pin_initialized());
    assert!(info.login_required());
    assert!(info.rng());
    assert!(!info.user_pin_count_low() && !info.user_pin_locked());
    assert!(!info.so_pin_count_low() && !info.so_pin_locked());
    assert!(info.min_pin_length() <= USER_PIN.len());
    assert!(info.max_pin_length() >= SO_PIN.len());
    let _ro = p11().open_ro_session(slot).expect("C_OpenSession RO");
    let _rw = p11().open_rw_session(slot).expect("C_OpenSession RW");
    let info = token_info(slot);
    assert_eq!(info.session_count(), Some(2));
    assert_eq!(info.rw_session_count(), Some(1));
}

#[test]
fn uninitialised_token_has_no_initialised_flags_and_refuses_sessions() {
    let (slot, _) = common::claim_slot();
    let info = token_info(slot);
    assert!(!info.token_initialized());
    assert!(!info.user_pin_initialized());
    assert_rv(p11().open_ro_session(slot), RvError::TokenNotRecognized);
    assert_rv(p11().open_rw_session(slot), RvError::TokenNotRecognized);

    p11()
        .init_token(slot, &pin(SO_PIN), "late init")
        .expect("C_InitToken");
    let info = token_info(slot);
    assert!(info.token_initialized());
    assert!(!info.user_pin_initialized(), "C_InitToken sets no user PIN");
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    assert_rv(login_user(&session), RvError::UserPinNotInitialized);
    login_so(&session).expect("SO login");
    session.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    session.logout().expect("C_Logout");
    assert!(token_info(slot).user_pin_initialized());
    login_user(&session).expect("user login after C_InitPIN");
}

#[test]
fn init_token_is_refused_while_a_session_is_open() {
    let (slot, _) = common::fresh_token();
    let session = p11().open_ro_session(slot).expect("C_OpenSession");
    assert_rv(
        p11().init_token(slot, &pin(SO_PIN), "busy"),
        RvError::SessionExists,
    );
    session.close().expect("C_CloseSession");
    p11()
        .init_token(slot, &pin(SO_PIN), "idle")
        .expect("C_InitToken once no session is open");
    assert_eq!(token_info(slot).label(), "idle");
}

#[test]
fn reinit_with_the_wrong_so_pin_is_refused_and_changes_nothing() {
    let (slot, session) = rw_public();
    create_public_data(&session, "survivor");
    session.close().expect("C_CloseSession");
    let label = token_info(slot).label().to_owned();
    assert_rv(
        p11().init_token(slot, &pin("wrong-so-pin"), "hijacked"),
        RvError::PinIncorrect,
    );
    let info = token_info(slot);
    assert_eq!(info.label(), label);
    assert!(info.user_pin_initialized());
    let session = p11().open_ro_session(slot).expect("C_OpenSession");
    let found = session
        .find_objects(&[Attribute::Label(b"survivor".to_vec())])
        .expect("C_FindObjects");
    assert_eq!(found.len(), 1, "the failed re-init destroyed nothing");
}

#[test]
fn reinit_wipes_every_object_and_the_user_pin() {
    let (slot, session) = rw_public();
    create_public_data(&session, "public one");
    login_user(&session).expect("user login");
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(b"private one".to_vec()),
        ])
        .expect("C_CreateObject private");
    session.close().expect("C_CloseSession");

    p11()
        .init_token(slot, &pin(SO_PIN), "wiped")
        .expect("C_InitToken");
    let info = token_info(slot);
    assert_eq!(info.label(), "wiped");
    assert!(!info.user_pin_initialized(), "re-init disables the user");
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    assert!(session.find_objects(&[]).expect("find").is_empty());
    assert_rv(login_user(&session), RvError::UserPinNotInitialized);
    login_so(&session).expect("SO login with the new SO PIN");
    session.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    session.logout().expect("C_Logout");
    login_user(&session).expect("user login");
    assert!(session.find_objects(&[]).expect("find").is_empty());
}

// ---------------------------------------------------------------------------------------------
// PINs
// ---------------------------------------------------------------------------------------------

#[test]
fn init_pin_needs_the_so() {
    let (_, session) = rw_public();
    assert_rv(
        session.init_pin(&pin("other-pin-1")),
        RvError::UserNotLoggedIn,
    );
    login_user(&session).expect("user login");
    assert_rv(
        session.init_pin(&pin("other-pin-1")),
        RvError::UserNotLoggedIn,
    );
    session.logout().expect("C_Logout");
    login_user(&session).expect("the user PIN is unchanged");
}

/// Change the PIN of `user` from `old` to `new` in `session` (logged in as `user`), then
/// check that only the new PIN opens the token.
fn check_set_pin(session: &Session, user: UserType, old: &str, new: &str) {
    assert_rv(
        session.set_pin(&pin("wrong-old-pin"), &pin(new)),
        RvError::PinIncorrect,
    );
    session.set_pin(&pin(old), &pin(new)).expect("C_SetPIN");
    session.logout().expect("C_Logout");
    assert_rv(session.login(user, Some(&pin(old))), RvError::PinIncorrect);
    session
        .login(user, Some(&pin(new)))
        .expect("login with new PIN");
    session.logout().expect("C_Logout");
}

#[test]
fn set_pin_changes_the_user_pin() {
    let (_, session) = rw_public();
    login_user(&session).expect("user login");
    check_set_pin(&session, UserType::User, USER_PIN, "user-secret-2");
}

#[test]
fn set_pin_changes_the_so_pin() {
    let (slot, session) = rw_public();
    login_so(&session).expect("SO login");
    check_set_pin(&session, UserType::So, SO_PIN, "so-secret-2");
    drop(session);
    assert_rv(
        p11().init_token(slot, &pin(SO_PIN), "old so pin"),
        RvError::PinIncorrect,
    );
    p11()
        .init_token(slot, &pin("so-secret-2"), "new so pin")
        .expect("C_InitToken with the new SO PIN");
}

#[test]
fn set_pin_in_a_public_rw_session_changes_the_user_pin_and_needs_rw() {
    let (slot, session) = rw_public();
    session
        .set_pin(&pin(USER_PIN), &pin("user-secret-3"))
        .expect("C_SetPIN in R/W public session");
    assert_rv(login_user(&session), RvError::PinIncorrect);
    session
        .login(UserType::User, Some(&pin("user-secret-3")))
        .expect("login with new PIN");
    session.logout().expect("C_Logout");
    let ro = p11().open_ro_session(slot).expect("C_OpenSession RO");
    assert_rv(
        ro.set_pin(&pin("user-secret-3"), &pin("user-secret-4")),
        RvError::SessionReadOnly,
    );
}

#[test]
fn user_pin_retry_counter_flags_lockout_and_so_unlock() {
    let (slot, session) = rw_public();
    fail_until_final_try(slot, &session, UserType::User, false);
    let last = session.login(UserType::User, Some(&pin("not-the-pin")));
    match last {
        Err(ref e) => assert!(
            matches!(common::rv_of(e), RvError::PinIncorrect | RvError::PinLocked),
            "last wrong try: {e:?}"
        ),
        Ok(()) => panic!("a wrong PIN logged in"),
    }
    assert!(token_info(slot).user_pin_locked(), "CKF_USER_PIN_LOCKED");
    assert_rv(login_user(&session), RvError::PinLocked);

    login_so(&session).expect("SO login");
    session.init_pin(&pin("user-secret-5")).expect("C_InitPIN");
    session.logout().expect("C_Logout");
    assert_eq!(pin_flags(slot, false), (false, false, false));
    session
        .login(UserType::User, Some(&pin("user-secret-5")))
        .expect("user login after the SO reset the PIN");
}

#[test]
fn so_pin_retry_flags_and_reset_on_success() {
    let (slot, session) = rw_public();
    fail_until_final_try(slot, &session, UserType::So, true);
    login_so(&session).expect("SO login with the right PIN on the final try");
    assert_eq!(
        pin_flags(slot, true),
        (false, false, false),
        "a successful login resets the SO counter"
    );
}

#[test]
fn a_successful_login_resets_the_user_counter() {
    let (slot, session) = rw_public();
    assert_rv(
        session.login(UserType::User, Some(&pin("not-the-pin"))),
        RvError::PinIncorrect,
    );
    assert!(token_info(slot).user_pin_count_low());
    login_user(&session).expect("user login");
    assert_eq!(pin_flags(slot, false), (false, false, false));
}

// ---------------------------------------------------------------------------------------------
// Login rules
// ---------------------------------------------------------------------------------------------

#[test]
fn logging_in_twice_or_as_another_user_is_refused() {
    let (_, session) = rw_public();
    login_user(&session).expect("user login");
    assert_rv(login_user(&session), RvError::UserAlreadyLoggedIn);
    assert_rv(login_so(&session), RvError::UserAnotherAlreadyLoggedIn);
    session.logout().expect("C_Logout");
    login_so(&session).expect("SO login");
    assert_rv(login_so(&session), RvError::UserAlreadyLoggedIn);
    assert_rv(login_user(&session), RvError::UserAnotherAlreadyLoggedIn);
}

#[test]
fn so_login_is_refused_while_a_read_only_session_exists() {
    let (slot, rw) = rw_public();
    let ro = p11().open_ro_session(slot).expect("C_OpenSession RO");
    assert_rv(login_so(&rw), RvError::SessionReadOnlyExists);
    drop(ro);
    login_so(&rw).expect("SO login once the R/O session is closed");
    assert_rv(
        p11().open_ro_session(slot),
        RvError::SessionReadWriteSoExists,
    );
}

/// §5.6.4 (C_Login): "If the application calling C_Login has a R/O session open with the
/// token, then it will be unable to log the SO into a session ... CKR_SESSION_READ_ONLY_EXISTS".
/// C_Login does not list CKR_SESSION_READ_ONLY among its return values.
#[test]
fn so_login_in_a_read_only_session_is_refused() {
    let (slot, _) = common::fresh_token();
    let ro = p11().open_ro_session(slot).expect("C_OpenSession RO");
    assert_rv(login_so(&ro), RvError::SessionReadOnlyExists);
    assert_eq!(state(&ro), SessionState::RoPublic);
}

/// §5.6.4 (C_Login): "If the user type is CKU_CONTEXT_SPECIFIC, the behavior of C_Login depends
/// on the context in which it is called. Improper use of this user type will result in a return
/// value CKR_OPERATION_NOT_INITIALIZED." With no operation active there is no context.
#[test]
fn context_specific_login_without_an_operation_is_refused() {
    let (_, session) = rw_public();
    login_user(&session).expect("user login");
    assert_rv(
        session.login(UserType::ContextSpecific, Some(&pin(USER_PIN))),
        RvError::OperationNotInitialized,
    );
    assert_eq!(state(&session), SessionState::RwUser, "still logged in");
}

#[test]
fn logout_without_login_is_refused() {
    let (_, session) = rw_public();
    assert_rv(session.logout(), RvError::UserNotLoggedIn);
    login_user(&session).expect("user login");
    session.logout().expect("C_Logout");
    assert_rv(session.logout(), RvError::UserNotLoggedIn);
}

// ---------------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------------

#[test]
fn open_session_requires_the_serial_flag() {
    let (slot, _) = common::fresh_token();
    assert_rv(
        raw_open_session(slot, CKF_RW_SESSION),
        RvError::SessionParallelNotSupported,
    );
    assert_rv(
        raw_open_session(slot, 0),
        RvError::SessionParallelNotSupported,
    );
    let h = raw_open_session(slot, CKF_SERIAL_SESSION).expect("C_OpenSession serial");
    let close = raw().C_CloseSession.expect("C_CloseSession");
    // SAFETY: plain value argument.
    rv_result(unsafe { close(h) }, Function::CloseSession).expect("C_CloseSession");
}

#[test]
fn session_info_tracks_every_state() {
    let (slot, rw) = rw_public();
    let ro = p11().open_ro_session(slot).expect("C_OpenSession RO");
    let info = ro.get_session_info().expect("C_GetSessionInfo");
    assert_eq!(info.slot_id().id(), slot.id());
    assert!(!info.read_write());
    assert!(rw.get_session_info().expect("info").read_write());
    assert_eq!(state(&ro), SessionState::RoPublic);
    assert_eq!(state(&rw), SessionState::RwPublic);
    login_user(&ro).expect("user login");
    assert_eq!(state(&ro), SessionState::RoUser);
    assert_eq!(state(&rw), SessionState::RwUser);
    ro.logout().expect("C_Logout");
    drop(ro);
    login_so(&rw).expect("SO login");
    assert_eq!(state(&rw), SessionState::RwSecurityOfficer);
    let rw2 = p11().open_rw_session(slot).expect("C_OpenSession");
    assert_eq!(state(&rw2), SessionState::RwSecurityOfficer);
}

#[test]
fn login_state_is_shared_by_all_sessions_of_the_token() {
    let (slot, first) = rw_public();
    let second = p11().open_ro_session(slot).expect("C_OpenSession");
    login_user(&first).expect("user login");
    assert_eq!(state(&second), SessionState::RoUser);
    let third = p11().open_rw_session(slot).expect("C_OpenSession");
    assert_eq!(state(&third), SessionState::RwUser, "new sessions join");
    assert_rv(login_user(&second), RvError::UserAlreadyLoggedIn);
    second.logout().expect("C_Logout from another session");
    assert_eq!(state(&first), SessionState::RwPublic);
    assert_eq!(state(&third), SessionState::RwPublic);
}

#[test]
fn close_all_sessions_invalidates_handles_and_logs_out() {
    let (slot, _) = common::fresh_token();
    let a = p11().open_rw_session_no_drop(slot).expect("C_OpenSession");
    let b = p11().open_ro_session_no_drop(slot).expect("C_OpenSession");
    login_user(&a).expect("user login");
    raw_close_all_sessions(slot).expect("C_CloseAllSessions");
    assert_rv(a.get_session_info(), RvError::SessionHandleInvalid);
    assert_rv(b.get_session_info(), RvError::SessionHandleInvalid);
    assert_eq!(token_info(slot).session_count(), Some(0));
    let fresh = p11().open_rw_session(slot).expect("C_OpenSession");
    assert_eq!(state(&fresh), SessionState::RwPublic, "logged out");
}

#[test]
fn closing_the_last_session_logs_out() {
    let (slot, first) = rw_public();
    let second = p11().open_rw_session(slot).expect("C_OpenSession");
    login_user(&first).expect("user login");
    first.close().expect("C_CloseSession");
    assert_eq!(
        state(&second),
        SessionState::RwUser,
        "another session is still open"
    );
    second.close().expect("C_CloseSession");
    let fresh = p11().open_rw_session(slot).expect("C_OpenSession");
    assert_eq!(state(&fresh), SessionState::RwPublic);
    login_user(&fresh).expect("a new login is possible");
}

#[test]
fn a_closed_session_handle_is_invalid() {
    let (slot, _) = common::fresh_token();
    let stale = p11().open_rw_session_no_drop(slot).expect("C_OpenSession");
    let close = raw().C_CloseSession.expect("C_CloseSession");
    // SAFETY: plain value argument.
    rv_result(unsafe { close(stale.handle()) }, Function::CloseSession).expect("close");
    // SAFETY: as above; closing twice must fail cleanly.
    assert_rv(
        rv_result(unsafe { close(stale.handle()) }, Function::CloseSession),
        RvError::SessionHandleInvalid,
    );
    assert_rv(stale.get_session_info(), RvError::SessionHandleInvalid);
    assert_rv(login_user(&stale), RvError::SessionHandleInvalid);
    assert_rv(stale.generate_random_vec(8), RvError::SessionHandleInvalid);
    assert_rv(stale.find_objects(&[]), RvError::SessionHandleInvalid);
}

// ---------------------------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------------------------

#[test]
fn generate_random_fills_any_length() {
    let (slot, _) = common::fresh_token();
    let session = p11().open_ro_session(slot).expect("C_OpenSession");
    assert!(session.generate_random_vec(0).expect("0 bytes").is_empty());
    assert_eq!(session.generate_random_vec(1).expect("1 byte").len(), 1);
    let a = session.generate_random_vec(32).expect("32 bytes");
    let b = session.generate_random_vec(32).expect("32 bytes");
    assert_eq!(a.len(), 32);
    assert_ne!(a, b, "two outputs differ");
    let mut big = vec![0u8; 4096];
    session.generate_random_slice(&mut big).expect("4096 bytes");
    let distinct: HashSet<u8> = big.iter().copied().collect();
    assert!(
        distinct.len() > 200,
        "4096 random bytes use most byte values"
    );
}

#[test]
fn seed_random_is_accepted() {
    let (slot, _) = common::fresh_token();
    let session = p11().open_ro_session(slot).expect("C_OpenSession");
    session
        .seed_random(b"some extra entropy")
        .expect("C_SeedRandom");
    assert_eq!(session.generate_random_vec(16).expect("random").len(), 16);
}

// ---------------------------------------------------------------------------------------------
// Mechanisms
// ---------------------------------------------------------------------------------------------

#[test]
fn mechanism_list_matches_mechanism_info() {
    let (slot, _) = common::claim_slot();
    let list = p11().get_mechanism_list(slot).expect("C_GetMechanismList");
    for ty in [
        MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        MechanismType::SHA256_RSA_PKCS,
        MechanismType::ECC_KEY_PAIR_GEN,
        MechanismType::ECDSA,
        MechanismType::AES_KEY_GEN,
        MechanismType::AES_CBC_PAD,
        MechanismType::AES_GCM,
        MechanismType::SHA256,
    ] {
        assert!(list.contains(&ty), "{ty} is listed");
    }
    for ty in &list {
        let info = p11().get_mechanism_info(slot, *ty);
        assert!(
            info.is_ok(),
            "C_GetMechanismInfo({ty}) for a listed mechanism"
        );
    }
}

#[test]
fn mechanism_info_reports_sizes_and_functions() {
    let (slot, _) = common::claim_slot();
    let info = |ty| {
        p11()
            .get_mechanism_info(slot, ty)
            .expect("C_GetMechanismInfo")
    };

    let keygen = info(MechanismType::RSA_PKCS_KEY_PAIR_GEN);
    assert_eq!((keygen.min_key_size(), keygen.max_key_size()), (2048, 8192));
    assert!(keygen.generate_key_pair());

    let sha256_rsa = info(MechanismType::SHA256_RSA_PKCS);
    assert_eq!(
        (sha256_rsa.min_key_size(), sha256_rsa.max_key_size()),
        (1024, 8192),
        "RSA sizes are in bits (1024-bit keys verify; signing needs 2048)"
    );
    assert!(sha256_rsa.sign() && sha256_rsa.verify());
    assert!(!sha256_rsa.encrypt() && !sha256_rsa.decrypt());
    assert!(!sha256_rsa.generate() && !sha256_rsa.generate_key_pair());

    let aes_gen = info(MechanismType::AES_KEY_GEN);
    assert_eq!(
        (aes_gen.min_key_size(), aes_gen.max_key_size()),
        (16, 32),
        "AES sizes are in bytes"
    );
    assert!(aes_gen.generate());
    let aes_cbc = info(MechanismType::AES_CBC_PAD);
    assert!(aes_cbc.encrypt() && aes_cbc.decrypt());
    assert!(!aes_cbc.sign());

    let digest = info(MechanismType::SHA256);
    assert!(digest.digest() && !digest.sign());
}

#[test]
fn unknown_mechanisms_are_invalid() {
    let (slot, _) = common::fresh_token();
    assert_rv(
        p11().get_mechanism_info(slot, MechanismType::DES3_ECB),
        RvError::MechanismInvalid,
    );
    let vendor = MechanismType::new_vendor_defined(cryptoki_sys::CKM_VENDOR_DEFINED | 0x4242)
        .expect("vendor mechanism");
    assert_rv(
        p11().get_mechanism_info(slot, vendor),
        RvError::MechanismInvalid,
    );
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    let unknown = Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(vendor, None));
    assert_rv(session.digest(&unknown, b"data"), RvError::MechanismInvalid);
    // CKR_MECHANISM_INVALID also covers a known mechanism used for a function it does not offer.
    assert_rv(
        session.digest(&Mechanism::Sha256RsaPkcs, b"data"),
        RvError::MechanismInvalid,
    );
}
