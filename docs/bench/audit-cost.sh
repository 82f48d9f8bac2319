#!/usr/bin/env bash
# Reproduce the audit cost in docs/audit.md: examples/hot_path (ECDSA P-256 signatures) on three
# fresh soft tokens: the audit trail on (its default writer: the calling thread, in this
# single-threaded process), on with `audit_writer = "thread"`, and off; alternately, ROUNDS
# times. A benchmark (run it on a quiet machine), not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-8}
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --lib --bins --examples
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for a in on thread off; do
  printf '[[slot]]\npath = "%s"\nlabel = "perf"\naudit = %s\n' "$WORK/$a" \
    "$([ $a = off ] && echo false || echo true)" >"$WORK/$a.toml"
  [ $a = thread ] && echo 'audit_writer = "thread"' >>"$WORK/$a.toml"
  KEYWARD_CONF=$WORK/$a.toml KEYWARD_SO_PIN=so-pin-1 KEYWARD_PIN=user-pin-1 \
    target/release/keyward init --label "perf$a" >/dev/null
done
for round in $(seq "$ROUNDS"); do
  for a in on thread off; do
    printf 'round %s, audit %-6s ' "$round" "$a"
    KEYWARD_CONF=$WORK/$a.toml KEYWARD_PIN=user-pin-1 target/release/examples/hot_path
  done
done
