#!/usr/bin/env bash
# Reproduce the delegation cost in docs/delegation.md: signing through a Keyward delegate slot
# backed by a SoftHSM token, against signing with a second SoftHSM token through a copy of the
# same SoftHSM library loaded directly (so the two never share one library instance). Two
# ways, both pinned to one core:
# - paired: examples/delegate_cost loads both modules in one process and alternates blocks of
#   BLOCK signatures between them; each pair of blocks gives one ratio, and the median ratio
#   of a run is its overhead. A slow spell of a shared host slows both blocks of a pair, so it
#   cancels out. RUNS runs per operation; the run with the middle overhead is the figure.
# - separate: one process per path, as an application would run, ROUNDS rounds rotating
#   which path goes first. The direct process then has no Keyward in it (no shared heap),
#   but rounds are seconds apart, so a noisy host spreads them widely. Each process reports
#   its mean and the 10th percentile of its blocks of BLOCK signatures (the blocks no
#   neighbour slowed); per round, each gives a ratio; the medians are the figures. Keyward
#   runs twice per round: with its default audit writer (the calling thread, in this
#   single-threaded process) and with `audit_writer = "thread"` (docs/audit.md).
# Writes docs/bench/delegation.txt. Run on a machine with no build or test running.
set -euo pipefail
cd "$(dirname "$0")/../.."
SOFTHSM=${SOFTHSM:-/usr/lib/softhsm/libsofthsm2.so}
RUNS=${RUNS:-5}
N=${N:-60000}     # paired: HMAC and ECDSA signatures per path and run; RSA signs N/10
BLOCK=${BLOCK:-100}
ROUNDS=${ROUNDS:-11}
SEP_N=${SEP_N:-40000}  # separate: HMAC signatures per process; ECDSA SEP_N/3, RSA SEP_N/30
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
sed 's/^\[\[slot\]\]$/[[slot]]\naudit_writer = "thread"/' "$WORK/keyward.toml" >"$WORK/keyward-thread.toml"
export KEYWARD_CONF=$WORK/keyward.toml
KEYWARD_SO_PIN=$SO_PIN KEYWARD_PIN=$PIN target/release/keyward init --label kwd >/dev/null

# run OP: one paired run; prints "base keyward ratio" (µs/op, µs/op, ratio)
run() {
  DELEGATE_COST_MODULE=target/release/libkeyward.so DELEGATE_COST_TOKEN=kwd \
    DELEGATE_COST_BASE_MODULE="$WORK/libsofthsm2-direct.so" DELEGATE_COST_BASE_TOKEN=direct \
    DELEGATE_COST_PIN=$PIN DELEGATE_COST_ONLY=$1 DELEGATE_COST_N=$N DELEGATE_COST_BLOCK=$BLOCK \
    taskset -c "$CPU" target/release/examples/delegate_cost |
    sed -n 's/.*base \([0-9.]*\) µs\/op, subject \([0-9.]*\) µs\/op, median ratio \([0-9.]*\).*/\1 \2 \3/p'
}

# one OP MODULE TOKEN N [CONF]: one process signing N times; prints its mean and p10 µs/op
one() {
  KEYWARD_CONF=${5:-$KEYWARD_CONF} DELEGATE_COST_MODULE=$2 DELEGATE_COST_TOKEN=$3 DELEGATE_COST_PIN=$PIN DELEGATE_COST_ONLY=$1 \
    DELEGATE_COST_N=$4 DELEGATE_COST_BLOCK=$BLOCK taskset -c "$CPU" target/release/examples/delegate_cost |
    sed -n 's/.* \([0-9.]*\) µs\/op (wall), blocks of [0-9]*: p10 \([0-9.]*\) µs.*/\1 \2/p'
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

{
  echo "delegate_cost, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, pinned to CPU $CPU"
  echo
  echo "paired: $RUNS runs per operation, each $N signatures per path (RSA N/10) in alternating"
  echo "blocks of $BLOCK (RSA BLOCK/10); per run: median µs/op of each path, median per-pair ratio"
  printf '%-9s %10s %10s %9s   %s\n' operation "direct µs" "Keyward µs" "overhead" "per run (direct/Keyward overhead)"
  for op in HMAC ECDSA RSA; do
    rows=()
    for _ in $(seq "$RUNS"); do rows+=("$(run "$op")"); done
    mid=$(printf '%s\n' "${rows[@]}" | sort -g -k3 | sed -n "$(((RUNS + 1) / 2))p")
    read -r b k r <<<"$mid"
    runs=$(printf '%s\n' "${rows[@]}" | awk '{printf "%s/%s %+.1f%%  ", $1, $2, ($3 - 1) * 100}')
    printf '%-9s %10.2f %10.2f %+8.1f%%   %s\n' "$op" "$b" "$k" "$(awk -v r="$r" 'BEGIN {print (r - 1) * 100}')" "$runs"
  done
  echo
  echo "separate: $ROUNDS rounds of one process per path (HMAC $SEP_N signatures, ECDSA $((SEP_N / 3)),"
  echo "RSA $((SEP_N / 30))); medians over rounds of each path's mean and 10th-percentile block"
  echo "µs/op, and of the per-round ratios; Keyward with its default audit writer (the calling"
  echo "thread here) and with audit_writer = \"thread\""
  printf '%-9s %21s %21s %9s %9s %21s %9s %9s\n' operation "direct mean/p10 µs" "Keyward mean/p10 µs" "mean" "p10" \
    "thread: mean/p10 µs" "mean" "p10"
  for op in HMAC ECDSA RSA; do
    case $op in HMAC) n=$SEP_N ;; ECDSA) n=$((SEP_N / 3)) ;; RSA) n=$((SEP_N / 30)) ;; esac
    rows=()
    for i in $(seq "$ROUNDS"); do
      # rotate the order of the three processes from round to round
      dd="" kk="" tt=""
      for who in $(echo "d k t d k" | cut -d' ' -f$((i % 3 + 1))-$((i % 3 + 3))); do
        case $who in
          d) dd=$(one "$op" "$WORK/libsofthsm2-direct.so" direct "$n") ;;
          k) kk=$(one "$op" target/release/libkeyward.so kwd "$n") ;;
          t) tt=$(one "$op" target/release/libkeyward.so kwd "$n" "$WORK/keyward-thread.toml") ;;
        esac
      done
      rows+=("$dd $kk $tt")
    done
    col() { printf '%s\n' "${rows[@]}" | awk "{print $1}" | median; }
    printf '%-9s %10.2f/%-10.2f %10.2f/%-10.2f %+8.1f%% %+8.1f%% %10.2f/%-10.2f %+8.1f%% %+8.1f%%\n' "$op" \
      "$(col '$1')" "$(col '$2')" "$(col '$3')" "$(col '$4')" \
      "$(col '($3 / $1 - 1) * 100')" "$(col '($4 / $2 - 1) * 100')" \
      "$(col '$5')" "$(col '$6')" \
      "$(col '($5 / $1 - 1) * 100')" "$(col '($6 / $2 - 1) * 100')"
    echo "          per round (direct/Keyward/thread mean): $(printf '%s\n' "${rows[@]}" | awk '{printf "%s/%s/%s ", $1, $3, $5}')"
  done
} | tee docs/bench/delegation.txt
