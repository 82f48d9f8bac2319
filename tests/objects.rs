//! Object management (PKCS#11 3.0 §4, §5.7): creating, copying and destroying objects of
//! every supported class, C_GetAttributeValue / C_SetAttributeValue semantics, token-maintained
//! attributes, template errors, searching and visibility rules.
mod common;

use std::collections::HashSet;
use std::sync::OnceLock;

use common::{assert_rv, p11, pin, USER_PIN};
use cryptoki::context::Function;
use cryptoki::error::{Result, Rv, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, CertificateType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;

// ---------------------------------------------------------------------------------------------
// Raw calls (cryptoki hides per-attribute lengths and a few functions)
// ---------------------------------------------------------------------------------------------

/// The module under test, opened a second time: dlopen returns the instance `p11()` loaded
/// and initialised, so raw calls share its sessions and objects.
fn module() -> &'static libloading::Library {
    static LIB: OnceLock<libloading::Library> = OnceLock::new();
    LIB.get_or_init(|| {
        p11();
        // SAFETY: the module is already loaded and initialised in this process.
        unsafe { libloading::Library::new(common::module_path()) }.expect("dlopen module")
    })
}

/// The exported C function `name` with signature `T`.
fn c_fn<T: Copy>(name: &str) -> T {
    // SAFETY: callers name a PKCS#11 export and give its prototype.
    *unsafe { module().get::<T>(name.as_bytes()) }.unwrap_or_else(|e| panic!("{name}: {e}"))
}

type AttrFn =
    unsafe extern "C" fn(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG) -> CK_RV;

/// What one attribute of a C_GetAttributeValue call came back as.
#[derive(Debug)]
struct Answer {
    len: CK_ULONG,
    /// The bytes written, when a buffer was offered and a length came back.
    value: Option<Vec<u8>>,
}

/// One C_GetAttributeValue call; per attribute `None` passes a NULL pValue (size query),
/// `Some(n)` an n-byte buffer.
fn get_raw(
    session: &Session,
    object: ObjectHandle,
    query: &[(CK_ATTRIBUTE_TYPE, Option<usize>)],
) -> (Result<()>, Vec<Answer>) {
    let mut buffers: Vec<Option<Vec<u8>>> =
        query.iter().map(|(_, n)| n.map(|n| vec![0; n])).collect();
    let mut template: Vec<CK_ATTRIBUTE> = query
        .iter()
        .zip(buffers.iter_mut())
        .map(|((ty, _), buf)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: buf
                .as_mut()
                .map_or(std::ptr::null_mut(), |b| b.as_mut_ptr().cast()),
            ulValueLen: buf.as_ref().map_or(0, |b| b.len() as CK_ULONG),
        })
        .collect();
    let get: AttrFn = c_fn("C_GetAttributeValue");
    // SAFETY: every pValue is NULL or points to ulValueLen writable bytes.
    let rv = unsafe {
        get(
            session.handle(),
            object.handle(),
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
        )
    };
    let answers = template
        .iter()
        .zip(buffers)
        .map(|(a, buf)| Answer {
            len: a.ulValueLen,
            value: buf
                .filter(|_| a.ulValueLen != CK_UNAVAILABLE_INFORMATION)
                .map(|mut b| {
                    b.truncate(a.ulValueLen as usize);
                    b
                }),
        })
        .collect();
    (
        Rv::from(rv).into_result(Function::GetAttributeValue),
        answers,
    )
}

/// The value of one attribute, read with the two-call convention; it must be readable.
fn value(session: &Session, object: ObjectHandle, ty: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    let (rv, sizes) = get_raw(session, object, &[(ty, None)]);
    rv.unwrap_or_else(|e| panic!("size of 0x{ty:x}: {e}"));
    let (rv, mut values) = get_raw(session, object, &[(ty, Some(sizes[0].len as usize))]);
    rv.unwrap_or_else(|e| panic!("value of 0x{ty:x}: {e}"));
    values.remove(0).value.expect("a value")
}

fn ulong(session: &Session, object: ObjectHandle, ty: CK_ATTRIBUTE_TYPE) -> CK_ULONG {
    let bytes = value(session, object, ty);
    CK_ULONG::from_ne_bytes(bytes.try_into().expect("a CK_ULONG"))
}

