#!/usr/bin/env bash
# OpenSSL 3 with the libp11 pkcs11 engine (libengine-pkcs11-openssl) against the module: public
# key export, dgst -sign and pkeyutl -sign (each RSA PKCS#1 v1.5, RSA-PSS, ECDSA), pkeyutl
# -decrypt RSA-OAEP, req -x509 on token keys, token keys as a CA (x509 -req -CAkeyform engine),
# TLS 1.3 s_server on token keys (ECDSA, RSA-PSS) and storeutl through OpenSSL's engine loader
# (org.openssl.engine:pkcs11:URI). Every signature, certificate, handshake and plaintext is
# checked by plain OpenSSL (OPENSSL_CONF=/dev/null), which also encrypts to the token's public key.
# Not tested because the engine itself cannot do them (see docs/integration/openssl-engine.md):
# Ed25519 (libp11 0.4.12 knows only CKK_RSA and CKK_EC, and one Ed25519 key on the token makes
# every key lookup fail) and storeutl on a plain pkcs11: URI (the engine registers no loader).
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

# dgst_sign KEY NAME [SIGOPT ARGS...]: dgst -sha256 -sign of data.bin with the engine's token
# KEY into sig.dgst.NAME.
dgst_sign() {
  local key=$1 name=$2
  shift 2
  eng_openssl dgst -engine pkcs11 -keyform engine -sha256 \
    -sign "$URI;object=$key;type=private" "$@" -out "sig.dgst.$name" data.bin
  test -s "sig.dgst.$name"
}

# pkeyutl_sign KEY NAME [PKEYOPT ARGS...]: pkeyutl -sign of the SHA-256 hash of data.bin with
# the engine's token KEY into sig.pkeyutl.NAME.
pkeyutl_sign() {
  local key=$1 name=$2
  shift 2
  eng_openssl pkeyutl -engine pkcs11 -keyform engine -sign \
    -inkey "$URI;object=$key;type=private" -in data.sha256 -out "sig.pkeyutl.$name" \
    -pkeyopt digest:sha256 "$@"
  test -s "sig.pkeyutl.$name"
}

