//! Black-box tests of the raw C ABI against PKCS#11 3.0: function lists and interfaces, the
//! C_Initialize/C_Finalize life cycle and its arguments, NULL and short-buffer handling, the
//! two-call convention, malformed templates and mechanism parameters, and fork().
//!
//! This binary drives `libkeyward.so` only through the raw function pointers it exports (no
//! `cryptoki` context). C_Initialize/C_Finalize change process-wide state, so every test holds
//! one lock ([`serial`]) and leaves the module finalised.

mod common;

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::Write;
use std::mem::{offset_of, size_of, size_of_val};
use std::ptr::{self, null_mut, NonNull};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use cryptoki::error::Rv;
use cryptoki_sys::*;
use libloading::Library;

const SO_PIN: &[u8] = common::SO_PIN.as_bytes();
const USER_PIN: &[u8] = common::USER_PIN.as_bytes();
const RW_SESSION: CK_FLAGS = CKF_SERIAL_SESSION | CKF_RW_SESSION;
const INTERFACE_NAME: &CStr = c"PKCS 11";

// The configuration slot (index into C_GetSlotList) of each test that initialises a token.
const SLOT_UNSUPPORTED: usize = 0;
const SLOT_NULL_ARGS: usize = 1;
const SLOT_SIGN: usize = 2;
const SLOT_DIGEST: usize = 3;
const SLOT_TEMPLATES: usize = 4;
const SLOT_MECHANISM_PARAMS: usize = 5;

/// RFC 4231 test case 1: HMAC-SHA-256 of "Hi There" under twenty 0x0b bytes.
const HMAC_SHA256_CASE_1: &str = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
/// FIPS 180-2: SHA-256 of "abc".
const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

// Attribute values templates point at; statics so the pointers outlive every call.
static TRUE: CK_BBOOL = CK_TRUE;
static FALSE: CK_BBOOL = CK_FALSE;
static SECRET_KEY: CK_OBJECT_CLASS = CKO_SECRET_KEY;
static GENERIC_SECRET: CK_KEY_TYPE = CKK_GENERIC_SECRET;
static AES: CK_KEY_TYPE = CKK_AES;

// ---------------------------------------------------------------------------------------------
// Return codes

/// A return code as hex and name, e.g. `0x150 (Error(BufferTooSmall))`.
fn rv_name(rv: CK_RV) -> String {
    format!("{rv:#x} ({:?})", Rv::from(rv))
}

/// Assert that a call returned exactly `expected`.
#[track_caller]
fn check(rv: CK_RV, expected: CK_RV, what: &str) {
    check_any(rv, &[expected], what);
}

/// The complaint about a call that returned `rv` instead of one of `allowed`, if it did.
fn mismatch(what: &str, rv: CK_RV, allowed: &[CK_RV]) -> Option<String> {
    if allowed.contains(&rv) {
        return None;
    }
    let names: Vec<String> = allowed.iter().map(|&r| rv_name(r)).collect();
    Some(format!(
        "{what}: returned {}, expected {}",
        rv_name(rv),
        names.join(" or ")
    ))
}

/// Assert that a call returned one of `allowed` (where the spec leaves the choice open).
#[track_caller]
fn check_any(rv: CK_RV, allowed: &[CK_RV], what: &str) {
    if let Some(complaint) = mismatch(what, rv, allowed) {
        panic!("{complaint}");
    }
}

/// What a row of [`check_rows`] accepts: one code, or any of several.
trait Allowed {
    fn codes(&self) -> &[CK_RV];
}

impl Allowed for CK_RV {
    fn codes(&self) -> &[CK_RV] {
        std::slice::from_ref(self)
    }
}

impl Allowed for &[CK_RV] {
    fn codes(&self) -> &[CK_RV] {
        self
    }
}

/// Assert a table of (call, returned, expected), reporting every mismatch at once.
#[track_caller]
fn check_rows<E: Allowed>(rows: &[(&str, CK_RV, E)]) {
    let wrong: Vec<String> = rows
        .iter()
        .filter_map(|(what, rv, allowed)| mismatch(what, *rv, allowed.codes()))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} calls returned the wrong code:\n  {}",
        wrong.len(),
        rows.len(),
        wrong.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// Serialisation, loading, function lists

/// The lock every test holds: C_Initialize/C_Finalize are process-wide. Dropping it finalises
/// the module (also when an assertion failed), so the next test starts uninitialised.
struct Serial {
    _guard: MutexGuard<'static, ()>,
}

impl Serial {
    /// End a test that initialised the module: C_Finalize(NULL) must succeed.
    fn finish(self) {
        check(
            finalize(None),
            CKR_OK,
            "C_Finalize(NULL) at the end of the test",
        );
    }
}

impl Drop for Serial {
    fn drop(&mut self) {
        // The module is usually finalised already (CKR_CRYPTOKI_NOT_INITIALIZED then).
        finalize(None);
    }
}

/// Take the lock, the module still uninitialised.
fn serial() -> Serial {
    static LOCK: Mutex<()> = Mutex::new(());
    Serial {
        _guard: LOCK.lock().unwrap_or_else(PoisonError::into_inner),
    }
}

/// Take the lock and C_Initialize(NULL).
fn initialised() -> Serial {
    let serial = serial();
    check(initialize(None), CKR_OK, "C_Initialize(NULL)");
    serial
}

/// The module, loaded once with this binary's configuration (never unloaded).
fn library() -> &'static Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    LIB.get_or_init(|| {
        std::env::set_var("KEYWARD_CONF", common::root_dir().join("keyward.toml"));
        // SAFETY: loading runs no initialiser with preconditions; the static keeps the library
        // loaded for the whole process, so every pointer it hands out stays valid.
        unsafe { Library::new(common::module_path()) }.expect("load libkeyward.so")
    })
}

/// The exported function `name`, as its `CK_C_*` pointer type `F`.
fn export<F: Copy>(name: &str) -> F {
    // SAFETY: every caller names `F` as the CK_C_* type pkcs11f.h declares for `name`.
    let symbol = unsafe { library().get::<F>(name.as_bytes()) };
    *symbol.unwrap_or_else(|e| panic!("export {name}: {e}"))
}

/// Function `$name` of list `$list`; a NULL entry fails the test.
macro_rules! func {
    ($list:expr, $name:ident) => {
        $list
            .$name
            .expect(concat!(stringify!($name), " is NULL in the function list"))
    };
}

/// `(name, entry)` pairs of several functions of one list.
macro_rules! named {
    ($list:expr; $($name:ident),+ $(,)?) => {
        [$((stringify!($name), $list.$name)),+]
    };
}

/// The 2.40 list from C_GetFunctionList: what most calls here go through.
fn fl() -> &'static CK_FUNCTION_LIST {
    static LIST: OnceLock<&'static CK_FUNCTION_LIST> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut p = null_mut();
        check(get_function_list(Some(&mut p)), CKR_OK, "C_GetFunctionList");
        // SAFETY: on CKR_OK the module stored a pointer to its static function list.
        unsafe { p.as_ref() }.expect("C_GetFunctionList gave a NULL list")
    })
}

