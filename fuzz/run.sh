#!/usr/bin/env bash
# Runs fuzz targets one after another with the project's settings (see README.md).
#
#   fuzz/run.sh [-t SECONDS] [-r RUNS] [TARGET...]     (default: every target, 20 s each)
#
# Each run reads fuzz/seeds/<target> and fuzz/corpus/<target> and writes the new inputs it finds
# to a scratch directory (printed), so that the committed corpus only changes through
# `cargo fuzz cmin`. A crash, panic, leak, timeout or out-of-memory fails the script and leaves
# the input in fuzz/artifacts/<target>/. Needs a nightly toolchain and cargo-fuzz.
#
# LLARK_FUZZ_TARGET_DIR moves the build (default: fuzz/target); CI keeps it outside the clone so
# that the dependencies are built once per machine, not once per run.
set -euo pipefail
cd "$(dirname "$0")"

seconds=20
runs=
while getopts "t:r:" opt; do
    case "$opt" in
        t) seconds=$OPTARG ;;
        r) runs=$OPTARG ;;
        *) echo "usage: $0 [-t SECONDS] [-r RUNS] [TARGET...]" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Longest input per target: a few KiB for the parsers, more for compressed audio (the seeds are
# up to 9 KiB), less for the tokenizer-heavy target.
max_len() {
    case "$1" in
        audio_decode) echo 16384 ;;
        prompt_building) echo 512 ;;
        *) echo 4096 ;;
    esac
}

# Scratch files (new inputs, the store_index target's store directory) go to memory when the
# machine has a tmpfs: writing an index per input to a disk is what slows that target most.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
    export TMPDIR=/dev/shm
fi

target_dir=(--target-dir "${LLARK_FUZZ_TARGET_DIR:-target}")

# Extra options per target: the tokenizer keeps caches between inputs, which libFuzzer's leak
# check takes for leaks and answers by running every input twice; a target with a dictionary
# (dicts/<target>.dict: the format's keywords) gets it.
extra() {
    case "$1" in
        prompt_building) echo -detect_leaks=0 ;;
    esac
    if [ -f "dicts/$1.dict" ]; then
        echo "-dict=$PWD/dicts/$1.dict"
    fi
}

for target in "${targets[@]}"; do
    scratch=$(mktemp -d "${TMPDIR:-/tmp}/llark-fuzz-$target.XXXXXX")
    mkdir -p "corpus/$target" "seeds/$target"
    limit=(-max_total_time="$seconds")
    if [ -n "$runs" ]; then
        limit=(-runs="$runs")
    fi
    echo "== fuzz $target (${limit[*]}, new inputs in $scratch)"
    cargo +nightly fuzz run -a "${target_dir[@]}" "$target" "$scratch" "corpus/$target" "seeds/$target" -- \
        "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -max_len="$(max_len "$target")" \
        -print_final_stats=1 $(extra "$target")
done
