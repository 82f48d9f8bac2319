#!/usr/bin/env bash
# Module selection and token-storage environment for the interop scripts. Sourced, not run.
#
#   kw_resolve_module          -> sets MODULE to an absolute path ($MODULE or the default build)
#   kw_module_env DIR MODULE   -> exports the storage variables for a fresh token store in DIR
#
# Keyward:  KEYWARD_DIR=DIR/keyward (one slot; the module creates the store, token uninitialised).
# SoftHSMv2 (detected by the module's file name): SOFTHSM2_CONF pointing at a config whose
# directories.tokendir is DIR/softhsm-tokens.

# The repository root, from this file's location (works outside a git checkout too).
kw_repo_root() {
  (cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
}

# Print the absolute form of a path (the file need not exist yet).
kw_abspath() {
  case "$1" in
    /*) printf '%s\n' "$1" ;;
    *) printf '%s/%s\n' "$PWD" "$1" ;;
  esac
}

# Set MODULE (exported, absolute) from $MODULE or the default release build of libkeyward.so.
kw_resolve_module() {
  MODULE=$(kw_abspath "${MODULE:-$(kw_repo_root)/target/release/libkeyward.so}")
  export MODULE
}

# True when the module is SoftHSMv2 (decided by its file name).
kw_is_softhsm() {
  case "$(basename "$1")" in
    *softhsm*) return 0 ;;
    *) return 1 ;;
  esac
}

# Export the variables that point MODULE at a new, empty token store inside DIR.
kw_module_env() {
  local dir=$1 module=$2
  unset SOFTHSM2_CONF KEYWARD_DIR KEYWARD_CONF
  if kw_is_softhsm "$module"; then
    mkdir -p "$dir/softhsm-tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' \
      "$dir/softhsm-tokens" >"$dir/softhsm2.conf"
    export SOFTHSM2_CONF="$dir/softhsm2.conf"
  else
    export KEYWARD_DIR="$dir/keyward"
  fi
}