fn flag(session: &Session, object: ObjectHandle, ty: CK_ATTRIBUTE_TYPE) -> bool {
    match value(session, object, ty).as_slice() {
        [b] => *b != 0,
        other => panic!("0x{ty:x} is not a CK_BBOOL: {other:?}"),
    }
}

/// C_CreateObject with raw attribute bytes (to send values cryptoki cannot encode).
fn create_raw(
    session: &Session,
    attrs: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> Result<CK_OBJECT_HANDLE> {
    type CreateFn = unsafe extern "C" fn(
        CK_SESSION_HANDLE,
        *mut CK_ATTRIBUTE,
        CK_ULONG,
        *mut CK_OBJECT_HANDLE,
    ) -> CK_RV;
    let mut template: Vec<CK_ATTRIBUTE> = attrs
        .iter()
        .map(|(ty, v)| CK_ATTRIBUTE {
            type_: *ty,
            pValue: v.as_ptr() as *mut _,
            ulValueLen: v.len() as CK_ULONG,
        })
        .collect();
    let create: CreateFn = c_fn("C_CreateObject");
    let mut handle = 0;
    // SAFETY: the template points into `attrs`, which outlives the call.
    let rv = unsafe {
        create(
            session.handle(),
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
            &mut handle,
        )
    };
    Rv::from(rv)
        .into_result(Function::CreateObject)
        .map(|()| handle)
}

fn object_size(session: &Session, object: ObjectHandle) -> Result<CK_ULONG> {
    type SizeFn = unsafe extern "C" fn(CK_SESSION_HANDLE, CK_OBJECT_HANDLE, *mut CK_ULONG) -> CK_RV;
    let size_of: SizeFn = c_fn("C_GetObjectSize");
    let mut size = 0;
    // SAFETY: valid out-pointer.
    let rv = unsafe { size_of(session.handle(), object.handle(), &mut size) };
    Rv::from(rv)
        .into_result(Function::GetObjectSize)
        .map(|()| size)
}

/// C_FindObjectsInit with an empty template.
fn find_init_all(session: &Session) -> Result<()> {
    type InitFn = unsafe extern "C" fn(CK_SESSION_HANDLE, *mut CK_ATTRIBUTE, CK_ULONG) -> CK_RV;
    let init: InitFn = c_fn("C_FindObjectsInit");
    // SAFETY: an empty template may be NULL.
    let rv = unsafe { init(session.handle(), std::ptr::null_mut(), 0) };
    Rv::from(rv).into_result(Function::FindObjectsInit)
}

fn find_next(session: &Session) -> Result<Vec<CK_OBJECT_HANDLE>> {
    type NextFn = unsafe extern "C" fn(
        CK_SESSION_HANDLE,
        *mut CK_OBJECT_HANDLE,
        CK_ULONG,
        *mut CK_ULONG,
    ) -> CK_RV;
    let next: NextFn = c_fn("C_FindObjects");
    let mut out = [0; 16];
    let mut count = 0;
    // SAFETY: `out` holds 16 handles.
    let rv = unsafe { next(session.handle(), out.as_mut_ptr(), 16, &mut count) };
    Rv::from(rv)
        .into_result(Function::FindObjects)
        .map(|()| out[..count as usize].to_vec())
}

fn find_final(session: &Session) -> Result<()> {
    type FinalFn = unsafe extern "C" fn(CK_SESSION_HANDLE) -> CK_RV;
    let fin: FinalFn = c_fn("C_FindObjectsFinal");
    // SAFETY: plain value argument.
    Rv::from(unsafe { fin(session.handle()) }).into_result(Function::FindObjectsFinal)
}

// ---------------------------------------------------------------------------------------------
// Object builders
// ---------------------------------------------------------------------------------------------

const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn label(text: &str) -> Attribute {
    Attribute::Label(text.as_bytes().to_vec())
}

fn data_template(name: &str, token: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(false),
        label(name),
        Attribute::Application(b"keyward tests".to_vec()),
        Attribute::Value(format!("value of {name}").into_bytes()),
    ]
}

fn create(session: &Session, template: &[Attribute]) -> ObjectHandle {
    session.create_object(template).expect("C_CreateObject")
}

fn data(session: &Session, name: &str) -> ObjectHandle {
    create(session, &data_template(name, false))
}

/// An imported AES key with the given value and flags.
fn aes_import(session: &Session, key: &[u8], sensitive: bool, extractable: bool) -> ObjectHandle {
    create(
        session,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(key.to_vec()),
            Attribute::Sensitive(sensitive),
            Attribute::Extractable(extractable),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            label("imported aes"),
        ],
    )
}

