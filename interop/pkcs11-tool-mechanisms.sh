#!/usr/bin/env bash
# OpenSC pkcs11-tool's own self-tests (--test, --test-ec, --test-threads, --test-fork) and the
# wider mechanism set: RSA-PKCS and RSA-X-509 decryption, Ed25519 signatures, ECDH derivation,
# each result checked by plain OpenSSL.
# Usage: MODULE=/path/to/module.so interop/pkcs11-tool-mechanisms.sh   (PASS/FAIL per check)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-p11mech
# How many mechanisms C_GetMechanismList must report at least.
MIN_MECHANISMS=70

# pkcs11-tool --test and friends print their verdict; a non-zero exit or an error line fails.
self_test() {
  local out=$1
  shift
  p11 --token-label "$TOKEN" "$@" >"$out" 2>&1 || { cat "$out"; return 1; }
  if grep -Eiq 'error|failed|some errors' "$out" && ! grep -q '^No errors$' "$out"; then
    cat "$out"
    return 1
  fi
}

test_all() {
  self_test test.txt --test --login --pin "$KW_USER_PIN" --allow-sw
  expect_in '^No errors$' test.txt
  expect_in 'RSA-PKCS: OK' test.txt
  expect_in 'RSA-X-509: OK' test.txt
}

test_ec() {
  self_test test-ec.txt --test-ec --login --pin "$KW_USER_PIN" --session-rw \
    --id 30 --key-type EC:prime256v1
  expect_in '==> OK' test-ec.txt
}

# test_threads CMDS...: one thread per argument, each running that command string. A thread
# whose C_Initialize loses the race with the main thread's gets CKR_CRYPTOKI_ALREADY_INITIALIZED,
# as the specification requires (pkcs11-tool still logs it, and exits 0, as OpenSC's own test
# expects); any other failed call fails the check.
test_threads() {
  local args=() c
  for c in "$@"; do args+=(--test-threads "$c"); done
  p11 "${args[@]}" -L >threads.txt 2>&1 || { cat threads.txt; return 1; }
  if grep 'test_threads thread:' threads.txt |
    grep -Ev 'rv:(CKR_OK|CKR_CRYPTOKI_ALREADY_INITIALIZED)$' | grep -q .; then
    cat threads.txt
    return 1
  fi
  expect_in 'token label +: '"$TOKEN" threads.txt
}

test_fork() {
  self_test fork.txt --test-fork
  expect_in 'Calling C_Initialize in forked child process' fork.txt
}

mechanism_count() {
  p11 --token-label "$TOKEN" --list-mechanisms >mechanisms.txt
  local n
  n=$(grep -c '^  [A-Za-z0-9]' mechanisms.txt)
  echo "$n mechanisms listed"
  test "$n" -ge "$MIN_MECHANISMS"
}

# RSA-PKCS and RSA-X-509: OpenSSL encrypts to the token key, the token decrypts.
rsa_decrypt() {
  local mech=$1 pad=$2
  head -c 32 /dev/urandom >secret.bin
  if [ "$pad" = none ]; then
    # Raw RSA decrypts to k bytes: a leading zero keeps the value below the modulus.
    { head -c 1 /dev/zero; head -c 255 /dev/urandom; } >secret.bin
  fi
  plain_openssl pkeyutl -encrypt -pubin -inkey rsa.pub.pem -pkeyopt "rsa_padding_mode:$pad" \
    -in secret.bin -out secret.enc
  p11_user "$TOKEN" --decrypt --id 10 -m "$mech" -i secret.enc -o secret.dec
  cmp secret.bin secret.dec
}

ed25519_sign() {
  p11_user "$TOKEN" --sign --id 20 -m EDDSA -i data.bin -o sig.ed25519
  # pkcs11-tool 0.23 writes an Edwards public key as PEM whatever the file is called.
  p11 --token-label "$TOKEN" --read-object --type pubkey --id 20 -o ed.pub
  plain_openssl pkeyutl -verify -pubin -inkey ed.pub -rawin -in data.bin -sigfile sig.ed25519
}

ecdh_derive() {
  plain_openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out peer.pem
  plain_openssl pkey -in peer.pem -pubout -outform DER -out peer.der
  p11_user "$TOKEN" --derive -m ECDH1-DERIVE --id 21 -i peer.der -o token-secret.bin
  p11 --token-label "$TOKEN" --read-object --type pubkey --id 21 -o ecdh.der
  plain_openssl pkeyutl -derive -inkey peer.pem -peerkey ecdh.der -peerform DER \
    -out openssl-secret.bin
  cmp token-secret.bin openssl-secret.bin
}

main() {
  kw_setup pkcs11-tool-mechanisms
  head -c 1000 /dev/urandom >data.bin
  kw_require "init-token --label $TOKEN" p11 --init-token --label "$TOKEN" --so-pin "$KW_SO_PIN"
  kw_require "init-pin (SO login)" p11 --token-label "$TOKEN" --login --login-type so \
    --so-pin "$KW_SO_PIN" --init-pin --pin "$KW_USER_PIN"
  kw_require "keypairgen rsa:2048" kw_keygen "$TOKEN" rsa:2048 10 rsa
  kw_require "keypairgen EC:edwards25519" kw_keygen "$TOKEN" EC:edwards25519 20 ed
  kw_require "keypairgen EC:prime256v1 with derive usage" kw_keygen "$TOKEN" EC:prime256v1 \
    21 ecdh --usage-derive
  kw_require "read-object pubkey rsa" kw_export_pubkey "$TOKEN" 10 rsa.pub.pem

  kw_check "--test --login (all its checks)" test_all
  kw_check "--test-ec --login --session-rw" test_ec
  kw_check "--test-threads IN" test_threads IN
  kw_check "--test-threads ILGISLT0, two threads" test_threads ILGISLT0 ILGISLT0
  kw_check "--test-fork" test_fork
  kw_check "-M lists at least $MIN_MECHANISMS mechanisms" mechanism_count
  kw_check "decrypt RSA-PKCS (openssl encrypted)" rsa_decrypt RSA-PKCS pkcs1
  kw_check "decrypt RSA-X-509 (openssl encrypted)" rsa_decrypt RSA-X-509 none
  kw_check "sign EDDSA, verified by openssl" ed25519_sign
  kw_check "derive ECDH1-DERIVE, equal to openssl's" ecdh_derive
  kw_finish
}

main "$@"
