//! Wycheproof known-answer and negative tests (C2SP/wycheproof `testvectors_v1`, vendored in
//! `tests/data/wycheproof/`). Every vector runs through the module with session keys imported
//! by C_CreateObject: a "valid" vector must give exactly the expected output, an "invalid" one
//! must be refused with the right kind of CKR, an "acceptable" one may go either way but any
//! output must be correct. Each test prints a one-line summary; see them with
//! `cargo test --release --test wycheproof -- --nocapture`.
mod common;

#[path = "wycheproof/asymmetric.rs"]
mod asymmetric;
#[path = "wycheproof/symmetric.rs"]
mod symmetric;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use cryptoki::error::{Error, Result, RvError};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use common::user_session;

// ---------------------------------------------------------------------------------------------
// Vector files
// ---------------------------------------------------------------------------------------------

/// Bytes written as a hex string in the JSON.
#[derive(Deserialize, Debug)]
#[serde(try_from = "String")]
pub struct Hex(Vec<u8>);

impl TryFrom<String> for Hex {
    type Error = String;

    fn try_from(s: String) -> std::result::Result<Self, String> {
        if !s.len().is_multiple_of(2) {
            return Err(format!("odd-length hex string {s:?}"));
        }
        s.as_bytes()
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|digits| u8::from_str_radix(digits, 16).ok())
                    .ok_or_else(|| format!("bad hex digits in {s:?}"))
            })
            .collect::<std::result::Result<_, _>>()
            .map(Hex)
    }
}

impl std::ops::Deref for Hex {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

/// A vector's verdict as the file gives it.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Valid,
    Invalid,
    Acceptable,
}

/// One test vector: the common fields, then the family's own (`T`).
#[derive(Deserialize)]
pub struct Case<T> {
    #[serde(rename = "tcId")]
    pub id: u32,
    pub comment: String,
    #[serde(default)]
    pub flags: Vec<String>,
    pub result: Expect,
    #[serde(flatten)]
    pub data: T,
}

impl<T> Case<T> {
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }
}

/// A test group: the group's parameters (`P`, e.g. its public key) and its vectors.
#[derive(Deserialize)]
pub struct Group<P, T> {
    #[serde(flatten)]
    pub params: P,
    pub tests: Vec<Case<T>>,
}

/// For groups whose parameters the test does not need.
#[derive(Deserialize)]
pub struct NoParams {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Suite<G> {
    number_of_tests: usize,
    test_groups: Vec<G>,
}

/// The groups of `tests/data/wycheproof/<file>`, checked to hold `numberOfTests` vectors.
pub fn load<P: DeserializeOwned, T: DeserializeOwned>(file: &str) -> Vec<Group<P, T>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof")
        .join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let suite: Suite<Group<P, T>> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {file}: {e}"));
    let count: usize = suite.test_groups.iter().map(|g| g.tests.len()).sum();
    assert_eq!(count, suite.number_of_tests, "{file}: numberOfTests");
    suite.test_groups
}

// ---------------------------------------------------------------------------------------------
// Verdicts and the per-file tally
// ---------------------------------------------------------------------------------------------