/// A session AES key generated with CKM_AES_KEY_GEN.
fn aes_generate(session: &Session, sensitive: bool, extractable: bool) -> ObjectHandle {
    session
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Sensitive(sensitive),
                Attribute::Extractable(extractable),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                label("generated aes"),
            ],
        )
        .expect("C_GenerateKey")
}

fn ec_pair(session: &Session) -> (ObjectHandle, ObjectHandle) {
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Verify(true),
            ],
            &[Attribute::Sign(true), Attribute::Sensitive(true)],
        )
        .expect("C_GenerateKeyPair")
}

/// Provenance of a key: (CKA_LOCAL, CKA_KEY_GEN_MECHANISM).
fn provenance(session: &Session, key: ObjectHandle) -> (bool, CK_ULONG) {
    (
        flag(session, key, CKA_LOCAL),
        ulong(session, key, CKA_KEY_GEN_MECHANISM),
    )
}

/// (CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE) of a secret or private key.
fn history(session: &Session, key: ObjectHandle) -> (bool, bool) {
    (
        flag(session, key, CKA_ALWAYS_SENSITIVE),
        flag(session, key, CKA_NEVER_EXTRACTABLE),
    )
}

fn set(session: &Session, object: ObjectHandle, attr: Attribute) -> Result<()> {
    session.update_attributes(object, &[attr])
}

fn labels_found(session: &Session, template: &[Attribute]) -> HashSet<String> {
    session
        .find_objects(template)
        .expect("C_FindObjects")
        .into_iter()
        .map(|o| String::from_utf8(value(session, o, CKA_LABEL)).expect("utf-8 label"))
        .collect()
}

fn set_of(labels: &[&str]) -> HashSet<String> {
    labels.iter().map(|s| s.to_string()).collect()
}

/// A logged-in user session plus a second, public R/W session on the same fresh token.
fn user_and_rw() -> (Session, Session) {
    let (slot, _) = common::fresh_token();
    let user = p11().open_rw_session(slot).expect("C_OpenSession");
    let other = p11().open_rw_session(slot).expect("C_OpenSession");
    (user, other)
}

// ---------------------------------------------------------------------------------------------
// Data objects, certificates, keys
// ---------------------------------------------------------------------------------------------

#[test]
fn data_objects_are_created_copied_and_destroyed() {
    let session = common::user_session();
    let original = data(&session, "original");
    assert_eq!(ulong(&session, original, CKA_CLASS), CKO_DATA);
    assert_eq!(value(&session, original, CKA_LABEL), b"original");
    assert_eq!(value(&session, original, CKA_VALUE), b"value of original");
    assert_eq!(value(&session, original, CKA_APPLICATION), b"keyward tests");
    assert!(!flag(&session, original, CKA_TOKEN));

    let copy = session
        .copy_object(original, &[label("copy")])
        .expect("C_CopyObject");
    assert_ne!(copy, original);
    assert_eq!(value(&session, copy, CKA_LABEL), b"copy");
    assert_eq!(value(&session, copy, CKA_VALUE), b"value of original");
    assert_eq!(value(&session, original, CKA_LABEL), b"original");

    session.destroy_object(original).expect("C_DestroyObject");
    assert_rv(
        session.get_attributes(original, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
    assert_eq!(value(&session, copy, CKA_VALUE), b"value of original");
}

#[test]
fn copy_can_make_a_token_object_of_a_session_object() {
    let session = common::user_session();
    let original = data(&session, "to token");
    let copy = session
        .copy_object(original, &[Attribute::Token(true)])
        .expect("C_CopyObject");
    assert!(flag(&session, copy, CKA_TOKEN));
    assert!(!flag(&session, original, CKA_TOKEN));
}

fn certificate_template(subject: &[u8]) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Subject(subject.to_vec()),
        Attribute::Id(b"cert-id".to_vec()),
        Attribute::Value(vec![0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x01]),
        label("certificate"),
    ]
}

