//! Malformed templates on every call that takes one: CK_ULONG and CK_BBOOL attributes of the
//! wrong length (CKR_ATTRIBUTE_VALUE_INVALID), duplicated attributes (PKCS#11 3.0 §4.1.1: the
//! same value twice may succeed or fail with CKR_TEMPLATE_INCONSISTENT; two different values
//! are inconsistent), NULL values with a length (CKR_ARGUMENTS_BAD), unknown attribute types
//! (CKR_ATTRIBUTE_TYPE_INVALID) and malformed attribute arrays.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr::null;

use cryptoki_sys::*;

use crate::support::*;

const AVI: &[CK_RV] = &[CKR_ATTRIBUTE_VALUE_INVALID];
const INCONSISTENT: &[CK_RV] = &[CKR_TEMPLATE_INCONSISTENT];
const AB: &[CK_RV] = &[CKR_ARGUMENTS_BAD];

/// Where a template goes: each entry calls one template-taking export with a valid base
/// template plus `extra`, and destroys whatever it created.
type Target = (
    &'static str,
    fn(CK_SESSION_HANDLE, &[CK_ATTRIBUTE]) -> CK_RV,
);

fn targets() -> Vec<Target> {
    vec![
        ("C_CreateObject(AES key)", create_object),
        ("C_GenerateKey(AES)", generate_key),
        ("C_GenerateKeyPair(EC, public template)", generate_key_pair),
        ("C_CopyObject(data object)", copy_object),
        ("C_SetAttributeValue(data object)", set_attribute_value),
        ("C_UnwrapKey(AES-KEY-WRAP-PAD)", unwrap_key),
        ("C_DeriveKey(HKDF)", derive_key),
    ]
}

/// Destroy `handle` if the call made one (so a wrongly accepted template leaves nothing).
fn cleanup(h: CK_SESSION_HANDLE, rv: CK_RV, handle: CK_OBJECT_HANDLE) -> CK_RV {
    if rv == CKR_OK {
        ck!(C_DestroyObject(h, handle));
    }
    rv
}

/// `base` with `extra` added; an attribute of `extra` replaces the base's of its type.
fn with(base: &[CK_ATTRIBUTE], extra: &[CK_ATTRIBUTE]) -> Vec<CK_ATTRIBUTE> {
    base.iter()
        .filter(|b| extra.iter().all(|e| e.type_ != b.type_))
        .chain(extra)
        .copied()
        .collect()
}

