#!/usr/bin/env bash
# Benchmark of the governance registry at scale (not a test).
#
# Builds a registry of OBJECTS records (default 1,000,000): a canonical body
# made of folded claims of 100 ids, plus one staged claim of the last 100
# ids. Then times, in release mode, each command on it and prints its peak
# memory (max RSS from /usr/bin/time):
#   import, check, fold (with its rollback rehearsal), rollback, claim.
# Targets (issue 3): the fold with its rehearsal under 2 s, and memory under
# 4x the registry's size on disk.
#
# Usage: bench/registry.sh [OBJECTS]       (work files go to bench/work/)
set -euo pipefail
cd "$(dirname "$0")/.."

objects="${1:-1000000}"
if ! [[ "$objects" =~ ^[0-9]+$ ]] || (( objects < 200 )); then
  echo "usage: bench/registry.sh [OBJECTS >= 200]" >&2
  exit 2
fi
[ -x /usr/bin/time ] || { echo "bench/registry.sh needs /usr/bin/time (GNU time)" >&2; exit 2; }

cargo build --release --locked -q
bin="$PWD/target/release/holdfast"
work="$PWD/bench/work/registry"
rm -rf "$work"
mkdir -p "$work"

width=${#objects}
(( width < 7 )) && width=7
staged_first=$(( objects - 99 ))

echo "== generating a registry of $objects records (width $width)"
python3 - "$objects" "$width" "$work/import.json" <<'EOF'
import hashlib, sys
n, width, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
staged_first = n - 99
with open(path, "w") as f:
    f.write('{"canonical_max": %d, "id_prefix": "TKT-OBJ", "id_width": %d,\n' % (staged_first - 1, width))
    f.write('"document_revisions": {"index.md": 115, "registry.json": 23, "registry.md": 23},\n"claims": [\n')
    claims = []
    first = 1
    while first < staged_first:
        last = min(first + 99, staged_first - 1)
        claims.append('{"first": "TKT-OBJ-%0*d", "last": "TKT-OBJ-%0*d", "packet": "P%d", "state": "folded"}' % (width, first, width, last, first // 100))
        first = last + 1
    claims.append('{"first": "TKT-OBJ-%0*d", "last": "TKT-OBJ-%0*d", "packet": "STAGED", "state": "staged"}' % (width, staged_first, width, n))
    f.write(",\n".join(claims))
    f.write('],\n"objects": [\n')
    kinds = ["evidence", "script", "report", "manifest"]
    for i in range(1, n + 1):
        packet = "STAGED" if i >= staged_first else "P%d" % ((i - 1) // 100)
        sha = hashlib.sha256(b"%d" % i).hexdigest()
        sep = ",\n" if i < n else "\n"
        f.write('{"id": "TKT-OBJ-%0*d", "kind": "%s", "title": "object %d", "packet": "%s", "path": "objects/%d.json", "sha256": "%s"}%s'
                % (width, i, kinds[i % 4], i, packet, i, sha, sep))
    f.write("]}\n")
EOF
ls -l "$work/import.json" | awk '{printf "import file: %d bytes\n", $5}'

reg="$work/reg"
out="$work/out"
mkdir -p "$out"
results="$work/results.txt"
: > "$results"

measure() { # name, command...
  local name=$1; shift
  local t="$work/time-$name.txt"
  if ! /usr/bin/time -f '%e %M' -o "$t" "$@" > "$work/$name.stdout" 2> "$work/$name.stderr"; then
    echo "$name FAILED:"; cat "$work/$name.stderr"; exit 1
  fi
  read -r secs kib < "$t"
  awk -v n="$name" -v s="$secs" -v k="$kib" 'BEGIN { printf "%-10s %8.2f s  peak %8.1f MiB\n", n, s, k / 1024 }' | tee -a "$results"
}

echo "== timings (release build, $(nproc) cores)"
measure import   "$bin" registry --registry "$reg" import "$work/import.json"
docs_bytes=$(cd "$reg" && cat registry.json objects.json registry.md objects.md index.md | wc -c)
all_bytes=$(du -sb "$reg" | cut -f1)
measure check    "$bin" registry --registry "$reg" check
measure fold     "$bin" registry --registry "$reg" fold "$staged_first..$objects" --out "$out"
measure rollback "$bin" registry --registry "$reg" rollback "$out/governance-fold-$staged_first-$objects-result.json"
measure claim    "$bin" registry --registry "$reg" claim --packet BENCH --count 20
measure fold2    "$bin" registry --registry "$reg" fold "$staged_first..$objects" --out "$out/again"

final_bytes=$(du -sb "$reg" | cut -f1)
echo "== sizes"
awk -v d="$docs_bytes" -v a="$all_bytes" -v f="$final_bytes" 'BEGIN {
  printf "documents on disk:            %12d bytes (%.1f MiB)\n", d, d / 1048576
  printf "registry dir with history:    %12d bytes (%.1f MiB) after import\n", a, a / 1048576
  printf "                              %12d bytes (%.1f MiB) after every command above\n", f, f / 1048576
}'
read -r fold_secs fold_kib < "$work/time-fold.txt"
awk -v s="$fold_secs" -v k="$fold_kib" -v d="$docs_bytes" 'BEGIN {
  printf "fold peak memory / documents: %12.2f x (target < 4)\n", k * 1024 / d
  printf "fold time:                    %12.2f s (target < 2)\n", s
}' 
