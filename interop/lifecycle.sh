#!/usr/bin/env bash
# Key lifecycle seen by real consumers: after `keyward key revoke --reason superseded` a key no
# longer signs through pkcs11-tool or OpenSSL's pkcs11-provider but still verifies through the
# token; after `--reason key-compromise` it does neither; suspend and resume work in between.
# Every refusal must be clean: a failure status below 124 (a timeout or a signal such as
# SIGSEGV/SIGABRT fails the check) with the reason printed, CKR_KEY_FUNCTION_NOT_PERMITTED
# from pkcs11-tool and in pkcs11-provider's debug log for OpenSSL.
# Usage: MODULE=/path/to/libkeyward.so interop/lifecycle.sh  (keyward is taken beside MODULE)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-lifecycle
URI="pkcs11:token=$TOKEN"

keyward_cli() {
  KEYWARD_PIN="$KW_USER_PIN" timeout "${KW_TIMEOUT:-60}" "$(dirname "$MODULE")/keyward" "$@"
}

make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_keygen "$TOKEN" EC:prime256v1 03 ec2
  kw_keygen "$TOKEN" rsa:2048 04 rsa3
  kw_keygen "$TOKEN" EC:prime256v1 05 ec4
  kw_keygen "$TOKEN" EC:prime256v1 06 tls
  head -c 1000 /dev/urandom >data.bin
}

# The pkcs11-tool signature mechanism for key ID (RSA keys have ids 01 and 04).
mech_of() {
  case $1 in
    01 | 04) echo SHA256-RSA-PKCS ;;
    *) echo ECDSA-SHA256 ;;
  esac
}

# sign_p11 ID OUT: a pkcs11-tool signature with the current version of key ID.
sign_p11() {
  p11_user "$TOKEN" --sign --id "$1" -m "$(mech_of "$1")" -i data.bin -o "$2"
}

# p11_verify ID SIG: pkcs11-tool --verify through the token (one command, so that its exit
# status is the function's).
p11_verify() {
  p11_user "$TOKEN" --verify --id "$1" -m "$(mech_of "$1")" -i data.bin --signature-file "$2"
}

verify_p11() {
  p11_verify "$1" "$2" >"$2.verify"
  expect_in 'Signature is valid' "$2.verify"
}

sign_ossl() {
  p11_openssl dgst -sha256 -sign "$URI;object=$1;type=private" -out "$2" data.bin
}

# refused LOG PATTERN CMD...: CMD must fail cleanly and say why. Its output (stdout and
# stderr) goes to LOG, which must match the extended regex PATTERN. A clean failure is an exit
# status from 1 to 123: 124 is timeout's (a hang), 125-127 mean the command could not run, and
# above 128 it died of a signal (139 SIGSEGV, 134 SIGABRT): a crash is not a refusal.
# Sets REFUSED_RC to CMD's exit status.
REFUSED_RC=0
refused() {
  local log=$1 pattern=$2
  shift 2
  REFUSED_RC=0
  "$@" >"$log" 2>&1 || REFUSED_RC=$?
  cat "$log"
  if [ "$REFUSED_RC" -eq 0 ]; then
    echo "expected a refusal: $*"
    return 1
  fi
  if [ "$REFUSED_RC" -ge 124 ]; then
    echo "not a clean refusal ($(kw_describe_rc "$REFUSED_RC")): $*"
    return 1
  fi
  echo "refused with exit $REFUSED_RC: $*"
  expect_in "$pattern" "$log"
}

# pkcs11-tool refusals must name the code the lifecycle state gives.
refused_by_lifecycle() {
  refused "refused.$1.log" 'CKR_KEY_FUNCTION_NOT_PERMITTED' sign_p11 "$1" "refused.$1"
}

verify_refused_by_lifecycle() {
  refused "refused-verify.$1.log" 'CKR_KEY_FUNCTION_NOT_PERMITTED' p11_verify "$1" "$2"
}

