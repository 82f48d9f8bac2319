//! Shared harness for the black-box tests: every test binary loads the built `libkeyward.so`
//! once through the `cryptoki` crate, configured (via `KEYWARD_CONF`) with many slots, each a
//! token in its own temporary directory. Tests run in parallel, so each takes a slot of its own
//! with [`fresh_token`] and never touches another's.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod child;
pub mod delegate;
pub mod lifecycle;
pub mod trail;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

pub const SO_PIN: &str = "so-secret-1";
pub const USER_PIN: &str = "user-secret-1";
/// Slots configured per test binary; a binary with more tests than this fails loudly.
pub const SLOTS: usize = 48;
/// The one slot configured with `allow_rsa_1024_private = true` (never handed out by
/// [`claim_slot`]; use [`legacy_rsa_token`]).
pub const LEGACY_SLOT: usize = SLOTS - 1;
/// The one slot whose audit trail is strict (an operation whose record cannot be written is
/// refused); never handed out by [`claim_slot`].
pub const STRICT_SLOT: usize = SLOTS - 2;
/// The one slot configured with `allow_compromised_processing = true` (a compromised key may
/// still verify, decrypt and unwrap); never handed out by [`claim_slot`].
pub const COMPROMISED_SLOT: usize = SLOTS - 3;
/// PIN retry limit configured on every slot (small so lockout tests stay short).
pub const MAX_RETRIES: u32 = 5;

/// The module under test: `$KEYWARD_MODULE`, else the `libkeyward.so` that `cargo test` built
/// beside this test binary (`target/<profile>/deps/`; cargo does not copy it up a level then).
pub fn module_path() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYWARD_MODULE") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("target/<profile>/deps");
    [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .map(|d| d.join("libkeyward.so"))
        .find(|p| p.exists())
        .expect("libkeyward.so next to the test binary; or set KEYWARD_MODULE")
}

/// Where this binary's tokens live (kept for the process lifetime, removed by the OS tmp policy
/// or the next run; a `TempDir` would be dropped too early in a static).
pub fn root_dir() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("keyward-test-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let mut conf = String::new();
        for i in 0..SLOTS {
            conf.push_str(&format!(
                "[[slot]]\npath = \"{}\"\nlabel = \"test slot {i}\"\npin_max_retries = {MAX_RETRIES}\n\
                 argon2_memory_kib = 64\nargon2_iterations = 1\nallow_rsa_1024_private = {}\n\
                 audit_strict = {}\nallow_compromised_processing = {}\naudit_writer = \"{}\"\n\n",
                dir.join(format!("slot{i}")).display(),
                i == LEGACY_SLOT,
                i == STRICT_SLOT,
                i == COMPROMISED_SLOT,
                // Both writers under the whole suite: the recording threads for even slots
                // (slot 0 is most tests'), a writer thread for odd ones.
                if i % 2 == 0 { "caller" } else { "thread" }
            ));
        }
        std::fs::write(dir.join("keyward.toml"), conf).expect("write keyward.toml");
        dir
    })
}

/// The store directory of slot `index` in this binary's configuration.
pub fn slot_dir(index: usize) -> PathBuf {
    root_dir().join(format!("slot{index}"))
}

/// The module, loaded and initialised once per test binary.
pub fn p11() -> &'static Pkcs11 {
    static P11: OnceLock<Pkcs11> = OnceLock::new();
    P11.get_or_init(|| {
        std::env::set_var("KEYWARD_CONF", root_dir().join("keyward.toml"));
        let p11 = Pkcs11::new(module_path()).expect("load libkeyward.so");
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .expect("C_Initialize");
        p11
    })
}

/// A slot nobody else in this binary uses, with its index in the configuration.
pub fn claim_slot() -> (Slot, usize) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let index = NEXT.fetch_add(1, Ordering::SeqCst);
    assert!(
        index < COMPROMISED_SLOT,
        "more tests than configured slots: raise SLOTS"
    );
    let slots = p11().get_all_slots().expect("C_GetSlotList");
    assert_eq!(slots.len(), SLOTS, "every configured slot is listed");
    (slots[index], index)
}

/// Initialise the token in `slot` with [`SO_PIN`] and set the user PIN to [`USER_PIN`].
pub fn init_token(slot: Slot, label: &str) {
    init_token_in(p11(), slot, label);
}

