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
test_files=()
while IFS= read -r f; do
  test_files+=("$f")
done < <(find test -name '*.test.ts' | sort)
if [ "${#test_files[@]}" -eq 0 ]; then
  echo "run-tests: no test files found under test/" >&2
  exit 1
fi

echo "run-tests: node --test on ${#test_files[@]} files under test/ (concurrency 2, private keyring via scripts/with-keyring.sh)"
# A hung test (or a test process that does not exit) fails the run after 25 minutes instead of
# stalling CI; each test also has its own 5-minute limit.
timeout --signal=TERM --kill-after=30 1500 \
  bash scripts/with-keyring.sh node --import tsx --test --test-concurrency=2 --test-timeout=300000 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=./scripts/file-times-reporter.mjs --test-reporter-destination=stdout "${test_files[@]}"
