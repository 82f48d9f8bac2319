#!/usr/bin/env bash
# Shared helpers for the interop scripts: a work dir, checks with PASS/FAIL lines, tool wrappers.
# Sourced, not run. Each script calls kw_setup NAME first and ends with kw_finish.
#
# Environment: MODULE (PKCS#11 module; default target/release/libkeyward.so),
# KW_TIMEOUT (seconds per command, default 60), KW_KEEP=1 (keep the work dir).

# shellcheck source=interop/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

KW_PASSED=0
KW_FAILED=0
KW_SKIPPED=0
KW_SCRIPT=""
KW_WORK=""
KW_CHECK_NO=0
KW_LAST_RC=0

# PINs of the throw-away test tokens.
KW_SO_PIN="kw-so-pin-8765"
KW_USER_PIN="kw-user-pin-1234"

# Create the work dir, point the module at a fresh store in it, cd there, install the trap.
kw_setup() {
  KW_SCRIPT=$1
  kw_resolve_module
  if [ ! -f "$MODULE" ]; then
    echo "$KW_SCRIPT: module not found: $MODULE" >&2
    kw_fail "module present ($MODULE)"
    kw_finish
  fi
  KW_WORK=$(mktemp -d "${TMPDIR:-/tmp}/kw-$KW_SCRIPT.XXXXXX")
  trap kw_cleanup EXIT
  trap 'exit 130' INT TERM
  mkdir -p "$KW_WORK/logs"
  kw_module_env "$KW_WORK" "$MODULE"
  cd "$KW_WORK"
  echo "== $KW_SCRIPT: module $MODULE, work dir $KW_WORK"
}

# Drop the work dir (unless KW_KEEP=1). Checks that start servers stop them themselves.
kw_cleanup() {
  [ -n "$KW_WORK" ] || return 0
  if [ "${KW_KEEP:-0}" = 1 ]; then
    echo "$KW_SCRIPT: work dir kept: $KW_WORK"
  else
    cd / && rm -rf "$KW_WORK"
  fi
}

kw_pass() {
  KW_PASSED=$((KW_PASSED + 1))
  echo "PASS $KW_SCRIPT: $1"
}

kw_fail() {
  KW_FAILED=$((KW_FAILED + 1))
  echo "FAIL $KW_SCRIPT: $1"
}

# kw_skip NAME REASON...: a check the tools installed here cannot run (not the module's doing):
# a SKIP line with the reason. Neither a pass nor a failure; run-all.sh counts them apart.
kw_skip() {
  local name=$1
  shift
  KW_SKIPPED=$((KW_SKIPPED + 1))
  echo "SKIP $KW_SCRIPT: $name ($*)"
}

# Describe an exit status: crashes and timeouts get their own words.
kw_describe_rc() {
  case "$1" in
    124) echo "timed out after ${KW_TIMEOUT:-60}s" ;;
    134) echo "crashed (SIGABRT, exit 134)" ;;
    139) echo "crashed (SIGSEGV, exit 139)" ;;
    *) if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "exit $1"; fi ;;
  esac
}

# kw_check NAME CMD ARGS...: one check. Runs CMD (a command or a function) with `set -e` in a
# subshell, output to a log; prints PASS or FAIL (with the log's tail) and sets KW_LAST_RC.
# Always returns 0. Call it as a plain statement (not under if, ! or ||): bash ignores
# `set -e` inside any function called from such a context, even in a subshell.
kw_check() {
  local name=$1 log
  shift
  KW_CHECK_NO=$((KW_CHECK_NO + 1))
  log="$KW_WORK/logs/$(printf '%02d' "$KW_CHECK_NO")-${name//[^A-Za-z0-9._-]/_}.log"
  set +e
  {
    (
      set -e
      "$@"
    )
  } >"$log" 2>&1
  KW_LAST_RC=$?
  set -e
  if [ "$KW_LAST_RC" -eq 0 ]; then
    kw_pass "$name"
  else
    kw_fail "$name ($(kw_describe_rc "$KW_LAST_RC"))"
    tail -n 12 "$log" | sed 's/^/    | /'
  fi
}

# kw_require NAME CMD...: a check the rest of the script depends on; stop the script if it fails.
kw_require() {
  kw_check "$@"
  if [ "$KW_LAST_RC" -ne 0 ]; then
    echo "$KW_SCRIPT: '$1' failed; skipping the remaining checks"
    kw_finish
  fi
}

