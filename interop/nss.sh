#!/usr/bin/env bash
# NSS (libnss3-tools) against the module: the module added to an NSS database with modutil, an
# RSA and an EC key pair with self-signed certificates generated ON the token by certutil -S,
# key and certificate listing, a CSR from a pkcs11-tool key (certutil -R) and a certificate
# issued from it by the token's CA key (certutil -C), CMS signatures (cmsutil -S, -D) and TLS
# handshakes served by selfserv with token keys to tstclnt on 127.0.0.1. Certificates, CSRs and
# CMS signatures are also verified by plain OpenSSL (OPENSSL_CONF=/dev/null); tstclnt verifies
# the server in a separate NSS database that holds only the server's certificate.
# Usage: MODULE=/path/to/module.so interop/nss.sh
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-nss
DB=""  # set in main, under the work dir

# nss TOOL ARGS...: an NSS tool, bounded in time, without a terminal to prompt on.
nss() {
  timeout "${KW_TIMEOUT:-60}" "$@" </dev/null
}

# Token with ec1 (P-256, CKA_ID 02) made by pkcs11-tool, its public key, the PIN file, inputs.
make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_export_pubkey "$TOKEN" 02 ec1.p11tool.pem
  printf '%s\n' "$KW_USER_PIN" >pin.txt
  head -c 2048 /dev/urandom >noise.bin
  head -c 3000 /dev/urandom >data.bin
  printf 'GET / HTTP/1.0\r\n\r\n' >request.txt
  printf 'GET /stop HTTP/1.0\r\n\r\n' >stop.txt
}

new_db() {
  mkdir -p db
  nss certutil -N -d "$DB" --empty-password
}

# modutil -add, and mark the module "friendly" (certificates readable without login) as a
# deployment would: certutil -C looks its issuer up without logging in.
add_module() {
  nss modutil -dbdir "$DB" -add keyward -libfile "$MODULE" -force
  nss modutil -dbdir "$DB" -default keyward -mechanisms FRIENDLY -force
  nss modutil -dbdir "$DB" -list keyward >modutil.txt
  expect_in "Token Name: $TOKEN +\$" modutil.txt
}

# gen_self_signed NICK KEYTYPE-ARGS...: key pair and self-signed certificate on the token, with
# a subjectAltName of 127.0.0.1 so that tstclnt accepts it for a server there.
gen_self_signed() {
  local nick=$1
  shift
  nss certutil -S -d "$DB" -h "$TOKEN" -f pin.txt -z noise.bin "$@" -n "$nick" \
    -s "CN=127.0.0.1,O=$nick" -x -t CTu,Cu,Cu -Z SHA256 -v 12 --extSAN ip:127.0.0.1
}

# The RSA key signs certificates too: basic constraints CA:TRUE (certutil -2 asks on stdin).
gen_rsa_ca() {
  printf 'y\n\ny\n' | timeout "${KW_TIMEOUT:-60}" certutil -S -d "$DB" -h "$TOKEN" -f pin.txt \
    -z noise.bin -k rsa -g 2048 -n nss-rsa -s "CN=127.0.0.1,O=nss-rsa" -x -t CTu,Cu,Cu \
    -Z SHA256 -v 12 --extSAN ip:127.0.0.1 -2
}

list_keys() {
  nss certutil -K -d "$DB" -h "$TOKEN" -f pin.txt >keys.txt
  cat keys.txt
  expect_in "^< ?[0-9]+> rsa +[0-9a-f]{40} +$TOKEN:nss-rsa\$" keys.txt
  expect_in "^< ?[0-9]+> ec +[0-9a-f]{40} +$TOKEN:nss-ec\$" keys.txt
  expect_in '^< ?[0-9]+> ec +02 +ec1$' keys.txt
}

