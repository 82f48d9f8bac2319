#!/usr/bin/env bash
# Named users, roles, key ACLs and the audit trail, driven as an administrator would: the SO
# adds a key manager, two operators and an auditor with `keyward user add`; the key manager
# restricts a key to one operator with `keyward key acl`; that operator signs through
# PKCS#11 3.0 C_LoginUser (the cryptoki crate, examples/named_sign.rs) and plain OpenSSL
# verifies the signature; the key manager and the other operator are refused; the auditor's
# `keyward audit verify` passes and `audit export` shows all of it; an edited trail fails.
# Usage: MODULE=/path/to/libkeyward.so interop/access-audit.sh  (keyward and
# examples/named_sign are taken beside MODULE; Keyward only)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-access
URI="pkcs11:token=$TOKEN"

keyward_cli() {
  timeout "${KW_TIMEOUT:-60}" "$(dirname "$MODULE")/keyward" "$@"
}

# add_user NAME ROLE: as the SO, PIN "NAME-pin-1".
add_user() {
  KEYWARD_SO_PIN="$KW_SO_PIN" KEYWARD_NEW_PIN="$1-pin-1" \
    keyward_cli --token "$TOKEN" user add "$1" --role "$2"
}

# named_sign USER OUT: sign data.bin with key "signer" as USER through C_LoginUser.
named_sign() {
  KEYWARD_PIN="$1-pin-1" timeout "${KW_TIMEOUT:-60}" "$(dirname "$MODULE")/examples/named_sign" \
    "$MODULE" "$TOKEN" "$1" signer sha256-rsa-pkcs data.bin "$2"
}

refused_sign() {
  if named_sign "$1" "$1.sig" 2>"$1.err"; then
    echo "$1 was allowed to sign"
    return 1
  fi
  expect_in 'KeyFunctionNotPermitted|0x68' "$1.err"
}

as_auditor() {
  KEYWARD_PIN=aud-pin-1 keyward_cli --token "$TOKEN" --user aud audit "$@"
}

export_shows() {
  as_auditor export --format jsonl >trail.jsonl
  expect_in "$1" trail.jsonl
}

tamper() {
  python3 - "$KEYWARD_DIR/audit.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("CREATE TABLE saved AS SELECT * FROM records WHERE seq = 3")
c.execute("UPDATE records SET body = CAST(replace(CAST(body AS TEXT), '\"result\":\"CKR_OK\"', '\"result\":\"CKR_NO\"') AS BLOB) WHERE seq = 3")
c.commit()
PY
}

untamper() {
  python3 - "$KEYWARD_DIR/audit.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE records SET body = (SELECT body FROM saved) WHERE seq = 3")
c.execute("DROP TABLE saved")
c.commit()
PY
}

# Drop the last four records together with the checkpoints that covered them.
truncate_tail() {
  python3 - "$KEYWARD_DIR/audit.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
(last,) = c.execute("SELECT MAX(seq) FROM records").fetchone()
c.execute("DELETE FROM records WHERE seq > ?", (last - 4,))
c.execute("DELETE FROM checkpoints WHERE seq > ?", (last - 4,))
c.commit()
PY
}

verify_fails_at_anchor() {
  if as_auditor verify >verify.out 2>&1; then
    cat verify.out
    return 1
  fi
  expect_in 'NOT intact: .*anchor in the token database' verify.out
}

verify_fails() {
  if as_auditor verify >verify.out 2>&1; then
    cat verify.out
    return 1
  fi
  expect_in 'NOT intact: record 3' verify.out
}

main() {
  kw_setup access-audit
  if kw_is_softhsm "$MODULE"; then
    echo "access-audit: Keyward's users, ACLs and audit trail; nothing to run on SoftHSM"
    kw_finish
  fi
  kw_check "token with an RSA key" kw_init_token "$TOKEN"
  kw_check "key pair for signing" kw_keygen "$TOKEN" rsa:2048 01 signer
  head -c 2000 /dev/urandom >data.bin
  kw_check "pubkey export" kw_export_pubkey "$TOKEN" 01 signer.pem
  kw_check "keyward user add km --role key-manager" add_user km key-manager
  kw_check "keyward user add op --role operator" add_user op operator
  kw_check "keyward user add op2 --role operator" add_user op2 operator
  kw_check "keyward user add aud --role auditor" add_user aud auditor
  kw_check "keyward user list shows four users" \
    sh -c "KEYWARD_SO_PIN=$KW_SO_PIN $(dirname "$MODULE")/keyward --token $TOKEN user list | grep -c 'operator\|auditor\|key-manager' | grep -qx 4"
  kw_check "key manager sets the ACL: only op may sign" \
    env KEYWARD_PIN=km-pin-1 "$(dirname "$MODULE")/keyward" --user km key acl "$URI;object=signer" --set 'user:op=sign'
  kw_check "operator op signs through C_LoginUser" named_sign op op.sig
  kw_check "plain OpenSSL verifies op's signature" \
    plain_openssl dgst -sha256 -verify signer.pem -signature op.sig data.bin
  kw_check "key manager km may not sign (CKR_KEY_FUNCTION_NOT_PERMITTED)" refused_sign km
  kw_check "operator op2 is not in the key's ACL" refused_sign op2
  kw_check "auditor: keyward audit verify says intact" as_auditor verify
  kw_check "trail: op's signature with user, role, key and mechanism" export_shows \
    '"user":"op","role":"operator".*"operation":"sign".*"object_label":"signer".*"mechanism":"CKM_SHA256_RSA_PKCS","result":"CKR_OK"'
  kw_check "trail: km's refused signature" export_shows \
    '"user":"km","role":"key-manager".*"operation":"sign".*"result":"CKR_KEY_FUNCTION_NOT_PERMITTED"'
  kw_check "trail: the ACL change" export_shows '"user":"km".*"operation":"set-attributes"'
  kw_check "trail: users added by the SO" export_shows '"user":"so".*"operation":"user-add".*"detail":"name=aud role=auditor"'
  kw_check "trail: no PIN in the file" sh -c "! grep -aq 'op-pin-1\|km-pin-1\|$KW_USER_PIN' '$KEYWARD_DIR/audit.db'"
  kw_check "a non-auditor cannot read the trail" \
    sh -c "! KEYWARD_PIN=op-pin-1 $(dirname "$MODULE")/keyward --token $TOKEN --user op audit verify"
  kw_check "edit record 3 of the trail" tamper
  kw_check "auditor: verify now fails naming record 3" verify_fails
  kw_check "undo the edit" untamper
  kw_check "auditor: intact again" as_auditor verify
  kw_check "keyward user role op2 key-manager" \
    env KEYWARD_SO_PIN="$KW_SO_PIN" "$(dirname "$MODULE")/keyward" --token "$TOKEN" user role op2 key-manager
  kw_check "op2, now a key manager, is still refused" refused_sign op2
  kw_check "trail: the role change" export_shows '"user":"so".*"operation":"user-role".*"detail":"name=op2 role=key-manager"'
  kw_check "drop the trail's tail with its checkpoints" truncate_tail
  kw_check "auditor: verify fails on the anchor kept in token.db" verify_fails_at_anchor
  kw_finish
}

main "$@"