/// [`init_token`] through the module context `p11` (a test binary with its own configuration).
pub fn init_token_in(p11: &Pkcs11, slot: Slot, label: &str) {
    p11.init_token(slot, &pin(SO_PIN), label)
        .expect("C_InitToken");
    let session = p11.open_rw_session(slot).expect("C_OpenSession");
    session
        .login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    session.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    session.logout().expect("C_Logout");
}

/// A freshly initialised token of its own: the slot, its store directory.
pub fn fresh_token() -> (Slot, PathBuf) {
    let (slot, index) = claim_slot();
    init_token(slot, &format!("token {index}"));
    (slot, slot_dir(index))
}

/// A logged-in user session on the slot whose policy lets 1024-bit RSA keys sign.
pub fn legacy_rsa_token() -> Session {
    let slot = p11().get_all_slots().expect("C_GetSlotList")[LEGACY_SLOT];
    init_token(slot, "legacy rsa");
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    session
}

/// A read-write session on a fresh token, logged in as the user.
pub fn user_session() -> Session {
    let (slot, _) = fresh_token();
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    session
}

pub fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.to_owned().into())
}

/// The raw CKR code of a cryptoki error, for asserting the exact return value.
pub fn rv_of(e: &cryptoki::error::Error) -> cryptoki::error::RvError {
    match e {
        cryptoki::error::Error::Pkcs11(rv, _) => *rv,
        other => panic!("expected a PKCS#11 return value, got {other:?}"),
    }
}

/// Assert that `result` failed with exactly `expected`.
#[track_caller]
pub fn assert_rv<T: std::fmt::Debug>(
    result: cryptoki::error::Result<T>,
    expected: cryptoki::error::RvError,
) {
    match result {
        Ok(v) => panic!("expected {expected:?}, call succeeded with {v:?}"),
        Err(e) => assert_eq!(rv_of(&e), expected, "wrong CKR code"),
    }
}

/// The module's own function list, for calls `cryptoki` does not expose (or mechanisms it
/// cannot name). dlopen of the same path hands back the image `p11()` loaded and initialised,
/// so raw calls share its sessions and objects.
pub fn raw() -> &'static cryptoki_sys::CK_FUNCTION_LIST {
    static LIST: OnceLock<usize> = OnceLock::new();
    let addr = *LIST.get_or_init(|| {
        p11();
        // SAFETY: loading the module under test, already loaded by `p11()`.
        let lib = unsafe { libloading::Library::new(module_path()) }.expect("dlopen");
        type GetList =
            unsafe extern "C" fn(*mut *mut cryptoki_sys::CK_FUNCTION_LIST) -> cryptoki_sys::CK_RV;
        // SAFETY: C_GetFunctionList has this signature (PKCS#11 §5.4.4).
        let get: libloading::Symbol<GetList> =
            unsafe { lib.get(b"C_GetFunctionList") }.expect("C_GetFunctionList symbol");
        let mut list = std::ptr::null_mut();
        // SAFETY: `list` is a valid out-pointer.
        let rv = unsafe { get(&mut list) };
        assert_eq!(rv, cryptoki_sys::CKR_OK, "C_GetFunctionList");
        std::mem::forget(lib); // keep the module mapped for the life of the process
        list as usize
    });
    // SAFETY: the function list is a static inside the module, which stays loaded.
    unsafe { &*(addr as *const cryptoki_sys::CK_FUNCTION_LIST) }
}