/// The 3.0 list of the default interface.
fn fl3() -> &'static CK_FUNCTION_LIST_3_0 {
    static LIST: OnceLock<&'static CK_FUNCTION_LIST_3_0> = OnceLock::new();
    LIST.get_or_init(|| list_of(interface(None, None, "the default interface")))
}

/// A function list type of pkcs11f.h: a CK_VERSION, then only pointer-sized `Option<fn>`s.
trait FunctionList: 'static {
    const MAJOR: u8;
    const FUNCTIONS: usize;
}

impl FunctionList for CK_FUNCTION_LIST {
    const MAJOR: u8 = 2;
    const FUNCTIONS: usize = 68;
}

impl FunctionList for CK_FUNCTION_LIST_3_0 {
    const MAJOR: u8 = 3;
    const FUNCTIONS: usize = 92;
}

/// Assert that every entry of `list` is non-NULL.
#[track_caller]
fn assert_complete<L: FunctionList>(list: &L, what: &str) {
    let first = offset_of!(CK_FUNCTION_LIST, C_Initialize);
    let entries = (size_of::<L>() - first) / size_of::<usize>();
    assert_eq!(entries, L::FUNCTIONS, "{what}: entries in the list type");
    let base = ptr::from_ref(list).cast::<u8>();
    let nulls: Vec<usize> = (0..entries)
        .filter(|i| {
            // SAFETY: entry i < entries lies inside *list; every entry after the CK_VERSION is
            // an initialised pointer-sized Option<fn>, NULL exactly when it is 0.
            let word = unsafe {
                base.add(first + i * size_of::<usize>())
                    .cast::<usize>()
                    .read()
            };
            word == 0
        })
        .collect();
    assert!(
        nulls.is_empty(),
        "{what}: NULL function pointers at entries {nulls:?}"
    );
}

/// (major, minor) of a version, for comparisons.
fn ver(v: CK_VERSION) -> (u8, u8) {
    (v.major, v.minor)
}

/// The name and function-list version of an interface the module returned.
fn describe(iface: &CK_INTERFACE) -> (String, (u8, u8)) {
    assert!(
        !iface.pInterfaceName.is_null(),
        "interface with a NULL name"
    );
    assert!(!iface.pFunctionList.is_null(), "interface with a NULL list");
    // SAFETY: a returned interface's name is a NUL-terminated string in the loaded library.
    let name = unsafe { CStr::from_ptr(iface.pInterfaceName.cast::<c_char>()) };
    // SAFETY: every function list begins with its CK_VERSION (pkcs11t.h).
    let version = unsafe { iface.pFunctionList.cast::<CK_VERSION>().read() };
    (name.to_string_lossy().into_owned(), ver(version))
}

/// The function list of `iface`, whose version must say it is an `L`.
#[track_caller]
fn list_of<L: FunctionList>(iface: &CK_INTERFACE) -> &'static L {
    let (_, (major, _)) = describe(iface);
    assert_eq!(
        major,
        L::MAJOR,
        "major version of the interface's function list"
    );
    // SAFETY: the list's own version says it is an `L`, static in the loaded library.
    unsafe { &*iface.pFunctionList.cast::<L>() }
}

/// C_GetInterface's interface, which must be found.
#[track_caller]
fn interface(name: Option<&CStr>, version: Option<(u8, u8)>, what: &str) -> &'static CK_INTERFACE {
    let mut p = null_mut();
    check(
        get_interface(name, version, Some(&mut p)),
        CKR_OK,
        &format!("C_GetInterface for {what}"),
    );
    // SAFETY: on CKR_OK the module stored a pointer to one of its static interfaces.
    unsafe { p.as_ref() }.unwrap_or_else(|| panic!("C_GetInterface for {what}: NULL interface"))
}

// ---------------------------------------------------------------------------------------------
// Argument helpers

/// NULL, or a pointer to a live value.
fn nullable<T>(r: Option<&mut T>) -> *mut T {
    r.map_or(null_mut(), ptr::from_mut)
}

/// The (buffer, count) pointers of a two-call output. A claimed count larger than the buffer
/// would invite the module to write past it, so it is refused.
fn out_args<T>(buf: Option<&mut [T]>, count: Option<&mut CK_ULONG>) -> (*mut T, *mut CK_ULONG) {
    if let (Some(b), Some(c)) = (buf.as_deref(), count.as_deref()) {
        assert!(
            *c as usize <= b.len(),
            "test bug: count {c} > buffer of {}",
            b.len()
        );
    }
    (buf.map_or(null_mut(), <[T]>::as_mut_ptr), nullable(count))
}

/// Input bytes as the C API takes them: a slice, or NULL with a non-zero length (malformed
/// on purpose: the module must refuse it without reading).
#[derive(Clone, Copy)]
enum In<'a> {
    Bytes(&'a [u8]),
    Null(CK_ULONG),
}

impl In<'_> {
    fn raw(self) -> (*mut u8, CK_ULONG) {
        match self {
            In::Bytes(b) => (b.as_ptr().cast_mut(), b.len() as CK_ULONG),
            In::Null(len) => (null_mut(), len),
        }
    }
}

impl<'a> From<&'a [u8]> for In<'a> {
    fn from(b: &'a [u8]) -> Self {
        In::Bytes(b)
    }
}

/// An attribute pointing at `value` (its size as the length). `value` must outlive the call.
fn attr<T: ?Sized>(ty: CK_ATTRIBUTE_TYPE, value: &T) -> CK_ATTRIBUTE {
    CK_ATTRIBUTE {
        type_: ty,
        pValue: ptr::from_ref(value).cast::<c_void>().cast_mut(),
        ulValueLen: size_of_val(value) as CK_ULONG,
    }
}

/// A mechanism without parameter.
fn bare(ty: CK_MECHANISM_TYPE) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: null_mut(),
        ulParameterLen: 0,
    }
}

/// A mechanism whose parameter is `param` (its size as the length). `param` must outlive it.
fn with_param<T: ?Sized>(ty: CK_MECHANISM_TYPE, param: &T) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: ptr::from_ref(param).cast::<c_void>().cast_mut(),
        ulParameterLen: size_of_val(param) as CK_ULONG,
    }
}

use common::hex;

// ---------------------------------------------------------------------------------------------
// Thin wrappers: each passes NULL or live memory of the stated size, so each call is sound
// whatever the module answers. Pointers inside templates and mechanisms come from `attr` and
// `with_param` (or are NULL on purpose) and stay alive for the call.

fn get_function_list(out: Option<&mut *mut CK_FUNCTION_LIST>) -> CK_RV {
    let f = export::<CK_C_GetFunctionList>("C_GetFunctionList").expect("non-NULL export");
    // SAFETY: NULL or a live out pointer.
    unsafe { f(nullable(out)) }
}

fn get_interface_list(list: Option<&mut [CK_INTERFACE]>, count: Option<&mut CK_ULONG>) -> CK_RV {
    let f = export::<CK_C_GetInterfaceList>("C_GetInterfaceList").expect("non-NULL export");
    let (list, count) = out_args(list, count);
    // SAFETY: NULL or live buffers; the claimed count fits the list (out_args).
    unsafe { f(list, count) }
}

