//! `keyward migrate softhsm TOKEN_DIR` against a real SoftHSMv2 token: pkcs11-tool makes
//! RSA-2048 and P-256 key pairs and an AES-256 key on SoftHSM (sensitive, never
//! extractable: no PKCS#11 call could move them), writes a certificate and data objects; the
//! CLI moves them into a Keyward token; then through the C ABI the migrated keys sign what
//! OpenSSL verifies with SoftHSM's public keys (RSA: the very same signature SoftHSM made),
//! the AES key encrypts what SoftHSM's copy decrypts, labels, ids and flags are kept, a
//! second run finds everything already there, and SoftHSM's files never change.
mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};

use common::{pin, USER_PIN};

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SOFTHSM_PIN: &str = "softhsm-user-1";

fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run a tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A SoftHSM token "src" (file object store) in its own configuration under `dir`.
struct SoftHsm {
    dir: PathBuf,
    conf: PathBuf,
}

impl SoftHsm {
    fn new(dir: &Path) -> Self {
        let conf = common::softhsm_conf(dir);
        run(Command::new("softhsm2-util")
            .env("SOFTHSM2_CONF", &conf)
            .args(["--init-token", "--free", "--label", "src"])
            .args(["--so-pin", "softhsm-so-1", "--pin", SOFTHSM_PIN]));
        SoftHsm {
            dir: dir.to_path_buf(),
            conf,
        }
    }

    /// The token's own directory (tokens/<uuid>).
    fn token_dir(&self) -> PathBuf {
        let mut dirs: Vec<_> = std::fs::read_dir(self.dir.join("tokens"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(dirs.len(), 1, "one SoftHSM token");
        dirs.remove(0)
    }

    /// pkcs11-tool on the token, logged in as its user, in `dir`.
    fn tool(&self, args: &[&str]) -> Vec<u8> {
        run(Command::new("pkcs11-tool")
            .env("SOFTHSM2_CONF", &self.conf)
            .current_dir(&self.dir)
            .args(["--module", SOFTHSM, "--token-label", "src", "--login"])
            .args(["--pin", SOFTHSM_PIN])
            .args(args))
    }

    fn openssl(&self, args: &[&str]) -> Vec<u8> {
        run(Command::new("openssl").current_dir(&self.dir).args(args))
    }

    /// A PEM public key file `NAME.pub.pem` of SoftHSM's public key `id`.
    fn export_public(&self, id: &str, name: &str) {
        let der = format!("{name}.pub.der");
        self.tool(&["--read-object", "--type", "pubkey", "--id", id, "-o", &der]);
        let pem = format!("{name}.pub.pem");
        self.openssl(&[
            "pkey", "-pubin", "-inform", "DER", "-in", &der, "-out", &pem,
        ]);
    }
}

/// Every file of `dir`: name → (SHA-256 of the contents, modification time).
fn snapshot(dir: &Path) -> BTreeMap<String, (Vec<u8>, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
            let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                (hash.as_ref().to_vec(), modified),
            )
        })
        .collect()
}

/// A fresh Keyward token and a user session on it; `keyward` runs against its slot.
struct Keyward {
    index: String,
    session: Session,
}

impl Keyward {
    fn new(label: &str) -> Self {
        let (slot, index) = common::claim_slot();
        common::init_token(slot, label);
        let session = common::p11().open_rw_session(slot).unwrap();
        session.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        Keyward {
            index: index.to_string(),
            session,
        }
    }

    /// `keyward --slot N ARGS` with both PINs in the environment; stdout and stderr.
    fn cli(&self, args: &[&str], softhsm_pin: &str, keyward_pin: &str) -> Output {
        let cmd = [&["--slot", self.index.as_str()], args].concat();
        let env = [
            ("KEYWARD_PIN", keyward_pin),
            ("KEYWARD_SOFTHSM_PIN", softhsm_pin),
        ];
        let mut out = common::keyward_cli_output(&cmd, &env);
        out.stdout.append(&mut out.stderr);
        out
    }

    fn migrate(&self, token_dir: &Path, extra: &[&str]) -> String {
        let dir = token_dir.display().to_string();
        let args = [&["migrate", "softhsm", dir.as_str()], extra].concat();
        let out = self.cli(&args, SOFTHSM_PIN, USER_PIN);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "keyward {args:?}: {text}");
        text
    }

    fn object(&self, class: ObjectClass, label: &str) -> ObjectHandle {
        let found = self
            .session
            .find_objects(&[
                Attribute::Class(class),
                Attribute::Label(label.as_bytes().to_vec()),
            ])
            .unwrap();
        assert_eq!(found.len(), 1, "one {class} object labelled {label}");
        found[0]
    }

    fn objects(&self) -> usize {
        self.session.find_objects(&[]).unwrap().len()
    }

    fn attributes(&self, o: ObjectHandle, types: &[AttributeType]) -> Vec<Attribute> {
        self.session.get_attributes(o, types).unwrap()
    }
}

