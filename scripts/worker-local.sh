#!/usr/bin/env bash
# Runs the archival worker against Azurite on this machine: starts Azurite (in memory, default
# ports 10000/10001), serves testdata/recordings/basic over http on 127.0.0.1:8090, creates the
# queue `recordings` and the container `archive`, enqueues the recording's event as Event Grid
# would (base64 JSON with contentLocation/metadataLocation), runs the worker until idle and lists
# the container. Needs npm (Node 20), python3 and curl. WORKER=path/to/worker skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

npm install --no-audit --no-fund --no-save --prefix target/azurite azurite@3.35.0 >/dev/null
target/azurite/node_modules/.bin/azurite --inMemoryPersistence --disableTelemetry \
    --skipApiVersionCheck --silent &
AZ=$!
# A plain file server: it ignores the HMAC headers (the tests' simulator checks them).
python3 -m http.server 8090 --bind 127.0.0.1 --directory testdata/recordings/basic \
    >/dev/null 2>&1 &
WEB=$!
trap 'kill $AZ $WEB 2>/dev/null || true' EXIT
for _ in $(seq 50); do
    curl -s -o /dev/null http://127.0.0.1:10001/ && curl -s -o /dev/null http://127.0.0.1:8090/ && break
    sleep 0.2
done

# An account SAS (blob + queue, until 2099) of Azurite's public development account.
SAS='sv=2020-08-04&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=pLSo9iFIDdZ4zWLt5RLaI7PeARYsM95BSrzbihNYuwY%3D'
Q=http://127.0.0.1:10001/devstoreaccount1/recordings
C=http://127.0.0.1:10000/devstoreaccount1/archive
curl -sf -X PUT "$Q?$SAS" -H 'Content-Length: 0'
curl -sf -X PUT "$C?restype=container&$SAS" -H 'Content-Length: 0'

MSG=$(python3 -c '
import base64, json
e = json.load(open("testdata/recordings/basic/event.json"))[0]
e["data"]["recordingId"] = "local-basic"
for c in e["data"]["recordingStorageInfo"]["recordingChunks"]:
    c["contentLocation"] = "http://127.0.0.1:8090/%s.mp4" % c["documentId"]
    c["metadataLocation"] = "http://127.0.0.1:8090/%s.json" % c["documentId"]
print(base64.b64encode(json.dumps(e).encode()).decode())')
curl -sf -X POST "$Q/messages?$SAS" \
    -d "<QueueMessage><MessageText>$MSG</MessageText></QueueMessage>" >/dev/null

if [ -z "${WORKER:-}" ]; then
    cargo build --release --example worker
    WORKER=target/release/examples/worker
fi
CALLREC_ACS_KEY=$(printf 'a local key' | base64) "$WORKER" \
    --queue "$Q?$SAS" --container "$C?$SAS" \
    --acs-endpoint https://local.communication.azure.com \
    --allow-host 127.0.0.1:8090 --exit-when-idle 3
curl -sf "$C?restype=container&comp=list&$SAS" | grep -o '<Name>[^<]*</Name>'
