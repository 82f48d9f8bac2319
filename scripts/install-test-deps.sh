#!/usr/bin/env bash
# Install what the test suite drives: SoftHSMv2, OpenSC (pkcs11-tool), OpenSSL, pkcs11-provider
# (from Debian bookworm-backports), the OpenSSL pkcs11 engine, NSS tools, GnuTLS tools, p11-kit,
# a JDK 17 (when javac is missing or older than 17) and, from PyPI into Debian's python3, python-pkcs11 and
# PyKCS11. Debian 12; idempotent; fast when everything is already installed. Runs as root, or
# through sudo when that exists.
set -euo pipefail

PACKAGES=(softhsm2 opensc openssl libengine-pkcs11-openssl python3 python3-pip libnss3-tools
  gnutls-bin p11-kit p11-kit-modules)
# Installed only when `javac` is not on PATH or older than JDK_MIN (any JDK 17+ will do:
# interop/java.sh needs java, javac and keytool 17 or later).
JDK_PACKAGE=openjdk-17-jdk-headless
JDK_MIN=17
# PyPI packages for interop/python.sh, installed for Debian's interpreter (pinned: known to work).
PYTHON=/usr/bin/python3
PIP_PACKAGES=(python-pkcs11==0.10.1 PyKCS11==1.5.20)
PIP_IMPORTS='import pkcs11, PyKCS11'
BACKPORTS_PACKAGES=(pkcs11-provider)
PROVIDER_MIN_VERSION=1.0
BACKPORTS_FILE=/etc/apt/sources.list.d/bookworm-backports.sources
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
FALLBACK_MIRROR=http://deb.debian.org/debian
SUDO=()

log() { echo "install-test-deps: $*"; }

# Run as root: directly, or through sudo.
as_root() {
  "${SUDO[@]}" "$@"
}

pick_sudo() {
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    log "need root (or sudo) to install packages" >&2
    exit 1
  fi
}

# The installed version of a package, or nothing. Always succeeds.
installed_version() {
  { dpkg-query -W -f='${Status} ${Version}\n' "$1" 2>/dev/null || true; } |
    sed -n 's/^install ok installed //p'
}

# Print the packages of the arguments that are not installed (or, for pkcs11-provider, older
# than PROVIDER_MIN_VERSION), one a line.
missing() {
  local p v
  for p in "$@"; do
    v=$(installed_version "$p")
    if [ -z "$v" ]; then
      echo "$p"
    elif [ "$p" = pkcs11-provider ] && ! dpkg --compare-versions "$v" ge "$PROVIDER_MIN_VERSION"; then
      echo "$p"
    fi
  done
}

# The major version of the javac on PATH ("javac 1.8.0_392" is 8, "javac 17.0.15" is 17,
# "javac 21" is 21), or nothing when there is no javac or its output is not understood.
javac_major() {
  local v
  v=$({ javac -version 2>&1 || true; } | sed -n 's/^javac \([0-9][0-9._]*\).*/\1/p' | head -n1)
  case $v in 1.*) v=${v#1.} ;; esac
  echo "${v%%[._]*}"
}

# True when javac is on PATH and at least JDK_MIN.
jdk_present() {
  local major
  major=$(javac_major)
  [ -n "$major" ] && [ "$major" -ge "$JDK_MIN" ]
}

# The apt packages still to install: missing() of all of them, and the JDK when javac is absent
# or too old.
missing_apt() {
  missing "${PACKAGES[@]}" "$@"
  jdk_present || echo "$JDK_PACKAGE"
}

python_modules_present() {
  [ -x "$PYTHON" ] && "$PYTHON" -c "$PIP_IMPORTS" >/dev/null 2>&1
}

all_installed() {
  [ -z "$(missing_apt "${BACKPORTS_PACKAGES[@]}")" ] && python_modules_present
}

codename() {
  (
    # shellcheck disable=SC1091  # a system file
    . /etc/os-release
    echo "${VERSION_CODENAME:-}"
  )
}

# The Debian mirror of the bookworm suite: deb822 sources first, then one-line sources.list.
# Prints nothing when none is configured.
debian_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    # A stanza is a blank-line-separated block; take URIs of the one whose Suites has "bookworm".
    awk '
      function flush() { if (hit && uri != "") { print uri; found = 1; exit } uri = ""; hit = 0 }
      /^[[:space:]]*$/ { flush(); next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == "bookworm") hit = 1 }
      END { if (!found) flush() }
    ' "$f"
  done | head -n1
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E 's/\[[^]]*\]//' "$f" | awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }'
  done | head -n1
}

backports_configured() {
  grep -qsE '(^|[[:space:]])bookworm-backports([[:space:]]|$)' \
    /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources
}

add_backports() {
  local mirror
  if backports_configured; then
    log "bookworm-backports already configured"
    return 0
  fi
  mirror=$(debian_mirror | head -n1)
  if [ -z "$mirror" ]; then
    log "no bookworm mirror found in the apt sources; using $FALLBACK_MIRROR"
    mirror=$FALLBACK_MIRROR
  fi
  log "adding bookworm-backports from $mirror"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
    "$mirror" "$KEYRING" | as_root tee "$BACKPORTS_FILE" >/dev/null
}

apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Use-Pty=0 "$@"
}

# The apt packages: backports set up, one apt-get update, then only what is missing.
install_apt() {
  local backports=()
  if [ "$(codename)" = bookworm ]; then
    add_backports
    backports=(-t bookworm-backports)
  else
    log "not Debian bookworm ($(codename)); installing pkcs11-provider from the default suites"
  fi
  log "apt-get update"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # Only what is missing: naming an installed package would upgrade it as a side effect.
  local todo=()
  mapfile -t todo < <(missing_apt)
  if [ "${#todo[@]}" -gt 0 ]; then
    # The JDK's post-install scripts fail where the man directory was trimmed away.
    as_root mkdir -p /usr/share/man/man1
    log "installing ${todo[*]}"
    apt_install "${todo[@]}"
  fi
  mapfile -t todo < <(missing "${BACKPORTS_PACKAGES[@]}")
  if [ "${#todo[@]}" -gt 0 ]; then
    log "installing ${todo[*]} ${backports[*]}"
    apt_install "${backports[@]}" "${todo[@]}"
  fi
}

# python-pkcs11 and PyKCS11 (binary wheels on PyPI) for Debian's python3. Debian marks that
# interpreter externally managed (PEP 668): pip installs for it, as root, into
# /usr/local/lib/python3.*/dist-packages only with --break-system-packages.
install_pip() {
  log "pip installing ${PIP_PACKAGES[*]} for $PYTHON"
  as_root "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input \
    --root-user-action=ignore --break-system-packages "${PIP_PACKAGES[@]}"
}

# cargo-deny (the supply-chain check) from crates.io, if this machine lacks it (~6 minutes).
install_cargo_deny() {
  command -v cargo-deny >/dev/null 2>&1 && return 0
  log "cargo install --locked cargo-deny"
  cargo install --locked --quiet cargo-deny
}

main() {
  install_cargo_deny
  if all_installed; then
    log "all test dependencies present; nothing to do"
    return 0
  fi
  pick_sudo
  if [ -n "$(missing_apt "${BACKPORTS_PACKAGES[@]}")" ]; then install_apt; fi
  python_modules_present || install_pip
  all_installed || {
    log "packages still missing, pkcs11-provider older than $PROVIDER_MIN_VERSION, no javac" \
      "$JDK_MIN+ on PATH (found: '$(javac_major)'), or $PYTHON cannot '$PIP_IMPORTS'" >&2
    exit 1
  }
  log "done"
}

main "$@"