#[test]
fn x509_certificates_are_stored_and_read_back() {
    let session = common::user_session();
    let subject = [
        0x30, 0x0b, 0x31, 0x09, 0x30, 0x07, 0x06, 0x03, 0x55, 0x04, 0x03,
    ];
    let cert = create(&session, &certificate_template(&subject));
    assert_eq!(ulong(&session, cert, CKA_CLASS), CKO_CERTIFICATE);
    assert_eq!(ulong(&session, cert, CKA_CERTIFICATE_TYPE), CKC_X_509);
    assert_eq!(value(&session, cert, CKA_SUBJECT), subject);
    assert_eq!(
        value(&session, cert, CKA_VALUE),
        [0x30, 0x82, 0x01, 0x0a, 0x02, 0x01, 0x01]
    );
    let found = session
        .find_objects(&[
            Attribute::Class(ObjectClass::CERTIFICATE),
            Attribute::Id(b"cert-id".to_vec()),
        ])
        .expect("C_FindObjects");
    assert_eq!(found, vec![cert]);
}

#[test]
fn certificates_need_their_type_and_subject() {
    let session = common::user_session();
    let without = |ty: AttributeType| -> Vec<Attribute> {
        certificate_template(b"subject")
            .into_iter()
            .filter(|a| a.attribute_type() != ty)
            .collect()
    };
    assert_rv(
        session.create_object(&without(AttributeType::CertificateType)),
        RvError::TemplateIncomplete,
    );
    assert_rv(
        session.create_object(&without(AttributeType::Subject)),
        RvError::TemplateIncomplete,
    );
}

#[test]
fn imported_secret_key_reads_back_and_is_not_local() {
    let session = common::user_session();
    let key_bytes: Vec<u8> = (0u8..32).collect();
    let key = aes_import(&session, &key_bytes, false, true);
    assert_eq!(ulong(&session, key, CKA_CLASS), CKO_SECRET_KEY);
    assert_eq!(ulong(&session, key, CKA_KEY_TYPE), CKK_AES);
    assert_eq!(value(&session, key, CKA_VALUE), key_bytes);
    assert_eq!(ulong(&session, key, CKA_VALUE_LEN), 32);
    assert_eq!(
        provenance(&session, key),
        (false, CK_UNAVAILABLE_INFORMATION)
    );
    assert_eq!(history(&session, key), (false, false));

    let iv = [7u8; 16];
    let ciphertext = session
        .encrypt(&Mechanism::AesCbcPad(iv), key, b"imported key works")
        .expect("C_Encrypt");
    let plaintext = session
        .decrypt(&Mechanism::AesCbcPad(iv), key, &ciphertext)
        .expect("C_Decrypt");
    assert_eq!(plaintext, b"imported key works");
}

#[test]
fn generated_secret_key_is_local_and_remembers_its_history() {
    let session = common::user_session();
    let locked = aes_generate(&session, true, false);
    assert_eq!(provenance(&session, locked), (true, CKM_AES_KEY_GEN));
    assert_eq!(history(&session, locked), (true, true));
    assert_eq!(ulong(&session, locked, CKA_VALUE_LEN), 16);

    let open = aes_generate(&session, false, true);
    assert_eq!(provenance(&session, open), (true, CKM_AES_KEY_GEN));
    assert_eq!(history(&session, open), (false, false));
    assert_eq!(value(&session, open, CKA_VALUE).len(), 16);
    set(&session, open, Attribute::Sensitive(true)).expect("sensitive false -> true");
    set(&session, open, Attribute::Extractable(false)).expect("extractable true -> false");
    assert_eq!(
        history(&session, open),
        (false, false),
        "the key was once readable: ALWAYS_SENSITIVE and NEVER_EXTRACTABLE stay false"
    );
}

#[test]
fn generated_key_pair_and_imported_public_key() {
    let session = common::user_session();
    let (public, private) = ec_pair(&session);
    assert_eq!(ulong(&session, public, CKA_CLASS), CKO_PUBLIC_KEY);
    assert_eq!(ulong(&session, private, CKA_CLASS), CKO_PRIVATE_KEY);
    assert_eq!(ulong(&session, public, CKA_KEY_TYPE), CKK_EC);
    for key in [public, private] {
        assert_eq!(provenance(&session, key), (true, CKM_EC_KEY_PAIR_GEN));
    }
    assert_eq!(history(&session, private), (true, true));
    let point = value(&session, public, CKA_EC_POINT);
    assert_eq!(value(&session, public, CKA_EC_PARAMS), P256_PARAMS);

    let imported = create(
        &session,
        &[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256_PARAMS.to_vec()),
            Attribute::EcPoint(point),
            Attribute::Verify(true),
        ],
    );
    assert_eq!(
        provenance(&session, imported),
        (false, CK_UNAVAILABLE_INFORMATION)
    );
    let signature = session
        .sign(&Mechanism::EcdsaSha256, private, b"signed data")
        .expect("C_Sign");
    session
        .verify(
            &Mechanism::EcdsaSha256,
            imported,
            b"signed data",
            &signature,
        )
        .expect("C_Verify with the imported public key");
}