# Print this script's totals and exit 1 if any check failed.
kw_finish() {
  local skipped=""
  [ "$KW_SKIPPED" -eq 0 ] || skipped=", $KW_SKIPPED skipped"
  echo "== $KW_SCRIPT: $KW_PASSED passed, $KW_FAILED failed$skipped"
  [ "$KW_FAILED" -eq 0 ] || exit 1
  exit 0
}

# pkcs11-tool on the module under test, bounded in time.
p11() {
  timeout "${KW_TIMEOUT:-60}" pkcs11-tool --module "$MODULE" "$@"
}

# pkcs11-tool on the named token, logged in as the user.
p11_user() {
  local label=$1
  shift
  p11 --token-label "$label" --login --pin "$KW_USER_PIN" "$@"
}

# OpenSSL with no configuration at all: the independent verifier.
plain_openssl() {
  OPENSSL_CONF=/dev/null timeout "${KW_TIMEOUT:-60}" openssl "$@"
}

# Expect a file to contain an extended regex; show the file when it does not.
expect_in() {
  local pattern=$1 file=$2
  grep -Eq -- "$pattern" "$file" || {
    cat "$file"
    echo "expected /$pattern/ in $file"
    return 1
  }
}

# Initialise a token with LABEL in the (single, fresh) store and set the user PIN.
kw_init_token() {
  local label=$1
  p11 --init-token --label "$label" --so-pin "$KW_SO_PIN"
  p11 --token-label "$label" --login --login-type so --so-pin "$KW_SO_PIN" \
    --init-pin --pin "$KW_USER_PIN"
}

# Generate a key pair on token LABEL: kw_keygen LABEL KEYTYPE ID KEYLABEL
kw_keygen() {
  p11_user "$1" --keypairgen --key-type "$2" --id "$3" --label "$4"
}

# Export public key ID from token LABEL as PEM (via DER SubjectPublicKeyInfo): LABEL ID OUT.pem
kw_export_pubkey() {
  local label=$1 id=$2 out=$3
  p11 --token-label "$label" --read-object --type pubkey --id "$id" -o "${out%.pem}.der"
  plain_openssl pkey -pubin -inform DER -in "${out%.pem}.der" -out "$out"
}

# pkcs11-provider for OpenSSL 3 (Debian bookworm-backports).
PROVIDER_SO=/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so

# Write provider.cnf in the work dir: OpenSSL with the default provider and pkcs11-provider
# loading $MODULE, the user PIN from a file. P11_QUIRKS adds pkcs11-module-quirks (SoftHSM).
write_provider_conf() {
  printf '%s' "$KW_USER_PIN" >pin.txt
  {
    echo 'openssl_conf = openssl_init'
    echo '[openssl_init]'
    echo 'providers = provider_sect'
    echo '[provider_sect]'
    echo 'default = default_sect'
    echo 'pkcs11 = pkcs11_sect'
    echo '[default_sect]'
    echo 'activate = 1'
    echo '[pkcs11_sect]'
    echo "module = $PROVIDER_SO"
    echo "pkcs11-module-path = $MODULE"
    echo "pkcs11-module-token-pin = file:$KW_WORK/pin.txt"
    if [ -n "${P11_QUIRKS:-}" ]; then echo "pkcs11-module-quirks = $P11_QUIRKS"; fi
    echo 'activate = 1'
  } >provider.cnf
  test -f "$PROVIDER_SO"
}

# OpenSSL through pkcs11-provider; a crash at exit (134/139) fails the check.
# OpenSSL with the provider configuration written by write_provider_conf.
p11_openssl() {
  OPENSSL_CONF="$KW_WORK/provider.cnf" timeout "${KW_TIMEOUT:-60}" openssl "$@"
}


# A free TCP port on 127.0.0.1 (best effort: another process may take it before we bind).
free_port() {
  local port try
  for try in $(seq 1 50); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
    : "$try"
  done
  return 1
}

# start_server KEY PORT CONNECTIONS: s_server (TLS 1.3, -www) on the token key $URI;object=KEY
# with KEY.cert.pem, serving CONNECTIONS clients; waits until it accepts. Sets SERVER_PID.
start_server() {
  local key=$1 port=$2 connections=$3 i
  OPENSSL_CONF="$KW_WORK/provider.cnf" timeout 30 openssl s_server \
    -key "$URI;object=$key;type=private" -cert "$key.cert.pem" \
    -accept "127.0.0.1:$port" -tls1_3 -naccept "$connections" -www >"server.$key.log" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 100); do
    grep -q '^ACCEPT' "server.$key.log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  cat "server.$key.log"
  return 1
}

