#!/usr/bin/env bash
# Runs the archival worker against Azurite on this machine: starts Azurite (in memory, default
# ports 10000/10001), serves testdata/recordings/basic over http on 127.0.0.1:8090, creates the
# queue `recordings` and the container `archive`, enqueues the recording's event as Event Grid
# would (base64 JSON with contentLocation/metadataLocation), runs the worker until idle and lists
# the container. Needs npm (Node 20), python3 and curl. WORKER=path/to/worker skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/azurite.sh
azurite_up 10000 10001 10002 8090 testdata/recordings/basic
SAS="$AZURITE_SAS"
Q=http://127.0.0.1:10001/devstoreaccount1/recordings
C=http://127.0.0.1:10000/devstoreaccount1/archive
azurite_create "$Q" "$C"
azurite_enqueue "$Q" testdata/recordings/basic/event.json local-basic 8090

if [ -z "${WORKER:-}" ]; then
    cargo build --release --example worker
    WORKER=${CARGO_TARGET_DIR:-target}/release/examples/worker
fi
CALLREC_ACS_KEY=$(printf 'a local key' | base64) "$WORKER" \
    --queue "$Q?$SAS" --container "$C?$SAS" \
    --acs-endpoint https://local.communication.azure.com \
    --allow-host 127.0.0.1:8090 --exit-when-idle 3
curl -sf "$C?restype=container&comp=list&$SAS" | grep -o '<Name>[^<]*</Name>'
