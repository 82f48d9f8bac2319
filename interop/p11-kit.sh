#!/usr/bin/env bash
# p11-kit against the module: registration through a user module file (p11-kit list-modules
# shows the token; p11-kit-proxy.so signs with it), and remoting: `p11-kit server` exports the
# token over a unix socket and pkcs11-tool, loading p11-kit-client.so, lists it, signs (RSA
# PKCS#1 v1.5, RSA-PSS, ECDSA) and decrypts (RSA-OAEP) through it. Every signature is verified
# and every ciphertext made by plain OpenSSL (OPENSSL_CONF=/dev/null).
# Usage: MODULE=/path/to/module.so interop/p11-kit.sh
#
# For Keyward the module file is written by `keyward install --p11-kit` (the module installed
# under a prefix in the work dir); for SoftHSM by hand. `keyward install --p11-kit` is also run
# without --p11-kit-dir, into its default directory: /etc/pkcs11/modules as root (the system's
# p11-kit configuration: only when there is no keyward.module there yet, and the file and the
# directories it made are removed again right after, and by the EXIT trap), else
# ~/.config/pkcs11/modules of a throwaway HOME in the work dir.
# p11-kit ignores user configuration in a process running as root, so as root the commands that
# read it run in a user namespace whose uid is 1000 (unshare; the files stay root's).
# shellcheck disable=SC2317  # functions are called indirectly, through kw_check
set -euo pipefail
# shellcheck source=interop/lib.sh
. "$(dirname "$0")/lib.sh"

TOKEN=kw-p11kit
CLIENT_SO=/usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so
PROXY_SO=/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so
SERVER_PID=""

make_token() {
  kw_init_token "$TOKEN"
  kw_keygen "$TOKEN" rsa:2048 01 rsa1
  kw_keygen "$TOKEN" EC:prime256v1 02 ec1
  kw_export_pubkey "$TOKEN" 01 rsa1.pub.pem
  kw_export_pubkey "$TOKEN" 02 ec1.pub.pem
  head -c 4096 /dev/urandom >data.bin
  plain_openssl dgst -sha256 -binary -out data.sha256 data.bin
  head -c 32 /dev/urandom >secret.bin
}

# ~/.config/pkcs11 of a private HOME: the module file, and `user-config: only` so that the
# system's modules (SoftHSM's, OpenSC's, the trust module) stay out of the listing.
write_module_file() {
  mkdir -p home/.config/pkcs11/modules
  if kw_is_softhsm "$MODULE"; then
    printf 'module: %s\n' "$MODULE" >home/.config/pkcs11/modules/keyward.module
  else
    "$(dirname "$MODULE")/keyward" install --prefix "$PWD/prefix" --p11-kit \
      --p11-kit-dir home/.config/pkcs11/modules
    expect_in "^module: $PWD/prefix/lib/pkcs11/libkeyward.so\$" home/.config/pkcs11/modules/keyward.module
  fi
  printf 'user-config: only\n' >home/.config/pkcs11/pkcs11.conf
  test -f "$PROXY_SO"
}

# as_user CMD...: CMD with HOME in the work dir, as a non-root uid (p11-kit reads user
# configuration only then), bounded in time.
as_user() {
  local ns=()
  if [ "$(id -u)" -eq 0 ]; then ns=(unshare --user --map-user=1000 --map-group=1000); fi
  env -u XDG_CONFIG_HOME HOME="$KW_WORK/home" timeout "${KW_TIMEOUT:-60}" "${ns[@]}" "$@"
}

# The module file's module: the installed copy for Keyward, MODULE itself for SoftHSM.
registered_module() {
  if kw_is_softhsm "$MODULE"; then echo "$MODULE"; else echo "$PWD/prefix/lib/pkcs11/libkeyward.so"; fi
}

# Where `keyward install --p11-kit` writes without --p11-kit-dir (src/admin/install.rs).
default_kit_dir() {
  if [ "$(id -u)" -eq 0 ]; then
    echo /etc/pkcs11/modules
  else
    echo "$KW_WORK/home-default/.config/pkcs11/modules"
  fi
}

# p11-kit list-modules as this user (as root: the system configuration only), HOME the
# throwaway one.
list_modules_default() {
  env -u XDG_CONFIG_HOME HOME="$KW_WORK/home-default" timeout "${KW_TIMEOUT:-60}" \
    p11-kit list-modules
}

