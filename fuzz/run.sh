#!/bin/sh
# Runs every cargo-fuzz target for a set time (default 60 s each). Not part of CI.
#   fuzz/run.sh [seconds]
#   FUZZ_FLAGS="--dev -s none" fuzz/run.sh 15     # quicker build, no sanitizer
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -eu
cd "$(dirname "$0")/.."
SECS="${1:-60}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$(pwd)/fuzz/target}"
status=0
for t in $(cargo +nightly fuzz list); do
    echo "== $t: ${SECS}s"
    # shellcheck disable=SC2086
    if ! cargo +nightly fuzz run ${FUZZ_FLAGS:-} "$t" -- -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048; then
        echo "!! $t found a crash; see fuzz/artifacts/$t/"
        status=1
    fi
done
exit $status