// ---------------------------------------------------------------------------------------------
// C_GetAttributeValue
// ---------------------------------------------------------------------------------------------

#[test]
fn null_value_pointers_ask_for_exact_sizes() {
    let session = common::user_session();
    let object = data(&session, "sized");
    let (rv, answers) = get_raw(
        &session,
        object,
        &[(CKA_LABEL, None), (CKA_CLASS, None), (CKA_TOKEN, None)],
    );
    rv.expect("size query");
    let lens: Vec<CK_ULONG> = answers.iter().map(|a| a.len).collect();
    assert_eq!(lens, [5, std::mem::size_of::<CK_ULONG>() as CK_ULONG, 1]);
    let info = session
        .get_attribute_info(object, &[AttributeType::Value])
        .expect("C_GetAttributeValue");
    assert!(matches!(info[0], AttributeInfo::Available(14)), "{info:?}");
}

#[test]
fn sensitive_values_are_unavailable_while_the_rest_is_filled() {
    let session = common::user_session();
    let sensitive = aes_import(&session, &[0x5a; 16], true, true);
    let unextractable = aes_import(&session, &[0xa5; 16], false, false);
    for key in [sensitive, unextractable] {
        let (rv, answers) = get_raw(
            &session,
            key,
            &[
                (CKA_LABEL, Some(64)),
                (CKA_VALUE, Some(64)),
                (CKA_KEY_TYPE, Some(8)),
            ],
        );
        assert_rv(rv, RvError::AttributeSensitive);
        assert_eq!(answers[1].len, CK_UNAVAILABLE_INFORMATION);
        assert_eq!(answers[0].value.as_deref(), Some(&b"imported aes"[..]));
        assert_eq!(
            answers[2].value.as_deref(),
            Some(&CKK_AES.to_ne_bytes()[..])
        );
    }
    let info = session
        .get_attribute_info(sensitive, &[AttributeType::Value])
        .expect("C_GetAttributeValue");
    assert!(matches!(info[0], AttributeInfo::Sensitive), "{info:?}");
}