fn get_interface(
    name: Option<&CStr>,
    version: Option<(u8, u8)>,
    out: Option<&mut *mut CK_INTERFACE>,
) -> CK_RV {
    let f = export::<CK_C_GetInterface>("C_GetInterface").expect("non-NULL export");
    let name = name.map_or(null_mut(), |n| n.as_ptr().cast::<CK_UTF8CHAR>().cast_mut());
    let mut version = version.map(|(major, minor)| CK_VERSION { major, minor });
    // SAFETY: the name is NULL or NUL-terminated, the version NULL or live (both only read),
    // the out pointer NULL or live.
    unsafe { f(name, nullable(version.as_mut()), nullable(out), 0) }
}

fn initialize(args: Option<&mut CK_C_INITIALIZE_ARGS>) -> CK_RV {
    let f = func!(fl(), C_Initialize);
    // SAFETY: NULL or live arguments whose callbacks, if any, are valid functions.
    unsafe { f(nullable(args).cast()) }
}

fn finalize(reserved: Option<&mut u64>) -> CK_RV {
    let f = func!(fl(), C_Finalize);
    // SAFETY: NULL or a live word (which the module must not use).
    unsafe { f(nullable(reserved).cast()) }
}

fn get_info(f: CK_C_GetInfo, info: Option<&mut CK_INFO>) -> CK_RV {
    let f = f.expect("C_GetInfo is NULL");
    // SAFETY: NULL or a live CK_INFO.
    unsafe { f(nullable(info)) }
}

/// C_GetInfo into a scratch CK_INFO: tells whether the module is initialised.
fn probe() -> CK_RV {
    get_info(fl().C_GetInfo, Some(&mut CK_INFO::default()))
}

fn slot_list(list: Option<&mut [CK_SLOT_ID]>, count: Option<&mut CK_ULONG>) -> CK_RV {
    let f = func!(fl(), C_GetSlotList);
    let (list, count) = out_args(list, count);
    // SAFETY: NULL or live buffers; the claimed count fits the list (out_args).
    unsafe { f(CK_FALSE, list, count) }
}

fn mechanism_list(
    slot: CK_SLOT_ID,
    list: Option<&mut [CK_MECHANISM_TYPE]>,
    count: Option<&mut CK_ULONG>,
) -> CK_RV {
    let f = func!(fl(), C_GetMechanismList);
    let (list, count) = out_args(list, count);
    // SAFETY: NULL or live buffers; the claimed count fits the list (out_args).
    unsafe { f(slot, list, count) }
}

/// A call of shape (slot or session id, out struct): C_GetSlotInfo, C_GetTokenInfo,
/// C_GetSessionInfo.
fn query<T>(
    f: Option<unsafe extern "C" fn(CK_ULONG, *mut T) -> CK_RV>,
    id: CK_ULONG,
    out: Option<&mut T>,
) -> CK_RV {
    let f = f.expect("query function is NULL");
    // SAFETY: NULL or a live T, the type `f` writes.
    unsafe { f(id, nullable(out)) }
}

/// A call of shape (session): C_Logout, C_FindObjectsFinal, C_GetFunctionStatus...
fn on_session(
    f: Option<unsafe extern "C" fn(CK_SESSION_HANDLE) -> CK_RV>,
    h: CK_SESSION_HANDLE,
) -> CK_RV {
    let f = f.expect("session function is NULL");
    // SAFETY: plain values only.
    unsafe { f(h) }
}

/// A call of shape (session, bytes, length) that only reads the bytes (C_InitPIN); C_GenerateRandom
/// writes, so it only ever gets `In::Null` here.
fn with_bytes(f: CK_C_InitPIN, h: CK_SESSION_HANDLE, bytes: In) -> CK_RV {
    let f = f.expect("function is NULL");
    let (p, len) = bytes.raw();
    // SAFETY: NULL, or `len` live bytes the function only reads.
    unsafe { f(h, p, len) }
}

fn init_token(slot: CK_SLOT_ID, so_pin: &[u8], label: &[u8; 32]) -> CK_RV {
    let f = func!(fl(), C_InitToken);
    let (pin, pin_len) = In::Bytes(so_pin).raw();
    // SAFETY: live PIN of its length and a live 32-byte label, both only read.
    unsafe { f(slot, pin, pin_len, label.as_ptr().cast_mut()) }
}

fn open_session_raw(slot: CK_SLOT_ID, out: Option<&mut CK_SESSION_HANDLE>) -> CK_RV {
    let f = func!(fl(), C_OpenSession);
    // SAFETY: no application data or callback; NULL or a live out handle.
    unsafe { f(slot, RW_SESSION, null_mut(), None, nullable(out)) }
}

fn login(h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: In) -> CK_RV {
    let f = func!(fl(), C_Login);
    let (pin, len) = pin.raw();
    // SAFETY: NULL (on purpose) or `len` live PIN bytes, only read.
    unsafe { f(h, user, pin, len) }
}

fn create_object(
    h: CK_SESSION_HANDLE,
    template: &[CK_ATTRIBUTE],
    out: Option<&mut CK_OBJECT_HANDLE>,
) -> CK_RV {
    let f = func!(fl(), C_CreateObject);
    // SAFETY: a live template (values live or NULL on purpose, only read); NULL or a live
    // out handle.
    unsafe {
        f(
            h,
            template.as_ptr().cast_mut(),
            template.len() as CK_ULONG,
            nullable(out),
        )
    }
}

/// C_GetAttributeValue with a NULL template that claims `count` attributes.
fn get_attributes_from_null(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    count: CK_ULONG,
) -> CK_RV {
    let f = func!(fl(), C_GetAttributeValue);
    // SAFETY: a NULL template (on purpose): the module must refuse it without touching it.
    unsafe { f(h, object, null_mut(), count) }
}

/// C_FindObjectsInit matching every object.
fn find_all(h: CK_SESSION_HANDLE) -> CK_RV {
    let f = func!(fl(), C_FindObjectsInit);
    // SAFETY: an empty template.
    unsafe { f(h, null_mut(), 0) }
}

/// C_FindObjects into a NULL handle array that claims room for `max` handles.
fn find_into_null(h: CK_SESSION_HANDLE, max: CK_ULONG, count: &mut CK_ULONG) -> CK_RV {
    let f = func!(fl(), C_FindObjects);
    // SAFETY: a NULL array (on purpose): the module must refuse it; `count` is live.
    unsafe { f(h, null_mut(), max, count) }
}

/// A `*Init` call of shape (session, mechanism, key): C_SignInit, C_EncryptInit...
fn op_init(
    f: CK_C_SignInit,
    h: CK_SESSION_HANDLE,
    mechanism: &CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    let f = f.expect("init function is NULL");
    // SAFETY: a live mechanism whose parameter is live for its length (or NULL on purpose);
    // the module only reads them.
    unsafe { f(h, ptr::from_ref(mechanism).cast_mut(), key) }
}

