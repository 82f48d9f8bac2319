#!/usr/bin/env bash
# Delegation: a Keyward slot backed by a device (SoftHSMv2 standing in for an HSM). Keys made
# through Keyward with pkcs11-tool live on the device (seen with pkcs11-tool on SoftHSM's own
# module, sensitive and never extractable); pkcs11-tool and OpenSSL's pkcs11-provider sign
# through Keyward (verified by plain OpenSSL); rotation makes a new device key, revocation
# refuses the next signature, destroy removes the device objects; `keyward adopt` takes over a
# key made on the device directly; the audit trail records it all; with the device's token
# directory moved away a signature fails cleanly (CKR_DEVICE_*), and works again when it is back.
# Usage: MODULE=/path/to/libkeyward.so interop/delegate.sh  (keyward is taken beside MODULE)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-delegate
URI="pkcs11:token=$TOKEN"
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
HSM_PIN=hsm-user-pin-1
HSM_SO_PIN=hsm-so-pin-1

keyward_cli() {
  KEYWARD_PIN="$KW_USER_PIN" timeout "${KW_TIMEOUT:-60}" "$(dirname "$MODULE")/keyward" "$@"
}

# pkcs11-tool straight on the device, logged in.
device() {
  timeout "${KW_TIMEOUT:-60}" pkcs11-tool --module "$SOFTHSM" --token-label hsm \
    --login --pin "$HSM_PIN" "$@"
}

# The device (a SoftHSM token in the work dir) and a Keyward configuration delegating to it.
make_device() {
  test -f "$SOFTHSM"
  mkdir -p hsm-tokens
  printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
    "$KW_WORK/hsm-tokens" >softhsm2.conf
  softhsm2-util --init-token --free --label hsm --so-pin "$HSM_SO_PIN" --pin "$HSM_PIN"
  printf '%s\n' "$HSM_PIN" >hsm.pin
  chmod 600 hsm.pin
  cat >keyward.toml <<EOF
[[slot]]
path = "$KW_WORK/keyward"
label = "Keyward delegating to SoftHSM"
backend = "delegate"
device_module = "$SOFTHSM"
device_token = "pkcs11:token=hsm"
device_pin_file = "$KW_WORK/hsm.pin"
EOF
  kw_init_token "$TOKEN"
  head -c 1000 /dev/urandom >data.bin
  # SoftHSM 2.6 offers CKM_ECDSA only (no CKM_ECDSA_SHA256): pkcs11-tool signs this digest.
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
}

# device_keys: the number of private keys on the device.
device_keys() {
  device --list-objects --type privkey 2>/dev/null | grep -c '^Private Key Object' || true
}

keygen_on_device() {
  kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  test "$(device_keys)" = 2
}

device_objects_are_sensitive() {
  device --list-objects --type privkey >device.list
  expect_in 'label: +keyward:' device.list
  test "$(grep -c 'never extractable' device.list)" = 2
  test "$(grep -cE 'Access: +sensitive' device.list)" = 2
}

sign_p11() {
  p11_user "$TOKEN" --sign --id "$1" -m "$2" -i data.bin -o "$3" 2>"$3.err"
}

pkcs11_tool_signs_rsa() {
  sign_p11 01 SHA256-RSA-PKCS rsa1.sig
  kw_export_pubkey "$TOKEN" 01 rsa1.pub.pem
  plain_openssl dgst -sha256 -verify rsa1.pub.pem -signature rsa1.sig data.bin
}

openssl_signs_ec() {
  p11_openssl dgst -sha256 -sign "$URI;object=ec1;type=private" -out ec1.sig data.bin
  kw_export_pubkey "$TOKEN" 02 ec1.pub.pem
  plain_openssl dgst -sha256 -verify ec1.pub.pem -signature ec1.sig data.bin
}

rotation_makes_a_device_key() {
  keyward_cli key rotate "$URI;object=ec1;type=private" --public-key ec1.v2.pem
  test "$(device_keys)" = 3
  p11_openssl dgst -sha256 -sign "$URI;object=ec1;type=private" -out ec1.v2.sig data.bin
  plain_openssl dgst -sha256 -verify ec1.v2.pem -signature ec1.v2.sig data.bin
  if plain_openssl dgst -sha256 -verify ec1.pub.pem -signature ec1.v2.sig data.bin; then
    echo "the new signature verifies with version 1's key"
    return 1
  fi
}