list_certs() {
  nss certutil -L -d "$DB" -h "$TOKEN" -f pin.txt >certs.txt
  cat certs.txt
  expect_in "^$TOKEN:nss-rsa +CTu,Cu,Cu\$" certs.txt
  expect_in "^$TOKEN:nss-ec +CTu,Cu,Cu\$" certs.txt
}

# check_cert NICK: export the certificate; plain OpenSSL verifies it as its own CA, and its
# public key equals the token's public key object with the same CKA_ID (read by pkcs11-tool).
check_cert() {
  local nick=$1 id
  nss certutil -L -d "$DB" -h "$TOKEN" -f pin.txt -n "$TOKEN:$nick" -a >"$nick.crt.pem"
  plain_openssl verify -CAfile "$nick.crt.pem" "$nick.crt.pem"
  plain_openssl x509 -in "$nick.crt.pem" -noout -pubkey >"$nick.cert-pub.pem"
  id=$(awk -v n="$TOKEN:$nick" '$NF == n { print $(NF - 1) }' keys.txt)
  [ -n "$id" ]
  kw_export_pubkey "$TOKEN" "$id" "$nick.p11tool.pem"
  cmp "$nick.cert-pub.pem" "$nick.p11tool.pem"
}

csr_from_token_key() {
  nss certutil -R -d "$DB" -h "$TOKEN" -f pin.txt -k 02 -s CN=kw-nss-ec1 -Z SHA256 -a \
    -o ec1.csr
}

verify_csr() {
  plain_openssl req -in ec1.csr -verify -noout 2>&1 | tee csr-verify.txt
  expect_in 'verify OK' csr-verify.txt
  plain_openssl req -in ec1.csr -noout -pubkey >ec1.csr-pub.pem
  cmp ec1.csr-pub.pem ec1.p11tool.pem
}

issue_from_csr() {
  nss certutil -C -d "$DB" -f pin.txt -c "$TOKEN:nss-rsa" -i ec1.csr -a -o ec1.crt.pem -m 7 \
    -v 12 -Z SHA256
}

verify_issued() {
  plain_openssl verify -CAfile nss-rsa.crt.pem ec1.crt.pem
  plain_openssl x509 -in ec1.crt.pem -noout -pubkey >ec1.crt-pub.pem
  cmp ec1.crt-pub.pem ec1.p11tool.pem
}

cms_sign() {
  local nick=$1
  nss cmsutil -S -d "$DB" -N "$TOKEN:$nick" -f pin.txt -H SHA256 -i data.bin -o "data.$nick.p7s"
  test -s "data.$nick.p7s"
}

cms_decode() {
  local nick=$1
  nss cmsutil -D -d "$DB" -f pin.txt -i "data.$nick.p7s" -o "data.$nick.out"
  cmp data.bin "data.$nick.out"
}

cms_verify_openssl() {
  local nick=$1
  plain_openssl cms -verify -binary -inform DER -in "data.$nick.p7s" -CAfile "$nick.crt.pem" \
    -purpose any -out "data.$nick.ossl"
  cmp data.bin "data.$nick.ossl"
}

# A separate client database trusting only the two server certificates (as peers).
client_db() {
  mkdir -p cdb
  nss certutil -N -d "sql:$PWD/cdb" --empty-password
  nss certutil -A -d "sql:$PWD/cdb" -n nss-rsa -t P,, -a -i nss-rsa.crt.pem
  nss certutil -A -d "sql:$PWD/cdb" -n nss-ec -t P,, -a -i nss-ec.crt.pem
}

# start_selfserv NICK PORT: selfserv on the token key NICK; waits until it accepts. Sets
# SERVER_PID. selfserv itself is bounded by `timeout 60`.
start_selfserv() {
  local nick=$1 port=$2 i
  timeout 60 selfserv -d "$DB" -p "$port" -n "$TOKEN:$nick" -f pin.txt -V tls1.2:tls1.3 -v \
    </dev/null >"selfserv.$nick.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 100); do
    grep -q 'About to call accept' "selfserv.$nick.log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  cat "selfserv.$nick.log"
  return 1
}