fn digest_init(h: CK_SESSION_HANDLE, mechanism: &CK_MECHANISM) -> CK_RV {
    let f = func!(fl(), C_DigestInit);
    // SAFETY: a live parameterless mechanism, only read.
    unsafe { f(h, ptr::from_ref(mechanism).cast_mut()) }
}

/// A call of shape (session, data, output, output length): C_Sign, C_Digest, C_SignRecover...
fn data_out(
    f: CK_C_Sign,
    h: CK_SESSION_HANDLE,
    data: &[u8],
    out: Option<&mut [u8]>,
    len: Option<&mut CK_ULONG>,
) -> CK_RV {
    let f = f.expect("function is NULL");
    let (data, data_len) = In::Bytes(data).raw();
    let (out, len) = out_args(out, len);
    // SAFETY: live input of its length (only read); the output NULL or holding at least the
    // claimed length (out_args); the length NULL or live.
    unsafe { f(h, data, data_len, out, len) }
}

/// An RSA-2048 session key pair for signing; returns the private key.
fn rsa_private_key(h: CK_SESSION_HANDLE) -> CK_OBJECT_HANDLE {
    let f = func!(fl(), C_GenerateKeyPair);
    let bits: CK_ULONG = 2048;
    let exponent = [1u8, 0, 1];
    let public = [
        attr(CKA_TOKEN, &FALSE),
        attr(CKA_VERIFY, &TRUE),
        attr(CKA_MODULUS_BITS, &bits),
        attr(CKA_PUBLIC_EXPONENT, &exponent),
    ];
    let private = [attr(CKA_TOKEN, &FALSE), attr(CKA_SIGN, &TRUE)];
    let (mut public_key, mut private_key) = (CK_INVALID_HANDLE, CK_INVALID_HANDLE);
    let mut mechanism = bare(CKM_RSA_PKCS_KEY_PAIR_GEN);
    // SAFETY: a live mechanism, live templates of live values (only read), live out handles.
    let rv = unsafe {
        f(
            h,
            &mut mechanism,
            public.as_ptr().cast_mut(),
            public.len() as CK_ULONG,
            private.as_ptr().cast_mut(),
            private.len() as CK_ULONG,
            &mut public_key,
            &mut private_key,
        )
    };
    check(
        rv,
        CKR_OK,
        "C_GenerateKeyPair(CKM_RSA_PKCS_KEY_PAIR_GEN, 2048 bits)",
    );
    private_key
}

// ---------------------------------------------------------------------------------------------
// Higher-level helpers

/// A two-call list: count query, then the items.
#[track_caller]
fn fetch_list<T: Clone + Default>(
    f: impl Fn(Option<&mut [T]>, Option<&mut CK_ULONG>) -> CK_RV,
    what: &str,
) -> Vec<T> {
    let mut count = 0;
    check(
        f(None, Some(&mut count)),
        CKR_OK,
        &format!("{what} count query"),
    );
    let mut items = vec![T::default(); count as usize];
    check(f(Some(&mut items), Some(&mut count)), CKR_OK, what);
    assert_eq!(
        count as usize,
        items.len(),
        "{what}: count differs from the query's"
    );
    items
}

/// A list buffer one short: CKR_BUFFER_TOO_SMALL, and the count set to what is needed.
#[track_caller]
fn assert_short_list_rejected<T: Clone + Default>(
    f: impl Fn(Option<&mut [T]>, Option<&mut CK_ULONG>) -> CK_RV,
    needed: usize,
    what: &str,
) {
    assert!(
        needed > 0,
        "{what}: an empty list cannot be too long for a buffer"
    );
    let mut items = vec![T::default(); needed - 1];
    let mut count = items.len() as CK_ULONG;
    let rv = f(Some(&mut items), Some(&mut count));
    check(
        rv,
        CKR_BUFFER_TOO_SMALL,
        &format!("{what} into {} entries", needed - 1),
    );
    assert_eq!(
        count as usize, needed,
        "{what}: *pulCount after CKR_BUFFER_TOO_SMALL"
    );
}

fn slot_ids() -> Vec<CK_SLOT_ID> {
    fetch_list(slot_list, "C_GetSlotList")
}

fn open_session(slot: CK_SLOT_ID) -> CK_SESSION_HANDLE {
    let mut h = CK_INVALID_HANDLE;
    check(
        open_session_raw(slot, Some(&mut h)),
        CKR_OK,
        "C_OpenSession(R/W)",
    );
    h
}

/// Initialise the token of configuration slot `index` (SO PIN, then the user PIN through an
/// SO session); returns its slot id.
fn fresh_token(index: usize) -> CK_SLOT_ID {
    let slot = slot_ids()[index];
    let mut label = [b' '; 32];
    let name = format!("abi {index}");
    label[..name.len()].copy_from_slice(name.as_bytes());
    check(init_token(slot, SO_PIN, &label), CKR_OK, "C_InitToken");
    let h = open_session(slot);
    check(login(h, CKU_SO, SO_PIN.into()), CKR_OK, "C_Login(CKU_SO)");
    check(
        with_bytes(fl().C_InitPIN, h, USER_PIN.into()),
        CKR_OK,
        "C_InitPIN",
    );
    check(on_session(fl().C_Logout, h), CKR_OK, "C_Logout");
    slot
}

/// A R/W session on a fresh token of configuration slot `index`, logged in as the user.
fn user_session(index: usize) -> CK_SESSION_HANDLE {
    let h = open_session(fresh_token(index));
    check(
        login(h, CKU_USER, USER_PIN.into()),
        CKR_OK,
        "C_Login(CKU_USER)",
    );
    h
}

/// A session secret key template: class, key type, one usage flag, the value.
fn secret_template(
    key_type: &'static CK_KEY_TYPE,
    usage: CK_ATTRIBUTE_TYPE,
    value: &[u8],
) -> Vec<CK_ATTRIBUTE> {
    vec![
        attr(CKA_CLASS, &SECRET_KEY),
        attr(CKA_KEY_TYPE, key_type),
        attr(CKA_TOKEN, &FALSE),
        attr(usage, &TRUE),
        attr(CKA_VALUE, value),
    ]
}

fn secret_key(
    h: CK_SESSION_HANDLE,
    key_type: &'static CK_KEY_TYPE,
    usage: CK_ATTRIBUTE_TYPE,
    value: &[u8],
) -> CK_OBJECT_HANDLE {
    let mut key = CK_INVALID_HANDLE;
    let template = secret_template(key_type, usage, value);
    check(
        create_object(h, &template, Some(&mut key)),
        CKR_OK,
        "C_CreateObject(secret key)",
    );
    key
}

