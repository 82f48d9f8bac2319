//! Destruction: C_DestroyObject and `keyward key destroy` work in every state; the CLI keeps a
//! tombstone with the key's names, dates, states and reasons, and neither leaves a copy of the
//! sealed material in token.db or its WAL.
mod common;

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use common::lifecycle::*;
use common::rotate_mechanism;

fn token_aes(s: &Session, label: &str, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![0x5a; 32]),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Sensitive(true),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    t.extend_from_slice(extra);
    s.create_object(&t).expect("create AES key")
}

/// C_DestroyObject destroys a key in each of the five live states (PKCS#11 clients rely on
/// it), and so does `keyward key destroy`, which names the versions still in use.
#[test]
fn destroy_works_in_every_state() {
    let (s, index) = token_session("destroy states");
    let names = [
        "",
        "pre-active",
        "active",
        "suspended",
        "deactivated",
        "compromised",
    ];
    for st in [PRE_ACTIVE, ACTIVE, SUSPENDED, DEACTIVATED, COMPROMISED] {
        let born = if st == PRE_ACTIVE {
            vec![vendor(CKA_KW_STATE, PRE_ACTIVE)]
        } else {
            vec![]
        };
        for how in ["api", "cli"] {
            let label = format!("{how}-{st}");
            let key = token_aes(&s, &label, &born);
            if st > ACTIVE {
                set_state(&s, key, st).unwrap();
            }
            if how == "api" {
                s.destroy_object(key).expect("C_DestroyObject in any state");
            } else {
                let out = cli(
                    index,
                    &["key", "destroy", &format!("pkcs11:object={label}")],
                );
                assert!(out.contains("destroyed 1 key object(s)"), "{out}");
                let in_use = matches!(st, ACTIVE | SUSPENDED);
                let note = format!(
                    "note: version 1 secret ({}) was still in use",
                    names[st as usize]
                );
                assert_eq!(out.contains(&note), in_use, "{out}");
            }
            let left = s
                .find_objects(&[Attribute::Label(label.into_bytes())])
                .unwrap();
            assert!(left.is_empty(), "{how} destroy in state {st}");
        }
    }
    let show = cli_json(index, &["key", "show", "pkcs11:object=cli-2"]);
    assert_eq!(show["tombstones"][0]["state"], "active", "{show}");
}
/// The tombstone keeps label, ids, versions, creation and destruction times, the newest
/// version's last state, state-change time and reason, and every version's own; `key show`
/// reports it as text and JSON. The halves of a pair destroyed one after the other end up in
/// one tombstone.
#[test]
fn the_tombstone_keeps_names_dates_states_and_reasons() {
    let (s, index) = token_session("tombstones");
    let v1 = token_aes(&s, "stone", &[Attribute::Id(vec![0x51])]);
    let created = read(&s, v1, CKA_KW_CREATED) as u64;
    let key_id: String = read_bytes(&s, v1, CKA_KW_KEY_ID)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let v2 = s
        .generate_key(&rotate_mechanism(&v1.handle()), &[])
        .unwrap();
    s.update_attributes(
        v2,
        &[
            vendor(CKA_KW_STATE, DEACTIVATED),
            vendor(CKA_KW_REVOCATION_REASON, 6),
        ],
    )
    .unwrap();
    let revoked = read(&s, v2, CKA_KW_STATE_CHANGED) as u64;
    let v2_created = read(&s, v2, CKA_KW_CREATED) as u64;
    let before = now();
    cli(index, &["key", "destroy", "pkcs11:object=stone"]);

    let report = cli_json(index, &["key", "show", "pkcs11:object=stone"]);
    assert!(
        report["versions"].as_array().unwrap().is_empty(),
        "{report}"
    );
    let t = &report["tombstones"][0];
    assert_eq!(
        (t["label"].as_str(), t["id"].as_str()),
        (Some("stone"), Some("51")),
        "{t}"
    );
    assert_eq!(t["key_id"], key_id, "{t}");
    assert_eq!(t["versions"], 2, "{t}");
    assert_eq!(t["created"], created, "{t}");
    let destroyed = t["destroyed_at"].as_u64().unwrap();
    assert!(destroyed >= before && destroyed <= now(), "{t}");
    assert_eq!(
        (t["state"].as_str(), t["reason"].as_u64()),
        (Some("deactivated"), Some(6)),
        "{t}"
    );
    assert_eq!(t["state_changed"], revoked, "{t}");
    let history: Vec<(u64, &str, &str, u64, u64)> = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["class"].as_str().unwrap(),
                v["state"].as_str().unwrap(),
                v["reason"].as_u64().unwrap(),
                v["created"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        history,
        [
            (2, "secret", "deactivated", 6, v2_created),
            (1, "secret", "deactivated", 5, created)
        ],
        "{t}"
    );
    let text = cli(index, &["key", "show", "pkcs11:object=stone"]);
    assert!(
        text.contains("destroyed: \"stone\" (id 51") && text.contains("after 2 version(s)"),
        "{text}"
    );
    assert!(
        text.contains("last state deactivated") && text.contains("reason 6"),
        "{text}"
    );

    s.generate_key_pair(
        &cryptoki::mechanism::Mechanism::EccKeyPairGen,
        &[
            Attribute::EcParams(common::hex("06082a8648ce3d030107")),
            Attribute::Token(true),
            Attribute::Label(b"halves".to_vec()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Label(b"halves".to_vec()),
            Attribute::Sign(true),
        ],
    )
    .unwrap();
    cli(
        index,
        &["key", "destroy", "pkcs11:object=halves;type=private"],
    );
    cli(
        index,
        &["key", "destroy", "pkcs11:object=halves;type=public"],
    );
    let t = &cli_json(index, &["key", "show", "pkcs11:object=halves"])["tombstones"];
    assert_eq!(t.as_array().unwrap().len(), 1, "{t}");
    let classes: Vec<&str> = t[0]["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["class"].as_str().unwrap())
        .collect();
    assert_eq!(classes, ["private", "public"], "{t}");
}

/// The sealed record of object `uid` in `db`, read by another process (python3's sqlite3: a
/// second copy of SQLite in this process would break the module's WAL locking).
fn sealed_record(db: &std::path::Path, uid: &str) -> Vec<u8> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys\n\
             c=sqlite3.connect(sys.argv[1])\n\
             r=c.execute('select sealed from objects where uid=?',(sys.argv[2],)).fetchone()\n\
             c.close()\n\
             sys.stdout.buffer.write(r[0])",
        ])
        .arg(db)
        .arg(uid)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.len() > 32, "a sealed record");
    out.stdout
}