/// What the module did with a vector, when that is allowed by the vector's expectation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Succeeded with the expected output.
    Accepted,
    /// Refused it the right way; the text says how when not by a plain CKR error.
    Rejected(&'static str),
    /// Not run, for the reason given (counted and printed).
    Skipped(&'static str),
}

/// A verdict, or why the module's behaviour is wrong for this vector.
pub type Outcome = std::result::Result<Verdict, String>;

pub const REJECTED: Verdict = Verdict::Rejected("");

/// The CKR code of a cryptoki error, if it is one.
fn code(e: &Error) -> Option<RvError> {
    match e {
        Error::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

pub fn is_code<T>(got: &Result<T>, rv: RvError) -> bool {
    matches!(got, Err(e) if code(e) == Some(rv))
}

pub fn show(e: &Error) -> String {
    match e {
        Error::Pkcs11(rv, function) => format!("{rv:?} from {function:?}"),
        other => format!("{other}"),
    }
}

/// Hex for failure messages, shortened.
fn hx(bytes: &[u8]) -> String {
    let mut s = String::new();
    for b in bytes.iter().take(32) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > 32 {
        let _ = write!(s, "…({} bytes)", bytes.len());
    }
    s
}

/// Judge one module call: success must give `want` (and an invalid vector must not succeed);
/// a refusal of an invalid vector must carry one of `refusals` (any CKR if empty).
pub fn check(expect: Expect, got: Result<Vec<u8>>, want: &[u8], refusals: &[RvError]) -> Outcome {
    match got {
        Ok(out) if expect == Expect::Invalid => Err(format!("accepted (output {})", hx(&out))),
        Ok(out) if out == want => Ok(Verdict::Accepted),
        Ok(out) => Err(format!("output {}, expected {}", hx(&out), hx(want))),
        Err(e) => match (expect, code(&e)) {
            (Expect::Valid, _) => Err(format!("refused: {}", show(&e))),
            (_, None) => Err(format!("not a PKCS#11 error: {e}")),
            (Expect::Invalid, Some(rv)) if !refusals.is_empty() && !refusals.contains(&rv) => Err(
                format!("refused with {}, expected one of {refusals:?}", show(&e)),
            ),
            _ => Ok(REJECTED),
        },
    }
}

/// A verify call as a [`check`]able result: no output.
pub fn verified(got: Result<()>) -> Result<Vec<u8>> {
    got.map(|()| Vec::new())
}

/// The forward direction (encrypt, sign) of a vector whose `want` is its ciphertext or tag:
/// for an invalid vector the call may succeed, but must never produce that invalid `want`.
pub fn forward(expect: Expect, got: Result<Vec<u8>>, want: &[u8]) -> Outcome {
    match (expect, got) {
        (Expect::Invalid, Ok(out)) if out == want => {
            Err(format!("produced the invalid output {}", hx(want)))
        }
        (Expect::Invalid, _) => Ok(REJECTED),
        (expect, got) => check(expect, got, want, &[]),
    }
}

/// Two checks of one vector: both must hold; it is accepted if either call was.
pub fn both(a: Outcome, b: Outcome) -> Outcome {
    Ok(match (a?, b?) {
        (Verdict::Skipped(why), _) | (_, Verdict::Skipped(why)) => Verdict::Skipped(why),
        (Verdict::Rejected(how), Verdict::Rejected(_)) => Verdict::Rejected(how),
        _ => Verdict::Accepted,
    })
}

/// A failed step that is not the operation under test (e.g. importing a valid key).
pub fn step(what: &'static str) -> impl Fn(Error) -> String {
    move |e| format!("{what}: {}", show(&e))
}

struct Tally {
    name: &'static str,
    valid: usize,
    invalid: usize,
    acceptable: [usize; 2],
    rejected_how: BTreeMap<&'static str, usize>,
    skipped: BTreeMap<&'static str, Vec<u32>>,
    failures: Vec<String>,
}

impl Tally {
    fn new(name: &'static str) -> Self {
        Tally {
            name,
            valid: 0,
            invalid: 0,
            acceptable: [0; 2],
            rejected_how: BTreeMap::new(),
            skipped: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    fn record<T>(&mut self, case: &Case<T>, outcome: Outcome) {
        let counter = match (case.result, outcome) {
            (_, Ok(Verdict::Skipped(why))) => {
                self.skipped.entry(why).or_default().push(case.id);
                return;
            }
            (Expect::Valid, Ok(Verdict::Accepted)) => &mut self.valid,
            (Expect::Acceptable, Ok(Verdict::Accepted)) => &mut self.acceptable[0],
            (Expect::Acceptable, Ok(Verdict::Rejected(_))) => &mut self.acceptable[1],
            (Expect::Invalid, Ok(Verdict::Rejected(how))) => {
                if !how.is_empty() {
                    *self.rejected_how.entry(how).or_default() += 1;
                }
                &mut self.invalid
            }
            (expect, verdict) => {
                let why = verdict.map_or_else(|e| e, |v| format!("{v:?} for a {expect:?} vector"));
                self.failures.push(format!(
                    "{} tcId {} ({:?}, {:?}, flags {:?}): {why}",
                    self.name, case.id, case.result, case.comment, case.flags
                ));
                return;
            }
        };
        *counter += 1;
    }

    /// Print the summary line and any failures; fail unless every vector behaved and at least
    /// `min_ran` of them actually ran.
    fn finish(self, min_ran: usize) {
        let mut line = format!(
            "{}: {} valid ok, {} invalid refused",
            self.name, self.valid, self.invalid
        );
        for (how, n) in &self.rejected_how {
            let _ = write!(line, " ({n} by {how})");
        }
        let [acc_ok, acc_refused] = self.acceptable;
        if acc_ok + acc_refused > 0 {
            let _ = write!(
                line,
                ", {} acceptable ({acc_ok} ok, {acc_refused} refused)",
                acc_ok + acc_refused
            );
        }
        let skipped: usize = self.skipped.values().map(Vec::len).sum();
        let _ = write!(line, ", {skipped} skipped");
        if !self.skipped.is_empty() {
            let reasons: Vec<String> = self
                .skipped
                .iter()
                .map(|(why, ids)| match ids.len() {
                    n @ 1..=8 => format!("{n} {why}: tcId {ids:?}"),
                    n => format!("{n} {why}"),
                })
                .collect();
            let _ = write!(line, " ({})", reasons.join("; "));
        }
        if !self.failures.is_empty() {
            let _ = write!(line, ", {} FAILED", self.failures.len());
        }
        println!("{line}");
        assert!(
            self.failures.is_empty(),
            "{line}\n  {}",
            self.failures.join("\n  ")
        );
        let ran = self.valid + self.invalid + acc_ok + acc_refused;
        assert!(
            ran >= min_ran,
            "{}: only {ran} vectors ran, expected at least {min_ran}",
            self.name
        );
    }
}

/// Run every vector of `file` on a fresh token's session through `vector`, print the summary
/// and fail on any misbehaviour or if fewer than `min_ran` vectors ran.
pub fn run<P, T>(
    name: &'static str,
    file: &str,
    min_ran: usize,
    mut vector: impl FnMut(&Session, &P, &Case<T>) -> Outcome,
) where
    P: DeserializeOwned,
    T: DeserializeOwned,
{
    let groups = load::<P, T>(file);
    let s = user_session();
    let mut tally = Tally::new(name);
    for group in &groups {
        for case in &group.tests {
            let outcome = vector(&s, &group.params, case);
            tally.record(case, outcome);
        }
    }
    tally.finish(min_ran);
}

// ---------------------------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------------------------

/// A session object, destroyed when dropped.
pub struct Obj<'s> {
    s: &'s Session,
    pub h: ObjectHandle,
}

impl Drop for Obj<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.s.destroy_object(self.h) {
            if !std::thread::panicking() {
                panic!("C_DestroyObject: {e}");
            }
        }
    }
}

/// Import a session key (CKA_TOKEN false) of `class` and `ty` with the given attributes.
pub fn import<'s>(
    s: &'s Session,
    class: ObjectClass,
    ty: KeyType,
    attrs: impl IntoIterator<Item = Attribute>,
) -> Result<Obj<'s>> {
    let mut template = vec![
        Attribute::Class(class),
        Attribute::KeyType(ty),
        Attribute::Token(false),
    ];
    template.extend(attrs);
    s.create_object(&template).map(|h| Obj { s, h })
}

