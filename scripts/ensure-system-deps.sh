#!/usr/bin/env bash
# Makes a fresh Debian machine able to run the test suite; on a prepared machine it touches
# neither apt nor npm.
#   - Debian packages: Chromium (e2e), libsecret + GNOME Keyring + D-Bus (real OS-keychain tests),
#     and the toolchain node-gyp needs to build keytar / better-sqlite3 from source (prebuilt
#     binaries cannot be downloaded here).
#   - PostgreSQL (the provider's distributed storage, issue 17): its tests start a throwaway
#     cluster of their own (test/helpers/postgres.ts), never the package's default one.
#   - npm ci, when node_modules is missing or older than package-lock.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(
  chromium
  libsecret-1-dev gnome-keyring dbus dbus-x11
  build-essential python3 pkg-config
  postgresql libpq-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "ensure-system-deps: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-system-deps: need root to install packages (run as root, or install them yourself)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o Dpkg::Use-Pty=0 "${missing[@]}" >/dev/null
fi

# npm records what it installed in node_modules/.package-lock.json, written after package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "ensure-system-deps: node_modules missing or older than package-lock.json; running npm ci"
  ELECTRON_SKIP_BINARY_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

# npm runs it as postinstall; again here for a node_modules installed with --ignore-scripts.
node scripts/patch-ts-mls.mjs
