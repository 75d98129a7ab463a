#!/usr/bin/env bash
# Benchmark of `holdfast verify PACKET --rerun` on the FIX7 example (not a
# test): builds the packet once in release mode, then times RUNS re-runs and
# prints each wall time and the median, split into the re-derivation alone
# (a forged packet, refused before the probes are run again) and the full
# re-run (re-derivation, rollback rehearsal and the 9 probe classes).
# Target (issue 9): the full re-run under 3 s on the 2-core machine.
#
# Usage: bench/rerun.sh [RUNS]       (work files go to bench/work/)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
cargo build --release --locked -q
bin="$PWD/target/release/holdfast"
work="$PWD/bench/work/rerun"
rm -rf "$work"; mkdir -p "$work"
"$bin" run examples/fix7 --out "$work/packet" >/dev/null
cp -r "$work/packet" "$work/forged"
sed -i 's/7 OPEN/0 OPEN/' "$work/forged/README.md"
"$bin" seal --force "$work/forged" >/dev/null

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_one() {  # prints seconds for one invocation, expects exit code $1
  local want=$1; shift
  local t0 t1 code
  t0=$(date +%s.%N)
  set +e; "$@" >/dev/null 2>&1; code=$?; set -e
  t1=$(date +%s.%N)
  [ "$code" = "$want" ] || { echo "unexpected exit $code from $*" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f\n", b - a}'
}
for what in full rederive-only; do
  times=()
  for _ in $(seq "$runs"); do
    if [ "$what" = full ]; then
      times+=("$(time_one 0 "$bin" verify "$work/packet" --rerun)")
    else
      times+=("$(time_one 1 "$bin" verify "$work/forged" --rerun)")
    fi
  done
  printf '%-14s runs: %s  median %s s\n' "$what" "${times[*]}" "$(printf '%s\n' "${times[@]}" | median)"
done