/// ECDSA-Sig-Value DER from PKCS#11's r ‖ s (P-256).
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let pad = v.first().is_some_and(|b| b & 0x80 != 0);
        let mut out = vec![0x02, v.len() as u8 + u8::from(pad)];
        if pad {
            out.push(0);
        }
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

/// RSA, EC and AES keys, a certificate and two data objects (one private) on SoftHSM.
fn populate(src: &SoftHsm) {
    src.tool(&[
        "--keypairgen",
        "--key-type",
        "rsa:2048",
        "--label",
        "rsa1",
        "--id",
        "01",
    ]);
    src.tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "ec1",
        "--id",
        "02",
    ]);
    src.tool(&[
        "--keygen",
        "--key-type",
        "AES:32",
        "--label",
        "aes1",
        "--id",
        "03",
    ]);
    src.openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-subj",
        "/CN=migrated",
        "-days",
        "30",
        "-outform",
        "DER",
        "-out",
        "cert.der",
    ]);
    src.tool(&[
        "--write-object",
        "cert.der",
        "--type",
        "cert",
        "--label",
        "cert1",
        "--id",
        "04",
    ]);
    std::fs::write(src.dir.join("data.bin"), b"public data\n").unwrap();
    std::fs::write(src.dir.join("secret.bin"), b"private data\n").unwrap();
    src.tool(&[
        "--write-object",
        "data.bin",
        "--type",
        "data",
        "--label",
        "data1",
        "--application-label",
        "app1",
    ]);
    src.tool(&[
        "--write-object",
        "secret.bin",
        "--type",
        "data",
        "--label",
        "data2",
        "--private",
    ]);
    let listing = String::from_utf8(src.tool(&["--list-objects"])).unwrap();
    assert!(listing.contains("never extractable"), "{listing}");
}

#[test]
fn keys_certificates_and_data_move_with_their_material() {
    let kw = Keyward::new("migrated");
    let src = SoftHsm::new(&common::root_dir().join(format!("softhsm-{}", kw.index)));
    populate(&src);
    let data = b"signed on SoftHSM and on Keyward";
    std::fs::write(src.dir.join("data.txt"), data).unwrap();
    src.tool(&[
        "--sign",
        "-m",
        "SHA256-RSA-PKCS",
        "--id",
        "01",
        "-i",
        "data.txt",
        "-o",
        "rsa.softhsm.sig",
    ]);
    src.export_public("01", "rsa");
    src.export_public("02", "ec");
    let token_dir = src.token_dir();
    let before = snapshot(&token_dir);

    let out = kw.migrate(&token_dir, &[]);
    assert_eq!(
        snapshot(&token_dir),
        before,
        "the SoftHSM files are untouched"
    );
    for line in [
        "migrated private RSA 'rsa1' id 01",
        "migrated public RSA 'rsa1' id 01",
        "migrated private EC 'ec1' id 02",
        "migrated public EC 'ec1' id 02",
        "migrated secret AES 'aes1' id 03",
        "migrated certificate X.509 'cert1' id 04",
        "migrated data 'data1'",
        "migrated data 'data2'",
        "8 migrated, 0 already there, 0 not migrated",
    ] {
        assert!(out.contains(line), "{line:?} in:\n{out}");
    }

    // RSA PKCS#1 v1.5 is deterministic: the same key makes the same signature.
    let rsa = kw.object(ObjectClass::PRIVATE_KEY, "rsa1");
    let signature = kw
        .session
        .sign(&Mechanism::Sha256RsaPkcs, rsa, data)
        .unwrap();
    let reference = std::fs::read(src.dir.join("rsa.softhsm.sig")).unwrap();
    assert_eq!(signature, reference, "Keyward signs as SoftHSM did");
    std::fs::write(src.dir.join("rsa.keyward.sig"), &signature).unwrap();
    let digest = ["-rawin", "-digest", "sha256", "-in", "data.txt"];
    let verified = src.openssl(
        &[
            &["pkeyutl", "-verify", "-pubin", "-inkey", "rsa.pub.pem"],
            &digest[..],
        ]
        .concat()
        .into_iter()
        .chain(["-sigfile", "rsa.keyward.sig"])
        .collect::<Vec<_>>(),
    );
    assert!(String::from_utf8_lossy(&verified).contains("Signature Verified Successfully"));

    let ec = kw.object(ObjectClass::PRIVATE_KEY, "ec1");
    let signature = kw.session.sign(&Mechanism::EcdsaSha256, ec, data).unwrap();
    std::fs::write(src.dir.join("ec.keyward.sig"), ecdsa_der(&signature)).unwrap();
    let verified = src.openssl(
        &[
            &["pkeyutl", "-verify", "-pubin", "-inkey", "ec.pub.pem"],
            &digest[..],
        ]
        .concat()
        .into_iter()
        .chain(["-sigfile", "ec.keyward.sig"])
        .collect::<Vec<_>>(),
    );
    assert!(String::from_utf8_lossy(&verified).contains("Signature Verified Successfully"));

    // The AES key encrypts on Keyward; SoftHSM's copy decrypts.
    let aes = kw.object(ObjectClass::SECRET_KEY, "aes1");
    let iv = [7u8; 16];
    let plain = b"the same AES key on both tokens";
    let ct = kw
        .session
        .encrypt(&Mechanism::AesCbcPad(iv), aes, plain)
        .unwrap();
    std::fs::write(src.dir.join("aes.ct"), ct).unwrap();
    let iv_hex: String = iv.iter().map(|b| format!("{b:02x}")).collect();
    src.tool(&[
        "--decrypt",
        "-m",
        "AES-CBC-PAD",
        "--iv",
        &iv_hex,
        "--id",
        "03",
        "-i",
        "aes.ct",
        "-o",
        "aes.pt",
    ]);
    assert_eq!(std::fs::read(src.dir.join("aes.pt")).unwrap(), plain);

    check_attributes(&kw, &src);

    // A second run changes nothing. (SoftHSM's own logins above rewrite token.object.)
    let before = snapshot(&token_dir);
    let again = kw.migrate(&token_dir, &["--json"]);
    let report: serde_json::Value = serde_json::from_str(&again).unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 8, "{again}");
    assert!(
        objects.iter().all(|o| o["outcome"] == "already-there"),
        "{again}"
    );
    assert_eq!(objects[0]["class"], "private", "{again}");
    assert_eq!(report["source"]["label"], "src");
    assert_eq!(kw.objects(), 8);
    let text = kw.migrate(&token_dir, &[]);
    assert!(
        text.contains("skipped private RSA 'rsa1' id 01: already there"),
        "{text}"
    );
    assert!(text.contains("0 migrated, 8 already there"), "{text}");
    assert_eq!(
        snapshot(&token_dir),
        before,
        "the SoftHSM files are untouched"
    );
}