#[test]
fn attributes_the_object_lacks_are_type_invalid() {
    let session = common::user_session();
    let object = data(&session, "no modulus");
    let (rv, answers) = get_raw(
        &session,
        object,
        &[(CKA_MODULUS, Some(64)), (CKA_LABEL, Some(64))],
    );
    assert_rv(rv, RvError::AttributeTypeInvalid);
    assert_eq!(answers[0].len, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(answers[1].value.as_deref(), Some(&b"no modulus"[..]));
}

#[test]
fn short_buffers_are_reported_per_attribute() {
    let session = common::user_session();
    let object = data(&session, "a rather long label");
    let (rv, answers) = get_raw(
        &session,
        object,
        &[(CKA_LABEL, Some(4)), (CKA_APPLICATION, Some(64))],
    );
    assert_rv(rv, RvError::BufferTooSmall);
    assert_eq!(answers[0].len, CK_UNAVAILABLE_INFORMATION);
    assert_eq!(answers[1].value.as_deref(), Some(&b"keyward tests"[..]));
}

// ---------------------------------------------------------------------------------------------
// C_SetAttributeValue and token-maintained attributes
// ---------------------------------------------------------------------------------------------

#[test]
fn labels_change_but_class_and_key_type_do_not() {
    let session = common::user_session();
    let key = aes_import(&session, &[1; 16], true, false);
    set(&session, key, label("renamed")).expect("C_SetAttributeValue label");
    assert_eq!(value(&session, key, CKA_LABEL), b"renamed");
    assert_rv(
        set(&session, key, Attribute::Class(ObjectClass::DATA)),
        RvError::AttributeReadOnly,
    );
    assert_rv(
        set(&session, key, Attribute::KeyType(KeyType::GENERIC_SECRET)),
        RvError::AttributeReadOnly,
    );
    assert_eq!(ulong(&session, key, CKA_CLASS), CKO_SECRET_KEY);
    assert_eq!(ulong(&session, key, CKA_KEY_TYPE), CKK_AES);
}

#[test]
fn sensitive_only_turns_on_and_extractable_only_turns_off() {
    let session = common::user_session();
    let key = aes_import(&session, &[2; 16], false, true);
    set(&session, key, Attribute::Sensitive(true)).expect("sensitive false -> true");
    assert_rv(
        set(&session, key, Attribute::Sensitive(false)),
        RvError::AttributeReadOnly,
    );
    assert!(flag(&session, key, CKA_SENSITIVE));
    set(&session, key, Attribute::Extractable(false)).expect("extractable true -> false");
    assert_rv(
        set(&session, key, Attribute::Extractable(true)),
        RvError::AttributeReadOnly,
    );
    assert!(!flag(&session, key, CKA_EXTRACTABLE));
}

#[test]
fn unmodifiable_uncopyable_indestructible_objects_refuse() {
    let session = common::user_session();
    let mut template = data_template("locked down", false);
    template.extend([
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
        Attribute::Destroyable(false),
    ]);
    let object = create(&session, &template);
    assert_rv(
        set(&session, object, label("changed")),
        RvError::ActionProhibited,
    );
    assert_rv(session.copy_object(object, &[]), RvError::ActionProhibited);
    assert_rv(session.destroy_object(object), RvError::ActionProhibited);
    assert_eq!(value(&session, object, CKA_LABEL), b"locked down");
}

#[test]
fn token_maintained_attributes_cannot_be_supplied() {
    let session = common::user_session();
    let aes = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![3; 16]),
    ];
    for extra in [
        Attribute::Local(true),
        Attribute::Local(false),
        Attribute::UniqueId(b"mine".to_vec()),
        Attribute::AlwaysSensitive(true),
        Attribute::NeverExtractable(true),
    ] {
        let mut template = aes.to_vec();
        template.push(extra.clone());
        assert_rv(session.create_object(&template), RvError::AttributeReadOnly);
    }
    let mut template = data_template("with id", false);
    template.push(Attribute::UniqueId(b"chosen".to_vec()));
    assert_rv(session.create_object(&template), RvError::AttributeReadOnly);

    let key = create(&session, &aes);
    assert_rv(
        set(&session, key, Attribute::Local(true)),
        RvError::AttributeReadOnly,
    );
    assert_rv(
        set(&session, key, Attribute::UniqueId(b"other".to_vec())),
        RvError::AttributeReadOnly,
    );
    assert_rv(
        session.copy_object(key, &[Attribute::UniqueId(b"copy".to_vec())]),
        RvError::AttributeReadOnly,
    );
}

#[test]
fn every_object_has_its_own_unique_id() {
    let session = common::user_session();
    let first = data(&session, "first");
    let second = data(&session, "second");
    let copy = session.copy_object(first, &[]).expect("C_CopyObject");
    let key = aes_generate(&session, true, false);
    let token = create(&session, &data_template("token", true));
    let ids: Vec<Vec<u8>> = [first, second, copy, key, token]
        .iter()
        .map(|o| value(&session, *o, CKA_UNIQUE_ID))
        .collect();
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "{ids:?}"
    );
    assert_eq!(value(&session, first, CKA_UNIQUE_ID), ids[0], "stable");
}

// ---------------------------------------------------------------------------------------------
// Template errors (§4.1.1)
// ---------------------------------------------------------------------------------------------

#[test]
fn incomplete_templates_are_refused() {
    let session = common::user_session();
    assert_rv(
        session.create_object(&[label("classless"), Attribute::Token(false)]),
        RvError::TemplateIncomplete,
    );
    assert_rv(
        session.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Value(vec![4; 16]),
        ]),
        RvError::TemplateIncomplete,
    );
    assert_rv(
        session.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
        ]),
        RvError::TemplateIncomplete,
    );
}

/// Key generation templates must name what the mechanism cannot choose: the AES key length,
/// the RSA modulus size, the EC curve.
#[test]
fn incomplete_generation_templates_are_refused() {
    let session = common::user_session();
    assert_rv(
        session.generate_key(&Mechanism::AesKeyGen, &[Attribute::Encrypt(true)]),
        RvError::TemplateIncomplete,
    );
    for mechanism in [Mechanism::RsaPkcsKeyPairGen, Mechanism::EccKeyPairGen] {
        assert_rv(
            session.generate_key_pair(
                &mechanism,
                &[Attribute::Verify(true)],
                &[Attribute::Sign(true)],
            ),
            RvError::TemplateIncomplete,
        );
    }
}