/// Which of token.db, token.db-wal and token.db-shm hold `needle`. Another process reads
/// them: opening and closing them here would drop the POSIX locks the module's SQLite holds
/// on them (locks belong to the process), and other processes would then take the module's
/// connection for gone — the last one closing would checkpoint and reset the log under it.
fn files_holding(dir: &std::path::Path, needle: &[u8]) -> Vec<String> {
    let hex: String = needle.iter().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import os,sys\n\
             needle=bytes.fromhex(sys.argv[2])\n\
             for f in ['token.db','token.db-wal','token.db-shm']:\n\
             \x20   p=os.path.join(sys.argv[1],f)\n\
             \x20   if os.path.exists(p) and needle in open(p,'rb').read(): print(f)",
        ])
        .arg(dir)
        .arg(hex)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// After `keyward key destroy` and after C_DestroyObject, the key's sealed record — every
/// byte of it — is in neither the database file nor its WAL (nor the shared-memory index).
#[test]
fn destroyed_material_is_gone_from_the_database_and_its_log() {
    let (s, index) = token_session("zeroization");
    let dir = common::slot_dir(index);
    let db = dir.join("token.db");
    let mut records = Vec::new();
    for label in ["by-cli", "by-api"] {
        let key = token_aes(&s, label, &[]);
        // A lifecycle change rewrites the record: an older copy goes to the log too.
        set_state(&s, key, SUSPENDED).unwrap();
        set_state(&s, key, ACTIVE).unwrap();
        let uid = match s
            .get_attributes(key, &[AttributeType::UniqueId])
            .unwrap()
            .as_slice()
        {
            [Attribute::UniqueId(u)] => String::from_utf8(u.clone()).unwrap(),
            other => panic!("CKA_UNIQUE_ID: {other:?}"),
        };
        let sealed = sealed_record(&db, &uid);
        assert!(
            !files_holding(&dir, &sealed).is_empty(),
            "the scan finds a live record"
        );
        records.push((key, sealed));
    }
    cli(index, &["key", "destroy", "pkcs11:object=by-cli"]);
    s.destroy_object(records[1].0).unwrap();
    for ((_, sealed), how) in records
        .iter()
        .zip(["keyward key destroy", "C_DestroyObject"])
    {
        let middle = &sealed[sealed.len() / 2 - 12..sealed.len() / 2 + 12];
        for needle in [&sealed[..], middle] {
            let found = files_holding(&dir, needle);
            assert!(
                found.is_empty(),
                "after {how}, {found:?} still hold the sealed record"
            );
        }
    }
}