# default-install.undo: what install_default made, in removal order (the module file, then the
# directories it created, deepest first). Removes them; safe to call again (EXIT trap).
undo_default_install() {
  local undo=$KW_WORK/default-install.undo path
  [ -f "$undo" ] || return 0
  while read -r path; do
    if [ -d "$path" ]; then rmdir "$path" 2>/dev/null || true; else rm -f "$path"; fi
  done <"$undo"
  rm -f "$undo"
}

# keyward install --p11-kit with no --p11-kit-dir: the module file lands in the default
# directory, names the installed module, and `p11-kit list-modules` shows it with the token.
install_default() {
  local dir file d made=()
  dir=$(default_kit_dir)
  file=$dir/keyward.module
  [ ! -e "$file" ]
  d=$dir
  while [ ! -d "$d" ]; do
    made+=("$d")
    d=$(dirname "$d")
  done
  { echo "$file"; [ "${#made[@]}" -eq 0 ] || printf '%s\n' "${made[@]}"; } >"$KW_WORK/default-install.undo"
  mkdir -p "$KW_WORK/home-default"
  HOME="$KW_WORK/home-default" timeout "${KW_TIMEOUT:-60}" "$(dirname "$MODULE")/keyward" \
    install --prefix "$PWD/prefix-default" --p11-kit >install-default.txt
  cat install-default.txt "$file"
  expect_in "^p11-kit module file: $file\$" install-default.txt
  expect_in "^module: $PWD/prefix-default/lib/pkcs11/libkeyward.so\$" "$file"
  list_modules_default >modules-default.txt
  cat modules-default.txt
  expect_in "^keyward: $PWD/prefix-default/lib/pkcs11/libkeyward.so\$" modules-default.txt
  expect_in "^    token: $TOKEN\$" modules-default.txt
}

# ... and undone: the file and the directories it made are gone, p11-kit no longer lists it.
remove_default_install() {
  local file
  file=$(default_kit_dir)/keyward.module
  test -f "$KW_WORK/default-install.undo"
  test -f "$file"
  undo_default_install
  if [ -e "$file" ]; then
    echo "$file is still there"
    return 1
  fi
  list_modules_default >modules-after.txt
  if grep -q '^keyward: ' modules-after.txt; then
    cat modules-after.txt
    echo "p11-kit still lists keyward"
    return 1
  fi
}

list_modules() {
  as_user p11-kit list-modules >modules.txt
  cat modules.txt
  expect_in "^keyward: $(registered_module)\$" modules.txt
  expect_in "^    token: $TOKEN\$" modules.txt
  expect_in '^               token-initialized$' modules.txt
}

proxy_sign() {
  as_user pkcs11-tool --module "$PROXY_SO" --token-label "$TOKEN" --login --pin "$KW_USER_PIN" \
    --sign --id 02 -m ECDSA-SHA256 --signature-format openssl -i data.bin -o sig.proxy.ec1
}

