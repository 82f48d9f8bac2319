#!/usr/bin/env bash
# OpenSC pkcs11-tool's own self-tests (--test, --test-ec, --test-threads, --test-fork) and the
# wider mechanism set: RSA-PKCS, RSA-X-509 and RSA-OAEP (SHA-256) decryption, Ed25519
# signatures, ECDH derivation, EC P-384 and P-521 keys and ECDSA, AES-256 key generation,
# AES-CBC-PAD (and AES-GCM where pkcs11-tool can), HMAC-SHA256 with a generic secret, SHA-256
# hashing, and AES key wrap/unwrap (RFC 3394 and RFC 5649). Every result is checked by plain
# OpenSSL (or sha256sum) where a key value can be compared, by a round trip otherwise.
# A feature the installed pkcs11-tool lacks prints a SKIP line with the reason.
# Usage: MODULE=/path/to/module.so interop/pkcs11-tool-mechanisms.sh   (PASS/FAIL per check)
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-p11mech
# How many mechanisms C_GetMechanismList must report at least.
MIN_MECHANISMS=70
# AES inputs: a length that is not a whole number of blocks, and the CBC IV.
PLAIN_LEN=1000
CBC_IV=000102030405060708090a0b0c0d0e0f

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
# Each thread must really have run: pkcs11-tool prints "Test thread I started with options:CMDS"
# when it starts, "Test thread I returning rv = 0" when its commands are done, and, once it has
# joined it, "test_threads thread:I state:-1, rv:..." (state -1: ended).
test_threads() {
  local args=() c i=0
  for c in "$@"; do args+=(--test-threads "$c"); done
  p11 "${args[@]}" -L >threads.txt 2>&1 || { cat threads.txt; return 1; }
  cat threads.txt
  if grep 'test_threads thread:' threads.txt |
    grep -Ev 'rv:(CKR_OK|CKR_CRYPTOKI_ALREADY_INITIALIZED)$' | grep -q .; then
    return 1
  fi
  for c in "$@"; do
    expect_in "^Test thread $i started with options:$c\$" threads.txt
    expect_in "^Test thread $i returning rv = 0\$" threads.txt
    expect_in "^test_threads thread:$i state:-1, rv:" threads.txt
    case $c in
      *T*) expect_in "^Test thread $i C_GetTokenInfo from slot_index 0" threads.txt ;;
    esac
    i=$((i + 1))
  done
  if grep -q "^Test thread $i " threads.txt; then
    echo "more threads than the $# asked for"
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

# The hex of a file, one line (od is in coreutils; xxd may be missing).
hex_of() {
  od -An -v -tx1 "$1" | tr -d ' \n'
}

# flip_byte IN OUT POS: OUT is IN with one bit of byte POS changed.
flip_byte() {
  local in=$1 out=$2 pos=$3 b
  b=$(od -An -tu1 -j "$pos" -N1 "$in" | tr -d ' ')
  cp "$in" "$out"
  # shellcheck disable=SC2059  # the format is the octal escape of the new byte
  printf "\\$(printf '%03o' $((b ^ 1)))" | dd of="$out" bs=1 seek="$pos" conv=notrunc status=none
  if cmp -s "$in" "$out"; then
    echo "flip_byte changed nothing"
    return 1
  fi
}

# secret_value ID OUT: the value of secret key ID (extractable, not sensitive) as read by
# pkcs11-tool.
secret_value() {
  p11_user "$TOKEN" --read-object --type secrkey --id "$1" -o "$2"
  test -s "$2"
}

# aes_keygen ID LABEL [ARGS...]: an AES-256 key; pkcs11-tool's listing must show it as such.
aes_keygen() {
  local id=$1 label=$2
  shift 2
  p11_user "$TOKEN" --keygen --key-type AES:32 --id "$id" --label "$label" "$@" >"keygen.$label.txt"
  cat "keygen.$label.txt"
  expect_in '^Secret Key Object; AES length 32$' "keygen.$label.txt"
  expect_in "^  label: +$label\$" "keygen.$label.txt"
}

