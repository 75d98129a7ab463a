#!/bin/sh
# The rollback: pool_size 20 -> 10 in app.toml, byte for byte as before.
set -eu
f="$HOLDFAST_ROOT_SERVICE_CONFIG/app.toml"
grep -q '^pool_size = 20$' "$f" || { echo "app.toml: pool_size is not 20" >&2; exit 3; }
sed 's/^pool_size = 20$/pool_size = 10/' "$f" > "$f.new"
mv "$f.new" "$f"
echo "app.toml: pool_size 20 -> 10"
