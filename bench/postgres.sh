#!/usr/bin/env bash
# Benchmark (not a test) of the postgres snapshot against what a user would
# pick instead, in the same run on the same machine:
#   A. one table of 1,000,000 rows;
#   B. a database of 20 tables (TABLES, ROWS_PER_TABLE rows each);
# each timed as
#   1. holdfast snapshot (method postgres, default parallelism),
#   2. pg_dump --data-only | sha256sum,
#   3. pg_dump -j 2 -Fd into a directory, then sha256 of every file it wrote.
# The three run alternately (round by round, warm cache), so a change in the
# machine's load hits them alike; prints every round, the median of each, the
# load average, and holdfast's speed-up over each (ratio of the medians).
#
# Usage: bench/postgres.sh [RUNS]   (default 3; env TABLES=20 ROWS_PER_TABLE=100000 PARALLEL=)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-3}"
BIG_ROWS=1000000
TABLES="${TABLES:-20}"
ROWS_PER_TABLE="${ROWS_PER_TABLE:-100000}"
WORK="$PWD/bench/work/postgres"

PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  PGBIN="$(dirname "$(command -v initdb || echo /nonexistent/initdb)")"
fi
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }
PG_DUMP="$PGBIN/pg_dump"; [ -x "$PG_DUMP" ] || PG_DUMP="$(command -v pg_dump)"

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
secs() { # secs CMD...: wall time of one run, in seconds
  local t0 t1
  t0=$(now); "$@" >/dev/null; t1=$(now)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b-a}'
}
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

echo "== building holdfast (release)"
cargo build --release -q
HOLDFAST="$PWD/target/release/holdfast"

rm -rf "$WORK"; mkdir -p "$WORK"
PGDIR="$(mktemp -d /tmp/holdfast-bench-pg-XXXXXX)"
[ "$(id -u)" = 0 ] && chown postgres "$PGDIR" && chmod 755 "$PGDIR"
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$PGDIR" "$WORK"
}
trap cleanup EXIT

echo "== starting PostgreSQL ($PGBIN) on a private socket"
as_pg mkdir "$PGDIR/sock" "$PGDIR/dump"
as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres --auth=trust -E UTF8 --no-locale -N >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -o "-k $PGDIR/sock -c listen_addresses=''" -w start >/dev/null
PSQL=(psql -X -q -h "$PGDIR/sock" -U postgres -v ON_ERROR_STOP=1)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE big" -c "CREATE DATABASE many"
echo "== loading $BIG_ROWS rows into big.big"
"${PSQL[@]}" -d big -c "CREATE TABLE big (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), created timestamptz);
  INSERT INTO big SELECT g, md5(g::text), g / 100.0, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
  FROM generate_series(1, $BIG_ROWS) g;" -c "VACUUM ANALYZE big"
echo "== loading $TABLES tables of $ROWS_PER_TABLE rows into many"
for i in $(seq 1 "$TABLES"); do
  "${PSQL[@]}" -d many -c "CREATE TABLE t$i (id bigint PRIMARY KEY, name text NOT NULL, amount numeric(12,2), created timestamptz);
    INSERT INTO t$i SELECT g, md5((g * $i)::text), g / 100.0, '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second'
    FROM generate_series(1, $ROWS_PER_TABLE) g;"
done
"${PSQL[@]}" -d many -c "VACUUM ANALYZE"

spec() { # spec DB FILE
  cat > "$2" <<TOML
[[surface]]
id = "bench-pg"
table = "production"
name = "bench database"
kind = "database"
status = "known"
risk = "critical"
gate = "none (benchmark)"
[[surface.evidence]]
path = "$(basename "$2")"
[surface.snapshot]
method = "postgres"
connection = "host=$PGDIR/sock dbname=$1 user=postgres"
${PARALLEL:+parallel = $PARALLEL}
TOML
}
spec big "$WORK/big.toml"
spec many "$WORK/many.toml"

hf() { "$HOLDFAST" snapshot "$WORK/$1.toml" --out "$WORK/$1.json"; }
dump_sha() { "$PG_DUMP" --data-only -h "$PGDIR/sock" -U postgres "$1" | sha256sum; }
dump_dir_sha() {
  as_pg rm -rf "$PGDIR/dump/$1"
  as_pg "$PG_DUMP" -j 2 -Fd -f "$PGDIR/dump/$1" -h "$PGDIR/sock" -U postgres "$1"
  (cd "$PGDIR/dump/$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum)
}

echo "== warming caches"
for db in big many; do hf "$db" >/dev/null; dump_sha "$db" >/dev/null; dump_dir_sha "$db" >/dev/null; done

echo "== timing: the three commands run alternately, RUNS=$RUNS rounds; median of each"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A T
for db in big many; do
  for round in $(seq "$RUNS"); do
    a=$(secs hf "$db"); b=$(secs dump_sha "$db"); c=$(secs dump_dir_sha "$db")
    echo "   $db round $round: holdfast $a s, pg_dump|sha256sum $b s, pg_dump -j 2 -Fd + sha256 $c s"
    T[hf_$db]="${T[hf_$db]:-} $a"
    T[dump_$db]="${T[dump_$db]:-} $b"
    T[dir_$db]="${T[dir_$db]:-} $c"
  done
  for k in hf dump dir; do
    # shellcheck disable=SC2086 # the rounds' times, one word each
    T[${k}_$db]=$(median ${T[${k}_$db]})
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
for db in big many; do
  case $db in
    big) what="1 table, $BIG_ROWS rows" ;;
    many) what="$TABLES tables, $((TABLES * ROWS_PER_TABLE)) rows" ;;
  esac
  echo "-- $what"
  printf '%-52s %8s s\n' "holdfast snapshot (postgres${PARALLEL:+, parallel $PARALLEL})" "${T[hf_$db]}"
  printf '%-52s %8s s   holdfast %sx faster\n' "pg_dump --data-only | sha256sum" "${T[dump_$db]}" "$(ratio "${T[dump_$db]}" "${T[hf_$db]}")"
  printf '%-52s %8s s   holdfast %sx faster\n' "pg_dump -j 2 -Fd + sha256sum of its files" "${T[dir_$db]}" "$(ratio "${T[dir_$db]}" "${T[hf_$db]}")"
done
echo "machine: $(nproc) core(s); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $("$PGBIN/postgres" --version)"
