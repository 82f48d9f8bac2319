#!/usr/bin/env bash
# OpenSSL 3 with the libp11 pkcs11 engine (libengine-pkcs11-openssl) against the module: public
# key export, dgst -sign (RSA PKCS#1 v1.5, ECDSA), pkeyutl -sign RSA-PSS, pkeyutl -decrypt
# RSA-OAEP and req -x509 on token keys. Every signature, certificate and plaintext is checked by
# plain OpenSSL (OPENSSL_CONF=/dev/null), which also encrypts to the token's public key.
# Usage: MODULE=/path/to/module.so interop/openssl-engine.sh
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-engine
URI="pkcs11:token=$TOKEN"
ENGINE_SO=/usr/lib/x86_64-linux-gnu/engines-3/pkcs11.so

# Token with rsa1 (RSA 2048, id 01) and ec1 (P-256, id 02); public keys taken out with
# pkcs11-tool, independently of the engine.
make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_export_pubkey "$TOKEN" 01 rsa1.p11tool.pem
  kw_export_pubkey "$TOKEN" 02 ec1.p11tool.pem
  head -c 4096 /dev/urandom >data.bin
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
  head -c 32 /dev/urandom >secret.bin
}

# engine.cnf: OpenSSL loading the pkcs11 engine on $MODULE with the user PIN.
write_engine_conf() {
  cat >engine.cnf <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $ENGINE_SO
MODULE_PATH = $MODULE
PIN = $KW_USER_PIN
init = 0
EOF
  test -f "$ENGINE_SO"
}

# OpenSSL with the engine configuration; a crash at exit (134/139) fails the check.
eng_openssl() {
  OPENSSL_CONF="$KW_WORK/engine.cnf" timeout "${KW_TIMEOUT:-60}" openssl "$@"
}

engine_loads() {
  eng_openssl engine -t -c pkcs11 >engine.txt
  expect_in '\(pkcs11\)' engine.txt
  expect_in '\[ available \]' engine.txt
}

# export_pubkey KEY: the engine's view of the public key must equal pkcs11-tool's.
export_pubkey() {
  local key=$1
  eng_openssl pkey -engine pkcs11 -inform engine -pubin -in "$URI;object=$key;type=public" \
    -pubout -out "$key.pub.pem"
  cmp "$key.pub.pem" "$key.p11tool.pem"
}

dgst_sign() {
  local key=$1
  eng_openssl dgst -engine pkcs11 -keyform engine -sha256 \
    -sign "$URI;object=$key;type=private" -out "sig.dgst.$key" data.bin
  test -s "sig.dgst.$key"
}

pss_sign() {
  eng_openssl pkeyutl -engine pkcs11 -keyform engine -sign \
    -inkey "$URI;object=rsa1;type=private" -in data.sha256 -out sig.pss.rsa1 \
    -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
  test -s sig.pss.rsa1
}

# oaep_decrypt MD: plain OpenSSL encrypts secret.bin to rsa1's public key with OAEP (MD for
# the label hash and MGF1); the engine decrypts with the token key; the plaintexts must match.
oaep_decrypt() {
  local md=$1
  plain_openssl pkeyutl -encrypt -pubin -inkey rsa1.p11tool.pem -in secret.bin \
    -out "secret.oaep-$md" -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" \
    -pkeyopt "rsa_mgf1_md:$md"
  eng_openssl pkeyutl -engine pkcs11 -keyform engine -decrypt \
    -inkey "$URI;object=rsa1;type=private" -in "secret.oaep-$md" -out "secret.oaep-$md.out" \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt "rsa_oaep_md:$md" -pkeyopt "rsa_mgf1_md:$md"
  cmp secret.bin "secret.oaep-$md.out"
}

self_signed_cert() {
  local key=$1
  eng_openssl req -new -x509 -engine pkcs11 -keyform engine \
    -key "$URI;object=$key;type=private" -subj "/CN=kw-engine-$key" -days 1 -sha256 \
    -out "$key.cert.pem"
}

# The certificate verifies as its own CA and carries the token's public key.
verify_cert() {
  local key=$1
  plain_openssl verify -CAfile "$key.cert.pem" "$key.cert.pem"
  plain_openssl x509 -in "$key.cert.pem" -noout -pubkey >"$key.cert-pub.pem"
  cmp "$key.cert-pub.pem" "$key.p11tool.pem"
}

main() {
  kw_setup openssl-engine
  kw_require "token, rsa1 and ec1 made with pkcs11-tool" make_token
  kw_require "write engine config" write_engine_conf
  kw_check "engine -t pkcs11 is available" engine_loads

  local key
  for key in rsa1 ec1; do
    kw_check "pkey -inform engine -pubout $key matches pkcs11-tool" export_pubkey "$key"
    kw_check "dgst -sha256 -sign $key (engine)" dgst_sign "$key"
    kw_check "verify dgst $key (openssl)" plain_openssl dgst -sha256 \
      -verify "$key.p11tool.pem" -signature "sig.dgst.$key" data.bin
  done

  kw_check "pkeyutl -sign rsa_padding_mode:pss rsa1 (engine)" pss_sign
  kw_check "verify pkeyutl pss rsa1 (openssl)" plain_openssl pkeyutl -verify -pubin \
    -inkey rsa1.p11tool.pem -in data.sha256 -sigfile sig.pss.rsa1 -pkeyopt digest:sha256 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32

  kw_check "pkeyutl -decrypt RSA-OAEP SHA-1 rsa1 (engine)" oaep_decrypt sha1
  kw_check "pkeyutl -decrypt RSA-OAEP SHA-256 rsa1 (engine)" oaep_decrypt sha256

  for key in rsa1 ec1; do
    kw_check "req -x509 self-signed with $key (engine)" self_signed_cert "$key"
    kw_check "verify $key certificate (openssl)" verify_cert "$key"
  done

  kw_finish
}

main "$@"
