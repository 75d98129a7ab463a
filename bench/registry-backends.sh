#!/usr/bin/env bash
# Benchmark (not a test) of the registry on both backends, directory and
# PostgreSQL, in the same run on the same machine:
#   1. claims per second (claims of 20 ids on a fresh registry) with 1, 4
#      and 16 concurrent clients, each client a loop of `holdfast registry
#      claim` processes; then clients that keep one connection each
#      (benches/registry_clients.rs), also on a registry that already holds
#      2,000 claims; then PostgreSQL's own ceiling for a
#      new connection per transaction (pgbench -C), which bounds the first;
#   2. on a registry of OBJECTS records (default 1,000,000; the shape of
#      bench/registry.sh): import (on PostgreSQL: `export --to URL` from the
#      directory), check, one claim of 20 ids, and the fold of the staged
#      claim with its rollback rehearsal; time and peak memory (max RSS of
#      the holdfast process, GNU time) of each.
# PostgreSQL: REGISTRY_PG_URL names an empty database to use; without it a
# throwaway server is started (initdb, Unix socket only, default settings
# including fsync) under bench/work/ and stopped at the end.
#
# Usage: bench/registry-backends.sh [OBJECTS] [CLAIMS_PER_CLIENT]   (defaults 1000000, 20;
#        env HOLDFAST_BIN: a release binary to use instead of building one)
set -euo pipefail
cd "$(dirname "$0")/.."

objects="${1:-1000000}"
per_client="${2:-20}"
if ! [[ "$objects" =~ ^[0-9]+$ ]] || (( objects < 200 )) || ! [[ "$per_client" =~ ^[0-9]+$ ]]; then
  echo "usage: bench/registry-backends.sh [OBJECTS >= 200] [CLAIMS_PER_CLIENT]" >&2
  exit 2
fi
[ -x /usr/bin/time ] || { echo "bench/registry-backends.sh needs /usr/bin/time (GNU time)" >&2; exit 2; }

if [ -n "${HOLDFAST_BIN:-}" ]; then
  bin="$HOLDFAST_BIN"   # a release build made elsewhere
else
  cargo build --release --locked -q
  bin="$PWD/target/release/holdfast"
fi
work="$PWD/bench/work/registry-backends"
rm -rf "$work"
mkdir -p "$work"

# --- a PostgreSQL server -------------------------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_server() { [ -n "${pgdata:-}" ] && as_pg "$pgbin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true; }
trap stop_server EXIT
if [ -n "${REGISTRY_PG_URL:-}" ]; then
  base_url="$REGISTRY_PG_URL"
  newdb() { echo "$base_url"; }
  echo "== PostgreSQL: $base_url (databases are not created; each run needs it empty)"
else
  [ -x "$pgbin/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql), or set REGISTRY_PG_URL" >&2; exit 2; }
  pgroot="$work/pg"
  mkdir -p "$pgroot/sock"
  [ "$(id -u)" = 0 ] && chown -R postgres: "$pgroot"
  pgdata="$pgroot/data"
  as_pg "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-locale -N >/dev/null
  as_pg "$pgbin/pg_ctl" -D "$pgdata" -l "$pgroot/log" -o "-k $pgroot/sock -c listen_addresses=''" -w start >/dev/null
  host=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$pgroot/sock")
  newdb() {
    as_pg "$pgbin/psql" -h "$pgroot/sock" -U postgres -d postgres -qc "CREATE DATABASE $1" >/dev/null
    echo "postgresql://postgres@$host/$1"
  }
  echo "== PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'), throwaway server (fsync on)"
fi

# --- 1. claims per second ------------------------------------------------
echo "== claims per second (claims of 20 ids, $per_client per client, $(nproc) cores)"
claims_per_second() { # label location clients
  local label=$1 loc=$2 clients=$3
  "$bin" registry --registry "$loc" init --prefix CPS --width 8 >/dev/null
  local start end
  start=$(date +%s.%N)
  for c in $(seq "$clients"); do
    ( for i in $(seq "$per_client"); do
        "$bin" registry --registry "$loc" claim --packet "C$c" --count 20 >/dev/null || exit 1
      done ) &
  done
  wait
  end=$(date +%s.%N)
  "$bin" registry --registry "$loc" check >/dev/null
  awk -v l="$label" -v c="$clients" -v n=$(( clients * per_client )) -v s="$start" -v e="$end" \
    'BEGIN { printf "%-10s %2d clients: %5d claims in %6.2f s = %7.1f claims/s\n", l, c, n, e - s, n / (e - s) }'
}
for clients in 1 4 16; do
  claims_per_second directory "$work/cps-dir-$clients" "$clients"
  claims_per_second postgres "$(newdb "cps_$clients")" "$clients"
done

