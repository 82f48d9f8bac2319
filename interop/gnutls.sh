#!/usr/bin/env bash
# GnuTLS (gnutls-bin) against the module: p11tool lists the token and its objects, generates RSA
# and ECDSA key pairs on it and test-signs with them; certtool makes self-signed certificates
# and a CSR with token keys; gnutls-serv serves TLS 1.3 with token keys to gnutls-cli on
# 127.0.0.1. Certificates and CSRs are verified by plain OpenSSL (OPENSSL_CONF=/dev/null);
# gnutls-cli verifies the server against the certificate file only.
# Usage: MODULE=/path/to/module.so interop/gnutls.sh
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-gnutls
URI="pkcs11:token=$TOKEN"

# A GnuTLS tool on the module, the PIN from GNUTLS_PIN (read by p11tool, certtool, gnutls-serv).
gt() {
  local tool=$1
  shift
  GNUTLS_PIN="$KW_USER_PIN" timeout "${KW_TIMEOUT:-60}" "$tool" --provider "$MODULE" "$@" \
    </dev/null
}

make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_export_pubkey "$TOKEN" 02 ec1.p11tool.pem
  cat >cert.tmpl <<EOF
cn = 127.0.0.1
organization = Keyward interop
ip_address = 127.0.0.1
expiration_days = 2
tls_www_server
signing_key
EOF
  printf 'cn = kw-gnutls-ec1\n' >req.tmpl
}

list_tokens() {
  gt p11tool --list-tokens >tokens.txt
  cat tokens.txt
  expect_in "^[[:space:]]+URL: pkcs11:.*token=$TOKEN\$" tokens.txt
  expect_in "^[[:space:]]+Label: $TOKEN\$" tokens.txt
}

# generate TYPE LABEL ARGS...: key pair on the token; the public key p11tool prints must equal
# the token's public key object (read by pkcs11-tool).
generate() {
  local type=$1 label=$2
  shift 2
  gt p11tool --login --generate-privkey "$type" --label "$label" "$@" --outfile "$label.gen.pem" \
    "$URI"
  p11 --token-label "$TOKEN" --read-object --type pubkey --label "$label" -o "$label.pub.der"
  plain_openssl pkey -pubin -inform DER -in "$label.pub.der" -out "$label.p11tool.pem"
  plain_openssl pkey -pubin -in "$label.gen.pem" -out "$label.gen.norm.pem"
  cmp "$label.gen.norm.pem" "$label.p11tool.pem"
}

list_all() {
  gt p11tool --login --list-all "$URI" >objects.txt
  cat objects.txt
  local label
  for label in gt-rsa gt-ec ec1; do
    expect_in "^[[:space:]]+URL: pkcs11:.*;object=$label;type=private\$" objects.txt
    expect_in "^[[:space:]]+URL: pkcs11:.*;object=$label;type=public\$" objects.txt
  done
  expect_in 'Type: Private key \(RSA-2048\)' objects.txt
  expect_in 'Type: Private key \(EC/ECDSA-SECP256R1\)' objects.txt
}

test_sign() {
  gt p11tool --login --test-sign "$URI;object=$1;type=private" 2>&1 | tee "test-sign.$1.txt"
  expect_in 'Verifying against public key in the token\.\.\. ok' "test-sign.$1.txt"
}

self_signed() {
  local key=$1
  gt certtool --generate-self-signed --load-privkey "$URI;object=$key;type=private" \
    --template cert.tmpl --outfile "$key.crt.pem"
}

verify_cert() {
  local key=$1
  plain_openssl verify -CAfile "$key.crt.pem" "$key.crt.pem"
  plain_openssl x509 -in "$key.crt.pem" -noout -pubkey >"$key.cert-pub.pem"
  cmp "$key.cert-pub.pem" "$key.p11tool.pem"
}

csr_ec1() {
  gt certtool --generate-request --load-privkey "$URI;object=ec1;type=private" \
    --template req.tmpl --outfile ec1.csr
}

