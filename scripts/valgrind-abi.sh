#!/usr/bin/env bash
# Run the ABI misuse suite (tests/abi_misuse.rs, tests/abi_uninitialized.rs) under valgrind:
# memcheck errors (invalid reads/writes, uses of uninitialised values) and definite leaks fail
# the run. About a minute on two cores once built; exits non-zero on any error.
#
#   scripts/valgrind-abi.sh   builds the two test binaries (release, as the suite runs) if
#                             needed, then checks them; CARGO_TARGET_DIR is honoured.
set -euo pipefail

cd "$(dirname "$0")/.."
TESTS=(abi_misuse abi_uninitialized)

log() { echo "valgrind-abi: $*"; }

if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing valgrind"
    apt-get update -qq >/dev/null && apt-get install -y -qq valgrind >/dev/null
  else
    log "valgrind is not installed (apt-get install valgrind)" >&2
    exit 1
  fi
fi

# The test executables, as cargo reports them (built first if they are not).
args=(test --release --no-run)
for t in "${TESTS[@]}"; do args+=(--test "$t"); done
if ! json=$(cargo "${args[@]}" --message-format=json 2>/dev/null); then
  log "build failed:" >&2
  cargo "${args[@]}" >&2 || true
  exit 1
fi

status=0
for t in "${TESTS[@]}"; do
  exe=$(printf '%s\n' "$json" | grep -o "\"executable\":\"[^\"]*/deps/$t-[0-9a-f]*\"" | tail -1 | cut -d'"' -f4)
  if [ -z "$exe" ] || [ ! -x "$exe" ]; then
    log "no test executable for $t" >&2
    exit 1
  fi
  out=$(mktemp)
  start=$SECONDS
  # --fair-sched=yes: valgrind runs one thread at a time, and its default lock lets the
  # threads tests' spinning workers starve the thread that would stop them (140 s against
  # 15 s for those two tests here; over half an hour for the whole suite on one CI machine).
  if valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
    --fair-sched=yes "$exe" >"$out" 2>&1; then
    log "$t: clean ($((SECONDS - start)) s): $(grep -E '^test result' "$out" | tail -1)"
  else
    status=1
    log "$t: FAILED under valgrind ($((SECONDS - start)) s); its output:" >&2
    grep -vE '^==[0-9]+== +(at|by) 0x' "$out" | tail -80 >&2
    grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|Source and dest|[0-9,]+ bytes in [0-9,]+ blocks are definitely)' -A12 "$out" | head -120 >&2
  fi
  rm -f "$out"
done
exit $status
