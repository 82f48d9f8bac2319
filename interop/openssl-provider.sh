#!/usr/bin/env bash
# OpenSSL 3 with pkcs11-provider against the module: key listing, public key export, signing
# (dgst -sign and pkeyutl -sign, each with RSA PKCS#1 v1.5, RSA-PSS, ECDSA and Ed25519; OpenSSL
# 3.0's dgst cannot do Ed25519 at all, so that one is skipped), RSA-OAEP decryption, self-signed
# certificates, a token CA key and TLS 1.3 servers on token keys. Every signature, certificate
# and handshake is checked by plain OpenSSL (OPENSSL_CONF=/dev/null).
# Usage: MODULE=/path/to/module.so interop/openssl-provider.sh
# P11_QUIRKS=no-deinit adds `pkcs11-module-quirks = no-deinit` (needed by SoftHSM only).
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-ossl
URI="pkcs11:token=$TOKEN"

# Token with rsa1 (RSA 2048, id 01) and ec1 (P-256, id 02); public keys also taken out with
# pkcs11-tool, independently of the provider.
make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_export_pubkey "$TOKEN" 01 rsa1.p11tool.pem
  kw_export_pubkey "$TOKEN" 02 ec1.p11tool.pem
  kw_keygen "$TOKEN" EC:edwards25519 03 ed1
  ed25519_pubkey_from_p11tool
  head -c 4096 /dev/urandom >data.bin
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
}

storeutl_keys() {
  p11_openssl storeutl -keys -text "$URI" >storeutl.txt
  expect_in 'PKCS11 RSA Private Key \(2048 bits\)' storeutl.txt
  expect_in 'PKCS11 EC Private Key \(256 bits\)' storeutl.txt
}

# export_pubkey KEY: the provider's view of the public key must equal pkcs11-tool's.
export_pubkey() {
  local key=$1
  p11_openssl pkey -pubin -in "$URI;object=$key;type=public" -pubout -out "$key.pub.pem"
  cmp "$key.pub.pem" "$key.p11tool.pem"
}

# dgst_sign KEY NAME [SIGOPT ARGS...]: dgst -sha256 -sign of data.bin with the token's KEY into
# sig.dgst.NAME.
dgst_sign() {
  local key=$1 name=$2
  shift 2
  p11_openssl dgst -sha256 -sign "$URI;object=$key;type=private" "$@" -out "sig.dgst.$name" \
    data.bin
  test -s "sig.dgst.$name"
}