verify_csr() {
  plain_openssl req -in ec1.csr -verify -noout 2>&1 | tee csr-verify.txt
  expect_in 'verify OK' csr-verify.txt
  plain_openssl req -in ec1.csr -noout -pubkey >ec1.csr-pub.pem
  cmp ec1.csr-pub.pem ec1.p11tool.pem
}

# start_gnutls_serv KEY PORT: gnutls-serv --http on the token key KEY with KEY.crt.pem, bounded
# by `timeout 60`; waits until it listens. Sets SERVER_PID.
start_gnutls_serv() {
  local key=$1 port=$2 i
  GNUTLS_PIN="$KW_USER_PIN" timeout 60 gnutls-serv --provider "$MODULE" --http -p "$port" \
    --x509keyfile "$URI;object=$key;type=private" --x509certfile "$key.crt.pem" \
    </dev/null >"server.$key.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 100); do
    grep -q 'listening on IPv4' "server.$key.log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  cat "server.$key.log"
  return 1
}

# tls KEY SIGALG: one TLS 1.3 handshake by gnutls-cli (trusting only KEY.crt.pem) with a
# SIGALG server signature and an HTTP answer; the server is killed afterwards in all cases.
tls() {
  local key=$1 sigalg=$2 port rc attempt
  SERVER_PID=""
  trap '[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true' EXIT
  for attempt in 1 2 3; do
    port=$(free_port)
    if start_gnutls_serv "$key" "$port"; then break; fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    grep -qi 'in use' "server.$key.log" || return 1
    : "$attempt"
  done
  [ -n "$SERVER_PID" ]
  rc=0
  printf 'GET / HTTP/1.0\r\n\r\n' | timeout 20 gnutls-cli --x509cafile "$key.crt.pem" \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' -p "$port" 127.0.0.1 >"client.$key.log" 2>&1 ||
    rc=$?
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  cat "client.$key.log"
  echo "--- server"
  cat "server.$key.log"
  [ "$rc" -eq 0 ] || {
    echo "gnutls-cli: $(kw_describe_rc "$rc")"
    return 1
  }
  expect_in '^- Status: The certificate is trusted' "client.$key.log"
  expect_in "^- Description: \\(TLS1\\.3-X\\.509\\)-.*-\\($sigalg\\)-" "client.$key.log"
  expect_in '^HTTP/1\.0 200 OK' "client.$key.log"
}

main() {
  kw_setup gnutls
  kw_require "token and ec1 made with pkcs11-tool" make_token
  kw_check "p11tool --list-tokens shows $TOKEN" list_tokens
  kw_check "p11tool --generate-privkey rsa --bits 2048 (gt-rsa)" generate rsa gt-rsa \
    --bits 2048
  kw_check "p11tool --generate-privkey ecdsa --curve secp256r1 (gt-ec)" generate ecdsa gt-ec \
    --curve secp256r1
  kw_check "p11tool --list-all shows gt-rsa, gt-ec, ec1" list_all
  local key
  for key in gt-rsa gt-ec ec1; do
    kw_check "p11tool --test-sign $key" test_sign "$key"
  done
  for key in gt-rsa gt-ec; do
    kw_check "certtool --generate-self-signed with $key" self_signed "$key"
    kw_check "verify $key certificate, key is the token's (openssl)" verify_cert "$key"
  done
  kw_check "certtool --generate-request with pkcs11-tool key ec1" csr_ec1
  kw_check "verify CSR, public key is ec1's (openssl)" verify_csr
  kw_check "TLS 1.3 gnutls-serv with gt-ec -> gnutls-cli (ECDSA)" tls gt-ec \
    'ECDSA-SECP256R1-SHA256'
  kw_check "TLS 1.3 gnutls-serv with gt-rsa -> gnutls-cli (RSA-PSS)" tls gt-rsa \
    'RSA-PSS-RSAE-SHA256'
  kw_finish
}

main "$@"
