#!/usr/bin/env bash
# Python against the module, through both PyPI wrappers: python-pkcs11 (`import pkcs11`) and
# PyKCS11. Each generates RSA 2048 and EC P-256 key pairs and an AES-256 key on the token, signs
# (RSA PKCS#1 v1.5, RSA-PSS, ECDSA), decrypts RSA-OAEP ciphertexts made by plain OpenSSL, runs
# AES-GCM round trips (a changed ciphertext must be refused) and AES-CBC-PAD with a key of known
# value whose ciphertexts plain OpenSSL decrypts and makes. Every signature is verified by plain
# OpenSSL (OPENSSL_CONF=/dev/null) with the public key pkcs11-tool reads from the token, and by
# the same library through the token (C_Verify), which must also reject a changed message and a
# changed signature.
# Usage: MODULE=/path/to/module.so interop/python.sh
# PYTHON=/path/to/python3 picks the interpreter; by default the first of /usr/bin/python3 and
# python3 that imports both wrappers (scripts/install-test-deps.sh installs them for the former).
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-python
AES_KNOWN_HEX=603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4
CBC_IV_HEX=000102030405060708090a0b0c0d0e0f
PY=""

find_python() {
  local candidate
  for candidate in ${PYTHON:-} /usr/bin/python3 python3; do
    if "$candidate" -c 'import pkcs11, PyKCS11' 2>/dev/null; then
      PY=$candidate
      "$PY" -c 'import sys, pkcs11, PyKCS11; print(sys.executable, sys.version)'
      echo "$PY" >python.txt
      return 0
    fi
    echo "$candidate: cannot import pkcs11 (python-pkcs11) and PyKCS11"
  done
  return 1
}

make_token() {
  kw_init_token "$TOKEN"
  head -c 4096 /dev/urandom >data.bin
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
  head -c 1000 /dev/urandom >plain.bin
  head -c 32 /dev/urandom >secret.bin
}