# CBC-PAD with the non-extractable key 40: the token encrypts and decrypts, the ciphertext is
# padded (a whole number of blocks, longer than the input) and differs from the input.
cbc_roundtrip() {
  p11_user "$TOKEN" --encrypt --id 40 -m AES-CBC-PAD --iv "$CBC_IV" -i plain.bin -o cbc40.ct
  test "$(wc -c <cbc40.ct)" -eq $(((PLAIN_LEN / 16 + 1) * 16))
  if head -c "$PLAIN_LEN" cbc40.ct | cmp -s plain.bin -; then
    echo "the ciphertext is the plaintext"
    return 1
  fi
  p11_user "$TOKEN" --decrypt --id 40 -m AES-CBC-PAD --iv "$CBC_IV" -i cbc40.ct -o cbc40.pt
  cmp plain.bin cbc40.pt
}

# CBC-PAD with the extractable key 41: plain OpenSSL decrypts the token's ciphertext, and the
# token decrypts OpenSSL's.
cbc_vs_openssl() {
  secret_value 41 aes41.key
  test "$(wc -c <aes41.key)" -eq 32
  p11_user "$TOKEN" --encrypt --id 41 -m AES-CBC-PAD --iv "$CBC_IV" -i plain.bin -o cbc41.ct
  plain_openssl enc -d -aes-256-cbc -K "$(hex_of aes41.key)" -iv "$CBC_IV" -in cbc41.ct \
    -out cbc41.ossl.pt
  cmp plain.bin cbc41.ossl.pt
  plain_openssl enc -aes-256-cbc -K "$(hex_of aes41.key)" -iv "$CBC_IV" -in plain.bin \
    -out cbc41.ossl.ct
  p11_user "$TOKEN" --decrypt --id 41 -m AES-CBC-PAD --iv "$CBC_IV" -i cbc41.ossl.ct \
    -o cbc41.pt
  cmp plain.bin cbc41.pt
}

# pkcs11-tool has AES-GCM (--aad, --tag-bits-len) from OpenSC 0.24; 0.23 stops at "Mechanism
# AES-GCM illegal or not supported" before calling the module.
p11tool_has_gcm() {
  pkcs11-tool --help 2>&1 | grep -q -- '--aad'
}

opensc_version() {
  { opensc-tool --info 2>/dev/null || true; } | sed -n '1s/^\(OpenSC [^ ]*\).*/\1/p'
}

# AES-GCM with the non-extractable key 40 (OpenSSL's enc has no AEAD ciphers): a round trip,
# a 16-byte tag, and a changed ciphertext refused cleanly.
gcm_roundtrip() {
  local gcm=(-m AES-GCM --iv 000102030405060708090a0b --aad 6b6579776172642d616164
    --tag-bits-len 128) rc=0
  p11_user "$TOKEN" --encrypt --id 40 "${gcm[@]}" -i plain.bin -o gcm.ct
  test "$(wc -c <gcm.ct)" -eq $((PLAIN_LEN + 16))
  p11_user "$TOKEN" --decrypt --id 40 "${gcm[@]}" -i gcm.ct -o gcm.pt
  cmp plain.bin gcm.pt
  flip_byte gcm.ct gcm.bad 5
  p11_user "$TOKEN" --decrypt --id 40 "${gcm[@]}" -i gcm.bad -o gcm.bad.pt || rc=$?
  echo "changed ciphertext: $(kw_describe_rc "$rc")"
  [ "$rc" -ge 1 ] && [ "$rc" -lt 124 ]
}

# HMAC-SHA256 with the extractable generic secret 50: the token's MAC equals OpenSSL's with the
# same key; the token verifies it, and reports a changed message invalid.
hmac() {
  secret_value 50 hmac.key
  p11_user "$TOKEN" --sign --id 50 -m SHA256-HMAC -i data.bin -o data.hmac
  test "$(wc -c <data.hmac)" -eq 32
  plain_openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(hex_of hmac.key)" -binary \
    -out data.ossl.hmac data.bin
  cmp data.hmac data.ossl.hmac
  p11_user "$TOKEN" --verify --id 50 -m SHA256-HMAC -i data.bin --signature-file data.hmac \
    >hmac.verify.txt
  expect_in '^Signature is valid$' hmac.verify.txt
  flip_byte data.bin data.changed 100
  # pkcs11-tool 0.23 exits 0 either way; what it prints is the verdict.
  p11_user "$TOKEN" --verify --id 50 -m SHA256-HMAC -i data.changed \
    --signature-file data.hmac >hmac.changed.txt 2>&1 || true
  cat hmac.changed.txt
  expect_in '^Invalid signature$' hmac.changed.txt
  if grep -q 'Signature is valid' hmac.changed.txt; then return 1; fi
}