/// §4.6.1: CKA_TRUSTED "can only be set to CK_TRUE by the SO user".
#[test]
fn only_the_so_may_mark_a_certificate_trusted() {
    let (slot, _) = common::fresh_token();
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    let mut trusted = certificate_template(b"trusted subject");
    trusted.push(Attribute::Trusted(true));
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    assert_rv(session.create_object(&trusted), RvError::AttributeReadOnly);
    let plain = create(&session, &certificate_template(b"plain subject"));
    assert_rv(
        set(&session, plain, Attribute::Trusted(true)),
        RvError::AttributeReadOnly,
    );
    session.logout().expect("C_Logout");
    session
        .login(UserType::So, Some(&pin(common::SO_PIN)))
        .expect("SO login");
    let cert = create(&session, &trusted);
    assert!(flag(&session, cert, CKA_TRUSTED));
}

#[test]
fn inconsistent_templates_are_refused() {
    let session = common::user_session();
    assert_rv(
        session.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::KeyType(KeyType::RSA),
            ],
        ),
        RvError::TemplateInconsistent,
    );
    assert_rv(
        session.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Class(ObjectClass::PRIVATE_KEY),
            ],
        ),
        RvError::TemplateInconsistent,
    );
}

#[test]
fn malformed_attribute_values_are_refused() {
    let session = common::user_session();
    let class = |c: CK_OBJECT_CLASS| (CKA_CLASS, c.to_ne_bytes().to_vec());
    assert_rv(
        create_raw(&session, &[class(CKO_DATA), (CKA_TOKEN, vec![1, 1])]),
        RvError::AttributeValueInvalid,
    );
    assert_rv(
        create_raw(&session, &[(CKA_CLASS, vec![0, 0, 0])]),
        RvError::AttributeValueInvalid,
    );
    assert_rv(
        create_raw(&session, &[class(0x7fff_0000)]),
        RvError::AttributeValueInvalid,
    );
    create_raw(&session, &[class(CKO_DATA), (CKA_TOKEN, vec![0])]).expect("well-formed");
}

// ---------------------------------------------------------------------------------------------
// Searching and visibility
// ---------------------------------------------------------------------------------------------

#[test]
fn find_objects_by_class_label_and_id() {
    let session = common::user_session();
    let mut with_id = data_template("data with id", true);
    with_id.push(Attribute::ObjectId(vec![0x06, 0x01, 0x01]));
    create(&session, &with_id);
    data(&session, "plain data");
    create(&session, &certificate_template(b"subject"));
    let key = aes_generate(&session, true, false);
    set(&session, key, Attribute::Id(b"key-id".to_vec())).expect("set CKA_ID");

    let all = set_of(&["data with id", "plain data", "certificate", "generated aes"]);
    assert_eq!(labels_found(&session, &[]), all, "empty template finds all");
    assert_eq!(
        labels_found(&session, &[Attribute::Class(ObjectClass::DATA)]),
        set_of(&["data with id", "plain data"])
    );
    assert_eq!(
        labels_found(&session, &[label("plain data")]),
        set_of(&["plain data"])
    );
    assert_eq!(
        labels_found(&session, &[Attribute::Id(b"key-id".to_vec())]),
        set_of(&["generated aes"])
    );
    assert_eq!(
        labels_found(&session, &[Attribute::Token(true)]),
        set_of(&["data with id", "certificate"])
    );
    assert!(labels_found(&session, &[label("nothing like this")]).is_empty());
}

