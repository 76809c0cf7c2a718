#!/usr/bin/env bash
# Runs a command on a private D-Bus session bus with a throwaway, unlocked GNOME keyring
# providing the Secret Service, so tests exercise the real OS keychain path without touching
# any real user's keyring. Usage: scripts/with-keyring.sh COMMAND [ARGS...]
# Exits with COMMAND's exit code.
set -euo pipefail

if [ "$#" -eq 0 ]; then
  echo "usage: $0 COMMAND [ARGS...]" >&2
  exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon dbus-send; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "with-keyring: '$tool' not found; run scripts/ensure-system-deps.sh first" >&2
    exit 127
  fi
done

keyring_home="$(mktemp -d "${TMPDIR:-/tmp}/mimi-keyring.XXXXXX")"
trap 'rm -rf "$keyring_home"' EXIT
export MIMI_KEYRING_HOME="$keyring_home"

# Not exec: the EXIT trap must still remove the temp dir afterwards.
set +e
dbus-run-session -- bash -c '
  set -euo pipefail
  mkdir -p "$MIMI_KEYRING_HOME/data" "$MIMI_KEYRING_HOME/config" "$MIMI_KEYRING_HOME/run"
  chmod 700 "$MIMI_KEYRING_HOME/run"

  # The XDG/HOME overrides apply to the daemon only: its keyring files and control socket live
  # in the temp dir, while the wrapped command keeps the caller'"'"'s environment.
  # A blank line on stdin is the (empty) login password; it creates and unlocks a fresh
  # "login" collection, which becomes the default one libsecret writes to. (Entirely empty
  # stdin does not unlock anything and the daemon then tries to show a GUI prompt.)
  daemon_out="$(echo | HOME="$MIMI_KEYRING_HOME" \
      XDG_DATA_HOME="$MIMI_KEYRING_HOME/data" \
      XDG_CONFIG_HOME="$MIMI_KEYRING_HOME/config" \
      XDG_RUNTIME_DIR="$MIMI_KEYRING_HOME/run" \
      gnome-keyring-daemon --unlock --components=secrets)"

  # Export whatever the daemon announces (e.g. GNOME_KEYRING_CONTROL); only NAME=value lines.
  while IFS= read -r line; do
    case "$line" in
      [A-Za-z_]*=*) export "$line" ;;
    esac
  done <<<"$daemon_out"

  # The daemon forks before claiming its bus name; wait (bounded) until the Secret Service answers.
  for _ in $(seq 1 50); do
    reply="$(dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
         org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null || true)"
    if [[ "$reply" == *"boolean true"* ]]; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if [ "${ready:-0}" != 1 ]; then
    echo "with-keyring: gnome-keyring-daemon did not register org.freedesktop.secrets" >&2
    exit 125
  fi

  unset MIMI_KEYRING_HOME
  exec "$@"
' with-keyring "$@"
rc=$?
set -e
exit "$rc"
