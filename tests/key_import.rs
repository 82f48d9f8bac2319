//! `keyward key import`, `key generate`, `key export-public` and `cert list|export`, checked
//! against OpenSSL: key files OpenSSL writes (PKCS#8, PKCS#1, SEC1, Ed25519, encrypted
//! PKCS#8, PKCS#12, DER certificates, a raw AES key) are imported; the token then signs or
//! encrypts with them through the C ABI and OpenSSL verifies or decrypts with the original
//! file; exported public keys and certificates equal OpenSSL's own.
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};

use common::{pin, USER_PIN};

fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

struct Fixture {
    dir: PathBuf,
    index: String,
    session: Session,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let (slot, index) = common::claim_slot();
        common::init_token(slot, name);
        let dir = common::root_dir().join(format!("import-{index}"));
        std::fs::create_dir_all(&dir).unwrap();
        let session = common::p11().open_rw_session(slot).unwrap();
        session.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        Fixture {
            dir,
            index: index.to_string(),
            session,
        }
    }

    fn cli_output(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let env = [&[("KEYWARD_PIN", USER_PIN)], env].concat();
        let cmd = [&["--slot", self.index.as_str()], args].concat();
        let mut out = common::keyward_cli_output(&cmd, &env);
        out.stdout.append(&mut out.stderr);
        out
    }

    fn cli(&self, args: &[&str], env: &[(&str, &str)]) -> String {
        let out = self.cli_output(args, env);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "keyward {args:?}: {text}");
        text
    }

    fn openssl(&self, args: &[&str]) -> Vec<u8> {
        openssl(&self.dir, args)
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
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

    fn flag(&self, object: ObjectHandle, ty: AttributeType) -> bool {
        match self
            .session
            .get_attributes(object, &[ty])
            .unwrap()
            .as_slice()
        {
            [Attribute::Sensitive(v)] | [Attribute::Extractable(v)] => *v,
            other => panic!("{other:?}"),
        }
    }

    /// Sign `data.txt` with the private key `label` and verify with OpenSSL against the
    /// public key of `key_file` (the file that was imported).
    fn signs_like(&self, label: &str, mechanism: Mechanism, key_file: &str, digest: &[&str]) {
        let key = self.object(ObjectClass::PRIVATE_KEY, label);
        assert!(
            self.flag(key, AttributeType::Sensitive),
            "{label} sensitive"
        );
        assert!(
            !self.flag(key, AttributeType::Extractable),
            "{label} not extractable"
        );
        let data = b"imported keys sign";
        std::fs::write(self.dir.join("data.txt"), data).unwrap();
        let mut signature = self.session.sign(&mechanism, key, data).unwrap();
        if matches!(mechanism, Mechanism::EcdsaSha256) {
            signature = ecdsa_der(&signature);
        }
        let sig = format!("{label}.sig");
        std::fs::write(self.dir.join(&sig), signature).unwrap();
        let public = format!("{label}.pub");
        self.openssl(&["pkey", "-in", key_file, "-pubout", "-out", &public]);
        let mut args = vec!["pkeyutl", "-verify", "-pubin", "-inkey", &public];
        args.extend_from_slice(digest);
        args.extend_from_slice(&["-in", "data.txt", "-sigfile", &sig]);
        let out = self.openssl(&args);
        assert!(String::from_utf8_lossy(&out).contains("Signature Verified Successfully"));
    }
}

/// ECDSA-Sig-Value DER from PKCS#11's r ‖ s (P-256).
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let int = |v: &[u8]| {
        let v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        let mut out = vec![0x02];
        if v.first().is_some_and(|b| b & 0x80 != 0) {
            out.push(v.len() as u8 + 1);
            out.push(0);
        } else {
            out.push(v.len() as u8);
        }
        out.extend(v);
        out
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    [vec![0x30, body.len() as u8], body].concat()
}

