#!/usr/bin/env bash
# How much the target figures move from run to run: the operations the issue-8 targets are
# read from, on one thread and on two, REPEATS times (default 5), on fresh tokens like run.sh.
# Writes docs/bench/repeats/run-<i>-<threads>t.json; docs/bench/spread.py summarises them.
set -euo pipefail
cd "$(dirname "$0")/../.."
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
REPEATS=${REPEATS:-5}
ONLY=rsa2048-pkcs1-sign/token,p256-sign/token,p256-prehashed-sign/token,aes-gcm-16/token,hmac-sha256-64/token

[ "${NO_BUILD:-0}" = 1 ] || cargo build --release
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export KEYWARD_DIR=$WORK/keyward KEYWARD_SO_PIN=bench-so-pin-1 KEYWARD_PIN=bench-user-pin-1
mkdir -p "$WORK/softhsm" docs/bench/repeats
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$WORK/softhsm" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
target/release/keyward init --label bench
softhsm2-util --init-token --free --label bench --so-pin "$KEYWARD_SO_PIN" --pin "$KEYWARD_PIN"

for i in $(seq 1 "$REPEATS"); do
  for threads in 1 2; do
    target/release/keyward bench \
      --module target/release/libkeyward.so --token bench \
      --compare "$SOFTHSM" --compare-token bench \
      --seconds 2 --threads "$threads" --only "$ONLY" \
      --json "docs/bench/repeats/run-$i-${threads}t.json" >/dev/null
  done
done
python3 docs/bench/spread.py docs/bench/repeats/run-*-1t.json -- docs/bench/repeats/run-*-2t.json