write_python() {
  cat >pp_checks.py <<'EOF'
"""python-pkcs11 checks: python3 pp_checks.py COMMAND ARGS (exit status 0 only on success)."""
import hashlib
import os
import sys

import pkcs11
from pkcs11 import Attribute, GCMParams, KeyType, Mechanism, MGF, ObjectClass
from pkcs11.util.ec import (decode_ecdsa_signature, encode_ecdsa_signature,
                             encode_named_curve_parameters)

lib = pkcs11.lib(os.environ["MODULE"])
token = lib.get_token(token_label=os.environ["KW_TOKEN"])


def private_key(s, label):
    return s.get_key(object_class=ObjectClass.PRIVATE_KEY, label=label)


def keygen(s):
    s.generate_keypair(KeyType.RSA, 2048, store=True, label="pp-rsa", id=b"\x21")
    params = s.create_domain_parameters(
        KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
    params.generate_keypair(store=True, label="pp-ec", id=b"\x22")
    s.generate_key(KeyType.AES, 256, store=True, label="pp-aes", id=b"\x23")


def sign(s, label, mech, path_in, path_out):
    key = private_key(s, label)
    data = open(path_in, "rb").read()
    if mech == "sha256-rsa":
        sig = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
    elif mech == "sha256-pss":
        sig = key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                       mechanism_param=(Mechanism.SHA256, MGF.SHA256, 32))
    elif mech == "ecdsa-sha256":
        sig = encode_ecdsa_signature(key.sign(data, mechanism=Mechanism.ECDSA_SHA256))
    elif mech == "ecdsa":
        digest = hashlib.sha256(data).digest()
        sig = encode_ecdsa_signature(key.sign(digest, mechanism=Mechanism.ECDSA))
    else:
        sys.exit("unknown mechanism " + mech)
    open(path_out, "wb").write(sig)


def flip(b, i):
    """b with one bit of byte i changed (same length, so the token sees a wrong value, not a
    wrong size)."""
    out = bytearray(b)
    out[i] ^= 0x01
    return bytes(out)


def verify(s, label, mech, path_in, path_sig):
    """C_Verify through the token's public key LABEL of the signature `sign` wrote (the one
    OpenSSL accepted): it must verify; a changed message and a changed signature must not."""
    key = s.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label)
    data, sig = open(path_in, "rb").read(), open(path_sig, "rb").read()
    if mech == "sha256-rsa":
        kw = dict(mechanism=Mechanism.SHA256_RSA_PKCS)
    elif mech == "sha256-pss":
        kw = dict(mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                  mechanism_param=(Mechanism.SHA256, MGF.SHA256, 32))
    elif mech == "ecdsa-sha256":
        kw, sig = dict(mechanism=Mechanism.ECDSA_SHA256), decode_ecdsa_signature(sig)
    elif mech == "ecdsa":
        kw, sig = dict(mechanism=Mechanism.ECDSA), decode_ecdsa_signature(sig)
        data = hashlib.sha256(data).digest()
    else:
        sys.exit("unknown mechanism " + mech)
    if key.verify(data, sig, **kw) is not True:
        sys.exit("the token rejected a good signature")
    print("good signature: verified")
    if key.verify(flip(data, len(data) // 2), sig, **kw) is not False:
        sys.exit("the token accepted a changed message")
    print("changed message: rejected")
    # The last byte of r for ECDSA (r || s), a middle byte for RSA.
    if key.verify(data, flip(sig, len(sig) // 2 - 1), **kw) is not False:
        sys.exit("the token accepted a changed signature")
    print("changed signature: rejected")


def oaep_decrypt(s, label, path_in, path_out):
    key = private_key(s, label)
    pt = key.decrypt(open(path_in, "rb").read(), mechanism=Mechanism.RSA_PKCS_OAEP,
                     mechanism_param=(Mechanism.SHA256, MGF.SHA256, None))
    open(path_out, "wb").write(pt)


def aes_gcm(s, label):
    key = s.get_key(object_class=ObjectClass.SECRET_KEY, label=label)
    msg, aad, nonce = os.urandom(1000), b"keyward aad", os.urandom(12)
    params = GCMParams(nonce, aad, 128)
    ct = key.encrypt(msg, mechanism=Mechanism.AES_GCM, mechanism_param=params)
    assert len(ct) == len(msg) + 16, f"ciphertext length {len(ct)}"
    assert key.decrypt(ct, mechanism=Mechanism.AES_GCM, mechanism_param=params) == msg
    bad = bytearray(ct)
    bad[3] ^= 1
    try:
        key.decrypt(bytes(bad), mechanism=Mechanism.AES_GCM, mechanism_param=params)
    except pkcs11.PKCS11Error as e:
        print("changed ciphertext refused:", type(e).__name__)
    else:
        sys.exit("a changed ciphertext decrypted")
    print("AES-GCM round trip ok")


def known_aes(s, hex_key):
    return s.create_object({
        Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
        Attribute.VALUE: bytes.fromhex(hex_key), Attribute.TOKEN: False,
        Attribute.ENCRYPT: True, Attribute.DECRYPT: True, Attribute.LABEL: "pp-aes-known"})


def cbc(s, direction, hex_key, hex_iv, path_in, path_out):
    key = known_aes(s, hex_key)
    data, iv = open(path_in, "rb").read(), bytes.fromhex(hex_iv)
    op = key.encrypt if direction == "encrypt" else key.decrypt
    open(path_out, "wb").write(op(data, mechanism=Mechanism.AES_CBC_PAD, mechanism_param=iv))


COMMANDS = {"keygen": keygen, "sign": sign, "verify": verify, "oaep-decrypt": oaep_decrypt,
            "aes-gcm": aes_gcm, "cbc": cbc}

if __name__ == "__main__":
    with token.open(user_pin=os.environ["KW_PIN"], rw=True) as session:
        COMMANDS[sys.argv[1]](session, *sys.argv[2:])
EOF
  cat >pykcs11_checks.py <<'EOF'
"""PyKCS11 checks: python3 pykcs11_checks.py COMMAND ARGS (exit status 0 only on success)."""
import hashlib
import os
import sys

import PyKCS11
from PyKCS11 import LowLevel as LL

P256_OID_DER = bytes.fromhex("06082a8648ce3d030107")

lib = PyKCS11.PyKCS11Lib()
lib.load(os.environ["MODULE"])
slots = [s for s in lib.getSlotList(tokenPresent=True)
         if lib.getTokenInfo(s).label.strip() == os.environ["KW_TOKEN"]]
if len(slots) != 1:
    sys.exit(f"{len(slots)} slots with token {os.environ['KW_TOKEN']}")
session = lib.openSession(slots[0], PyKCS11.CKF_SERIAL_SESSION | PyKCS11.CKF_RW_SESSION)
session.login(os.environ["KW_PIN"])


def find(cls, label):
    found = session.findObjects([(PyKCS11.CKA_CLASS, cls), (PyKCS11.CKA_LABEL, label)])
    if len(found) != 1:
        sys.exit(f"{len(found)} objects labelled {label}")
    return found[0]


def der_int(b):
    b = b.lstrip(b"\0") or b"\0"
    if b[0] & 0x80:
        b = b"\0" + b
    return b"\x02" + bytes([len(b)]) + b


def ecdsa_der(raw):
    """r||s (PKCS#11) to an ECDSA-Sig-Value (DER) for OpenSSL; P-256 sizes only."""
    half = len(raw) // 2
    body = der_int(raw[:half]) + der_int(raw[half:])
    return b"\x30" + bytes([len(body)]) + body


def der_ecdsa_to_raw(der, size=32):
    """An ECDSA-Sig-Value (DER, as OpenSSL writes it) back to r || s; P-256 sizes only."""
    assert der[0] == 0x30 and der[1] == len(der) - 2, "not a short DER SEQUENCE"
    out, i = b"", 2
    for _ in range(2):
        assert der[i] == 0x02, "not an INTEGER"
        n = der[i + 1]
        value = der[i + 2:i + 2 + n].lstrip(b"\0")
        assert len(value) <= size, "integer too long"
        out += value.rjust(size, b"\0")
        i += 2 + n
    assert i == len(der), "trailing bytes"
    return out


def flip(b, i):
    """b with one bit of byte i changed (same length)."""
    out = bytearray(b)
    out[i] ^= 0x01
    return bytes(out)


def keygen():
    common = [(PyKCS11.CKA_TOKEN, True)]
    session.generateKeyPair(
        common + [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_RSA),
                  (PyKCS11.CKA_MODULUS_BITS, 2048), (PyKCS11.CKA_PUBLIC_EXPONENT, (1, 0, 1)),
                  (PyKCS11.CKA_VERIFY, True), (PyKCS11.CKA_ENCRYPT, True),
                  (PyKCS11.CKA_LABEL, "pk-rsa"), (PyKCS11.CKA_ID, (0x31,))],
        common + [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_RSA),
                  (PyKCS11.CKA_PRIVATE, True), (PyKCS11.CKA_SENSITIVE, True),
                  (PyKCS11.CKA_SIGN, True), (PyKCS11.CKA_DECRYPT, True),
                  (PyKCS11.CKA_LABEL, "pk-rsa"), (PyKCS11.CKA_ID, (0x31,))],
        mecha=PyKCS11.MechanismRSAGENERATEKEYPAIR)
    session.generateKeyPair(
        common + [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PUBLIC_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC),
                  (PyKCS11.CKA_EC_PARAMS, P256_OID_DER), (PyKCS11.CKA_VERIFY, True),
                  (PyKCS11.CKA_LABEL, "pk-ec"), (PyKCS11.CKA_ID, (0x32,))],
        common + [(PyKCS11.CKA_CLASS, PyKCS11.CKO_PRIVATE_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_EC),
                  (PyKCS11.CKA_PRIVATE, True), (PyKCS11.CKA_SENSITIVE, True),
                  (PyKCS11.CKA_SIGN, True), (PyKCS11.CKA_LABEL, "pk-ec"), (PyKCS11.CKA_ID, (0x32,))],
        mecha=PyKCS11.MechanismECGENERATEKEYPAIR)
    session.generateKey(
        common + [(PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
                  (PyKCS11.CKA_VALUE_LEN, 32), (PyKCS11.CKA_ENCRYPT, True), (PyKCS11.CKA_DECRYPT, True),
                  (PyKCS11.CKA_PRIVATE, True), (PyKCS11.CKA_SENSITIVE, True),
                  (PyKCS11.CKA_LABEL, "pk-aes"), (PyKCS11.CKA_ID, (0x33,))],
        mecha=PyKCS11.Mechanism(PyKCS11.CKM_AES_KEY_GEN))


def sign(label, mech, path_in, path_out):
    key = find(PyKCS11.CKO_PRIVATE_KEY, label)
    data = open(path_in, "rb").read()
    if mech == "sha256-rsa":
        sig = bytes(session.sign(key, data, PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS)))
    elif mech == "sha256-pss":
        m = PyKCS11.RSA_PSS_Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS_PSS, PyKCS11.CKM_SHA256,
                                      PyKCS11.CKG_MGF1_SHA256, 32)
        sig = bytes(session.sign(key, data, m))
    elif mech == "ecdsa":
        digest = hashlib.sha256(data).digest()
        sig = ecdsa_der(bytes(session.sign(key, digest, PyKCS11.Mechanism(PyKCS11.CKM_ECDSA))))
    else:
        sys.exit("unknown mechanism " + mech)
    open(path_out, "wb").write(sig)