#[test]
fn private_keys_in_every_format_sign_as_the_original() {
    let f = Fixture::new("import keys");
    f.openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "rsa8.pem",
    ]);
    f.openssl(&[
        "pkey",
        "-in",
        "rsa8.pem",
        "-traditional",
        "-out",
        "rsa1.pem",
    ]);
    f.openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        "ec8.pem",
    ]);
    f.openssl(&["ec", "-in", "ec8.pem", "-out", "ec1.pem"]);
    f.openssl(&["genpkey", "-algorithm", "ED25519", "-out", "ed.pem"]);
    f.openssl(&[
        "pkcs8",
        "-topk8",
        "-in",
        "ec8.pem",
        "-v2",
        "aes-256-cbc",
        "-passout",
        "pass:file-pw",
        "-out",
        "ecenc.pem",
    ]);
    let rsa1 = std::fs::read_to_string(f.dir.join("rsa1.pem")).unwrap();
    let ec1 = std::fs::read_to_string(f.dir.join("ec1.pem")).unwrap();
    assert!(
        rsa1.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "{rsa1}"
    );
    assert!(ec1.starts_with("-----BEGIN EC PRIVATE KEY-----"), "{ec1}");

    for (file, label) in [
        ("rsa8.pem", "rsa8"),
        ("rsa1.pem", "rsa1"),
        ("ec1.pem", "ec1"),
        ("ed.pem", "ed"),
    ] {
        let out = f.cli(&["key", "import", &f.path(file), "--label", label], &[]);
        assert!(out.contains(&format!("private {label:?}")), "{out}");
        assert!(out.contains(&format!("public {label:?}")), "{out}");
    }
    // An encrypted key: refused without its password, imported with it.
    let out = f.cli_output(
        &["key", "import", &f.path("ecenc.pem"), "--label", "ecenc"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("password"));
    let out = f.cli_output(
        &["key", "import", &f.path("ecenc.pem"), "--label", "ecenc"],
        &[("KEYWARD_IMPORT_PASSWORD", "wrong")],
    );
    assert!(!out.status.success(), "a wrong password must fail");
    f.cli(
        &["key", "import", &f.path("ecenc.pem"), "--label", "ecenc"],
        &[("KEYWARD_IMPORT_PASSWORD", "file-pw")],
    );

    let sha256 = ["-rawin", "-digest", "sha256"];
    f.signs_like("rsa8", Mechanism::Sha256RsaPkcs, "rsa8.pem", &sha256);
    f.signs_like("rsa1", Mechanism::Sha256RsaPkcs, "rsa8.pem", &sha256);
    f.signs_like("ec1", Mechanism::EcdsaSha256, "ec8.pem", &sha256);
    f.signs_like("ecenc", Mechanism::EcdsaSha256, "ec8.pem", &sha256);
    f.signs_like(
        "ed",
        Mechanism::Eddsa(cryptoki::mechanism::eddsa::EddsaParams::new(
            cryptoki::mechanism::eddsa::EddsaSignatureScheme::Pure,
        )),
        "ed.pem",
        &["-rawin"],
    );

    // The public keys come back out as OpenSSL writes them.
    for (label, file) in [("rsa8", "rsa8.pem"), ("ec1", "ec8.pem"), ("ed", "ed.pem")] {
        let exported = f.cli(
            &["key", "export-public", &format!("pkcs11:object={label}")],
            &[],
        );
        let expected = f.openssl(&["pkey", "-in", file, "-pubout"]);
        assert_eq!(exported.as_bytes(), expected.as_slice(), "{label}");
    }
    // Imported keys share CKA_ID with their public halves, derived from the public key.
    let private = f.object(ObjectClass::PRIVATE_KEY, "rsa8");
    let public = f.object(ObjectClass::PUBLIC_KEY, "rsa8");
    let id = |o| f.session.get_attributes(o, &[AttributeType::Id]).unwrap();
    assert_eq!(id(private), id(public));
}