# sign_ossl_traced KEY OUT: sign_ossl with pkcs11-provider's debug log in OUT.p11prov.txt.
sign_ossl_traced() {
  PKCS11_PROVIDER_DEBUG="file:$KW_WORK/$2.p11prov.txt,level:1" sign_ossl "$1" "$2"
}

# ossl_refused KEY OUT: OpenSSL (pkcs11-provider) must fail to sign with exit status 1 (its
# error status; not a signal, not a timeout), say so on stderr, write no signature, and the
# refusal must be the module's: the provider's debug log shows C_SignInit returning 104
# (0x68, CKR_KEY_FUNCTION_NOT_PERMITTED). `openssl dgst` itself only prints "Read error in
# data.bin": pkcs11-provider starts the signature at the first update.
ossl_refused() {
  refused "$2.log" '[Ee]rror' sign_ossl_traced "$1" "$2"
  [ "$REFUSED_RC" -eq 1 ] || {
    echo "openssl exited $REFUSED_RC, not 1"
    return 1
  }
  if [ -s "$2" ]; then
    echo "openssl wrote a signature to $2"
    return 1
  fi
  grep -E 'C_SignInit' "$2.p11prov.txt" | tail -n 3
  expect_in 'Error 104 returned by C_SignInit' "$2.p11prov.txt"
}

# cli_refused CMD...: the keyward CLI refuses with its failure status (1) and a message.
cli_refused() {
  refused cli-refused.log '.' keyward_cli "$@"
  [ "$REFUSED_RC" -eq 1 ]
}

# differ A B: the two files exist and differ (cmp exits 1; 2 would mean it could not compare).
differ() {
  local rc=0
  cmp "$1" "$2" || rc=$?
  [ "$rc" -eq 1 ]
}

# plain_verify_rejects PUB SIG: plain OpenSSL reports a verification failure (exit 1), not an
# unreadable key or signature.
plain_verify_rejects() {
  refused "reject.$2.log" '^Verification failure' plain_verify "$1" "$2"
  [ "$REFUSED_RC" -eq 1 ]
}

list_shows() {
  keyward_cli --token "$TOKEN" keys >keys.txt
  expect_in "^$1 .* $2 " keys.txt
}

# The token's current public key of LABEL as PEM (pkcs11-tool takes the newest version).
export_label() {
  p11 --token-label "$TOKEN" --read-object --type pubkey --label "$1" -o "$2.der"
  plain_openssl pkey -pubin -inform DER -in "$2.der" -out "$2"
}

plain_verify() {
  plain_openssl dgst -sha256 -verify "$1" -signature "$2" data.bin
}

show_json() {
  keyward_cli key show "$URI;object=$1" --json >"show.$1.json"
  python3 - "show.$1.json" "$2" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
want = sys.argv[2]
if want == "tombstone":
    assert not report["versions"], report
    assert len(report["tombstones"]) == 1, report
    t = report["tombstones"][0]
    assert t["versions"] == 2, report
    # revoked (cessation-of-operation) before it was destroyed; both halves of both versions
    assert (t["state"], t["reason"]) == ("deactivated", 6), report
    assert len(t["history"]) == 4 and t["created"] > 0 and t["destroyed_at"] >= t["created"], report
else:
    states = sorted([v["version"], v["class"], v["state"]] for v in report["versions"])
    assert states == json.loads(want), (states, want)
PY
}

# certify LABEL ID: a certificate made with the token key, stored on the token beside it.
certify() {
  p11_openssl req -new -x509 -days 30 -subj "/CN=keyward rotation/O=Keyward" \
    -key "$URI;object=$1;type=private" -out "$1.crt"
  p11_user "$TOKEN" --write-object "$1.crt" --type cert --id "$2" --label "$1" >/dev/null
}

