#!/usr/bin/env bash
# The callback server under wrk (Debian's package): /health and the token page GET, 2 threads,
# 64 connections, for the keyfob-bench scenarios `wrk_health` and `wrk_token_page`. Installs wrk
# when it is missing and this runs as root; fails unless both scenarios ran with zero errors.
# Usage: scripts/load.sh [--quick]   (--quick: 2 s per scenario instead of 10 s)
# KEYFOB_BENCH=<path> runs that keyfob-bench binary instead of building the release one (the test
# that runs every command of BENCHMARKS.md uses its debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
        apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        echo "wrk is not installed; run as root or: sudo apt-get install -y wrk" >&2
        exit 1
    fi
fi
bench=${KEYFOB_BENCH:-}
if [ -z "$bench" ]; then
    cargo build --release -p keyfob-bench
    bench=./target/release/keyfob-bench
fi
status=0
for scenario in wrk_health wrk_token_page; do
    # The bench exits non-zero when wrk failed; its line then carries "error".
    if ! line=$("$bench" --json "$@" --scenario "$scenario"); then
        status=1
    fi
    echo "$line"
    case "$line" in
        *'"error":'*|*'"skipped":'*) echo "$scenario: wrk did not run: $line" >&2; status=1 ;;
        *'"errors":0,'*) ;;
        *) echo "$scenario: errors, or wrk did not run" >&2; status=1 ;;
    esac
done
exit "$status"
