#!/usr/bin/env bash
# The single test command (npm test, and CI through .ci/run): prepares the machine, builds the app
# when there is an app build, then runs every test file on a private D-Bus session with a
# throwaway unlocked GNOME keyring, so the OS-keychain tests run against a real Secret Service.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/ensure-system-deps.sh

if [ -f electron.vite.config.ts ]; then
  echo "run-tests: building the app (npx electron-vite build)"
  npx electron-vite build
fi
# The `mimi` command and the provider as bundles: bin/mimi.mjs and bin/mimi-provider.mjs start them
# without tsx while the sources are unchanged (0.4 s instead of 1.4 s for `mimi`, 1.1 s of CPU
# instead of 2.5 s for a provider; the suite starts hundreds of each).
node scripts/build-bundles.mjs

# Node 20's --test does not expand globs, so list the files ourselves.
# `npm test -- FILE…` runs only those files (and their PostgreSQL copies, below).
listed=()
if [ "$#" -gt 0 ]; then
  listed=("$@")
else
  while IFS= read -r f; do
    listed+=("$f")
  done < <(find test -path test/.postgres-pass -prune -o -path test/.grouped -prune -o -path test/.bundled -prune -o -name '*.test.ts' -print | sort)
fi
if [ "${#listed[@]}" -eq 0 ]; then
  echo "run-tests: no test files found under test/" >&2
  exit 1
fi

# The unit files run in ONE process, each inside a suite named after it (test/.grouped/unit.test.mjs,
# written here): a test process spends about 2 s of CPU loading TypeScript through tsx before its
# first test, and the ~100 unit files together test for less than that many seconds, so one process
# instead of one each saves minutes of the suite's two cores. They share a module cache, so a unit
# file must leave no global state behind (node:test's mock timers are reset, env restored).
# Integration, e2e and PostgreSQL files keep a process each (servers, ports, kill -9).
test_files=()
unit_files=()
for f in "${listed[@]}"; do
  case "$f" in
    test/unit/*.test.ts | ./test/unit/*.test.ts) unit_files+=("${f#./}") ;;
    *) test_files+=("$f") ;;
  esac
done
rm -rf test/.grouped
if [ "${#unit_files[@]}" -gt 0 ]; then
  mkdir -p test/.grouped
  {
    echo "// Written by scripts/run-tests.sh: every unit file in this one process, each in a suite of its own."
    echo "// The runner loads no TypeScript hooks (the other files run from bundles), so this one registers tsx."
    echo "import { describe } from 'node:test';"
    echo "import { register } from 'tsx/esm/api';"
    echo "register();"
    for f in "${unit_files[@]}"; do
      echo "describe('$f', async () => { await import('../${f#test/}'); });"
    done
  } > test/.grouped/unit.test.mjs
fi

# The PostgreSQL pass (issue 17): the provider's own test files run a second time with every
# provider they start on a fresh database of a throwaway PostgreSQL server (MIMI_TEST_POSTGRES, see
# test/helpers/provider-process.ts testDatabase). Each runs as a copy in test/.postgres-pass/ (the
# same depth as test/integration/, so its relative imports hold) whose first import sets the
# variable: both passes share one runner and its two slots (no core idles while the other pass
# finishes), and every failure and timing names the copy's path, so it says which engine it was.
# The app, CLI and browser files run on SQLite only: they reach the provider through the same API
# these files cover on both engines. So do three provider files whose subject stores nothing of its
# own: provider-certificate (the TLS identity), federation-transport (mutual TLS, TLS-PL framing)
# and backup (the CLI's backup and restore; the provider's side of it, chunks and their rows, is
# provider-backups and files-across-nodes here).
postgres_pass=(
  abuse-report attachments connection-forged connection-requests-policy consent discovery
  fanout-pipeline federation federation-hostile federation-keymaterial franking
  group-commit join-links knocks message-batch messenger moderation moderation-ban
  ohttp-key-packages provider-api provider-backups provider-bad-input
  provider-crash provider-devices pseudonym-devices pseudonym-issuance pseudonymous-rooms
  receipts-federation room-state room-state-hub timeline-order
)
pg_url_file="$(mktemp "${TMPDIR:-/tmp}/mimi-pg-url.XXXXXX")"
node --import tsx scripts/postgres-for-tests.mts "$pg_url_file" &
pg_pid=$!
trap 'kill "$pg_pid" 2>/dev/null; wait "$pg_pid" 2>/dev/null; rm -f "$pg_url_file"' EXIT
for _ in $(seq 1 600); do
  [ -s "$pg_url_file" ] && break
  if ! kill -0 "$pg_pid" 2>/dev/null; then break; fi
  sleep 0.1
done
if [ ! -s "$pg_url_file" ]; then
  echo "run-tests: the throwaway PostgreSQL server did not start (see above); scripts/ensure-system-deps.sh installs Debian's postgresql" >&2
  exit 1
fi
export MIMI_PG_PASS_URL="$(cat "$pg_url_file")"
rm -rf test/.postgres-pass
mkdir -p test/.postgres-pass
echo 'process.env.MIMI_TEST_POSTGRES = process.env.MIMI_PG_PASS_URL;' > test/.postgres-pass/postgres-env.ts
pg_count=0
for name in "${postgres_pass[@]}"; do
  if [ ! -f "test/integration/$name.test.ts" ]; then
    echo "run-tests: test/integration/$name.test.ts (PostgreSQL pass) does not exist" >&2
    exit 1
  fi
  if [ "$#" -gt 0 ] && ! printf '%s\n' "${listed[@]}" | grep -qx "\(\./\)\?test/integration/$name.test.ts"; then continue; fi
  pg_count=$((pg_count + 1))
  { echo "import './postgres-env.js'; // written by scripts/run-tests.sh: this is test/integration/$name.test.ts on PostgreSQL"
    cat "test/integration/$name.test.ts"; } > "test/.postgres-pass/$name.test.ts"
  test_files+=("test/.postgres-pass/$name.test.ts")
done

# Every file but the unit group runs from a bundle (scripts/bundle-tests.mjs says why); failures and
# timings still name the source file (scripts/file-times-reporter.mjs maps the bundle back).
run_files=()
if [ "${#test_files[@]}" -gt 0 ]; then
  bundle_map="$(mktemp "${TMPDIR:-/tmp}/mimi-test-bundles.XXXXXX")"
  node scripts/bundle-tests.mjs "${test_files[@]}" > "$bundle_map"
  while IFS=$'\t' read -r bundled _source; do
    run_files+=("$bundled")
  done < "$bundle_map"
  rm -f "$bundle_map"
fi
if [ "${#unit_files[@]}" -gt 0 ]; then run_files+=(test/.grouped/unit.test.mjs); fi

echo "run-tests: node --test on ${#run_files[@]} files (${#unit_files[@]} unit files in one of them, $pg_count the PostgreSQL pass; concurrency 2, private keyring via scripts/with-keyring.sh)"
# A hung test (or a test process that does not exit) fails the run after 40 minutes instead of
# stalling CI (whose own limit is 90); each test also has its own 5-minute limit. The suite's
# budget is 25 minutes on 2 cores: the timing report at the end says where it goes.
timeout --signal=TERM --kill-after=30 2400 \
  bash scripts/with-keyring.sh node --enable-source-maps --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./scripts/file-times-reporter.mjs --test-reporter-destination=stdout "${run_files[@]}"
