#!/usr/bin/env bash
# Builds and runs every cargo-fuzz target for a short budget, then replays every kept crash.
#
#   FUZZ_SECONDS=20 (per target)  FUZZ_TARGETS="token_response config_toml" (default: all)
#
# Needs only a nightly toolchain (`rustup toolchain install nightly` if missing) and a C++
# compiler for libFuzzer; installs cargo-fuzz with `cargo install --locked` when it is missing.
# Fails on any crash, leak, timeout or out-of-memory. New inputs found while fuzzing go to
# target/work-corpus/<target> (not the committed seeds); crashes to artifacts/<target>/.
set -euo pipefail

cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
start=$(date +%s)

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

targets="${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}"
failed=()
for t in $targets; do
    echo "== $t: build"
    cargo +nightly fuzz build "$t"
    mkdir -p "target/work-corpus/$t" "corpus/$t"
    echo "== $t: fuzz for ${seconds}s"
    set +e
    cargo +nightly fuzz run "$t" "target/work-corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"target/fuzz-$t.log" 2>&1
    rc=$?
    set -e
    grep -E '^#[0-9]+.*(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec)|ERROR|SUMMARY|panicked at' \
        "target/fuzz-$t.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! $t crashed: see fuzz/target/fuzz-$t.log and fuzz/artifacts/$t/"
        failed+=("$t")
    fi
    if [ -d "regressions/$t" ] && [ -n "$(ls -A "regressions/$t")" ]; then
        echo "== $t: replay regressions/$t"
        if ! cargo +nightly fuzz run "$t" regressions/"$t"/* -- -runs=0 -timeout=10 \
            >"target/replay-$t.log" 2>&1; then
            grep -E "panicked at|==[0-9]+== ERROR|SUMMARY|Running: " "target/replay-$t.log" || true
            echo "!! $t: a regression input crashes: see fuzz/target/replay-$t.log"
            failed+=("$t (regressions)")
        fi
    fi
done

echo "== fuzzing took $(( $(date +%s) - start ))s"
if [ "${#failed[@]}" -ne 0 ]; then
    echo "FAILED: ${failed[*]}"
    exit 1
fi
echo "all fuzz targets clean"
