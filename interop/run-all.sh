#!/usr/bin/env bash
# Run every interop script against $MODULE (default: target/release/libkeyward.so; builds
# nothing) and end with one line `N passed, M failed` counting the individual checks (checks the
# installed tools cannot run print SKIP lines and are counted on the line before it).
# Exits non-zero if any check failed or a script died without reporting its failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=interop/env.sh
. "$here/env.sh"

SCRIPTS=(pkcs11-tool.sh pkcs11-tool-mechanisms.sh openssl-provider.sh lifecycle.sh
  openssl-engine.sh nss.sh java.sh gnutls.sh p11-kit.sh python.sh access-audit.sh delegate.sh)
passed=0
failed=0
skipped=0

# run_script NAME: run one script, echo its output, add its PASS/FAIL lines to the totals.
run_script() {
  local name=$1 out rc=0 p f s
  out=$(mktemp "${TMPDIR:-/tmp}/kw-run-all.XXXXXX")
  "$here/$name" 2>&1 | tee "$out" || rc=$?
  p=$(grep -c '^PASS ' "$out" || true)
  f=$(grep -c '^FAIL ' "$out" || true)
  s=$(grep -c '^SKIP ' "$out" || true)
  rm -f "$out"
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "FAIL run-all: $name exited with status $rc without reporting a failed check"
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
  skipped=$((skipped + s))
}

main() {
  kw_resolve_module
  echo "== interop: module $MODULE"
  if [ ! -f "$MODULE" ]; then
    echo "FAIL run-all: module not found: $MODULE (build it first: cargo build --release)"
    failed=1
  else
    local s
    for s in "${SCRIPTS[@]}"; do
      run_script "$s"
    done
  fi
  # Checks the installed tools cannot run, each with its reason on a SKIP line above.
  [ "$skipped" -eq 0 ] || echo "($skipped skipped: grep '^SKIP ' above for the reasons)"
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}

main "$@"