/// Labels, ids and flags as SoftHSM had them; nothing became extractable.
fn check_attributes(kw: &Keyward, src: &SoftHsm) {
    use AttributeType as T;
    let flags = [
        T::Id,
        T::Private,
        T::Sensitive,
        T::Extractable,
        T::Sign,
        T::Decrypt,
    ];
    let rsa = kw.attributes(kw.object(ObjectClass::PRIVATE_KEY, "rsa1"), &flags);
    for expected in [
        Attribute::Id(vec![1]),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
    ] {
        assert!(rsa.contains(&expected), "{expected:?} in {rsa:?}");
    }
    let ec = kw.attributes(kw.object(ObjectClass::PRIVATE_KEY, "ec1"), &flags[..5]);
    assert!(ec.contains(&Attribute::Id(vec![2])), "{ec:?}");
    assert!(ec.contains(&Attribute::Sensitive(true)), "{ec:?}");
    assert!(ec.contains(&Attribute::Extractable(false)), "{ec:?}");
    // pkcs11-tool made the AES key never extractable but not sensitive, and not private.
    let aes = kw.object(ObjectClass::SECRET_KEY, "aes1");
    let got = kw.attributes(aes, &[T::Id, T::Extractable, T::Encrypt, T::Private]);
    for expected in [
        Attribute::Id(vec![3]),
        Attribute::Extractable(false),
        Attribute::Encrypt(true),
        Attribute::Private(false),
    ] {
        assert!(got.contains(&expected), "{expected:?} in {got:?}");
    }
    let value = kw.session.get_attributes(aes, &[T::Value]);
    assert!(
        !matches!(value.as_deref(), Ok([Attribute::Value(_)])),
        "the AES key's value stays inside"
    );
    let public = kw.object(ObjectClass::PUBLIC_KEY, "rsa1");
    assert!(kw
        .attributes(public, &[T::Id])
        .contains(&Attribute::Id(vec![1])));
    let cert = kw.object(ObjectClass::CERTIFICATE, "cert1");
    let got = kw.attributes(cert, &[T::Id, T::Value]);
    let der = std::fs::read(src.dir.join("cert.der")).unwrap();
    assert!(got.contains(&Attribute::Id(vec![4])), "{got:?}");
    assert!(got.contains(&Attribute::Value(der)), "certificate DER kept");
    let data1 = kw.object(ObjectClass::DATA, "data1");
    let got = kw.attributes(data1, &[T::Value, T::Application, T::Private]);
    assert!(
        got.contains(&Attribute::Value(b"public data\n".to_vec())),
        "{got:?}"
    );
    assert!(
        got.contains(&Attribute::Application(b"app1".to_vec())),
        "{got:?}"
    );
    let data2 = kw.object(ObjectClass::DATA, "data2");
    let got = kw.attributes(data2, &[T::Value, T::Private]);
    assert!(
        got.contains(&Attribute::Value(b"private data\n".to_vec())),
        "{got:?}"
    );
    assert!(got.contains(&Attribute::Private(true)), "{got:?}");
}

