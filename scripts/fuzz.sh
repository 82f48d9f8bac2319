#!/usr/bin/env bash
# Run one cargo-fuzz target for a while, one job, on this repository's seed corpus.
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
#   scripts/fuzz.sh list               the targets
#
# Targets: template_abi, mechanism_abi, template_checks, store_record, config, audit_record
# (docs/fuzzing.md says what each covers). New inputs go to fuzz/work/TARGET (not kept in
# git); the committed seeds in fuzz/corpus/TARGET are only read. A crash leaves its input in
# fuzz/artifacts/TARGET/; keep it as fuzz/corpus/TARGET/regression-NAME once fixed, so that
# tests/fuzz_corpus.rs replays it. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`).
set -euo pipefail

cd "$(dirname "$0")/../fuzz"
if [ "${1:-}" = list ] || [ $# -lt 2 ]; then
  cargo +nightly fuzz list
  [ "${1:-}" = list ] && exit 0
  echo "usage: scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]" >&2
  exit 2
fi
target=$1
seconds=$2
shift 2
mkdir -p "work/$target"
# The ABI targets drive one module instance that keeps state across inputs by design (session
# objects, caches, the audit queue): LeakSanitizer's per-input leak check would report that
# state and slow the run ten-fold. Leaks are valgrind's job (scripts/valgrind-abi.sh).
leaks=()
case $target in
  template_abi | mechanism_abi) leaks=(-detect_leaks=0) ;;
esac
# -rss_limit_mb: a target must not need gigabytes (an input that makes the module allocate
# without bound is a finding). -timeout: one input taking seconds is one too.
exec cargo +nightly fuzz run -O "$target" "work/$target" "corpus/$target" -- \
  -jobs=1 -workers=1 -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
  -print_final_stats=1 "${leaks[@]}" "$@"