def verify(label, mech, path_in, path_sig):
    """C_Verify through the token's public key LABEL of the signature `sign` wrote (the one
    OpenSSL accepted): it must verify; a changed message and a changed signature must not
    (PyKCS11 returns False for CKR_SIGNATURE_INVALID and raises on any other error)."""
    key = find(PyKCS11.CKO_PUBLIC_KEY, label)
    data, sig = open(path_in, "rb").read(), open(path_sig, "rb").read()
    if mech == "sha256-rsa":
        m = PyKCS11.Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS)
    elif mech == "sha256-pss":
        m = PyKCS11.RSA_PSS_Mechanism(PyKCS11.CKM_SHA256_RSA_PKCS_PSS, PyKCS11.CKM_SHA256,
                                      PyKCS11.CKG_MGF1_SHA256, 32)
    elif mech == "ecdsa":
        m, sig = PyKCS11.Mechanism(PyKCS11.CKM_ECDSA), der_ecdsa_to_raw(sig)
        data = hashlib.sha256(data).digest()
    else:
        sys.exit("unknown mechanism " + mech)

    def token_verifies(d, g):
        return session.verify(key, d, PyKCS11.ckbytelist(g), m)

    if token_verifies(data, sig) is not True:
        sys.exit("the token rejected a good signature")
    print("good signature: verified")
    if token_verifies(flip(data, len(data) // 2), sig) is not False:
        sys.exit("the token accepted a changed message")
    print("changed message: rejected (CKR_SIGNATURE_INVALID)")
    if token_verifies(data, flip(sig, len(sig) // 2 - 1)) is not False:
        sys.exit("the token accepted a changed signature")
    print("changed signature: rejected (CKR_SIGNATURE_INVALID)")


def oaep_decrypt(label, path_in, path_out):
    key = find(PyKCS11.CKO_PRIVATE_KEY, label)
    m = PyKCS11.RSAOAEPMechanism(PyKCS11.CKM_SHA256, PyKCS11.CKG_MGF1_SHA256)
    open(path_out, "wb").write(bytes(session.decrypt(key, open(path_in, "rb").read(), m)))


def aes_gcm(label):
    key = find(PyKCS11.CKO_SECRET_KEY, label)
    msg, aad, iv = os.urandom(1000), b"keyward aad", os.urandom(12)
    m = PyKCS11.AES_GCM_Mechanism(iv, aad, 128)
    ct = bytes(session.encrypt(key, msg, m))
    assert len(ct) == len(msg) + 16, f"ciphertext length {len(ct)}"
    assert bytes(session.decrypt(key, ct, m)) == msg
    bad = bytearray(ct)
    bad[3] ^= 1
    try:
        session.decrypt(key, bytes(bad), m)
    except PyKCS11.PyKCS11Error as e:
        print("changed ciphertext refused:", e)
    else:
        sys.exit("a changed ciphertext decrypted")
    print("AES-GCM round trip ok")


def cbc(direction, hex_key, hex_iv, path_in, path_out):
    key = session.createObject([
        (PyKCS11.CKA_CLASS, PyKCS11.CKO_SECRET_KEY), (PyKCS11.CKA_KEY_TYPE, PyKCS11.CKK_AES),
        (PyKCS11.CKA_VALUE, bytes.fromhex(hex_key)), (PyKCS11.CKA_TOKEN, False),
        (PyKCS11.CKA_ENCRYPT, True), (PyKCS11.CKA_DECRYPT, True), (PyKCS11.CKA_LABEL, "pk-aes-known")])
    m = PyKCS11.Mechanism(PyKCS11.CKM_AES_CBC_PAD, bytes.fromhex(hex_iv))
    data = open(path_in, "rb").read()
    op = session.encrypt if direction == "encrypt" else session.decrypt
    open(path_out, "wb").write(bytes(op(key, data, m)))


COMMANDS = {"keygen": keygen, "sign": sign, "verify": verify, "oaep-decrypt": oaep_decrypt,
            "aes-gcm": aes_gcm, "cbc": cbc}

if __name__ == "__main__":
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    finally:
        session.logout()
        session.closeSession()
EOF
}

compile_python() {
  write_python
  "$(cat python.txt)" -m py_compile pp_checks.py pykcs11_checks.py
}

# py LIB ARGS...: run LIB's checks (pp = python-pkcs11, pk = PyKCS11), bounded in time.
py() {
  local prog
  case $1 in
    pp) prog=pp_checks.py ;;
    pk) prog=pykcs11_checks.py ;;
  esac
  shift
  MODULE="$MODULE" KW_TOKEN="$TOKEN" KW_PIN="$KW_USER_PIN" \
    timeout "${KW_TIMEOUT:-60}" "$(cat python.txt)" "$prog" "$@"
}

# keygen LIB RSA-ID EC-ID: LIB's key generation; the public keys read back by pkcs11-tool.
keygen() {
  local lib=$1
  py "$lib" keygen
  kw_export_pubkey "$TOKEN" "$2" "$lib-rsa.pub.pem"
  kw_export_pubkey "$TOKEN" "$3" "$lib-ec.pub.pem"
  plain_openssl pkey -pubin -in "$lib-rsa.pub.pem" -text -noout | grep -q 'Public-Key: (2048 bit)'
  plain_openssl pkey -pubin -in "$lib-ec.pub.pem" -text -noout | grep -q 'NIST CURVE: P-256'
}

# sign_verify LIB KEY MECH OPENSSL-ARGS...: LIB signs data.bin with its KEY; plain OpenSSL
# verifies the signature with the public key read by pkcs11-tool, and rejects a changed message.
sign_verify() {
  local lib=$1 key=$2 mech=$3 sig
  shift 3
  sig="sig.$lib-$key.$mech"
  py "$lib" sign "$lib-$key" "$mech" data.bin "$sig"
  plain_openssl dgst -sha256 -verify "$lib-$key.pub.pem" "$@" -signature "$sig" data.bin
  printf 'x' | cat data.bin - >data.changed
  if plain_openssl dgst -sha256 -verify "$lib-$key.pub.pem" "$@" -signature "$sig" data.changed; then
    echo "a changed message verified"
    return 1
  fi
}

# token_verify LIB KEY MECH: LIB verifies through the token (C_Verify with the public key
# object) the signature sign_verify made and OpenSSL accepted; a changed message and a changed
# signature must be rejected (python-pkcs11: verify() False on SignatureInvalid; PyKCS11:
# verify() False on CKR_SIGNATURE_INVALID; any other error fails the check).
token_verify() {
  local lib=$1 key=$2 mech=$3 sig
  sig="sig.$lib-$key.$mech"
  test -s "$sig"
  py "$lib" verify "$lib-$key" "$mech" data.bin "$sig" >"$sig.token-verify"
  cat "$sig.token-verify"
  expect_in '^good signature: verified$' "$sig.token-verify"
  expect_in '^changed message: rejected' "$sig.token-verify"
  expect_in '^changed signature: rejected' "$sig.token-verify"
}

oaep() {
  local lib=$1
  plain_openssl pkeyutl -encrypt -pubin -inkey "$lib-rsa.pub.pem" -in secret.bin \
    -out "secret.$lib.oaep" -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 \
    -pkeyopt rsa_mgf1_md:sha256
  py "$lib" oaep-decrypt "$lib-rsa" "secret.$lib.oaep" "secret.$lib.out"
  cmp secret.bin "secret.$lib.out"
}

# cbc LIB: the token encrypts with AES-256-CBC-PAD under the known key, plain OpenSSL decrypts;
# plain OpenSSL encrypts, the token decrypts.
cbc() {
  local lib=$1
  py "$lib" cbc encrypt "$AES_KNOWN_HEX" "$CBC_IV_HEX" plain.bin "plain.$lib.cbc"
  plain_openssl enc -d -aes-256-cbc -K "$AES_KNOWN_HEX" -iv "$CBC_IV_HEX" -in "plain.$lib.cbc" \
    -out "plain.$lib.cbc.ossl"
  cmp plain.bin "plain.$lib.cbc.ossl"
  plain_openssl enc -aes-256-cbc -K "$AES_KNOWN_HEX" -iv "$CBC_IV_HEX" -in plain.bin \
    -out "plain.$lib.ossl.cbc"
  py "$lib" cbc decrypt "$AES_KNOWN_HEX" "$CBC_IV_HEX" "plain.$lib.ossl.cbc" "plain.$lib.out"
  cmp plain.bin "plain.$lib.out"
}

main() {
  kw_setup python
  kw_require "python3 with python-pkcs11 and PyKCS11" find_python
  kw_require "token $TOKEN (pkcs11-tool)" make_token
  kw_require "Python checks compile (py_compile)" compile_python

  kw_check "python-pkcs11: generate RSA, EC and AES keys on the token" keygen pp 21 22
  kw_check "python-pkcs11: SHA256_RSA_PKCS (verified by openssl)" sign_verify pp rsa sha256-rsa
  kw_check "python-pkcs11: SHA256_RSA_PKCS_PSS (verified by openssl)" sign_verify pp rsa \
    sha256-pss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
  kw_check "python-pkcs11: ECDSA_SHA256 (verified by openssl)" sign_verify pp ec ecdsa-sha256
  kw_check "python-pkcs11: ECDSA on a SHA-256 hash (verified by openssl)" sign_verify pp ec ecdsa
  kw_check "python-pkcs11: C_Verify SHA256_RSA_PKCS (good ok, changed rejected)" \
    token_verify pp rsa sha256-rsa
  kw_check "python-pkcs11: C_Verify SHA256_RSA_PKCS_PSS (good ok, changed rejected)" \
    token_verify pp rsa sha256-pss
  kw_check "python-pkcs11: C_Verify ECDSA_SHA256 (good ok, changed rejected)" \
    token_verify pp ec ecdsa-sha256
  kw_check "python-pkcs11: C_Verify ECDSA on a SHA-256 hash (good ok, changed rejected)" \
    token_verify pp ec ecdsa
  kw_check "python-pkcs11: RSA-OAEP SHA-256 decrypt of an openssl ciphertext" oaep pp
  kw_check "python-pkcs11: AES-GCM round trip, changed ciphertext refused" py pp aes-gcm pp-aes
  kw_check "python-pkcs11: AES-CBC-PAD with a known key, both ways with openssl" cbc pp

  kw_check "PyKCS11: generate RSA, EC and AES keys on the token" keygen pk 31 32
  kw_check "PyKCS11: CKM_SHA256_RSA_PKCS (verified by openssl)" sign_verify pk rsa sha256-rsa
  kw_check "PyKCS11: CKM_SHA256_RSA_PKCS_PSS (verified by openssl)" sign_verify pk rsa \
    sha256-pss -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
  kw_check "PyKCS11: CKM_ECDSA on a SHA-256 hash (verified by openssl)" sign_verify pk ec ecdsa
  kw_check "PyKCS11: C_Verify CKM_SHA256_RSA_PKCS (good ok, changed rejected)" \
    token_verify pk rsa sha256-rsa
  kw_check "PyKCS11: C_Verify CKM_SHA256_RSA_PKCS_PSS (good ok, changed rejected)" \
    token_verify pk rsa sha256-pss
  kw_check "PyKCS11: C_Verify CKM_ECDSA on a SHA-256 hash (good ok, changed rejected)" \
    token_verify pk ec ecdsa
  kw_check "PyKCS11: RSA-OAEP SHA-256 decrypt of an openssl ciphertext" oaep pk
  kw_check "PyKCS11: AES-GCM round trip, changed ciphertext refused" py pk aes-gcm pk-aes
  kw_check "PyKCS11: AES-CBC-PAD with a known key, both ways with openssl" cbc pk

  kw_finish
}

main "$@"