# pkeyutl_sign KEY NAME [PKEYOPT ARGS...]: pkeyutl -sign of the SHA-256 hash of data.bin with
# the token's KEY into sig.pkeyutl.NAME.
pkeyutl_sign() {
  local key=$1 name=$2
  shift 2
  p11_openssl pkeyutl -sign -inkey "$URI;object=$key;type=private" -in data.sha256 \
    -out "sig.pkeyutl.$name" -pkeyopt digest:sha256 "$@"
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

# OpenSSL 3.0's `dgst` cannot sign with EdDSA keys at all (it only streams through a digest,
# and Ed25519 is one-shot): with a software key as with a token key it stops at "Key type not
# supported for this operation". Probed with a software key, so the module cannot cause a skip.
dgst_does_ed25519() {
  plain_openssl genpkey -algorithm ed25519 -out ed-probe.pem 2>/dev/null &&
    plain_openssl dgst -sign ed-probe.pem -out ed-probe.sig data.bin >ed-probe.log 2>&1
}

# pkcs11-tool 0.23 lists an Ed25519 key's CKA_EC_POINT (an OCTET STRING of the 32-byte key)
# but cannot export it as SPKI: build the SPKI (RFC 8410) from it, independently of the provider.
ed25519_pubkey_from_p11tool() {
  local point
  p11 --token-label "$TOKEN" --list-objects --type pubkey --id 03 >ed1.list
  point=$(sed -n 's/^ *EC_POINT: *04 *20 *//p' ed1.list | tr -d ' ')
  [ "${#point}" -eq 64 ] || { cat ed1.list; echo "no 32-byte EC_POINT for ed1"; return 1; }
  printf '302a300506032b6570032100%s' "$point" | tr 'a-f' 'A-F' | basenc --base16 -d >ed1.spki.der
  plain_openssl pkey -pubin -inform DER -in ed1.spki.der -out ed1.p11tool.pem
}

# Ed25519 is one-shot: pkeyutl -rawin over the message itself.
ed25519_sign() {
  p11_openssl pkeyutl -sign -rawin -inkey "$URI;object=ed1;type=private" -in data.bin \
    -out sig.ed1
}

# RSA-OAEP (SHA-256): plain OpenSSL encrypts to the token's public key, the provider decrypts
# with the token's private key.
oaep_decrypt() {
  head -c 64 /dev/urandom >secret.bin
  plain_openssl pkeyutl -encrypt -pubin -inkey rsa1.p11tool.pem -in secret.bin -out secret.enc \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
  p11_openssl pkeyutl -decrypt -inkey "$URI;object=rsa1;type=private" -in secret.enc \
    -out secret.dec -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256
  cmp secret.bin secret.dec
}

# The token's ec1 as a CA: its self-signed certificate signs a leaf for a software key.
ca_issues() {
  plain_openssl req -new -newkey rsa:2048 -nodes -keyout leaf.key -subj /CN=leaf -out leaf.csr
  p11_openssl x509 -req -in leaf.csr -CA ec1.cert.pem -CAkey "$URI;object=ec1;type=private" \
    -CAcreateserial -days 1 -out leaf.pem
  plain_openssl verify -CAfile ec1.cert.pem leaf.pem
}

self_signed_cert() {
  local key=$1
  p11_openssl req -new -x509 -key "$URI;object=$key;type=private" -subj /CN=kw -days 1 \
    -out "$key.cert.pem"
}

# The certificate verifies as its own CA and carries the token's public key.
verify_cert() {
  local key=$1
  plain_openssl verify -CAfile "$key.cert.pem" "$key.cert.pem"
  plain_openssl x509 -in "$key.cert.pem" -noout -pubkey >"$key.cert-pub.pem"
  cmp "$key.cert-pub.pem" "$key.p11tool.pem"
}

# A port in 20000-59999 that nothing listens on now.
# tls13 KEY SIGTYPE: one TLS 1.3 handshake with a plain-OpenSSL client, which must verify the
# server's certificate and see a SIGTYPE signature; the server must then exit cleanly.
tls13() {
  local key=$1 sigtype=$2 port rc attempt
  SERVER_PID=""
  trap '[ -z "$SERVER_PID" ] || kill "$SERVER_PID" 2>/dev/null || true' EXIT
  for attempt in 1 2 3; do
    port=$(free_port)
    if start_server "$key" "$port" 1; then break; fi
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

main() {
  kw_setup openssl-provider
  kw_require "token, rsa1 and ec1 made with pkcs11-tool" make_token
  kw_require "write provider config${P11_QUIRKS:+ (quirks: $P11_QUIRKS)}" write_provider_conf
  kw_check "storeutl -keys lists rsa1 and ec1" storeutl_keys

  local key
  for key in rsa1 ec1; do
    kw_check "pkey -pubout $key matches pkcs11-tool" export_pubkey "$key"
  done

  # The sign matrix: dgst -sign and pkeyutl -sign, each with RSA PKCS#1 v1.5, RSA-PSS, ECDSA
  # and Ed25519; every signature verified by plain OpenSSL with pkcs11-tool's public key.
  kw_check "dgst -sha256 -sign rsa1 (RSA PKCS#1 v1.5)" dgst_sign rsa1 rsa1
  kw_check "verify dgst rsa1 PKCS#1 v1.5 (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.p11tool.pem -signature sig.dgst.rsa1 data.bin
  kw_check "dgst -sha256 -sign -sigopt rsa_padding_mode:pss rsa1 (RSA-PSS)" dgst_sign rsa1 \
    rsa1-pss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest
  kw_check "verify dgst rsa1 RSA-PSS (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.p11tool.pem -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
    -signature sig.dgst.rsa1-pss data.bin
  kw_check "dgst -sha256 -sign ec1 (ECDSA)" dgst_sign ec1 ec1
  kw_check "verify dgst ec1 ECDSA (openssl)" plain_openssl dgst -sha256 \
    -verify ec1.p11tool.pem -signature sig.dgst.ec1 data.bin
  if dgst_does_ed25519; then
    kw_check "dgst -sign ed1 (Ed25519)" dgst_sign ed1 ed1
    kw_check "verify dgst ed1 Ed25519 (openssl)" plain_openssl pkeyutl -verify -rawin -pubin \
      -inkey ed1.p11tool.pem -in data.bin -sigfile sig.dgst.ed1
  else
    kw_skip "dgst -sign ed1 (Ed25519)" "$(openssl version | cut -d' ' -f1-2) dgst cannot sign" \
      "with Ed25519 keys, software keys included ($(tail -n1 ed-probe.log)); pkeyutl -rawin can"
  fi

  kw_check "pkeyutl -sign rsa1 digest:sha256 (RSA PKCS#1 v1.5)" pkeyutl_sign rsa1 rsa1
  kw_check "verify pkeyutl rsa1 PKCS#1 v1.5 (openssl)" plain_pkeyutl_verify rsa1.p11tool.pem \
    sig.pkeyutl.rsa1
  kw_check "pkeyutl -sign rsa_padding_mode:pss rsa1 (RSA-PSS)" pkeyutl_sign rsa1 rsa1-pss \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:digest
  kw_check "verify pkeyutl rsa1 RSA-PSS (openssl)" plain_pkeyutl_verify rsa1.p11tool.pem \
    sig.pkeyutl.rsa1-pss -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
  kw_check "pkeyutl -sign ec1 digest:sha256 (ECDSA)" pkeyutl_sign ec1 ec1
  kw_check "verify pkeyutl ec1 ECDSA (openssl)" plain_pkeyutl_verify ec1.p11tool.pem \
    sig.pkeyutl.ec1

  for key in rsa1 ec1; do
    kw_check "req -x509 self-signed with $key" self_signed_cert "$key"
    kw_check "verify $key certificate (openssl)" verify_cert "$key"
  done

  kw_check "pkeyutl -sign -rawin ed1 (Ed25519)" ed25519_sign
  kw_check "verify pkeyutl ed1 Ed25519 (openssl)" plain_openssl pkeyutl -verify -rawin -pubin \
    -inkey ed1.p11tool.pem -in data.bin -sigfile sig.ed1
  kw_check "pkeyutl -decrypt RSA-OAEP SHA-256 of a plain-OpenSSL ciphertext" oaep_decrypt
  kw_check "x509 -req -CAkey pkcs11:...ec1 issues a leaf (verified by openssl)" ca_issues
  kw_check "TLS 1.3 s_server with ec1 (ECDSA)" tls13 ec1 ECDSA
  kw_check "TLS 1.3 s_server with rsa1 (RSA-PSS)" tls13 rsa1 RSA-PSS

  kw_finish
}

main "$@"