# p11-kit server on the module, exporting only the token, on a unix socket in the work dir.
# Bounded by `timeout 300`; stopped by stop_server (and by the EXIT trap).
start_server() {
  timeout 300 p11-kit server --foreground --provider "$MODULE" -n "$KW_WORK/p11-kit.sock" \
    "pkcs11:token=$TOKEN" </dev/null >server.out 2>server.err &
  SERVER_PID=$!
  echo "$SERVER_PID" >server.pid
  local i
  for i in $(seq 1 100); do
    [ -S "$KW_WORK/p11-kit.sock" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
    : "$i"
  done
  cat server.out server.err
  [ -S "$KW_WORK/p11-kit.sock" ]
  expect_in "^P11_KIT_SERVER_ADDRESS=unix:path=$KW_WORK/p11-kit.sock;" server.out
}

# The server runs on after this script ends only if something killed the script outright.
stop_server() {
  local pid
  pid=$(cat server.pid 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || true
  rm -f server.pid
}

# pkcs11-tool through p11-kit-client.so, connected to the server's socket.
remote() {
  P11_KIT_SERVER_ADDRESS="unix:path=$KW_WORK/p11-kit.sock" \
    timeout "${KW_TIMEOUT:-60}" pkcs11-tool --module "$CLIENT_SO" "$@"
}

remote_user() {
  remote --token-label "$TOKEN" --login --pin "$KW_USER_PIN" "$@"
}

remote_list() {
  remote --list-token-slots >remote-slots.txt
  cat remote-slots.txt
  expect_in "token label +: $TOKEN\$" remote-slots.txt
  expect_in 'token manufacturer +: Keyward|SoftHSM' remote-slots.txt
  remote_user --list-objects --type privkey >remote-objects.txt
  expect_in 'label: +rsa1$' remote-objects.txt
  expect_in 'label: +ec1$' remote-objects.txt
}

remote_sign() {
  local id=$1 mech=$2 in=$3 out=$4
  shift 4
  remote_user --sign --id "$id" -m "$mech" "$@" -i "$in" -o "$out"
  test -s "$out"
}

remote_oaep() {
  plain_openssl pkeyutl -encrypt -pubin -inkey rsa1.pub.pem -in secret.bin -out secret.oaep \
    -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256
  remote_user --decrypt --id 01 -m RSA-PKCS-OAEP --hash-algorithm SHA256 --mgf MGF1-SHA256 \
    -i secret.oaep -o secret.out
  cmp secret.bin secret.out
}

# The server survived its clients (still running), then stops on SIGTERM.
server_alive_then_stop() {
  local pid rc=0
  pid=$(cat server.pid)
  kill -0 "$pid"
  kill "$pid"
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "p11-kit server still running 5 s after SIGTERM"
    kill -9 "$pid" || true
    rc=1
  fi
  rm -f server.pid
  return "$rc"
}

main() {
  kw_setup p11-kit
  trap 'stop_server; undo_default_install; kw_cleanup' EXIT
  kw_require "token, rsa1 and ec1 made with pkcs11-tool" make_token
  kw_require "module file in a private ~/.config/pkcs11/modules (keyward install --p11-kit)" \
    write_module_file
  kw_check "p11-kit list-modules shows the module and $TOKEN" list_modules
  kw_check "pkcs11-tool via p11-kit-proxy.so: ECDSA-SHA256 with ec1" proxy_sign
  kw_check "verify proxy signature (openssl)" plain_openssl dgst -sha256 -verify ec1.pub.pem \
    -signature sig.proxy.ec1 data.bin
  local kit_dir
  kit_dir=$(default_kit_dir)
  if kw_is_softhsm "$MODULE"; then
    kw_skip "keyward install --p11-kit into its default directory" "no keyward CLI for SoftHSM"
  elif [ -e "$kit_dir/keyward.module" ]; then
    kw_skip "keyward install --p11-kit into its default directory" \
      "$kit_dir/keyward.module is there already; the test does not overwrite it"
  else
    kw_check "keyward install --p11-kit (default dir ${kit_dir#"$KW_WORK/"}): list-modules shows it" \
      install_default
    kw_check "the default-dir module file removed again; list-modules no longer shows it" \
      remove_default_install
  fi

  kw_require "p11-kit server exports $TOKEN on a unix socket" start_server
  kw_check "p11-kit-client.so lists $TOKEN and its keys" remote_list
  kw_check "remote sign SHA256-RSA-PKCS (rsa1)" remote_sign 01 SHA256-RSA-PKCS data.bin \
    sig.remote.rsa
  kw_check "verify remote SHA256-RSA-PKCS (openssl)" plain_openssl dgst -sha256 \
    -verify rsa1.pub.pem -signature sig.remote.rsa data.bin
  kw_check "remote sign RSA-PKCS-PSS on a SHA-256 hash (rsa1)" remote_sign 01 RSA-PKCS-PSS \
    data.sha256 sig.remote.pss --hash-algorithm SHA256 --mgf MGF1-SHA256
  kw_check "verify remote RSA-PSS (openssl)" plain_openssl pkeyutl -verify -pubin \
    -inkey rsa1.pub.pem -in data.sha256 -sigfile sig.remote.pss -pkeyopt digest:sha256 \
    -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
  kw_check "remote sign ECDSA on a SHA-256 hash (ec1)" remote_sign 02 ECDSA data.sha256 \
    sig.remote.ec --signature-format openssl
  kw_check "verify remote ECDSA (openssl)" plain_openssl dgst -sha256 -verify ec1.pub.pem \
    -signature sig.remote.ec data.bin
  kw_check "remote decrypt RSA-OAEP SHA-256 of an openssl ciphertext (rsa1)" remote_oaep
  kw_check "p11-kit server alive after the clients, stops on SIGTERM" server_alive_then_stop

  kw_finish
}

main "$@"
