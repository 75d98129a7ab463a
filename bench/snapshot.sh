#!/usr/bin/env bash
# Benchmark (not a test) of read-only snapshots against the tools a user would
# pick instead, in the same run on the same machine:
#   1. a 1,000,000-row PostgreSQL table: `holdfast snapshot` (method postgres)
#      vs `pg_dump --data-only -t big | sha256sum`;
#   2. the 1 GiB tree of bench/seal-verify.sh: `holdfast snapshot` (method files)
#      vs `sha256sum` over every file (sorted list, then one sha256 of the list).
# Prints the best of N runs for each, warm page cache, and the ratios.
#
# Usage: bench/snapshot.sh [RUNS]   (default 3; work files go to bench/work/)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
ROWS=1000000
WORK="$PWD/bench/work/snapshot"

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  PGBIN="$(dirname "$(command -v initdb || echo /nonexistent/initdb)")"
fi
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
PG_DUMP="$PGBIN/pg_dump"; [ -x "$PG_DUMP" ] || PG_DUMP="$(command -v pg_dump)"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
best_of() { # best_of CMD...: prints the best wall time in seconds over $RUNS runs
  local best="" t0 t1 dt
  for _ in $(seq "$RUNS"); do
    t0=$(now); "$@" >/dev/null; t1=$(now)
    dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}')
    if [ -z "$best" ] || awk -v a="$dt" -v b="$best" 'BEGIN{exit !(a<b)}'; then best=$dt; fi
  done
  echo "$best"
}

echo "== building holdfast (release)"
cargo build --release -q
HOLDFAST="$PWD/target/release/holdfast"

rm -rf "$WORK"; mkdir -p "$WORK"
PGDIR="$(mktemp -d /tmp/holdfast-bench-pg-XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR"
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR" "$WORK"
}
trap cleanup EXIT

echo "== starting PostgreSQL ($PGBIN) on a private socket"
as_pg mkdir "$PGDIR/sock"
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-locale -N >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -o "-k $PGDIR/sock -c listen_addresses=''" -w start >/dev/null
PSQL=(psql -X -q -h "$PGDIR/sock" -U postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE bench"
echo "== loading $ROWS rows"
"${PSQL[@]}" -d bench -c "CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), created timestamptz);
  INSERT INTO big SELECT g, md5(g::text), g / 100.0, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
  FROM generate_series(1, $ROWS) g;"
"${PSQL[@]}" -d bench -c "VACUUM ANALYZE big"

# The same deterministic tree as bench/seal-verify.sh's "large" tree (10,000
# files of 1 KiB..1 MiB, about 1 GiB), built once and kept under bench/work/.
TREE="$PWD/bench/work/tree-large"
echo "== the 1 GiB tree ($TREE)"
python3 - "$PWD/bench" "$TREE" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
from seal_verify import make_tree, large_size
make_tree(sys.argv[2], 10_000, large_size, seed=1, dirs=100)
PY
TREE_BYTES=$(du -sb --apparent-size --exclude=.complete "$TREE" | cut -f1)
TREE_FILES=$(find "$TREE" -type f ! -name .complete | wc -l)
echo "$TREE_FILES files, $TREE_BYTES bytes"

cat > "$WORK/pg.toml" <<TOML
[[surface]]
id = "bench-pg"
table = "production"
name = "bench database"
kind = "database"
status = "known"
risk = "critical"
gate = "none (benchmark)"
[[surface.evidence]]
path = "pg.toml"
[surface.snapshot]
method = "postgres"
connection = "host=$PGDIR/sock dbname=bench user=postgres"
TOML
cat > "$WORK/files.toml" <<TOML
[[surface]]
id = "bench-tree"
table = "production"
name = "bench tree"
kind = "files"
status = "known"
risk = "high"
gate = "none (benchmark)"
[[surface.evidence]]
path = "files.toml"
[surface.snapshot]
method = "files"
root = "$TREE"
exclude = [".complete"]
TOML

pg_dump_sha() { "$PG_DUMP" --data-only -t big -h "$PGDIR/sock" -U postgres bench | sha256sum; }
files_sha() { (cd "$TREE" && find . -type f ! -name .complete -print0 | sort -z | xargs -0 sha256sum | sha256sum); }

echo "== warming caches"
"$HOLDFAST" snapshot "$WORK/pg.toml" --out "$WORK/pg.json" >/dev/null
pg_dump_sha >/dev/null
"$HOLDFAST" snapshot "$WORK/files.toml" --out "$WORK/files.json" >/dev/null
files_sha >/dev/null

echo "== timing (best of $RUNS)"
t_hf_pg=$(best_of "$HOLDFAST" snapshot "$WORK/pg.toml" --out "$WORK/pg.json")
t_dump=$(best_of pg_dump_sha)
t_hf_files=$(best_of "$HOLDFAST" snapshot "$WORK/files.toml" --out "$WORK/files.json")
t_sha=$(best_of files_sha)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
echo
printf '%-58s %8s s\n' "holdfast snapshot, postgres, $ROWS rows (schema+rows)" "$t_hf_pg"
printf '%-58s %8s s\n' "pg_dump --data-only -t big | sha256sum" "$t_dump"
printf '%-58s %8s   (holdfast / pg_dump)\n' "ratio" "$(ratio "$t_hf_pg" "$t_dump")"
printf '%-58s %8s s\n' "holdfast snapshot, files, $TREE_FILES files, $TREE_BYTES bytes" "$t_hf_files"
printf '%-58s %8s s\n' "find | sort | xargs sha256sum | sha256sum" "$t_sha"
printf '%-58s %8s   (holdfast / sha256sum)\n' "ratio" "$(ratio "$t_hf_files" "$t_sha")"
echo "machine: $(nproc) core(s); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
