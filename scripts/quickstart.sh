#!/usr/bin/env bash
# Build Keyward, initialise a token in ./demo-token, make an RSA and an EC key, sign through
# the module, and print how to point pkcs11-tool and OpenSSL at it. No server, no root.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "== building (release)"
cargo build --release --bins --lib --examples

export KEYWARD_DIR="$root/demo-token"
rm -rf "$KEYWARD_DIR"
# Demo PINs, for this throw-away token only. Real tokens: use --pin-file or the prompt.
export KEYWARD_SO_PIN=so-demo-1234 KEYWARD_PIN=demo-1234

echo "== initialising a token in $KEYWARD_DIR"
target/release/keyward init --label quickstart

echo "== making keys and signing through libkeyward.so"
KEYWARD_MODULE="$root/target/release/libkeyward.so" target/release/examples/quickstart

echo "== keys on the token"
target/release/keyward keys

cat <<TXT

The module: $root/target/release/libkeyward.so
Use it from any PKCS#11 tool with KEYWARD_DIR=$KEYWARD_DIR in the environment:

  export KEYWARD_DIR=$KEYWARD_DIR
  pkcs11-tool --module $root/target/release/libkeyward.so --token-label quickstart \\
      --login --pin demo-1234 --list-objects
  pkcs11-tool --module $root/target/release/libkeyward.so --token-label quickstart \\
      --login --pin demo-1234 --sign -m SHA256-RSA-PKCS --label qs-rsa -i data -o data.sig

OpenSSL 3 with pkcs11-provider (apt: pkcs11-provider), OPENSSL_CONF=keyward-openssl.cnf:

  openssl_conf = openssl_init
  [openssl_init]
  providers = provider_sect
  [provider_sect]
  default = default_sect
  pkcs11 = pkcs11_sect
  [default_sect]
  activate = 1
  [pkcs11_sect]
  module = /usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so
  pkcs11-module-path = $root/target/release/libkeyward.so
  pkcs11-module-token-pin = file:/path/to/pin.txt
  activate = 1

  openssl pkey -pubin -in 'pkcs11:token=quickstart;object=qs-ec;type=public' -pubout
  openssl dgst -sha256 -sign 'pkcs11:token=quickstart;object=qs-ec;type=private' -out sig data
TXT
