#!/usr/bin/env bash
# Benchmark: signing and verifying a packet of FILES files (default 100,000):
# the FIX7 packet, approved and run, with FILES small files added and resealed.
# Prints the seconds of a plain `verify` (one hash pass), of `sign` (one
# verify pass plus the signature) and of `verify --trust` (one hash pass plus
# every signature; the subjects are compared with HASH_MANIFEST.txt, nothing
# is hashed twice), and the bundle's size. Not a test.
#
# Usage: bench/sign-verify.sh [FILES]      (work files under bench/work/sign/)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
work=${BENCH_DIR:-$here/work}/sign
files=${1:-100000}

echo "== building holdfast (release)"
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
hf="$repo/target/release/holdfast"

rm -rf "$work"
mkdir -p "$work/keys"
"$hf" key generate "$work/keys/alice" >/dev/null
"$hf" key generate "$work/keys/bob" >/dev/null
printf '[[key]]\nrole = "approver"\npublic_key = "alice.pub"\n[[key]]\nrole = "runner"\npublic_key = "bob.pub"\n' \
  >"$work/keys/trust.toml"
cp -r "$repo/examples/fix7" "$work/spec"
"$hf" authorize "$work/spec" --key "$work/keys/alice.key" >/dev/null
"$hf" run "$work/spec" --out "$work/packet" --trust "$work/keys/trust.toml" >/dev/null

echo "== adding $files files and resealing"
python3 - "$work/packet/bulk" "$files" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 1000))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%06d.txt" % i), "w") as f:
        f.write("file %d\n" % i)
PY
"$hf" seal "$work/packet" --force >/dev/null

seconds() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
echo "files $(wc -l <"$work/packet/HASH_MANIFEST.txt")"
echo "verify_seconds $(seconds "$hf" verify "$work/packet")"
echo "sign_seconds $(seconds "$hf" sign "$work/packet" --key "$work/keys/bob.key")"
echo "verify_trust_seconds $(seconds "$hf" verify "$work/packet" --trust "$work/keys/trust.toml")"
echo "bundle_bytes $(wc -c <"$work/packet/packet.intoto.jsonl")"