revocation_refuses() {
  keyward_cli key revoke "$URI;object=rsa1" --reason key-compromise
  if sign_p11 01 SHA256-RSA-PKCS revoked.sig; then
    echo "a revoked key signed"
    return 1
  fi
  expect_in 'CKR_KEY_FUNCTION_NOT_PERMITTED' revoked.sig.err
}

# sign_ec ID OUT: CKM_ECDSA on data.sha256 through Keyward, the signature in DER.
sign_ec() {
  p11_user "$TOKEN" --sign --id "$1" -m ECDSA --signature-format openssl -i data.sha256 \
    -o "$2" 2>"$2.err"
}

adopt_a_device_key() {
  device --keypairgen --key-type EC:prime256v1 --id 77 --label devkey >/dev/null
  keyward_cli adopt 'pkcs11:object=devkey;type=private' >adopt.out
  expect_in 'adopted private "devkey"' adopt.out
  sign_ec 77 devkey.sig
  device --read-object --type pubkey --id 77 -o devkey.pub.der
  plain_openssl pkey -pubin -inform DER -in devkey.pub.der -out devkey.pub.pem
  plain_openssl pkeyutl -verify -pubin -inkey devkey.pub.pem -in data.sha256 -sigfile devkey.sig
  keyward_cli adopt 'pkcs11:object=devkey;type=private' >adopt.again
  expect_in 'nothing new to adopt' adopt.again
}

destroy_removes_device_objects() {
  local before
  before=$(device_keys)
  keyward_cli key destroy "$URI;object=ec1"
  test "$(device_keys)" = $((before - 2))
}

audit_records_it() {
  KEYWARD_SO_PIN="$KW_SO_PIN" KEYWARD_NEW_PIN=aud-pin-1 keyward_cli user add aud --role auditor
  KEYWARD_PIN=aud-pin-1 timeout 60 "$(dirname "$MODULE")/keyward" --user aud audit export \
    --format jsonl >audit.jsonl
  for op in generate-key-pair sign rotate adopt destroy-object; do
    expect_in "\"operation\":\"$op\"" audit.jsonl
  done
  expect_in '"result":"CKR_KEY_FUNCTION_NOT_PERMITTED"' audit.jsonl
  KEYWARD_PIN=aud-pin-1 timeout 60 "$(dirname "$MODULE")/keyward" --user aud audit verify
}

device_away_fails_cleanly() {
  mv hsm-tokens hsm-tokens.away
  local rc=0
  sign_ec 77 away.sig || rc=$?
  mv hsm-tokens.away hsm-tokens
  if [ "$rc" -eq 0 ]; then
    echo "signed without the device"
    return 1
  fi
  if [ "$rc" -gt 128 ]; then
    echo "pkcs11-tool $(kw_describe_rc "$rc")"
    return 1
  fi
  expect_in 'CKR_DEVICE_(ERROR|REMOVED)|CKR_TOKEN_NOT_PRESENT' away.sig.err
}

device_back_works() {
  sign_ec 77 back.sig
  plain_openssl pkeyutl -verify -pubin -inkey devkey.pub.pem -in data.sha256 -sigfile back.sig
}

main() {
  kw_setup delegate
  # Every check runs in a subshell: the environment is set here, once.
  export SOFTHSM2_CONF=$KW_WORK/softhsm2.conf KEYWARD_CONF=$KW_WORK/keyward.toml
  unset KEYWARD_DIR
  kw_require "SoftHSM device and a Keyward slot delegating to it" make_device
  kw_require "write provider config" write_provider_conf
  kw_check "pkcs11-tool --keypairgen through Keyward makes RSA and EC keys on the device" keygen_on_device
  kw_check "the device keys are sensitive and never extractable (pkcs11-tool on SoftHSM)" device_objects_are_sensitive
  kw_check "pkcs11-tool signs RSA through Keyward (verified by openssl)" pkcs11_tool_signs_rsa
  kw_check "OpenSSL provider signs ECDSA through Keyward (verified by openssl)" openssl_signs_ec
  kw_check "keyward key rotate: a new device key, OpenSSL signs with it" rotation_makes_a_device_key
  kw_check "keyward key revoke: the next signature is refused" revocation_refuses
  kw_check "keyward adopt: a key made on the device signs through Keyward" adopt_a_device_key
  kw_check "keyward key destroy: its device objects are gone" destroy_removes_device_objects
  kw_check "the audit trail has generation, signing, rotation, adoption, destruction, refusal" audit_records_it
  kw_check "device token directory away: a clean CKR_DEVICE_* failure" device_away_fails_cleanly
  kw_check "device back: signing works again" device_back_works
  kw_finish
}

main "$@"