/// The module's exported C function `name` with prototype `T` (for PKCS#11 3.0 functions
/// that the 2.40 function list has no slot for).
pub fn c_fn<T: Copy>(name: &str) -> T {
    static LIB: OnceLock<usize> = OnceLock::new();
    let lib = *LIB.get_or_init(|| {
        p11();
        // SAFETY: loading the module under test, already loaded and initialised by `p11()`.
        let lib = unsafe { libloading::Library::new(module_path()) }.expect("dlopen");
        Box::into_raw(Box::new(lib)) as usize // kept for the life of the process
    });
    // SAFETY: `lib` is the leaked Library above, never freed.
    let lib = unsafe { &*(lib as *const libloading::Library) };
    // SAFETY: callers name a PKCS#11 export and give its prototype.
    *unsafe { lib.get::<T>(name.as_bytes()) }.unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Decode hex (whitespace ignored), for test vectors.
pub fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Run the `keyward` CLI on this binary's configuration with `env` (PINs) and `args`; its
/// stdout, after asserting it succeeded. (The CLI runs as its own process, as it does in
/// real use: the admin library in this process would share SQLite files with the module's
/// own copy of SQLite, and POSIX locks do not separate two copies in one process.)
pub fn keyward_cli(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = keyward_cli_output(args, env);
    assert!(
        out.status.success(),
        "keyward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// [`keyward_cli`] without the success check.
pub fn keyward_cli_output(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    p11(); // the configuration file exists once the module is loaded
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.args(args)
        .env("KEYWARD_CONF", root_dir().join("keyward.toml"))
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_SO_PIN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run keyward")
}

/// [`keyward_cli_output`] on a terminal (a pseudo-terminal made by util-linux `script`), for
/// what the CLI shows only there (progress bars): everything the terminal received.
pub fn keyward_cli_on_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    p11();
    let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
    let line = std::iter::once(env!("CARGO_BIN_EXE_keyward"))
        .chain(args.iter().copied())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("KEYWARD_CONF", root_dir().join("keyward.toml"))
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_SO_PIN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "keyward {args:?} on a terminal: {text}"
    );
    text
}

/// `C_LoginUser` (PKCS#11 3.0), which `cryptoki` does not wrap, through the module's export.
pub fn login_user(
    s: &Session,
    user_type: cryptoki_sys::CK_USER_TYPE,
    name: &str,
    pin: &[u8],
) -> cryptoki_sys::CK_RV {
    use cryptoki_sys::{CK_RV, CK_SESSION_HANDLE, CK_ULONG, CK_USER_TYPE, CK_UTF8CHAR};
    type LoginUser = unsafe extern "C" fn(
        CK_SESSION_HANDLE,
        CK_USER_TYPE,
        *mut CK_UTF8CHAR,
        CK_ULONG,
        *mut CK_UTF8CHAR,
        CK_ULONG,
    ) -> CK_RV;
    let f: LoginUser = c_fn("C_LoginUser");
    let mut pin = pin.to_vec();
    let mut name = name.as_bytes().to_vec();
    // SAFETY: valid buffers with their lengths; a session of the loaded module.
    unsafe {
        f(
            s.handle(),
            user_type,
            pin.as_mut_ptr(),
            pin.len() as CK_ULONG,
            name.as_mut_ptr(),
            name.len() as CK_ULONG,
        )
    }
}

/// Write a SoftHSM configuration whose token directory is `dir`/tokens; its path.
pub fn softhsm_conf(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("SoftHSM token directory");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .expect("write softhsm2.conf");
    conf
}

/// Keyward's vendor rotation mechanism (CKM_KW_ROTATE) with the current version's handle as
/// parameter.
pub fn rotate_mechanism(handle: &cryptoki_sys::CK_ULONG) -> cryptoki::mechanism::Mechanism<'_> {
    use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
    use cryptoki::mechanism::{Mechanism, MechanismType};
    const CKM_KW_ROTATE: cryptoki_sys::CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;
    let ty = MechanismType::new_vendor_defined(CKM_KW_ROTATE).expect("a vendor mechanism");
    Mechanism::VendorDefined(VendorDefinedMechanism::new(ty, Some(handle)))
}

/// A token HMAC key (generic secret, value 4×32, CKA_SIGN) labelled `label`, made in `s`.
pub fn token_hmac_key(s: &Session, label: &str) -> cryptoki::object::ObjectHandle {
    s.create_object(&[
        cryptoki::object::Attribute::Class(cryptoki::object::ObjectClass::SECRET_KEY),
        cryptoki::object::Attribute::KeyType(cryptoki::object::KeyType::GENERIC_SECRET),
        cryptoki::object::Attribute::Value(vec![4; 32]),
        cryptoki::object::Attribute::Token(true),
        cryptoki::object::Attribute::Sign(true),
        cryptoki::object::Attribute::Label(label.as_bytes().to_vec()),
    ])
    .unwrap()
}