#[test]
fn private_objects_are_invisible_until_the_user_logs_in() {
    let (slot, _) = common::fresh_token();
    let session = p11().open_rw_session(slot).expect("C_OpenSession");
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    let mut private = data_template("secret data", true);
    private[2] = Attribute::Private(true);
    let hidden = create(&session, &private);
    create(&session, &data_template("public data", true));
    session.logout().expect("C_Logout");

    assert_eq!(labels_found(&session, &[]), set_of(&["public data"]));
    assert_rv(
        session.get_attributes(hidden, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
    session
        .login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    assert_eq!(
        labels_found(&session, &[]),
        set_of(&["public data", "secret data"])
    );
    assert_eq!(value(&session, hidden, CKA_LABEL), b"secret data");
}

#[test]
fn session_objects_are_shared_and_die_with_their_session() {
    let (owner, other) = user_and_rw();
    let object = data(&owner, "ephemeral");
    assert_eq!(labels_found(&other, &[]), set_of(&["ephemeral"]));
    assert_eq!(value(&other, object, CKA_LABEL), b"ephemeral");
    owner.close().expect("C_CloseSession");
    assert!(labels_found(&other, &[]).is_empty());
    assert_rv(
        other.get_attributes(object, &[AttributeType::Label]),
        RvError::ObjectHandleInvalid,
    );
}

#[test]
fn token_objects_need_a_read_write_session() {
    let (slot, _) = common::fresh_token();
    let rw = p11().open_rw_session(slot).expect("C_OpenSession");
    let token_object = create(&rw, &data_template("on token", true));
    let ro = p11().open_ro_session(slot).expect("C_OpenSession RO");
    assert_rv(
        ro.create_object(&data_template("ro token", true)),
        RvError::SessionReadOnly,
    );
    assert_rv(
        set(&ro, token_object, label("renamed")),
        RvError::SessionReadOnly,
    );
    assert_rv(ro.destroy_object(token_object), RvError::SessionReadOnly);
    let session_object = create(&ro, &data_template("ro session", false));
    set(&ro, session_object, label("renamed in ro")).expect("session objects are R/W");
    ro.destroy_object(session_object).expect("C_DestroyObject");
}

#[test]
fn private_objects_need_the_user() {
    let (user, other) = user_and_rw();
    let private_data = |token: bool| {
        let mut template = data_template("private", token);
        template[2] = Attribute::Private(true);
        template
    };
    for token in [true, false] {
        assert_rv(
            user.create_object(&private_data(token)),
            RvError::UserNotLoggedIn,
        );
    }
    other
        .login(UserType::So, Some(&pin(common::SO_PIN)))
        .expect("SO login");
    assert_rv(
        user.create_object(&private_data(true)),
        RvError::UserNotLoggedIn,
    );
    other.logout().expect("C_Logout");
    user.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    create(&user, &private_data(true));
}

#[test]
fn object_size_is_reported() {
    let session = common::user_session();
    let small = data(&session, "small");
    let mut big = data_template("big", false);
    big[5] = Attribute::Value(vec![9; 4096]);
    let big = create(&session, &big);
    let small_size = object_size(&session, small).expect("C_GetObjectSize");
    let big_size = object_size(&session, big).expect("C_GetObjectSize");
    assert_ne!(small_size, 0);
    if big_size != CK_UNAVAILABLE_INFORMATION {
        assert!(big_size >= 4096, "size {big_size} covers the 4 KiB value");
    }
    session.destroy_object(big).expect("C_DestroyObject");
    assert_rv(object_size(&session, big), RvError::ObjectHandleInvalid);
}

#[test]
fn destroyed_handles_are_invalid_everywhere() {
    let session = common::user_session();
    let object = data(&session, "doomed");
    session.destroy_object(object).expect("C_DestroyObject");
    assert_rv(session.destroy_object(object), RvError::ObjectHandleInvalid);
    assert_rv(
        set(&session, object, label("x")),
        RvError::ObjectHandleInvalid,
    );
    assert_rv(
        session.copy_object(object, &[]),
        RvError::ObjectHandleInvalid,
    );
    let (rv, _) = get_raw(&session, object, &[(CKA_LABEL, None)]);
    assert_rv(rv, RvError::ObjectHandleInvalid);
    assert!(labels_found(&session, &[]).is_empty());
}

#[test]
fn a_second_find_objects_init_is_refused() {
    let session = common::user_session();
    let object = data(&session, "findable");
    find_init_all(&session).expect("C_FindObjectsInit");
    assert_rv(find_init_all(&session), RvError::OperationActive);
    assert_eq!(
        find_next(&session).expect("C_FindObjects"),
        vec![object.handle()]
    );
    assert!(find_next(&session).expect("C_FindObjects").is_empty());
    find_final(&session).expect("C_FindObjectsFinal");
    assert_rv(find_next(&session), RvError::OperationNotInitialized);
    assert_rv(find_final(&session), RvError::OperationNotInitialized);
    find_init_all(&session).expect("C_FindObjectsInit after final");
    find_final(&session).expect("C_FindObjectsFinal");
}