hash_sha256() {
  p11 --token-label "$TOKEN" --hash -m SHA256 -i data.bin -o data.p11.sha256
  test "$(hex_of data.p11.sha256)" = "$(sha256sum data.bin | cut -d' ' -f1)"
}

# der_len N: the DER encoding of length N, in hex.
der_len() {
  if [ "$1" -lt 128 ]; then
    printf '%02x' "$1"
  elif [ "$1" -lt 256 ]; then
    printf '81%02x' "$1"
  else
    printf '82%04x' "$1"
  fi
}

# ec_spki LABEL CURVE-OID-HEX OUT.pem: the SubjectPublicKeyInfo of EC public key LABEL, built from
# the CKA_EC_PARAMS and CKA_EC_POINT pkcs11-tool lists. pkcs11-tool 0.23's --read-object cannot
# export a P-384 key ("error: cannot create EVP_PKEY", SoftHSM's too); it can a P-521 one, and
# must then give the same key.
ec_spki() {
  local label=$1 oid=$2 out=$3 params point alg bits spki
  p11 --token-label "$TOKEN" --list-objects --type pubkey >"pub.$label.txt"
  params=$(awk -v l="$label" '$1 == "EC_PARAMS:" { p = $2 } $1 == "label:" && $2 == l { print p; exit }' \
    "pub.$label.txt")
  point=$(awk -v l="$label" '$1 == "EC_POINT:" { p = $2 } $1 == "label:" && $2 == l { print p; exit }' \
    "pub.$label.txt")
  [ "$params" = "$oid" ] || { echo "EC_PARAMS of $label: '$params', not $oid"; return 1; }
  # CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (04 X Y).
  case $point in
    0481*) point=${point:6} ;;
    04*) point=${point:4} ;;
  esac
  case $point in 04*) ;; *) echo "EC_POINT of $label is no uncompressed point"; return 1 ;; esac
  alg="06072a8648ce3d0201$oid" # id-ecPublicKey, the named curve
  alg="30$(der_len $((${#alg} / 2)))$alg"
  bits="00$point"
  bits="03$(der_len $((${#bits} / 2)))$bits"
  spki="$alg$bits"
  spki="30$(der_len $((${#spki} / 2)))$spki"
  printf '%s' "$spki" | tr 'a-f' 'A-F' | basenc --base16 -d >"${out%.pem}.der"
  plain_openssl pkey -pubin -inform DER -in "${out%.pem}.der" -out "$out"
}

# ec_sign ID LABEL CURVE OID DIGEST: key ID (LABEL, made on CURVE) signs the DIGEST hash of
# data.bin with CKM_ECDSA; plain OpenSSL checks the curve of the token's public key and
# verifies the signature.
ec_sign() {
  local id=$1 label=$2 curve=$3 oid=$4 md=$5
  ec_spki "$label" "$oid" "ec$id.pub.pem"
  if p11 --token-label "$TOKEN" --read-object --type pubkey --id "$id" -o "ec$id.read.der"; then
    plain_openssl pkey -pubin -inform DER -in "ec$id.read.der" -out "ec$id.read.pem"
    cmp "ec$id.pub.pem" "ec$id.read.pem"
  fi
  plain_openssl pkey -pubin -in "ec$id.pub.pem" -noout -text >"ec$id.pub.txt"
  expect_in "NIST CURVE: $curve\$" "ec$id.pub.txt"
  plain_openssl dgst "-$md" -binary -out "data.$md" data.bin
  p11_user "$TOKEN" --sign --id "$id" -m ECDSA --signature-format openssl -i "data.$md" \
    -o "sig.ec$id"
  plain_openssl dgst "-$md" -verify "ec$id.pub.pem" -signature "sig.ec$id" data.bin
}

oaep_decrypt() {
  head -c 48 /dev/urandom >oaep.secret
  plain_openssl pkeyutl -encrypt -pubin -inkey rsa.pub.pem -in oaep.secret -out oaep.enc \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
  p11_user "$TOKEN" --decrypt --id 10 -m RSA-PKCS-OAEP --hash-algorithm SHA256 \
    --mgf MGF1-SHA256 -i oaep.enc -o oaep.dec
  cmp oaep.secret oaep.dec
}

