#!/usr/bin/env bash
# Reproduce the delegation cost in docs/delegation.md: signing through a Keyward delegate slot
# backed by a SoftHSM token, against signing with a second SoftHSM token through a copy of the
# same SoftHSM library loaded directly (so the two never share one library instance).
# examples/delegate_cost signs a fixed number of times in one thread with token keys; the two
# paths alternate, ROUNDS times, each pinned to one core, and the medians are compared.
# Writes docs/bench/delegation.txt. Run on a quiet machine (no build or test running).
set -euo pipefail
cd "$(dirname "$0")/../.."
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
ROUNDS=${ROUNDS:-7}
N=${N:-20000}   # HMAC and ECDSA operations per run; RSA runs N/10
CPU=${CPU:-1}

[ "${NO_BUILD:-0}" = 1 ] || cargo build --release --lib --bins --example delegate_cost
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PIN=bench-user-pin-1 SO_PIN=bench-so-pin-1
mkdir -p "$WORK/softhsm"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
  "$WORK/softhsm" >"$WORK/softhsm2.conf"
export SOFTHSM2_CONF=$WORK/softhsm2.conf
softhsm2-util --init-token --free --label hsm --so-pin "$SO_PIN" --pin "$PIN" >/dev/null
softhsm2-util --init-token --free --label direct --so-pin "$SO_PIN" --pin "$PIN" >/dev/null
cp "$SOFTHSM" "$WORK/libsofthsm2-direct.so"
printf '%s' "$PIN" >"$WORK/hsm.pin"
cat >"$WORK/keyward.toml" <<TOML
[[slot]]
path = "$WORK/keyward"
backend = "delegate"
device_module = "$SOFTHSM"
device_token = "hsm"
device_pin_file = "$WORK/hsm.pin"
TOML
export KEYWARD_CONF=$WORK/keyward.toml
KEYWARD_SO_PIN=$SO_PIN KEYWARD_PIN=$PIN target/release/keyward init --label kwd >/dev/null

# run MODULE TOKEN ONLY: one run's µs/op (wall clock, the example's own figure)
run() {
  DELEGATE_COST_MODULE=$1 DELEGATE_COST_TOKEN=$2 DELEGATE_COST_PIN=$PIN DELEGATE_COST_ONLY=$3 \
    DELEGATE_COST_N=$N taskset -c "$CPU" target/release/examples/delegate_cost |
    sed -n 's/.* \([0-9.]*\) µs\/op.*/\1/p'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

{
  echo "delegate_cost, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, one thread pinned to CPU $CPU,"
  echo "$ROUNDS alternating rounds of N=$N (RSA N/10) signatures; medians of µs per operation"
  printf '%-10s %12s %12s %10s   %s\n' operation "direct µs" "Keyward µs" "overhead" "per round (direct/Keyward)"
  for op in HMAC ECDSA RSA; do
    d=() k=()
    for _ in $(seq "$ROUNDS"); do
      d+=("$(run "$WORK/libsofthsm2-direct.so" direct "$op")")
      k+=("$(run target/release/libkeyward.so kwd "$op")")
    done
    md=$(printf '%s\n' "${d[@]}" | median)
    mk=$(printf '%s\n' "${k[@]}" | median)
    rounds=$(paste -d/ <(printf '%s\n' "${d[@]}") <(printf '%s\n' "${k[@]}") | tr '\n' ' ')
    printf '%-10s %12.2f %12.2f %9.1f%%   %s\n' "$op" "$md" "$mk" \
      "$(awk -v d="$md" -v k="$mk" 'BEGIN {print (k / d - 1) * 100}')" "$rounds"
  done
} | tee docs/bench/delegation.txt