#[test]
fn wrong_pins_damaged_files_and_dry_runs() {
    let kw = Keyward::new("migration errors");
    let src = SoftHsm::new(&common::root_dir().join(format!("softhsm-{}", kw.index)));
    src.tool(&[
        "--keypairgen",
        "--key-type",
        "EC:prime256v1",
        "--label",
        "ec2",
        "--id",
        "0a",
    ]);
    std::fs::write(src.dir.join("data.bin"), b"public data\n").unwrap();
    src.tool(&[
        "--write-object",
        "data.bin",
        "--type",
        "data",
        "--label",
        "d2",
    ]);
    let token_dir = src.token_dir();
    let dir = token_dir.display().to_string();
    let before = snapshot(&token_dir);

    // Wrong PINs: a clear error, nothing made.
    let out = kw.cli(&["migrate", "softhsm", &dir], "wrong-pin", USER_PIN);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("does not open the SoftHSM token"), "{text}");
    let out = kw.cli(&["migrate", "softhsm", &dir], SOFTHSM_PIN, "wrong-pin");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("CKR_PIN_INCORRECT"), "{text}");
    assert_eq!(kw.objects(), 0, "nothing made");

    // SoftHSM's tokendir instead of the token's directory, and a database-backed token.
    let tokens = src.dir.join("tokens").display().to_string();
    let out = kw.cli(&["migrate", "softhsm", &tokens], SOFTHSM_PIN, USER_PIN);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("give one token's directory"), "{text}");
    assert!(text.contains(&dir), "{text}");
    let db = src.dir.join("db-token");
    std::fs::create_dir_all(&db).unwrap();
    std::fs::write(db.join("sqlite3.db"), b"").unwrap();
    let out = kw.cli(
        &["migrate", "softhsm", &db.display().to_string()],
        SOFTHSM_PIN,
        USER_PIN,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("objectstore.backend = db"));

    // A dry run reports and makes nothing.
    let out = kw.migrate(&token_dir, &["--dry-run"]);
    assert!(
        out.contains("would migrate private EC 'ec2' id 0a"),
        "{out}"
    );
    assert!(out.contains("3 would be migrated"), "{out}");
    assert_eq!(kw.objects(), 0, "a dry run makes nothing");
    assert!(
        !out.contains("objects\r") && !out.contains("\x1b[2K"),
        "no bar off a terminal"
    );
    // On a terminal, a progress bar counts the objects.
    let shown = common::keyward_cli_on_terminal(
        &["--slot", &kw.index, "migrate", "softhsm", &dir, "--dry-run"],
        &[
            ("KEYWARD_PIN", USER_PIN),
            ("KEYWARD_SOFTHSM_PIN", SOFTHSM_PIN),
        ],
    );
    assert!(shown.contains("] 3/3 objects"), "{shown}");

    // A copy with a damaged and a foreign object file: those are skipped, the rest moves.
    let copy = src.dir.join("copy");
    std::fs::create_dir_all(&copy).unwrap();
    for name in before.keys() {
        std::fs::copy(token_dir.join(name), copy.join(name)).unwrap();
    }
    let data_file = before
        .keys()
        .find(|name| {
            name.ends_with(".object")
                && std::fs::read(token_dir.join(name.as_str()))
                    .unwrap()
                    .windows(2)
                    .any(|w| w == b"d2")
        })
        .expect("the data object's file");
    let bytes = std::fs::read(copy.join(data_file)).unwrap();
    std::fs::write(copy.join(data_file), &bytes[..bytes.len() - 3]).unwrap();
    std::fs::write(copy.join("junk.object"), b"not a SoftHSM object").unwrap();
    let args = ["migrate", "softhsm", copy.to_str().unwrap()];
    let out = kw.cli(&args, SOFTHSM_PIN, USER_PIN);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "skipped objects make exit 1: {text}");
    assert!(text.contains("migrated private EC 'ec2' id 0a"), "{text}");
    assert!(text.contains("migrated public EC 'ec2' id 0a"), "{text}");
    assert!(
        text.contains(&format!("{data_file}: unreadable object file: truncated")),
        "{text}"
    );
    assert!(
        text.contains("junk.object: unreadable object file"),
        "{text}"
    );
    assert!(text.contains("2 object(s) could not be migrated"), "{text}");
    assert_eq!(kw.objects(), 2);
    assert_eq!(
        snapshot(&token_dir),
        before,
        "the SoftHSM files are untouched"
    );
}