# The pkcs11-tool name of CKM_AES_KEY_WRAP_PAD: 0.23 has none and lists it as mechtype-0x210A,
# but takes the number with -m.
wrap_pad_mech() {
  p11 --token-label "$TOKEN" --list-mechanisms >wrap-mechs.txt
  if grep -q '^ *AES-KEY-WRAP-PAD,' wrap-mechs.txt; then
    echo AES-KEY-WRAP-PAD
  elif grep -qi '^ *mechtype-0x210A,' wrap-mechs.txt; then
    echo 0x210A
  else
    echo "the token lists no CKM_AES_KEY_WRAP_PAD" >&2
    return 1
  fi
}

# wrap_unwrap MECH OPENSSL-CIPHER OPENSSL-IV NEW-ID: the extractable KEK 60 wraps the AES key 61;
# plain OpenSSL unwraps the blob with the KEK's value and must get key 61's value; the token
# unwraps it into a new key NEW-ID whose value must be the same.
wrap_unwrap() {
  local mech=$1 cipher=$2 iv=$3 new=$4
  [ -n "$mech" ] || mech=$(wrap_pad_mech)
  secret_value 60 kek.key
  secret_value 61 wrapped-target.key
  p11_user "$TOKEN" --wrap --id 60 --application-id 61 -m "$mech" -o "wrap.$new.bin"
  test "$(wc -c <"wrap.$new.bin")" -eq 40
  plain_openssl enc -d "-$cipher" -K "$(hex_of kek.key)" -iv "$iv" -in "wrap.$new.bin" \
    -out "wrap.$new.ossl.key"
  cmp wrapped-target.key "wrap.$new.ossl.key"
  p11_user "$TOKEN" --unwrap --id 60 -m "$mech" -i "wrap.$new.bin" --key-type AES:32 \
    --application-id "$new" --application-label "unwrapped-$new" --extractable
  secret_value "$new" "unwrapped.$new.key"
  cmp wrapped-target.key "unwrapped.$new.key"
}

main() {
  kw_setup pkcs11-tool-mechanisms
  head -c 1000 /dev/urandom >data.bin
  head -c "$PLAIN_LEN" /dev/urandom >plain.bin
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
  kw_check "decrypt RSA-PKCS-OAEP SHA-256 (openssl encrypted)" oaep_decrypt

  kw_check "keypairgen EC:secp384r1" kw_keygen "$TOKEN" EC:secp384r1 31 ec384
  kw_check "ECDSA with P-384 on a SHA-384 hash, verified by openssl" ec_sign 31 ec384 P-384 \
    06052b81040022 sha384
  kw_check "keypairgen EC:secp521r1" kw_keygen "$TOKEN" EC:secp521r1 32 ec521
  kw_check "ECDSA with P-521 on a SHA-512 hash, verified by openssl" ec_sign 32 ec521 P-521 \
    06052b81040023 sha512

  kw_check "hash -m SHA256 equals sha256sum" hash_sha256

  kw_check "keygen AES:32 (not extractable)" aes_keygen 40 aes40
  kw_check "keygen AES:32 --extractable" aes_keygen 41 aes41 --extractable
  kw_check "AES-CBC-PAD round trip (non-extractable key)" cbc_roundtrip
  kw_check "AES-CBC-PAD both ways with openssl enc (extractable key)" cbc_vs_openssl
  if p11tool_has_gcm; then
    kw_check "AES-GCM round trip, changed ciphertext refused" gcm_roundtrip
  else
    kw_skip "AES-GCM round trip" "pkcs11-tool of $(opensc_version) has no AES-GCM (no --aad," \
      "--tag-bits-len; it answers 'Mechanism AES-GCM illegal or not supported' itself)"
  fi

  kw_check "keygen GENERIC:32 --extractable" p11_user "$TOKEN" --keygen --key-type GENERIC:32 \
    --id 50 --label hmac50 --extractable
  kw_check "SHA256-HMAC sign equals openssl's, verify, changed message invalid" hmac

  kw_check "keygen AES:32 wrapping key (--usage-wrap --extractable)" aes_keygen 60 kek60 \
    --usage-wrap --extractable
  kw_check "keygen AES:32 key to wrap (--extractable)" aes_keygen 61 target61 --extractable
  kw_check "wrap/unwrap AES-KEY-WRAP (RFC 3394), unwrapped by openssl too" wrap_unwrap \
    AES-KEY-WRAP id-aes256-wrap A6A6A6A6A6A6A6A6 62
  kw_check "wrap/unwrap CKM_AES_KEY_WRAP_PAD (RFC 5649), unwrapped by openssl too" wrap_unwrap \
    "" id-aes256-wrap-pad A65959A6 63
  kw_finish
}

main "$@"