/// The two-call convention (§5.2) on a single-part operation `f` initialised on `h`: a size
/// query and a short buffer leave it active, the answer ends it.
#[track_caller]
fn assert_two_call(f: CK_C_Sign, h: CK_SESSION_HANDLE, data: &[u8], expected: &[u8], what: &str) {
    assert!(
        expected.len() > 8,
        "test bug: the short buffer must be short"
    );
    let mut len: CK_ULONG = 0;
    check(
        data_out(f, h, data, None, Some(&mut len)),
        CKR_OK,
        &format!("{what} size query"),
    );
    assert_eq!(
        len as usize,
        expected.len(),
        "{what}: length from the size query"
    );

    let mut out = vec![0u8; expected.len()];
    let mut len: CK_ULONG = 8;
    let rv = data_out(f, h, data, Some(&mut out), Some(&mut len));
    check(
        rv,
        CKR_BUFFER_TOO_SMALL,
        &format!("{what} into 8 bytes after the size query"),
    );
    assert_eq!(
        len as usize,
        expected.len(),
        "{what}: length after CKR_BUFFER_TOO_SMALL"
    );

    let mut len = out.len() as CK_ULONG;
    let rv = data_out(f, h, data, Some(&mut out), Some(&mut len));
    check(rv, CKR_OK, &format!("{what} after CKR_BUFFER_TOO_SMALL"));
    assert_eq!(&out[..len as usize], expected, "{what}: output");

    let mut len = out.len() as CK_ULONG;
    let rv = data_out(f, h, data, Some(&mut out), Some(&mut len));
    check(
        rv,
        CKR_OPERATION_NOT_INITIALIZED,
        &format!("{what} after it succeeded"),
    );
}