# plain_pkeyutl_verify PUB SIG [PKEYOPT ARGS...]: plain OpenSSL checks a signature on the
# SHA-256 hash of data.bin.
plain_pkeyutl_verify() {
  local pub=$1 sig=$2
  shift 2
  plain_openssl pkeyutl -verify -pubin -inkey "$pub" -in data.sha256 -sigfile "$sig" \
    -pkeyopt digest:sha256 "$@"
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

# ca_issues KEY: the token's KEY as a CA: its self-signed certificate (KEY.cert.pem) signs, through
# the engine, a leaf for a software key. Plain OpenSSL verifies the chain; the leaf must carry
# the software key and name the CA as its issuer.
ca_issues() {
  local key=$1
  plain_openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "leaf.$key.key" -subj "/CN=kw-engine-leaf-$key" -out "leaf.$key.csr"
  eng_openssl x509 -req -in "leaf.$key.csr" -CA "$key.cert.pem" \
    -CAkey "$URI;object=$key;type=private" -CAkeyform engine -engine pkcs11 \
    -CAcreateserial -days 1 -sha256 -out "leaf.$key.pem"
  plain_openssl verify -CAfile "$key.cert.pem" "leaf.$key.pem"
  plain_openssl x509 -in "leaf.$key.pem" -noout -pubkey >"leaf.$key.cert-pub.pem"
  plain_openssl pkey -in "leaf.$key.key" -pubout -out "leaf.$key.pub.pem"
  cmp "leaf.$key.cert-pub.pem" "leaf.$key.pub.pem"
  plain_openssl x509 -in "leaf.$key.pem" -noout -issuer >"leaf.$key.issuer"
  expect_in "^issuer=CN = kw-engine-$key\$" "leaf.$key.issuer"
}

# start_engine_server KEY PORT CONNECTIONS: s_server (TLS 1.3, -www) with the engine's token key
# $URI;object=KEY and KEY.cert.pem, serving CONNECTIONS clients; waits until it accepts. Sets
# SERVER_PID. (lib.sh's start_server is the pkcs11-provider variant.)
start_engine_server() {
  local key=$1 port=$2 connections=$3 i
  OPENSSL_CONF="$KW_WORK/engine.cnf" timeout 30 openssl s_server -engine pkcs11 -keyform engine \
    -key "$URI;object=$key;type=private" -cert "$key.cert.pem" \
    -accept "127.0.0.1:$port" -tls1_3 -naccept "$connections" -www >"server.$key.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 100); do
    grep -q '^ACCEPT' "server.$key.log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  cat "server.$key.log"
  return 1
}

# tls13 KEY SIGTYPE: one TLS 1.3 handshake with a plain-OpenSSL client, which must verify the
# server's certificate and see a SIGTYPE signature; the server must then exit cleanly.
tls13() {
  local key=$1 sigtype=$2 port rc attempt
  SERVER_PID=""
  trap '[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true' EXIT
  for attempt in 1 2 3; do
    port=$(free_port)
    if start_engine_server "$key" "$port" 1; then break; fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    grep -q 'ddress already in use' "server.$key.log" || return 1
    : "$attempt"
  done
  [ -n "$SERVER_PID" ]
  printf 'GET / HTTP/1.0\r\n\r\n' | OPENSSL_CONF=/dev/null timeout 20 openssl s_client \
    -connect "127.0.0.1:$port" -tls1_3 -CAfile "$key.cert.pem" -verify_return_error -ign_eof \
    >"client.$key.log" 2>&1 || echo "s_client: $(kw_describe_rc "$?")" >>"client.$key.log"
  cat "client.$key.log"
  rc=0
  wait "$SERVER_PID" || rc=$?
  SERVER_PID=""
  echo "--- server (exit $rc)"
  cat "server.$key.log"
  expect_in '^New, TLSv1\.3, Cipher is ' "client.$key.log"
  expect_in '^Verify return code: 0 \(ok\)' "client.$key.log"
  expect_in "^Peer signature type: $sigtype\$" "client.$key.log"
  expect_in '^HTTP/1\.0 200 ok' "client.$key.log"
  [ "$rc" -eq 0 ] || {
    echo "s_server: $(kw_describe_rc "$rc")"
    return 1
  }
}

# The public half of `openssl pkey -text` / `storeutl -text` output: RSA modulus and exponent,
# or EC point and curve.
pub_text() {
  sed -n '/^\(Modulus\|pub\):/,/^\(Exponent\|ASN1 OID\):/p'
}

# storeutl_key KEY: the engine registers no store loader for pkcs11: URIs, but OpenSSL's apps
# load org.openssl.engine:ENGINE:KEY_ID through ENGINE_load_private_key (then _public_key).
# Exactly one key must come back, with the public key pkcs11-tool exported.
storeutl_key() {
  local key=$1
  eng_openssl storeutl -engine pkcs11 -noout -text \
    "org.openssl.engine:pkcs11:$URI;object=$key;type=private" >"storeutl.$key.txt"
  cat "storeutl.$key.txt"
  expect_in '^Total found: 1$' "storeutl.$key.txt"
  pub_text <"storeutl.$key.txt" >"storeutl.$key.pub.txt"
  plain_openssl pkey -pubin -in "$key.p11tool.pem" -noout -text | pub_text >"$key.p11tool.pub.txt"
  test -s "$key.p11tool.pub.txt"
  diff "$key.p11tool.pub.txt" "storeutl.$key.pub.txt"
}

main() {
  kw_setup openssl-engine
  kw_require "token, rsa1 and ec1 made with pkcs11-tool" make_token
  kw_require "write engine config" write_engine_conf
  kw_check "engine -t pkcs11 is available" engine_loads

  local key
  for key in rsa1 ec1; do
    kw_check "pkey -inform engine -pubout $key matches pkcs11-tool" export_pubkey "$key"
  done

  # The sign matrix: dgst -sign and pkeyutl -sign, each with RSA PKCS#1 v1.5, RSA-PSS and ECDSA
  # (no Ed25519: libp11 0.4.12 cannot, see the header); every signature verified by plain
  # OpenSSL with pkcs11-tool's public key.
  kw_check "dgst -sha256 -sign rsa1 (engine, RSA PKCS#1 v1.5)" dgst_sign rsa1 rsa1
  kw_check "verify dgst rsa1 PKCS#1 v1.5 (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.p11tool.pem -signature sig.dgst.rsa1 data.bin
  kw_check "dgst -sha256 -sign -sigopt rsa_padding_mode:pss rsa1 (engine, RSA-PSS)" dgst_sign \
    rsa1 rsa1-pss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
  kw_check "verify dgst rsa1 RSA-PSS (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.p11tool.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -signature sig.dgst.rsa1-pss data.bin
  kw_check "dgst -sha256 -sign ec1 (engine, ECDSA)" dgst_sign ec1 ec1
  kw_check "verify dgst ec1 ECDSA (openssl)" plain_openssl dgst -sha256 \
    -verify ec1.p11tool.pem -signature sig.dgst.ec1 data.bin

  kw_check "pkeyutl -sign rsa1 digest:sha256 (engine, RSA PKCS#1 v1.5)" pkeyutl_sign rsa1 rsa1
  kw_check "verify pkeyutl rsa1 PKCS#1 v1.5 (openssl)" plain_pkeyutl_verify rsa1.p11tool.pem \
    sig.pkeyutl.rsa1
  kw_check "pkeyutl -sign rsa_padding_mode:pss rsa1 (engine, RSA-PSS)" pkeyutl_sign rsa1 \
    rsa1-pss -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
  kw_check "verify pkeyutl rsa1 RSA-PSS (openssl)" plain_pkeyutl_verify rsa1.p11tool.pem \
    sig.pkeyutl.rsa1-pss -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
  kw_check "pkeyutl -sign ec1 digest:sha256 (engine, ECDSA)" pkeyutl_sign ec1 ec1
  kw_check "verify pkeyutl ec1 ECDSA (openssl)" plain_pkeyutl_verify ec1.p11tool.pem \
    sig.pkeyutl.ec1

  kw_check "pkeyutl -decrypt RSA-OAEP SHA-1 rsa1 (engine)" oaep_decrypt sha1
  kw_check "pkeyutl -decrypt RSA-OAEP SHA-256 rsa1 (engine)" oaep_decrypt sha256

  for key in rsa1 ec1; do
    kw_check "req -x509 self-signed with $key (engine)" self_signed_cert "$key"
    kw_check "verify $key certificate (openssl)" verify_cert "$key"
  done

  for key in ec1 rsa1; do
    kw_check "x509 -req -CAkeyform engine $key issues a leaf (verified by openssl)" \
      ca_issues "$key"
  done
  kw_check "TLS 1.3 s_server -keyform engine with ec1 (ECDSA)" tls13 ec1 ECDSA
  kw_check "TLS 1.3 s_server -keyform engine with rsa1 (RSA-PSS)" tls13 rsa1 RSA-PSS

  for key in rsa1 ec1; do
    kw_check "storeutl org.openssl.engine:pkcs11: $key matches pkcs11-tool" storeutl_key "$key"
  done

  kw_finish
}

main "$@"