/// Import a secret key with value `value` and the boolean `usage` attributes.
pub fn secret<'s>(
    s: &'s Session,
    ty: KeyType,
    value: &[u8],
    usage: &[Attribute],
) -> Result<Obj<'s>> {
    let attrs = [Attribute::Value(value.to_vec())].into_iter();
    import(
        s,
        ObjectClass::SECRET_KEY,
        ty,
        attrs.chain(usage.iter().cloned()),
    )
}

fn object_count(s: &Session) -> usize {
    s.find_objects(&[]).expect("C_FindObjects").len()
}

/// The value of a secret key that `make` (C_DeriveKey, C_UnwrapKey) creates from a readable
/// generic-secret template (with CKA_VALUE_LEN `len` if given); the key is destroyed after.
/// A call that fails must not leave an object behind.
pub fn new_secret_value(
    s: &Session,
    len: Option<usize>,
    make: impl FnOnce(&[Attribute]) -> Result<ObjectHandle>,
) -> Result<Vec<u8>> {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    template.extend(len.map(|n| Attribute::ValueLen((n as u64).into())));
    let before = object_count(s);
    let key = match make(&template) {
        Ok(h) => Obj { s, h },
        Err(e) => {
            assert_eq!(
                object_count(s),
                before,
                "a failed call left an object behind"
            );
            return Err(e);
        }
    };
    match s.get_attributes(key.h, &[AttributeType::Value])?.as_slice() {
        [Attribute::Value(v)] => Ok(v.clone()),
        other => panic!("new key has no readable CKA_VALUE: {other:?}"),
    }
}
