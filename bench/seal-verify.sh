#!/usr/bin/env bash
# Benchmark: holdfast seal/verify against sha256sum, bagit-python, in-toto and
# (if it can be installed) b3sum, on two deterministic trees, in one run with a
# warm page cache. Not a test: it prints medians and ratios and the targets.
#
# Usage: bench/seal-verify.sh            (work files under bench/work/)
#        BENCH_DIR=/some/disk bench/seal-verify.sh
#        BENCH_RUNS=5 bench/seal-verify.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
work=${BENCH_DIR:-$here/work}
mkdir -p "$work"

echo "== building holdfast (release)"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"

echo "== installing the tools compared against (into $work/venv)"
if [ ! -x "$work/venv/bin/bagit.py" ] || [ ! -x "$work/venv/bin/in-toto-match-products" ]; then
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet bagit in-toto
fi
if ! command -v b3sum >/dev/null && [ ! -x "$work/tools/bin/b3sum" ]; then
  cargo install --quiet --root "$work/tools" b3sum || echo "b3sum could not be installed; skipped"
fi

echo "== measuring sha2's single-core in-memory speed"
rate=$(cargo bench --quiet --manifest-path "$repo/Cargo.toml" --bench sha256_speed 2>/dev/null \
  | awk '/^sha256_single_core_bytes_per_sec/ {print $2}')

PATH="$work/tools/bin:$work/venv/bin:$PATH" \
  python3 "$here/seal_verify.py" --work "$work" --holdfast "$repo/target/release/holdfast" \
  --sha256-rate "$rate" --runs "${BENCH_RUNS:-3}"
