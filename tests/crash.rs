//! Crash safety: a process doing everything that writes — key generation, rotation, attribute
//! changes, PIN changes, and the audit appends of all of it — is killed with SIGKILL at a
//! random moment, again and again. After each kill the token opens, `keyward store verify`
//! passes (every object wholly there or wholly absent), the user PIN is the old one or the new
//! one, and the audit chain verifies.
mod common;

use std::time::Duration;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::UserType;
use cryptoki_sys::CK_ULONG;

use common::child::{child_context, spawn_child_when};
use common::{pin, SO_PIN, USER_PIN};

const OTHER_PIN: &str = "user-secret-2";
const KILLS: u64 = 8;
/// What the writer prints once it has written its first object.
const WRITING: &str = "writer: first object written";

fn cli(index: usize, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let slot = index.to_string();
    common::keyward_cli_output(&[&["--slot", slot.as_str()], args].concat(), env)
}

/// A pseudo-random delay in 20..400 ms (no RNG crate needed for this).
fn delay(round: u64) -> Duration {
    let x = round.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) % 380;
    Duration::from_millis(20 + x)
}

#[test]
fn killed_writers_leave_a_consistent_token() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "crash");
    let out = cli(
        index,
        &["user", "add", "aud", "--role", "auditor"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", "aud-pin-1")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut objects = 0;
    for round in 0..KILLS {
        let mut child = spawn_child_when("child_writes_until_killed", "writer", index, "", WRITING);
        std::thread::sleep(delay(round));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");

        let verified: Vec<_> = [USER_PIN, OTHER_PIN]
            .iter()
            .map(|p| cli(index, &["store", "verify", "--json"], &[("KEYWARD_PIN", p)]))
            .collect();
        let ok: Vec<_> = verified.iter().filter(|o| o.status.success()).collect();
        assert_eq!(
            ok.len(),
            1,
            "round {round}: exactly one of the two PINs works and the store verifies: {:?}",
            verified
                .iter()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned()
                    + &String::from_utf8_lossy(&o.stderr))
                .collect::<Vec<_>>()
        );
        let report: serde_json::Value = serde_json::from_slice(&ok[0].stdout).unwrap();
        assert_eq!(
            report["failed"],
            serde_json::json!([]),
            "round {round}: {report}"
        );
        let intact = report["intact"].as_u64().unwrap();
        assert!(
            intact >= objects,
            "round {round}: objects vanished: {report}"
        );
        objects = intact;
        let audit = cli(
            index,
            &["--user", "aud", "audit", "verify"],
            &[("KEYWARD_PIN", "aud-pin-1")],
        );
        assert!(
            audit.status.success(),
            "round {round}: {}",
            String::from_utf8_lossy(&audit.stderr)
        );
    }
    assert!(
        objects >= KILLS,
        "the writers wrote little: {objects} objects"
    );
}

/// Child: write in a loop until killed — generate, rotate, modify, change the PIN back and
/// forth, sign (each an audit append).
#[test]
fn child_writes_until_killed() {
    let Some((p11, slot, _)) = child_context("writer") else {
        return;
    };
    let s = p11.open_rw_session(slot).unwrap();
    let mut current = USER_PIN;
    if s.login(UserType::User, Some(&pin(current))).is_err() {
        current = OTHER_PIN;
        s.login(UserType::User, Some(&pin(current))).unwrap();
    }
    for i in 0u64.. {
        let key = s
            .generate_key(
                &Mechanism::GenericSecretKeyGen,
                &[
                    Attribute::Token(true),
                    Attribute::Sign(true),
                    Attribute::ValueLen(32.into()),
                    Attribute::Label(format!("crash-{i}").into_bytes()),
                ],
            )
            .unwrap();
        if i == 0 {
            println!("{WRITING}");
        }
        s.sign(&Mechanism::Sha256Hmac, key, b"x").unwrap();
        s.update_attributes(
            key,
            &[Attribute::Label(format!("crash-{i}-b").into_bytes())],
        )
        .unwrap();
        if i % 2 == 0 {
            let handle: CK_ULONG = key.handle();
            s.generate_key(&common::rotate_mechanism(&handle), &[])
                .unwrap();
        }
        let next = if current == USER_PIN {
            OTHER_PIN
        } else {
            USER_PIN
        };
        s.set_pin(&pin(current), &pin(next)).unwrap();
        current = next;
    }
}
