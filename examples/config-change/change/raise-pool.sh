#!/bin/sh
# The change: pool_size 10 -> 20 in app.toml of the service config surface.
# holdfast gives the surface's root in HOLDFAST_ROOT_SERVICE_CONFIG (a staging
# copy during the rehearsal, the real root afterwards).
set -eu
f="$HOLDFAST_ROOT_SERVICE_CONFIG/app.toml"
grep -q '^pool_size = 10$' "$f" || { echo "app.toml: pool_size is not 10" >&2; exit 3; }
sed 's/^pool_size = 10$/pool_size = 20/' "$f" > "$f.new"
mv "$f.new" "$f"
echo "app.toml: pool_size 10 -> 20"
