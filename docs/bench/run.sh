#!/usr/bin/env bash
# Reproduce the figures in docs/performance.md: a fresh Keyward token and a fresh SoftHSM
# token in a temporary directory, then `keyward bench` on one thread and on two.
# Run from anywhere; writes docs/bench/keyward-vs-softhsm{,-2threads}.{txt,json,svg}.
set -euo pipefail
cd "$(dirname "$0")/../.."
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
SECONDS_PER_OP=${SECONDS_PER_OP:-2}
THREADS=${THREADS:-1 2}   # e.g. THREADS=2 for the two-thread pass only; NO_BUILD=1 to use the built binaries

[ "${NO_BUILD:-0}" = 1 ] || cargo build --release
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export KEYWARD_DIR=$WORK/keyward KEYWARD_SO_PIN=bench-so-pin-1 KEYWARD_PIN=bench-user-pin-1
mkdir -p "$WORK/softhsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$WORK/softhsm" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf

target/release/keyward init --label bench
softhsm2-util --init-token --free --label bench --so-pin "$KEYWARD_SO_PIN" --pin "$KEYWARD_PIN"

# Beyond one thread, everything but the C_FindObjects rows: SoftHSM needs ~17 minutes to
# delete the 10,000 objects they create, and the find targets are single-thread ones.
ALL_BUT_FIND=rsa,p256,p384,ed25519,aes,hmac,sha256,create-object,login
for threads in $THREADS; do
  out=docs/bench/keyward-vs-softhsm$([ "$threads" = 1 ] || echo "-${threads}threads")
  only=()
  [ "$threads" = 1 ] || only=(--only "$ALL_BUT_FIND")
  target/release/keyward bench \
    --module target/release/libkeyward.so --token bench \
    --compare "$SOFTHSM" --compare-token bench \
    --seconds "$SECONDS_PER_OP" --threads "$threads" "${only[@]}" \
    --json "$out.json" --plot "$out.svg" | tee "$out.txt"
done