# tls NICK SCHEME: one TLS 1.3 handshake by tstclnt, which must verify the server certificate
# and see a SCHEME signature; then GET /stop ends the server, which must exit cleanly.
tls() {
  local nick=$1 scheme=$2 port rc attempt
  SERVER_PID=""
  trap '[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true' EXIT
  for attempt in 1 2 3; do
    port=$(free_port)
    if start_selfserv "$nick" "$port"; then break; fi
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    grep -qi 'in use' "selfserv.$nick.log" || return 1
    : "$attempt"
  done
  [ -n "$SERVER_PID" ]
  rc=0
  timeout 20 tstclnt -h 127.0.0.1 -p "$port" -d "sql:$PWD/cdb" -V tls1.3:tls1.3 -v \
    -A request.txt </dev/null >"tstclnt.$nick.log" 2>&1 || rc=$?
  grep -v 'PR_Poll' "tstclnt.$nick.log"
  # Stop the server whatever happened (-o: this request need not verify anything).
  timeout 20 tstclnt -h 127.0.0.1 -p "$port" -d "sql:$PWD/cdb" -o -A stop.txt </dev/null \
    >/dev/null 2>&1 || true
  local src=0
  wait "$SERVER_PID" || src=$?
  SERVER_PID=""
  echo "--- selfserv (exit $src)"
  cat "selfserv.$nick.log"
  [ "$rc" -eq 0 ] || {
    echo "tstclnt: $(kw_describe_rc "$rc")"
    return 1
  }
  expect_in 'Server Auth: .*TLS 1\.3' "tstclnt.$nick.log"
  expect_in "Signature Scheme: $scheme\$" "tstclnt.$nick.log"
  expect_in '^HTTP/1\.0 200 OK' "tstclnt.$nick.log"
  [ "$src" -eq 0 ] || {
    echo "selfserv: $(kw_describe_rc "$src")"
    return 1
  }
}

main() {
  kw_setup nss
  DB="sql:$KW_WORK/db"
  kw_require "token and ec1 made with pkcs11-tool" make_token
  kw_require "certutil -N (new database)" new_db
  kw_require "modutil -add the module; -list shows $TOKEN" add_module

  kw_require "certutil -S RSA 2048 key + self-signed CA cert on the token" gen_rsa_ca
  kw_require "certutil -S EC P-256 key + self-signed cert on the token" gen_self_signed nss-ec \
    -k ec -q nistp256
  kw_check "certutil -K lists nss-rsa, nss-ec and ec1" list_keys
  kw_check "certutil -L -h $TOKEN lists both certificates" list_certs
  local nick
  for nick in nss-rsa nss-ec; do
    kw_check "$nick certificate: openssl verifies it, key matches the token's" check_cert "$nick"
  done

  kw_check "certutil -R CSR from pkcs11-tool key ec1 (-k 02)" csr_from_token_key
  kw_check "verify CSR, public key is ec1's (openssl)" verify_csr
  kw_check "certutil -C issues ec1's certificate, signed by token key nss-rsa" issue_from_csr
  kw_check "verify issued certificate against nss-rsa (openssl)" verify_issued

  for nick in nss-rsa nss-ec; do
    kw_check "cmsutil -S sign with $nick" cms_sign "$nick"
    kw_check "cmsutil -D verify and decode ($nick)" cms_decode "$nick"
    kw_check "verify CMS signature of $nick (openssl cms)" cms_verify_openssl "$nick"
  done

  kw_require "client database trusting the server certificates" client_db
  kw_check "TLS 1.3 selfserv with nss-ec -> tstclnt (ECDSA)" tls nss-ec ecdsa_secp256r1_sha256
  kw_check "TLS 1.3 selfserv with nss-rsa -> tstclnt (RSA-PSS)" tls nss-rsa \
    'rsa_pss_(rsae|pss)_sha256'

  kw_finish
}

main "$@"