# The same, from clients that each keep one connection (or open directory)
# and claim in a loop through the library (benches/registry_clients.rs), as
# an agent or a service making many claims would.
echo "== claims per second from clients that keep their connection (library, $per_client per client)"
cargo bench --no-run --locked -q --bench registry_clients 2>/dev/null
held() { # label location clients
  local label=$1 loc=$2 clients=$3
  "$bin" registry --registry "$loc" init --prefix HLD --width 8 >/dev/null
  "$bin" registry --registry "$loc" claim --packet first --count 1 >/dev/null
  printf '%-10s %2d clients: ' "$label" "$clients"
  cargo bench --locked -q --bench registry_clients -- "$loc" "$clients" "$per_client"
  "$bin" registry --registry "$loc" check >/dev/null
}
for clients in 1 4 16; do
  held directory "$work/held-dir-$clients" "$clients"
  held postgres "$(newdb "held_$clients")" "$clients"
done

# The same after 2,000 claims: a claim's cost must not grow with the
# claims made before it (the records documents' parts are merged as they
# accumulate; the small documents still grow by a row per claim).
aged() { # label location clients
  local label=$1 loc=$2 clients=$3
  "$bin" registry --registry "$loc" init --prefix AGE --width 8 >/dev/null
  "$bin" registry --registry "$loc" claim --packet first --count 1 >/dev/null
  cargo bench --locked -q --bench registry_clients -- "$loc" 16 125 >/dev/null
  printf '%-10s %2d clients, after 2,000 claims: ' "$label" "$clients"
  cargo bench --locked -q --bench registry_clients -- "$loc" "$clients" "$per_client"
  "$bin" registry --registry "$loc" check >/dev/null
}
aged directory "$work/aged-dir" 16
aged postgres "$(newdb aged_16)" 16

# What the server itself allows when every transaction is a new connection
# (as every `holdfast registry claim` process is): pgbench -C, SELECT 1.
if [ -z "${REGISTRY_PG_URL:-}" ] && [ -x "$pgbin/pgbench" ]; then
  echo "SELECT 1;" > "$work/select1.sql"
  [ "$(id -u)" = 0 ] && chown postgres: "$work/select1.sql"
  newdb pgbench_ceiling >/dev/null
  for clients in 1 16; do
    tps=$(as_pg "$pgbin/pgbench" -h "$pgroot/sock" -U postgres -C -n -f "$work/select1.sql" -c "$clients" -T 3 pgbench_ceiling 2>/dev/null \
      | awk '/^tps/ { printf "%.1f", $3 }')
    printf 'pgbench -C %2d clients: %s connections+SELECT 1 per second (the ceiling for a process per claim)\n' "$clients" "$tps"
  done
fi

# --- 2. a registry of $objects records ------------------------------------
width=${#objects}
(( width < 7 )) && width=7
staged_first=$(( objects - 99 ))
echo "== generating a registry of $objects records (width $width)"
python3 - "$objects" "$width" "$work/import.json" <<'PY'
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
PY

measure() { # label name command...
  local label=$1 name=$2; shift 2
  local t="$work/time-$label-$name.txt"
  if ! /usr/bin/time -f '%e %M' -o "$t" "$@" > "$work/$label-$name.stdout" 2> "$work/$label-$name.stderr"; then
    echo "$label $name FAILED:"; cat "$work/$label-$name.stderr"; exit 1
  fi
  read -r secs kib < "$t"
  awk -v l="$label" -v n="$name" -v s="$secs" -v k="$kib" 'BEGIN { printf "%-10s %-8s %8.2f s  peak %8.1f MiB\n", l, n, s, k / 1024 }'
}
echo "== $objects records ($bin)"
dir="$work/big-dir"
measure directory import "$bin" registry --registry "$dir" import "$work/import.json"
measure directory check  "$bin" registry --registry "$dir" check
url=$(newdb big)
measure postgres  import "$bin" registry --registry "$dir" export --to "$url"
measure postgres  check  "$bin" registry --registry "$url" check
for label in directory postgres; do
  loc=$dir; [ "$label" = postgres ] && loc=$url
  measure "$label" claim "$bin" registry --registry "$loc" claim --packet BENCH --count 20
  measure "$label" fold  "$bin" registry --registry "$loc" fold "$staged_first..$objects" --out "$work/out-$label"
done
# One claim of 20 ids, 15 in a row (a process each, after the fold), timed
# to the tenth of a millisecond: the median, and the fastest and slowest.
for label in directory postgres; do
  loc=$dir; [ "$label" = postgres ] && loc=$url
  times=()
  for i in $(seq 15); do
    start=$(date +%s%N)
    "$bin" registry --registry "$loc" claim --packet "TIMED$i" --count 20 >/dev/null || { echo "$label timed claim FAILED"; exit 1; }
    end=$(date +%s%N)
    times+=($(( (end - start) / 100000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v l="$label" '{ t[NR] = $1 / 10 } END { printf "%-10s claim    median %.1f ms of %d (%.1f to %.1f ms)\n", l, t[int((NR + 1) / 2)], NR, t[1], t[NR] }'
done