/// A fixed-width string field must be blank-padded UTF-8: never NUL-terminated or NUL-filled.
#[track_caller]
fn assert_blank_padded(field: &[u8], what: &str) {
    assert!(!field.contains(&0), "{what} contains NUL bytes: {field:?}");
    assert!(
        std::str::from_utf8(field).is_ok(),
        "{what} is not UTF-8: {field:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Mutex callbacks for CK_C_INITIALIZE_ARGS (Keyward locks with OS primitives and may ignore them)

/// CreateMutex: hands out a dummy non-NULL mutex.
unsafe extern "C" fn create_mutex(mutex: *mut *mut c_void) -> CK_RV {
    // SAFETY: the library passes a writable location for the new mutex (or NULL).
    if let Some(out) = unsafe { mutex.as_mut() } {
        *out = NonNull::<u8>::dangling().as_ptr().cast();
    }
    CKR_OK
}

/// DestroyMutex, LockMutex, UnlockMutex: nothing to do for a dummy mutex.
unsafe extern "C" fn mutex_noop(_mutex: *mut c_void) -> CK_RV {
    CKR_OK
}

/// Initialisation arguments with `flags` and the callbacks chosen by
/// `[create, destroy, lock, unlock]`.
fn init_args(flags: CK_FLAGS, [create, destroy, lock, unlock]: [bool; 4]) -> CK_C_INITIALIZE_ARGS {
    CK_C_INITIALIZE_ARGS {
        CreateMutex: create.then_some(create_mutex as _),
        DestroyMutex: destroy.then_some(mutex_noop as _),
        LockMutex: lock.then_some(mutex_noop as _),
        UnlockMutex: unlock.then_some(mutex_noop as _),
        flags,
        pReserved: null_mut(),
    }
}

// ---------------------------------------------------------------------------------------------
// Function lists and interfaces (§5.4.4–5.4.6), callable before C_Initialize

#[test]
fn get_function_list_gives_a_complete_2_40_list() {
    let _serial = serial();
    check(
        get_function_list(None),
        CKR_ARGUMENTS_BAD,
        "C_GetFunctionList(NULL)",
    );
    assert_eq!(
        ver(fl().version),
        (2, 40),
        "version of the C_GetFunctionList list"
    );
    assert_complete(fl(), "C_GetFunctionList's list");
}

#[test]
fn get_interface_list_offers_3_0_and_2_40() {
    let _serial = serial();
    let interfaces = fetch_list(get_interface_list, "C_GetInterfaceList");
    assert_eq!(
        interfaces.len(),
        2,
        "interfaces counted by C_GetInterfaceList(NULL, &count)"
    );
    assert_short_list_rejected(get_interface_list, 2, "C_GetInterfaceList");
    let mut list = [CK_INTERFACE::default(); 2];
    check_rows(&[
        (
            "C_GetInterfaceList(list, NULL)",
            get_interface_list(Some(&mut list), None),
            CKR_ARGUMENTS_BAD,
        ),
        (
            "C_GetInterfaceList(NULL, NULL)",
            get_interface_list(None, None),
            CKR_ARGUMENTS_BAD,
        ),
    ]);

    let mut described: Vec<(String, (u8, u8))> = interfaces.iter().map(describe).collect();
    described.sort_by_key(|(_, version)| *version);
    let expected = [(2, 40), (3, 0)].map(|v| (INTERFACE_NAME.to_string_lossy().into_owned(), v));
    assert_eq!(described, expected, "interface names and versions");
    for iface in &interfaces {
        match describe(iface).1 {
            (3, _) => assert_complete(list_of::<CK_FUNCTION_LIST_3_0>(iface), "3.0 interface"),
            _ => assert_complete(list_of::<CK_FUNCTION_LIST>(iface), "2.40 interface"),
        }
    }
}

#[test]
fn get_interface_selects_by_name_and_version() {
    let _serial = serial();
    let default = interface(None, None, "NULL name (the default)");
    let name = INTERFACE_NAME.to_string_lossy().into_owned();
    assert_eq!(
        describe(default),
        (name.clone(), (3, 0)),
        "the default interface"
    );
    assert_complete(
        list_of::<CK_FUNCTION_LIST_3_0>(default),
        "default interface",
    );

    let v2 = interface(Some(INTERFACE_NAME), Some((2, 40)), "\"PKCS 11\" 2.40");
    assert_eq!(describe(v2), (name.clone(), (2, 40)), "the 2.40 interface");
    assert_complete(
        list_of::<CK_FUNCTION_LIST>(v2),
        "\"PKCS 11\" 2.40 interface",
    );

    let v3 = interface(Some(INTERFACE_NAME), Some((3, 0)), "\"PKCS 11\" 3.0");
    assert_eq!(describe(v3), (name, (3, 0)), "the 3.0 interface");

    let mut p = null_mut();
    check_rows(&[
        (
            "C_GetInterface(\"No such interface\")",
            get_interface(Some(c"No such interface"), None, Some(&mut p)),
            CKR_ARGUMENTS_BAD,
        ),
        (
            "C_GetInterface(.., NULL ppInterface)",
            get_interface(None, None, None),
            CKR_ARGUMENTS_BAD,
        ),
    ]);
}

#[test]
fn unimplemented_functions_say_so() {
    let serial = initialised();
    let h = user_session(SLOT_UNSUPPORTED);
    let key = secret_key(h, &GENERIC_SECRET, CKA_SIGN, &[7; 32]);
    let mechanism = bare(CKM_SHA256_HMAC);
    let l = fl3();
    let mut rows: Vec<(&str, CK_RV, CK_RV)> = Vec::new();

    let inits = named!(l; C_SignRecoverInit, C_VerifyRecoverInit, C_MessageSignInit,
        C_MessageVerifyInit);
    rows.extend(inits.map(|(name, f)| {
        (
            name,
            op_init(f, h, &mechanism, key),
            CKR_FUNCTION_NOT_SUPPORTED,
        )
    }));

    let mut out = [0u8; 64];
    let dual = named!(l; C_SignRecover, C_VerifyRecover, C_DigestEncryptUpdate,
        C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate);
    for (name, f) in dual {
        let mut len = out.len() as CK_ULONG;
        let rv = data_out(f, h, b"data", Some(&mut out), Some(&mut len));
        rows.push((name, rv, CKR_FUNCTION_NOT_SUPPORTED));
    }

    let finals = named!(l; C_MessageSignFinal, C_MessageVerifyFinal);
    rows.extend(finals.map(|(name, f)| (name, on_session(f, h), CKR_FUNCTION_NOT_SUPPORTED)));
    // Legacy parallel-function management: the spec fixes CKR_FUNCTION_NOT_PARALLEL.
    let legacy = named!(l; C_GetFunctionStatus, C_CancelFunction);
    rows.extend(legacy.map(|(name, f)| (name, on_session(f, h), CKR_FUNCTION_NOT_PARALLEL)));

    let digest_key = func!(l, C_DigestKey);
    // SAFETY: plain values only.
    let rv = unsafe { digest_key(h, key) };
    // Implemented (tests/audit_events.rs): without a digest under way it has nothing to do.
    rows.push(("C_DigestKey", rv, CKR_OPERATION_NOT_INITIALIZED));
    let wait = func!(l, C_WaitForSlotEvent);
    let mut slot: CK_SLOT_ID = 0;
    // SAFETY: a live out slot and the reserved NULL; CKF_DONT_BLOCK so it cannot hang.
    let rv = unsafe { wait(CKF_DONT_BLOCK, &mut slot, null_mut()) };
    rows.push(("C_WaitForSlotEvent", rv, CKR_FUNCTION_NOT_SUPPORTED));
    check_rows(&rows);
    serial.finish();
}

// ---------------------------------------------------------------------------------------------
// C_Initialize / C_Finalize / C_GetInfo (§5.4.1–5.4.3)

#[test]
fn calls_before_initialize_are_rejected() {
    let _serial = serial();
    let mut count = 0;
    let mut h = CK_INVALID_HANDLE;
    check_rows(&[
        ("C_GetInfo", probe(), CKR_CRYPTOKI_NOT_INITIALIZED),
        (
            "C_GetSlotList",
            slot_list(None, Some(&mut count)),
            CKR_CRYPTOKI_NOT_INITIALIZED,
        ),
        (
            "C_OpenSession",
            open_session_raw(0, Some(&mut h)),
            CKR_CRYPTOKI_NOT_INITIALIZED,
        ),
        (
            "C_Finalize(NULL)",
            finalize(None),
            CKR_CRYPTOKI_NOT_INITIALIZED,
        ),
    ]);
}

#[test]
fn initialize_and_finalize_life_cycle() {
    let serial = initialised();
    check(
        initialize(None),
        CKR_CRYPTOKI_ALREADY_INITIALIZED,
        "second C_Initialize(NULL)",
    );
    check(
        finalize(Some(&mut 0)),
        CKR_ARGUMENTS_BAD,
        "C_Finalize(non-NULL)",
    );
    check(probe(), CKR_OK, "C_GetInfo after the refused C_Finalize");
    check(finalize(None), CKR_OK, "C_Finalize(NULL)");
    check(
        probe(),
        CKR_CRYPTOKI_NOT_INITIALIZED,
        "C_GetInfo after C_Finalize",
    );
    check(
        finalize(None),
        CKR_CRYPTOKI_NOT_INITIALIZED,
        "second C_Finalize(NULL)",
    );
    check(
        initialize(None),
        CKR_OK,
        "C_Initialize(NULL) after C_Finalize",
    );
    check(probe(), CKR_OK, "C_GetInfo after re-initialising");
    serial.finish();
}

#[test]
fn initialize_validates_its_arguments() {
    let _serial = serial();
    let mut reserved = 0u64;
    let all = [true; 4];
    let cases = [
        (
            "pReserved != NULL",
            CK_C_INITIALIZE_ARGS {
                pReserved: nullable(Some(&mut reserved)).cast(),
                ..init_args(0, [false; 4])
            },
            CKR_ARGUMENTS_BAD,
        ),
        ("no flags, no callbacks", init_args(0, [false; 4]), CKR_OK),
        (
            "CKF_OS_LOCKING_OK alone",
            init_args(CKF_OS_LOCKING_OK, [false; 4]),
            CKR_OK,
        ),
        ("all four callbacks", init_args(0, all), CKR_OK),
        (
            "all four callbacks and CKF_OS_LOCKING_OK",
            init_args(CKF_OS_LOCKING_OK, all),
            CKR_OK,
        ),
        (
            "CreateMutex and DestroyMutex only",
            init_args(0, [true, true, false, false]),
            CKR_ARGUMENTS_BAD,
        ),
        (
            "all but UnlockMutex, CKF_OS_LOCKING_OK",
            init_args(CKF_OS_LOCKING_OK, [true, true, true, false]),
            CKR_ARGUMENTS_BAD,
        ),
        (
            "LockMutex only",
            init_args(0, [false, false, true, false]),
            CKR_ARGUMENTS_BAD,
        ),
    ];
    for (what, mut args, expected) in cases {
        check(
            initialize(Some(&mut args)),
            expected,
            &format!("C_Initialize with {what}"),
        );
        // Accepted: finalise again. Refused: nothing may have been initialised.
        let (rv, want) = match expected {
            CKR_OK => (finalize(None), CKR_OK),
            _ => (probe(), CKR_CRYPTOKI_NOT_INITIALIZED),
        };
        check(rv, want, &format!("after C_Initialize with {what}"));
    }
}

#[test]
fn get_info_reports_version_and_blank_padded_strings() {
    let serial = initialised();
    let mut info = CK_INFO::default();
    check(
        get_info(fl3().C_GetInfo, Some(&mut info)),
        CKR_OK,
        "C_GetInfo (3.0 list)",
    );
    assert_eq!(
        ver(info.cryptokiVersion),
        (3, 0),
        "cryptokiVersion through the 3.0 interface"
    );
    assert_eq!(info.flags, 0, "CK_INFO.flags is reserved and must be zero");
    assert_blank_padded(&info.manufacturerID, "CK_INFO.manufacturerID");
    assert_blank_padded(&info.libraryDescription, "CK_INFO.libraryDescription");

    let mut info = CK_INFO::default();
    check(
        get_info(fl().C_GetInfo, Some(&mut info)),
        CKR_OK,
        "C_GetInfo (2.40 list)",
    );
    assert!(
        info.cryptokiVersion.major >= 2,
        "cryptokiVersion {:?}",
        info.cryptokiVersion
    );

    let slot = slot_ids()[0];
    let mut slot_info = CK_SLOT_INFO::default();
    check(
        query(fl().C_GetSlotInfo, slot, Some(&mut slot_info)),
        CKR_OK,
        "C_GetSlotInfo",
    );
    assert_blank_padded(&slot_info.slotDescription, "CK_SLOT_INFO.slotDescription");
    assert_blank_padded(&slot_info.manufacturerID, "CK_SLOT_INFO.manufacturerID");
    let mut token = CK_TOKEN_INFO::default();
    check(
        query(fl().C_GetTokenInfo, slot, Some(&mut token)),
        CKR_OK,
        "C_GetTokenInfo",
    );
    for (field, what) in [
        (&token.label[..], "label"),
        (&token.manufacturerID[..], "manufacturerID"),
        (&token.model[..], "model"),
        (&token.serialNumber[..], "serialNumber"),
    ] {
        assert_blank_padded(field, &format!("CK_TOKEN_INFO.{what}"));
    }
    serial.finish();
}

// ---------------------------------------------------------------------------------------------
// Argument checking

#[test]
fn null_pointer_arguments_are_rejected() {
    let serial = initialised();
    let slot = fresh_token(SLOT_NULL_ARGS);
    let h = open_session(slot);
    let mut rows = vec![
        ("C_GetInfo(NULL)", get_info(fl().C_GetInfo, None)),
        ("C_GetSlotList(.., NULL, NULL)", slot_list(None, None)),
        (
            "C_GetSlotInfo(slot, NULL)",
            query(fl().C_GetSlotInfo, slot, None),
        ),
        (
            "C_GetTokenInfo(slot, NULL)",
            query(fl().C_GetTokenInfo, slot, None),
        ),
        (
            "C_OpenSession(.., NULL phSession)",
            open_session_raw(slot, None),
        ),
        (
            "C_GetSessionInfo(h, NULL)",
            query(fl().C_GetSessionInfo, h, None),
        ),
        (
            "C_GetMechanismList(slot, NULL, NULL)",
            mechanism_list(slot, None, None),
        ),
        (
            "C_GenerateRandom(h, NULL, 16)",
            with_bytes(fl().C_GenerateRandom, h, In::Null(16)),
        ),
        // Before the user logs in, so that no login state can take precedence.
        (
            "C_Login(h, CKU_USER, NULL, 8)",
            login(h, CKU_USER, In::Null(8)),
        ),
    ];
    check(
        login(h, CKU_USER, USER_PIN.into()),
        CKR_OK,
        "C_Login(CKU_USER)",
    );
    let key = secret_key(h, &GENERIC_SECRET, CKA_SIGN, &[3; 32]);
    rows.push((
        "C_GetAttributeValue(h, key, NULL, 2)",
        get_attributes_from_null(h, key, 2),
    ));

    check(find_all(h), CKR_OK, "C_FindObjectsInit");
    let mut count = 0;
    rows.push((
        "C_FindObjects(h, NULL, 4, &count)",
        find_into_null(h, 4, &mut count),
    ));
    check(
        on_session(fl().C_FindObjectsFinal, h),
        CKR_OK,
        "C_FindObjectsFinal",
    );

    check(
        op_init(fl().C_SignInit, h, &bare(CKM_SHA256_HMAC), key),
        CKR_OK,
        "C_SignInit",
    );
    let mut signature = [0u8; 32];
    let rv = data_out(fl().C_Sign, h, b"data", Some(&mut signature), None);
    rows.push(("C_Sign(.., buffer, NULL pulSignatureLen)", rv));

    let rows: Vec<_> = rows
        .into_iter()
        .map(|(w, rv)| (w, rv, CKR_ARGUMENTS_BAD))
        .collect();
    check_rows(&rows);
    serial.finish();
}

#[test]
fn unknown_slot_ids_are_rejected() {
    let serial = initialised();
    let bad = slot_ids().into_iter().max().map_or(0, |max| max + 1);
    let mut count = 0;
    let mut h = CK_INVALID_HANDLE;
    let label = [b' '; 32];
    let rows = [
        (
            "C_GetSlotInfo",
            query(fl().C_GetSlotInfo, bad, Some(&mut CK_SLOT_INFO::default())),
        ),
        (
            "C_GetTokenInfo",
            query(
                fl().C_GetTokenInfo,
                bad,
                Some(&mut CK_TOKEN_INFO::default()),
            ),
        ),
        (
            "C_GetMechanismList",
            mechanism_list(bad, None, Some(&mut count)),
        ),
        ("C_OpenSession", open_session_raw(bad, Some(&mut h))),
        ("C_InitToken", init_token(bad, SO_PIN, &label)),
    ];
    check_rows(&rows.map(|(what, rv)| (what, rv, CKR_SLOT_ID_INVALID)));
    serial.finish();
}

#[test]
fn short_list_buffers_report_the_count_needed() {
    let serial = initialised();
    let slots = slot_ids();
    assert_eq!(
        slots.len(),
        common::SLOTS,
        "every configured slot is listed"
    );
    assert_short_list_rejected(slot_list, slots.len(), "C_GetSlotList");

    let mechanisms =
        |l: Option<&mut [CK_ULONG]>, c: Option<&mut CK_ULONG>| mechanism_list(slots[0], l, c);
    let listed = fetch_list(mechanisms, "C_GetMechanismList");
    for m in [CKM_SHA256, CKM_SHA256_HMAC, CKM_AES_CBC] {
        assert!(listed.contains(&m), "C_GetMechanismList lacks {m:#x}");
    }
    assert_short_list_rejected(mechanisms, listed.len(), "C_GetMechanismList");
    serial.finish();
}

// ---------------------------------------------------------------------------------------------
// Two-call convention (§5.2)

#[test]
fn sign_follows_the_two_call_convention() {
    let serial = initialised();
    let h = user_session(SLOT_SIGN);
    let key = secret_key(h, &GENERIC_SECRET, CKA_SIGN, &[0x0b; 20]);
    check(
        op_init(fl().C_SignInit, h, &bare(CKM_SHA256_HMAC), key),
        CKR_OK,
        "C_SignInit",
    );
    let mac = hex(HMAC_SHA256_CASE_1);
    assert_two_call(fl().C_Sign, h, b"Hi There", &mac, "C_Sign(CKM_SHA256_HMAC)");
    serial.finish();
}

#[test]
fn digest_follows_the_two_call_convention() {
    let serial = initialised();
    let h = user_session(SLOT_DIGEST);
    check(
        digest_init(h, &bare(CKM_SHA256)),
        CKR_OK,
        "C_DigestInit(CKM_SHA256)",
    );
    assert_two_call(
        fl().C_Digest,
        h,
        b"abc",
        &hex(SHA256_ABC),
        "C_Digest(CKM_SHA256)",
    );
    serial.finish();
}

// ---------------------------------------------------------------------------------------------
// Malformed templates (§4.1, §5.7.1) and mechanism parameters

/// `base` with `extra` appended (a second attribute of its type, if it has one).
fn appended(base: &[CK_ATTRIBUTE], extra: CK_ATTRIBUTE) -> Vec<CK_ATTRIBUTE> {
    let mut template = base.to_vec();
    template.push(extra);
    template
}

/// `base` with the attribute of `new`'s type replaced by `new`.
fn replaced(base: &[CK_ATTRIBUTE], new: CK_ATTRIBUTE) -> Vec<CK_ATTRIBUTE> {
    base.iter()
        .map(|a| if a.type_ == new.type_ { new } else { *a })
        .collect()
}

#[test]
fn malformed_templates_are_rejected() {
    let serial = initialised();
    let h = user_session(SLOT_TEMPLATES);
    let value = [0x5a; 32];
    let base = secret_template(&GENERIC_SECRET, CKA_SIGN, &value);
    let mut object = CK_INVALID_HANDLE;
    check(
        create_object(h, &base, Some(&mut object)),
        CKR_OK,
        "C_CreateObject, well-formed template",
    );

    let wide_bool = [CK_FALSE; 4];
    let narrow_class = [CKO_SECRET_KEY as u8];
    let null_label = CK_ATTRIBUTE {
        type_: CKA_LABEL,
        pValue: null_mut(),
        ulValueLen: 5,
    };
    let two_labels = appended(
        &appended(&base, attr(CKA_LABEL, b"one")),
        attr(CKA_LABEL, b"two"),
    );
    let cases: [(&str, Vec<CK_ATTRIBUTE>, &[CK_RV]); 5] = [
        (
            "C_CreateObject, CKA_TOKEN of 4 bytes",
            replaced(&base, attr(CKA_TOKEN, &wide_bool)),
            &[CKR_ATTRIBUTE_VALUE_INVALID],
        ),
        (
            "C_CreateObject, CKA_CLASS of 1 byte",
            replaced(&base, attr(CKA_CLASS, &narrow_class)),
            &[CKR_ATTRIBUTE_VALUE_INVALID],
        ),
        (
            "C_CreateObject, CKA_LABEL NULL with length 5",
            appended(&base, null_label),
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_ARGUMENTS_BAD],
        ),
        (
            "C_CreateObject, CKA_LABEL twice, \"one\" and \"two\"",
            two_labels,
            &[CKR_TEMPLATE_INCONSISTENT],
        ),
        (
            "C_CreateObject, CKA_SIGN twice, true and false",
            appended(&base, attr(CKA_SIGN, &FALSE)),
            &[CKR_TEMPLATE_INCONSISTENT],
        ),
    ];
    let rows: Vec<(&str, CK_RV, &[CK_RV])> = cases
        .iter()
        .map(|(what, template, allowed)| {
            (
                *what,
                create_object(h, template, Some(&mut object)),
                *allowed,
            )
        })
        .collect();
    check_rows(&rows);
    serial.finish();
}

#[test]
fn malformed_mechanism_parameters_are_rejected() {
    let serial = initialised();
    let h = user_session(SLOT_MECHANISM_PARAMS);
    let aes = secret_key(h, &AES, CKA_ENCRYPT, &[0x11; 16]);
    let iv15 = [0u8; 15];
    let gcm_null = CK_MECHANISM {
        ulParameterLen: size_of::<CK_GCM_PARAMS>() as CK_ULONG,
        ..bare(CKM_AES_GCM)
    };
    let cases = [
        (
            "CKM_AES_CBC with a 15-byte IV",
            with_param(CKM_AES_CBC, &iv15),
        ),
        ("CKM_AES_GCM with NULL pParameter", bare(CKM_AES_GCM)),
        (
            "CKM_AES_GCM with NULL pParameter of CK_GCM_PARAMS length",
            gcm_null,
        ),
    ];
    for (what, mechanism) in &cases {
        let rv = op_init(fl().C_EncryptInit, h, mechanism, aes);
        check(
            rv,
            CKR_MECHANISM_PARAM_INVALID,
            &format!("C_EncryptInit, {what}"),
        );
    }
    // The key is fine and the refusals left no operation active.
    let iv16 = [0u8; 16];
    let rv = op_init(fl().C_EncryptInit, h, &with_param(CKM_AES_CBC, &iv16), aes);
    check(rv, CKR_OK, "C_EncryptInit, CKM_AES_CBC with a 16-byte IV");

    let rsa = rsa_private_key(h);
    let pss = CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        sLen: 32,
    };
    let mut short = with_param(CKM_RSA_PKCS_PSS, &pss);
    short.ulParameterLen -= 1;
    let rv = op_init(fl().C_SignInit, h, &short, rsa);
    check(
        rv,
        CKR_MECHANISM_PARAM_INVALID,
        "C_SignInit, CKM_RSA_PKCS_PSS with a parameter 1 byte short",
    );
    let rv = op_init(fl().C_SignInit, h, &with_param(CKM_RSA_PKCS_PSS, &pss), rsa);
    check(
        rv,
        CKR_OK,
        "C_SignInit, CKM_RSA_PKCS_PSS with a whole CK_RSA_PKCS_PSS_PARAMS",
    );
    serial.finish();
}

