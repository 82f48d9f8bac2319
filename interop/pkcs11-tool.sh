#!/usr/bin/env bash
# OpenSC pkcs11-tool against the module: token and PIN set-up, RSA 2048 and EC P-256 key
# generation, signing with each mechanism, and verification of every signature by plain OpenSSL.
# Usage: MODULE=/path/to/module.so interop/pkcs11-tool.sh   (prints PASS/FAIL per check)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-p11tool
# DER prefix of a SHA-256 DigestInfo (RFC 8017, section 9.2, note 1).
SHA256_DIGESTINFO_PREFIX='\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'

make_inputs() {
  head -c 4096 /dev/urandom >data.bin
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
  # shellcheck disable=SC2059  # the format string is the DER prefix
  { printf "$SHA256_DIGESTINFO_PREFIX"; cat data.sha256; } >data.digestinfo
  test "$(wc -c <data.digestinfo)" -eq 51
}

list_token_slots() {
  p11 --list-token-slots >slots.txt
  expect_in "token label +: $TOKEN\$" slots.txt
  expect_in 'PIN initialized' slots.txt
}

wrong_pin_refused() {
  if p11 --token-label "$TOKEN" --login --pin "not-the-pin" --list-objects >wrong-pin.txt 2>&1; then
    echo "login with a wrong PIN succeeded"
    return 1
  fi
  expect_in 'CKR_PIN_INCORRECT' wrong-pin.txt
}

list_objects() {
  p11_user "$TOKEN" --list-objects >objects.txt
  expect_in 'Private Key Object; RSA' objects.txt
  expect_in 'Public Key Object; RSA 2048 bits' objects.txt
  expect_in 'Private Key Object; EC' objects.txt
  expect_in 'Public Key Object; EC' objects.txt
  expect_in 'label: +rsa1$' objects.txt
  expect_in 'label: +ec1$' objects.txt
}

list_mechanisms() {
  p11 --token-label "$TOKEN" --list-mechanisms >mechanisms.txt
  local m
  for m in RSA-PKCS-KEY-PAIR-GEN ECDSA-KEY-PAIR-GEN RSA-PKCS RSA-PKCS-PSS SHA256-RSA-PKCS \
    SHA256-RSA-PKCS-PSS ECDSA ECDSA-SHA256; do
    expect_in "^ +${m}," mechanisms.txt
  done
}

# Public keys without login: CKA_PRIVATE=false public objects, RSA/EC attributes readable.
export_pubkeys() {
  kw_export_pubkey "$TOKEN" 01 rsa1.pub.pem
  kw_export_pubkey "$TOKEN" 02 ec1.pub.pem
  plain_openssl pkey -pubin -in rsa1.pub.pem -text -noout | grep -q 'Public-Key: (2048 bit)'
  plain_openssl pkey -pubin -in ec1.pub.pem -text -noout | grep -q 'NIST CURVE: P-256'
}

# sign ID MECHANISM INPUT OUTPUT [extra pkcs11-tool args]
sign() {
  local id=$1 mech=$2 in=$3 out=$4
  shift 4
  p11_user "$TOKEN" --sign --id "$id" -m "$mech" "$@" -i "$in" -o "$out"
  test -s "$out"
}

verify_tampered_rejected() {
  cp data.bin tampered.bin
  printf 'x' >>tampered.bin
  if plain_openssl dgst -sha256 -verify rsa1.pub.pem -signature sig.sha256-rsa-pkcs tampered.bin; then
    echo "a tampered message verified"
    return 1
  fi
}

# A certificate object written with --write-object and read back byte for byte; the listing
# shows it with its subject.
cert_roundtrip() {
  plain_openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout cert.key \
    -subj /CN=kw-cert-roundtrip -days 1 -outform DER -out cert.der
  p11_user "$TOKEN" --write-object cert.der --type cert --id 10 --label cert1
  p11 --token-label "$TOKEN" --read-object --type cert --id 10 -o cert.back.der
  cmp cert.der cert.back.der
  p11 --token-label "$TOKEN" --list-objects --type cert >certs.txt
  expect_in 'label: +cert1' certs.txt
  expect_in 'subject: +DN: CN=kw-cert-roundtrip' certs.txt
}

main() {
  kw_setup pkcs11-tool
  kw_require "make test inputs" make_inputs
  kw_check "list slots (uninitialised token)" p11 --list-slots
  kw_require "init-token --label $TOKEN" p11 --init-token --label "$TOKEN" --so-pin "$KW_SO_PIN"
  kw_require "init-pin (SO login)" p11 --token-label "$TOKEN" --login --login-type so \
    --so-pin "$KW_SO_PIN" --init-pin --pin "$KW_USER_PIN"
  kw_check "list-token-slots shows $TOKEN" list_token_slots
  kw_check "login with a wrong PIN is refused" wrong_pin_refused
  kw_require "keypairgen rsa:2048 (rsa1)" kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_require "keypairgen EC:prime256v1 (ec1)" kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_check "list-objects" list_objects
  kw_check "list-mechanisms" list_mechanisms
  kw_require "read-object pubkey rsa1, ec1 (DER SPKI)" export_pubkeys

  kw_check "sign SHA256-RSA-PKCS" sign 01 SHA256-RSA-PKCS data.bin sig.sha256-rsa-pkcs
  kw_check "verify SHA256-RSA-PKCS (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.pub.pem -signature sig.sha256-rsa-pkcs data.bin
  kw_check "openssl rejects a tampered message" verify_tampered_rejected

  kw_check "sign SHA256-RSA-PKCS-PSS" sign 01 SHA256-RSA-PKCS-PSS data.bin sig.sha256-pss \
    --mgf MGF1-SHA256
  kw_check "verify SHA256-RSA-PKCS-PSS (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.pub.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -signature sig.sha256-pss data.bin

  kw_check "sign RSA-PKCS-PSS on a SHA-256 hash" sign 01 RSA-PKCS-PSS data.sha256 sig.pss \
    --hash-algorithm SHA256 --mgf MGF1-SHA256
  kw_check "verify RSA-PKCS-PSS (openssl)" plain_openssl pkeyutl -verify -pubin \
    -inkey rsa1.pub.pem -in data.sha256 -sigfile sig.pss -pkeyopt digest:sha256 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32

  kw_check "sign RSA-PKCS on a DigestInfo" sign 01 RSA-PKCS data.digestinfo sig.rsa-pkcs
  kw_check "verify RSA-PKCS (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.pub.pem -signature sig.rsa-pkcs data.bin

  kw_check "sign ECDSA-SHA256" sign 02 ECDSA-SHA256 data.bin sig.ecdsa-sha256 \
    --signature-format openssl
  kw_check "verify ECDSA-SHA256 (openssl)" plain_openssl dgst -sha256 \
    -verify ec1.pub.pem -signature sig.ecdsa-sha256 data.bin

  kw_check "sign ECDSA on a SHA-256 hash" sign 02 ECDSA data.sha256 sig.ecdsa \
    --signature-format openssl
  kw_check "verify ECDSA (openssl)" plain_openssl dgst -sha256 \
    -verify ec1.pub.pem -signature sig.ecdsa data.bin

  kw_check "certificate object written and read back" cert_roundtrip

  kw_finish
}

main "$@"