rotate_with_csr() {
  keyward_cli key rotate "$URI;object=$1;type=private" --csr "$1.csr" --public-key "$1.v2.pem"
}

# check_csr LABEL: the CSR written at rotation is self-signed by the new key, keeps the old
# certificate's subject and carries the new public key, the one the token now has.
check_csr() {
  plain_openssl req -in "$1.csr" -verify -noout
  plain_openssl req -in "$1.csr" -noout -subject >"$1.subject"
  expect_in 'CN ?= ?keyward rotation' "$1.subject"
  plain_openssl req -in "$1.csr" -noout -pubkey >"$1.csr.pub.pem"
  cmp "$1.csr.pub.pem" "$1.v2.pem"
  export_label "$1" "$1.token.pem"
  cmp "$1.token.pem" "$1.v2.pem"
}

# handshake PORT: one TLS 1.3 client; succeeds only if the server signed for the handshake.
handshake() {
  printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=/dev/null timeout 20 openssl s_client \
    -connect "127.0.0.1:$1" -tls1_3 -CAfile tls.cert.pem -verify_return_error -ign_eof \
    >"client.$2.log" 2>&1 || true
  grep -q '^HTTP/1\.0 200 ok' "client.$2.log"
}

# A running s_server keeps its session on the token; suspending its key from another process
# (the CLI) makes its next handshake fail, without restarting it.
running_server_sees_suspension() {
  p11_openssl req -new -x509 -key "$URI;object=tls;type=private" -subj /CN=kw -days 1 \
    -out tls.cert.pem
  local port
  port=$(free_port)
  start_server tls "$port" 2
  trap '[ -z "${SERVER_PID:-}" ] || kill "$SERVER_PID" 2>/dev/null || true' EXIT
  handshake "$port" first || { cat client.first.log; return 1; }
  keyward_cli key suspend "$URI;object=tls"
  if handshake "$port" second; then
    echo "the running server still signed with a suspended key"
    return 1
  fi
  # Its second (last, -naccept 2) connection served, the server ends by itself: a refusal, not
  # a crash (status 1..123; a signal, 124 or a hang fail the check).
  local i rc=0
  for i in $(seq 1 100); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "s_server still running 10 s after its last connection"
    return 1
  fi
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  echo "s_server: $(kw_describe_rc "$rc")"
  [ "$rc" -lt 124 ]
  grep -i 'error\|fail\|alert' server.tls.log client.second.log | head -5
}

no_object() {
  p11_user "$TOKEN" --list-objects >objects.txt
  expect_in "label: +rsa1\$" objects.txt # the listing works
  if grep -Eq "label: +$1\$" objects.txt; then
    echo "$1 is still listed"
    return 1
  fi
}

