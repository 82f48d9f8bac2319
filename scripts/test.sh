#!/usr/bin/env bash
# The single test command: install the test dependencies, build the release module, run the Rust
# unit and black-box tests, then the interop suite (pkcs11-tool, OpenSSL provider and engine,
# NSS, Java SunPKCS11, GnuTLS, p11-kit, python-pkcs11 and PyKCS11)
# against target/release/libkeyward.so. Exits non-zero if any stage failed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CARGO_LOCK_FLAG=()
RESULTS=()
FAILED=0

section() {
  echo
  echo "================ $* ================"
}

# stage NAME CMD...: run one stage, record PASS/FAIL, keep going.
stage() {
  local name=$1 rc=0
  shift
  section "$name"
  "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    RESULTS+=("PASS $name")
  else
    RESULTS+=("FAIL $name (exit $rc)")
    FAILED=1
  fi
  return "$rc"
}

summary() {
  section "summary"
  printf '%s\n' "${RESULTS[@]}"
  if [ "$FAILED" -eq 0 ]; then echo "all stages passed"; else echo "some stages FAILED"; fi
}

main() {
  [ -f Cargo.lock ] && CARGO_LOCK_FLAG=(--locked)
  export KEYWARD_MODULE="$ROOT/target/release/libkeyward.so"
  export MODULE="$KEYWARD_MODULE"
  # P11_QUIRKS is for validating the scripts against SoftHSM; Keyward must pass without it.
  unset P11_QUIRKS

  stage "install test dependencies" scripts/install-test-deps.sh || { summary; exit 1; }
  stage "cargo build --release --lib --bins --examples ${CARGO_LOCK_FLAG[*]}" \
    cargo build --release --lib --bins --examples "${CARGO_LOCK_FLAG[@]}" || { summary; exit 1; }
  # The README's first command, as a user runs it (the build above makes it quick).
  stage "scripts/quickstart.sh (README command 1)" scripts/quickstart.sh || true
  stage "cargo test --release ${CARGO_LOCK_FLAG[*]}" \
    cargo test --release "${CARGO_LOCK_FLAG[@]}" || true
  stage "ABI misuse suite under valgrind" scripts/valgrind-abi.sh || true
  stage "interop (MODULE=target/release/libkeyward.so)" interop/run-all.sh || true
  # Licences, banned and duplicate crates, sources (deny.toml). Advisories need GitHub, which
  # CI cannot reach: run `cargo deny check advisories` where it can.
  # `cargo fetch` first: cargo deny reads the metadata of every target's crates (Windows ones
  # included), which the Linux build above never downloads.
  stage "supply chain: cargo deny check bans licenses sources" \
    bash -c 'cargo fetch "$@" && cargo deny --offline check bans licenses sources' _ \
    "${CARGO_LOCK_FLAG[@]}" || true

  summary
  [ "$FAILED" -eq 0 ]
}

main "$@"