fn create_object(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    let (class, kt, value) = (CKO_SECRET_KEY, CKK_AES, [5u8; 16]);
    let base = [
        attr(CKA_CLASS, &class),
        attr(CKA_KEY_TYPE, &kt),
        attr(CKA_VALUE, &value),
    ];
    let mut t = with(&base, extra);
    let mut obj = 0;
    let rv = ck!(C_CreateObject(
        h,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    cleanup(h, rv, obj)
}

fn generate_key(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    let len: CK_ULONG = 16;
    let base = [attr(CKA_VALUE_LEN, &len)];
    let mut t = with(&base, extra);
    let mut m = mech(CKM_AES_KEY_GEN);
    let mut obj = 0;
    let rv = ck!(C_GenerateKey(
        h,
        &mut m,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    cleanup(h, rv, obj)
}

fn generate_key_pair(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    let base = [attr(CKA_EC_PARAMS, &P256)];
    let mut public = with(&base, extra);
    let mut private = [attr(CKA_SIGN, &TRUE)];
    let mut m = mech(CKM_EC_KEY_PAIR_GEN);
    let (mut pb, mut pv) = (0, 0);
    let rv = ck!(C_GenerateKeyPair(
        h,
        &mut m,
        public.as_mut_ptr(),
        public.len() as CK_ULONG,
        private.as_mut_ptr(),
        1,
        &mut pb,
        &mut pv
    ));
    if rv == CKR_OK {
        ck!(C_DestroyObject(h, pb));
    }
    cleanup(h, rv, pv)
}

fn copy_object(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    let mut t = extra.to_vec();
    let mut obj = 0;
    let rv = ck!(C_CopyObject(
        h,
        fixture().data,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    cleanup(h, rv, obj)
}

fn set_attribute_value(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    // A data object of this call's own, so a wrongly accepted change hurts nobody.
    let obj = data_object(h);
    let mut t = extra.to_vec();
    let rv = ck!(C_SetAttributeValue(
        h,
        obj,
        t.as_mut_ptr(),
        t.len() as CK_ULONG
    ));
    ck!(C_DestroyObject(h, obj));
    rv
}

fn unwrap_key(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    let fx = fixture();
    let mut m = mech(CKM_AES_KEY_WRAP_PAD);
    let mut wrapped = [0u8; 64];
    let mut n: CK_ULONG = 64;
    let rv = ck!(C_WrapKey(
        h,
        &mut m,
        fx.aes,
        fx.aes_extractable,
        wrapped.as_mut_ptr(),
        &mut n
    ));
    assert_eq!(rv, CKR_OK, "C_WrapKey for the unwrap rows");
    let (class, kt) = (CKO_SECRET_KEY, CKK_AES);
    let base = [attr(CKA_CLASS, &class), attr(CKA_KEY_TYPE, &kt)];
    let mut t = with(&base, extra);
    let mut obj = 0;
    let rv = ck!(C_UnwrapKey(
        h,
        &mut m,
        fx.aes,
        wrapped.as_mut_ptr(),
        n,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    cleanup(h, rv, obj)
}

fn derive_key(h: CK_SESSION_HANDLE, extra: &[CK_ATTRIBUTE]) -> CK_RV {
    let (class, kt) = (CKO_SECRET_KEY, CKK_GENERIC_SECRET);
    let len: CK_ULONG = 16;
    let base = [
        attr(CKA_CLASS, &class),
        attr(CKA_KEY_TYPE, &kt),
        attr(CKA_VALUE_LEN, &len),
    ];
    let mut t = with(&base, extra);
    let hkdf = hkdf_params();
    let mut m = mech_p(CKM_HKDF_DERIVE, &hkdf);
    let mut obj = 0;
    let rv = ck!(C_DeriveKey(
        h,
        &mut m,
        fixture().hmac,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    cleanup(h, rv, obj)
}

/// C_SetAttributeValue may refuse an attribute that cannot change at all
/// (CKR_ATTRIBUTE_READ_ONLY) before looking at its value: the spec orders neither check.
fn or_read_only(what: &str, codes: &[CK_RV]) -> Vec<CK_RV> {
    let mut v = codes.to_vec();
    if what.starts_with("C_SetAttributeValue") {
        v.push(CKR_ATTRIBUTE_READ_ONLY);
    }
    v
}

/// Bytes a malformed value points at (never read past its claimed length).
static BYTES: [u8; 64] = [1; 64];

fn raw(ty: CK_ATTRIBUTE_TYPE, len: usize) -> CK_ATTRIBUTE {
    attr_raw(ty, BYTES.as_ptr() as *const c_void, len as CK_ULONG)
}

#[test]
fn wrong_lengths_of_ulong_and_bool_attributes() {
    let h = session();
    let mut c = Checks::new("wrong_lengths_of_ulong_and_bool_attributes");
    let ulong = size_of::<CK_ULONG>();
    // (attribute, its correct length) — each is valid on every target's object.
    let bools = [CKA_TOKEN, CKA_PRIVATE, CKA_MODIFIABLE];
    // Attributes each kind of object has (a wrong type for the class is another error).
    let secret_bools = [CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_ENCRYPT, CKA_SIGN];
    let public_bools = [CKA_VERIFY, CKA_DERIVE];
    for (what, target) in targets() {
        let mut types: Vec<(CK_ATTRIBUTE_TYPE, usize)> = bools.iter().map(|t| (*t, 1)).collect();
        if what.contains("C_GenerateKeyPair") {
            types.extend(public_bools.iter().map(|t| (*t, 1)));
            types.push((CKA_KEY_TYPE, ulong));
        } else if !what.contains("data object") {
            types.extend(secret_bools.iter().map(|t| (*t, 1)));
            types.push((CKA_KEY_TYPE, ulong));
        }
        if what.contains("C_GenerateKey(") || what.contains("C_DeriveKey") {
            types.push((CKA_VALUE_LEN, ulong));
        }
        for (ty, right) in types {
            for len in [0, 1, 2, 4, 8, 16].into_iter().filter(|l| *l != right) {
                let rv = target(h, &[raw(ty, len)]);
                c.rv(
                    format!("{what}: attribute {ty:#x} of {len} bytes"),
                    rv,
                    &or_read_only(what, AVI),
                );
            }
        }
        // CKA_CLASS of the wrong length where the call accepts a class.
        if !what.contains("C_Copy") && !what.contains("C_SetAttribute") {
            let rv = target(h, &[raw(CKA_CLASS, 4)]);
            c.rv(
                format!("{what}: CKA_CLASS of 4 bytes"),
                rv,
                &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT],
            );
        }
    }
    // In a search template a malformed value matches nothing or is refused.
    for (ty, len) in [
        (CKA_CLASS, 4),
        (CKA_TOKEN, 4),
        (CKA_SIGN, 0),
        (CKA_KEY_TYPE, 1),
    ] {
        let mut t = [raw(ty, len)];
        let rv = ck!(C_FindObjectsInit(h, t.as_mut_ptr(), 1));
        c.rv(
            format!("C_FindObjectsInit: attribute {ty:#x} of {len} bytes"),
            rv,
            &[CKR_OK, CKR_ATTRIBUTE_VALUE_INVALID],
        );
        if rv == CKR_OK {
            let mut found = [0; 4];
            let mut n = 0;
            ck!(C_FindObjects(h, found.as_mut_ptr(), 4, &mut n));
            c.ok(format!("a malformed {ty:#x} matches nothing"), n == 0);
            ck!(C_FindObjectsFinal(h));
        }
    }
    close(h);
    c.done();
}

#[test]
fn duplicated_attributes() {
    let h = session();
    let mut c = Checks::new("duplicated_attributes");
    let label_a = *b"first";
    let label_b = *b"second";
    for (what, target) in targets() {
        let same = [attr(CKA_LABEL, &label_a), attr(CKA_LABEL, &label_a)];
        let rv = target(h, &same);
        c.rv(
            format!("{what}: CKA_LABEL twice, same value"),
            rv,
            &[CKR_OK, CKR_TEMPLATE_INCONSISTENT],
        );
        let different = [attr(CKA_LABEL, &label_a), attr(CKA_LABEL, &label_b)];
        let rv = target(h, &different);
        c.rv(
            format!("{what}: CKA_LABEL twice, two values"),
            rv,
            INCONSISTENT,
        );
        let flags = [attr(CKA_TOKEN, &FALSE), attr(CKA_TOKEN, &TRUE)];
        let rv = target(h, &flags);
        c.rv(
            format!("{what}: CKA_TOKEN false then true"),
            rv,
            &or_read_only(what, INCONSISTENT),
        );
    }
    let class = CKO_DATA;
    let other = CKO_SECRET_KEY;
    let mut t = [attr(CKA_CLASS, &class), attr(CKA_CLASS, &other)];
    let rv = ck!(C_FindObjectsInit(h, t.as_mut_ptr(), 2));
    c.rv(
        "C_FindObjectsInit: CKA_CLASS twice, two values",
        rv,
        &[CKR_OK, CKR_TEMPLATE_INCONSISTENT],
    );
    if rv == CKR_OK {
        ck!(C_FindObjectsFinal(h));
    }
    close(h);
    c.done();
}

#[test]
fn null_values_unknown_types_and_bad_arrays() {
    let h = session();
    let mut c = Checks::new("null_values_unknown_types_and_bad_arrays");
    let empty_label = attr_raw(CKA_LABEL, null(), 0);
    for (what, target) in targets() {
        let rv = target(h, &[attr_raw(CKA_LABEL, null(), 5)]);
        c.rv(format!("{what}: CKA_LABEL NULL with length 5"), rv, AB);
        let rv = target(h, &[attr_raw(CKA_TOKEN, null(), 1)]);
        c.rv(format!("{what}: CKA_TOKEN NULL with length 1"), rv, AB);
        let rv = target(h, &[empty_label]);
        c.rv(format!("{what}: empty CKA_LABEL (NULL, 0)"), rv, &[CKR_OK]);
        let rv = target(h, &[attr_raw(CKA_TOKEN, null(), 0)]);
        c.rv(
            format!("{what}: CKA_TOKEN NULL with length 0"),
            rv,
            &or_read_only(what, AVI),
        );
        let rv = target(h, &[raw(0x7fff_0000, 1)]);
        c.rv(
            format!("{what}: unknown attribute type 0x7fff0000"),
            rv,
            &[CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCONSISTENT],
        );
    }
    let mut t = [attr_raw(CKA_LABEL, null(), 3)];
    let rv = ck!(C_FindObjectsInit(h, t.as_mut_ptr(), 1));
    c.rv("C_FindObjectsInit: CKA_LABEL NULL with length 3", rv, AB);

    // Attribute arrays (CKA_WRAP_TEMPLATE) on a key: a length that is no whole number of
    // CK_ATTRIBUTEs, NULL with a length, and an array nested in an array.
    let inner_value = TRUE;
    let inner = [attr(CKA_EXTRACTABLE, &inner_value)];
    let nested = [attr_raw(
        CKA_WRAP_TEMPLATE,
        inner.as_ptr() as *const c_void,
        size_of::<CK_ATTRIBUTE>() as CK_ULONG,
    )];
    let size = size_of::<CK_ATTRIBUTE>();
    let arrays = [
        (
            "CKA_WRAP_TEMPLATE of 1.5 attributes",
            attr_raw(
                CKA_WRAP_TEMPLATE,
                inner.as_ptr() as *const c_void,
                (size + size / 2) as CK_ULONG,
            ),
            &[CKR_ATTRIBUTE_VALUE_INVALID][..],
        ),
        (
            "CKA_WRAP_TEMPLATE NULL with a length",
            attr_raw(CKA_WRAP_TEMPLATE, null(), size as CK_ULONG),
            &[CKR_ATTRIBUTE_VALUE_INVALID, CKR_ARGUMENTS_BAD][..],
        ),
        (
            "CKA_UNWRAP_TEMPLATE with an array inside",
            attr_raw(
                CKA_UNWRAP_TEMPLATE,
                nested.as_ptr() as *const c_void,
                size as CK_ULONG,
            ),
            &[CKR_ATTRIBUTE_VALUE_INVALID][..],
        ),
    ];
    for (what, a, allowed) in arrays {
        let rv = create_object(h, &[a]);
        c.rv(format!("C_CreateObject(AES key): {what}"), rv, allowed);
    }
    close(h);
    c.done();
}

/// A well-formed attribute array is accepted and reads back (the control for the rows above).
#[test]
fn well_formed_attribute_array_round_trips() {
    let h = session();
    let mut c = Checks::new("well_formed_attribute_array_round_trips");
    let inner = [attr(CKA_EXTRACTABLE, &TRUE), attr(CKA_SENSITIVE, &FALSE)];
    let array = attr_raw(
        CKA_WRAP_TEMPLATE,
        inner.as_ptr() as *const c_void,
        (2 * size_of::<CK_ATTRIBUTE>()) as CK_ULONG,
    );
    let (class, kt, value) = (CKO_SECRET_KEY, CKK_AES, [5u8; 16]);
    let mut t = [
        attr(CKA_CLASS, &class),
        attr(CKA_KEY_TYPE, &kt),
        attr(CKA_VALUE, &value),
        attr(CKA_TOKEN, &FALSE),
        attr(CKA_WRAP, &TRUE),
        array,
    ];
    let mut obj = 0;
    let rv = ck!(C_CreateObject(
        h,
        t.as_mut_ptr(),
        t.len() as CK_ULONG,
        &mut obj
    ));
    c.rv("C_CreateObject with CKA_WRAP_TEMPLATE", rv, &[CKR_OK]);
    let mut q = [attr_raw(CKA_WRAP_TEMPLATE, null(), 0)];
    let rv = ck!(C_GetAttributeValue(h, obj, q.as_mut_ptr(), 1));
    c.rv("C_GetAttributeValue(CKA_WRAP_TEMPLATE) size", rv, &[CKR_OK]);
    c.ok(
        "two attributes in the array",
        q[0].ulValueLen as usize == 2 * size_of::<CK_ATTRIBUTE>(),
    );
    let mut vals = [0u8; 2];
    let mut back = [
        attr_raw(0, vals.as_mut_ptr() as *const c_void, 1),
        attr_raw(0, vals[1..].as_mut_ptr() as *const c_void, 1),
    ];
    q[0].pValue = back.as_mut_ptr() as *mut c_void;
    let rv = ck!(C_GetAttributeValue(h, obj, q.as_mut_ptr(), 1));
    c.rv("C_GetAttributeValue(CKA_WRAP_TEMPLATE)", rv, &[CKR_OK]);
    let mut got: Vec<_> = back.iter().map(|a| a.type_).collect();
    got.sort();
    c.ok(
        "the array's types come back",
        got == vec![CKA_SENSITIVE, CKA_EXTRACTABLE],
    );
    c.rv("C_DestroyObject", ck!(C_DestroyObject(h, obj)), &[CKR_OK]);
    close(h);
    c.done();
}
