#!/usr/bin/env bash
# Reproduce the audit cost in docs/audit.md: examples/hot_path (ECDSA P-256 signatures) on two
# fresh soft tokens, one with the audit trail on and one with it off, alternately, ROUNDS times.
# A benchmark (run it on a quiet machine), not a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-8}
[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --lib --bins --examples
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
for a in on off; do
  printf '[[slot]]\npath = "%s"\nlabel = "perf"\naudit = %s\n' "$WORK/$a" \
    "$([ $a = on ] && echo true || echo false)" >"$WORK/$a.toml"
  KEYWARD_CONF=$WORK/$a.toml KEYWARD_SO_PIN=so-pin-1 KEYWARD_PIN=user-pin-1 \
    target/release/keyward init --label "perf$a" >/dev/null
done
for round in $(seq "$ROUNDS"); do
  for a in on off; do
    printf 'round %s, audit %-3s ' "$round" "$a"
    KEYWARD_CONF=$WORK/$a.toml KEYWARD_PIN=user-pin-1 target/release/examples/hot_path
  done
done