// ---------------------------------------------------------------------------------------------
// fork(): a child process must call C_Initialize itself, and may then use the library

/// What the forked child checks: C_Initialize(NULL) succeeds (the parent's instance is not the
/// child's) and C_GetSlotList lists the parent's slots.
fn child_checks(parent_slots: &[CK_SLOT_ID]) -> Result<(), String> {
    let rv = initialize(None);
    if rv != CKR_OK {
        return Err(format!(
            "C_Initialize(NULL) returned {}, expected CKR_OK",
            rv_name(rv)
        ));
    }
    let mut slots = vec![0; parent_slots.len()];
    let mut count = slots.len() as CK_ULONG;
    let rv = slot_list(Some(&mut slots), Some(&mut count));
    if rv != CKR_OK || slots != parent_slots {
        return Err(format!(
            "C_GetSlotList returned {} and {slots:?}",
            rv_name(rv)
        ));
    }
    Ok(())
}

/// Run in the forked child: report on stderr (not captured by the harness) and _exit.
fn child_main(parent_slots: &[CK_SLOT_ID]) -> ! {
    let outcome = std::panic::catch_unwind(|| child_checks(parent_slots))
        .unwrap_or_else(|_| Err("panicked".to_owned()));
    let code = match outcome {
        Ok(()) => 0,
        Err(msg) => {
            let _ = writeln!(std::io::stderr(), "forked child: {msg}");
            1
        }
    };
    // SAFETY: ends the child at once, without unwinding into the test harness it inherited.
    unsafe { libc::_exit(code) }
}

/// Wait for child `pid` (killing it after `limit`); its wait status.
fn wait_for(pid: libc::pid_t, limit: Duration) -> c_int {
    let start = Instant::now();
    let mut status: c_int = 0;
    loop {
        // SAFETY: `pid` is our own child; `status` is live.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if done == pid {
            return status;
        }
        if start.elapsed() > limit {
            // SAFETY: `pid` is our own child, still running; reaping it after the kill.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("forked child still running after {limit:?}: deadlocked in the module?");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn forked_child_can_initialize_again() {
    let serial = initialised();
    let slots = slot_ids();
    // SAFETY: the child only calls the module, writes to stderr and leaves with _exit; the
    // other test threads wait on this binary's lock, holding no lock the child needs.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        child_main(&slots);
    }
    let status = wait_for(pid, Duration::from_secs(60));
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "forked child failed (wait status {status:#x}); its stderr says why"
    );
    check(
        probe(),
        CKR_OK,
        "the parent's C_GetInfo after the child's C_Initialize",
    );
    serial.finish();
}