#[test]
fn pkcs12_certificates_and_raw_secret_keys() {
    let f = Fixture::new("import p12");
    f.openssl(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        "key.pem",
    ]);
    f.openssl(&[
        "req",
        "-new",
        "-x509",
        "-key",
        "key.pem",
        "-subj",
        "/CN=keyward import",
        "-days",
        "30",
        "-out",
        "cert.pem",
    ]);
    f.openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        "key.pem",
        "-in",
        "cert.pem",
        "-passout",
        "pass:p12-pw",
        "-out",
        "bundle.p12",
    ]);
    f.openssl(&[
        "x509", "-in", "cert.pem", "-outform", "DER", "-out", "cert.der",
    ]);

    let out = f.cli(
        &[
            "key",
            "import",
            &f.path("bundle.p12"),
            "--label",
            "p12",
            "--json",
        ],
        &[("KEYWARD_IMPORT_PASSWORD", "p12-pw")],
    );
    let made: serde_json::Value = serde_json::from_str(&out).unwrap();
    let classes: Vec<_> = made
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["class"].clone())
        .collect();
    assert_eq!(classes, ["private", "public", "certificate"], "{out}");
    let ids: Vec<_> = made
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "key and certificate share CKA_ID: {out}"
    );
    f.signs_like(
        "p12",
        Mechanism::Sha256RsaPkcs,
        "key.pem",
        &["-rawin", "-digest", "sha256"],
    );

    // A DER certificate on its own gets the same CKA_ID as the key it certifies.
    let out = f.cli(
        &[
            "key",
            "import",
            &f.path("cert.der"),
            "--label",
            "der",
            "--json",
        ],
        &[],
    );
    let der: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(der[0]["id"], ids[0], "{out}");
    let list: serde_json::Value =
        serde_json::from_str(&f.cli(&["cert", "list", "--json"], &[])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    assert!(
        list[0]["subject"]
            .as_str()
            .unwrap()
            .contains("CN=keyward import"),
        "{list}"
    );
    let exported = f.cli(&["cert", "export", "pkcs11:object=der"], &[]);
    assert_eq!(
        exported,
        std::fs::read_to_string(f.dir.join("cert.pem")).unwrap()
    );

    // A raw AES key: the token encrypts, OpenSSL decrypts with the same bytes.
    let key: Vec<u8> = (1..=32).collect();
    std::fs::write(f.dir.join("aes.bin"), &key).unwrap();
    f.cli(
        &[
            "key",
            "import",
            &f.path("aes.bin"),
            "--raw",
            "aes",
            "--label",
            "aes",
        ],
        &[],
    );
    let aes = f.object(ObjectClass::SECRET_KEY, "aes");
    assert!(f.flag(aes, AttributeType::Sensitive));
    let iv = [7u8; 16];
    let ct = f
        .session
        .encrypt(&Mechanism::AesCbcPad(iv), aes, b"raw key, known bytes")
        .unwrap();
    std::fs::write(f.dir.join("ct.bin"), ct).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let plain = f.openssl(&[
        "enc",
        "-d",
        "-aes-256-cbc",
        "-K",
        &hex(&key),
        "-iv",
        &hex(&iv),
        "-in",
        "ct.bin",
    ]);
    assert_eq!(plain, b"raw key, known bytes");

    // Refusals: a short AES key, --extractable honoured, a file that is no key at all.
    std::fs::write(f.dir.join("short.bin"), [1u8; 10]).unwrap();
    let out = f.cli_output(
        &[
            "key",
            "import",
            &f.path("short.bin"),
            "--raw",
            "aes",
            "--label",
            "x",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("16, 24 or 32 bytes"));
    f.cli(
        &[
            "key",
            "import",
            &f.path("aes.bin"),
            "--raw",
            "generic",
            "--label",
            "hmac",
            "--extractable",
        ],
        &[],
    );
    let hmac = f.object(ObjectClass::SECRET_KEY, "hmac");
    assert!(f.flag(hmac, AttributeType::Extractable));
    std::fs::write(f.dir.join("junk.bin"), b"not a key").unwrap();
    let out = f.cli_output(
        &["key", "import", &f.path("junk.bin"), "--label", "junk"],
        &[],
    );
    assert!(!out.status.success());
}

#[test]
fn generated_keys_are_used_through_the_module() {
    let f = Fixture::new("generate");
    let out = f.cli(
        &[
            "key", "generate", "--type", "ec:p256", "--label", "gen", "--id", "0a0b",
        ],
        &[],
    );
    assert!(
        out.contains("generated private \"gen\" id 0a0b: pkcs11:token="),
        "{out}"
    );
    // The printed URI names the object: export the public key by it.
    let public_uri = out
        .lines()
        .find_map(|l| l.strip_prefix("generated public \"gen\" id 0a0b: "))
        .expect("the public key's line");
    assert!(
        public_uri.ends_with(";object=gen;id=%0a%0b;type=public"),
        "{public_uri}"
    );
    let pem = f.cli(&["key", "export-public", public_uri], &[]);
    std::fs::write(f.dir.join("gen.pub"), &pem).unwrap();
    let key = f.object(ObjectClass::PRIVATE_KEY, "gen");
    assert!(!f.flag(key, AttributeType::Extractable));
    let signature = f
        .session
        .sign(&Mechanism::EcdsaSha256, key, b"generated")
        .unwrap();
    std::fs::write(f.dir.join("gen.sig"), ecdsa_der(&signature)).unwrap();
    std::fs::write(f.dir.join("gen.txt"), b"generated").unwrap();
    f.openssl(&[
        "dgst",
        "-sha256",
        "-verify",
        "gen.pub",
        "-signature",
        "gen.sig",
        "gen.txt",
    ]);

    let out = f.cli(
        &[
            "key", "generate", "--type", "aes:128", "--label", "bulk", "--count", "3", "--json",
        ],
        &[],
    );
    let made: serde_json::Value = serde_json::from_str(&out).unwrap();
    let labels: Vec<_> = made
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["bulk-1", "bulk-2", "bulk-3"]);
    for label in labels {
        let aes = f.object(ObjectClass::SECRET_KEY, label);
        let len = f
            .session
            .get_attributes(aes, &[AttributeType::ValueLen])
            .unwrap();
        assert_eq!(len, [Attribute::ValueLen(16.into())]);
    }
    let out = f.cli_output(
        &["key", "generate", "--type", "aes:100", "--label", "x"],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("128, 192 or 256"));
}