main() {
  kw_setup lifecycle
  kw_require "token with rsa1 and ec1" make_token
  kw_require "write provider config" write_provider_conf
  kw_check "pkcs11-tool signs with rsa1 (active)" sign_p11 01 before.rsa1
  kw_check "OpenSSL provider signs with rsa1 (active)" sign_ossl rsa1 before.ossl.rsa1

  kw_check "keyward key suspend rsa1" keyward_cli key suspend "$URI;object=rsa1"
  kw_check "suspended: pkcs11-tool sign refused" refused_by_lifecycle 01
  kw_check "keyward key resume rsa1" keyward_cli key resume "$URI;object=rsa1"
  kw_check "resumed: pkcs11-tool signs again" sign_p11 01 resumed.rsa1

  kw_check "keyward key revoke rsa1 --reason superseded" \
    keyward_cli key revoke "$URI;object=rsa1" --reason superseded
  kw_check "keyward keys shows rsa1 deactivated" list_shows rsa1 deactivated
  kw_check "superseded: pkcs11-tool sign refused" refused_by_lifecycle 01
  kw_check "superseded: OpenSSL provider sign refused (exit 1, CKR_KEY_FUNCTION_NOT_PERMITTED)" \
    ossl_refused rsa1 after.ossl.rsa1
  kw_check "superseded: the token still verifies the earlier signature" verify_p11 01 before.rsa1
  kw_check "deactivated keys cannot come back" cli_refused key activate "$URI;object=rsa1"

  kw_check "pkcs11-tool signs with ec1 (active)" sign_p11 02 before.ec1
  kw_check "keyward key revoke ec1 --reason key-compromise" \
    keyward_cli key revoke "$URI;object=ec1" --reason key-compromise
  kw_check "keyward keys shows ec1 compromised" list_shows ec1 compromised
  kw_check "compromised: pkcs11-tool sign refused" refused_by_lifecycle 02
  kw_check "compromised: OpenSSL provider sign refused (exit 1, CKR_KEY_FUNCTION_NOT_PERMITTED)" \
    ossl_refused ec1 after.ossl.ec1
  kw_check "compromised: pkcs11-tool verification refused too" \
    verify_refused_by_lifecycle 02 before.ec1

  kw_check "ec2: export its public key (version 1)" export_label ec2 ec2.v1.pem
  kw_check "ec2: OpenSSL provider signs (version 1)" sign_ossl ec2 ec2.v1.sig
  kw_check "ec2: pkcs11-tool signs (version 1)" sign_p11 03 ec2.v1.p11sig
  kw_check "keyward key rotate ec2" keyward_cli key rotate "$URI;object=ec2"
  kw_check "ec2: export its public key (version 2)" export_label ec2 ec2.v2.pem
  kw_check "rotation made a new key" differ ec2.v1.pem ec2.v2.pem
  kw_check "ec2: OpenSSL provider now signs with version 2" sign_ossl ec2 ec2.v2.sig
  kw_check "the new signature verifies with version 2's key" plain_verify ec2.v2.pem ec2.v2.sig
  kw_check "and not with version 1's" plain_verify_rejects ec2.v1.pem ec2.v2.sig
  kw_check "the signature made before rotation still verifies" plain_verify ec2.v1.pem ec2.v1.sig
  kw_check "… and through the token (pkcs11-tool --verify, current key)" verify_p11 03 ec2.v1.p11sig
  kw_check "keyward keys shows both versions" list_shows ec2 deactivated
  kw_check "keyward key show ec2: version 1 deactivated, version 2 active" show_json ec2 \
    '[[1, "private", "deactivated"], [1, "public", "deactivated"], [2, "private", "active"], [2, "public", "active"]]'
  local key id
  for key in rsa3:04 ec4:05; do
    id=${key#*:} key=${key%:*}
    kw_check "$key: a certificate on the token" certify "$key" "$id"
    kw_check "keyward key rotate $key --csr --public-key" rotate_with_csr "$key"
    kw_check "$key: the CSR verifies, keeps the subject, carries the new key" check_csr "$key"
  done
  kw_check "a running s_server's next handshake fails once its key is suspended" \
    running_server_sees_suspension
  kw_check "after rotation, keyward key suspend ec2 suspends only version 2" \
    keyward_cli key suspend "$URI;object=ec2"
  kw_check "keyward key show ec2: version 2 suspended, version 1 untouched" show_json ec2 \
    '[[1, "private", "deactivated"], [1, "public", "deactivated"], [2, "private", "suspended"], [2, "public", "suspended"]]'
  kw_check "keyward key resume ec2" keyward_cli key resume "$URI;object=ec2"
  kw_check "keyward key revoke ec2 --reason cessation-of-operation" \
    keyward_cli key revoke "$URI;object=ec2" --reason cessation-of-operation
  kw_check "keyward key destroy ec2" keyward_cli key destroy "$URI;object=ec2"
  kw_check "destroyed: pkcs11-tool lists no ec2 object" no_object ec2
  kw_check "keyward key show ec2 reports the tombstone" show_json ec2 tombstone
  kw_finish
}

main "$@"
