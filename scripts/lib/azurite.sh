# Sourced by scripts/worker-local.sh and benches/worker.sh (from the workspace root): Azurite 3.35.0
# in memory and a plain file server for the archival worker, a queue and a container, and a
# recording's event enqueued as Event Grid would. Needs npm (Node 20), python3 and curl.

# An account SAS (blob + queue, until 2099) of Azurite's public development account.
AZURITE_SAS='sv=2020-08-04&ss=bq&srt=sco&sp=rwdlacup&se=2099-01-01T00%3A00%3A00Z&spr=https%2Chttp&sig=pLSo9iFIDdZ4zWLt5RLaI7PeARYsM95BSrzbihNYuwY%3D'

# azurite_up BLOB_PORT QUEUE_PORT TABLE_PORT WEB_PORT DIR: starts Azurite and serves DIR over
# http on 127.0.0.1:WEB_PORT (both stopped when the script exits), then waits until both answer.
azurite_up() {
    local blob="$1" queue="$2" table="$3" web="$4" dir="$5" port
    # A port already taken (a leftover Azurite, say) would answer the readiness check below.
    for port in "$blob" "$queue" "$table" "$web"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "port $port on 127.0.0.1 is in use: stop what listens there (a leftover Azurite?)" >&2
            return 1
        fi
    done
    npm install --no-audit --no-fund --no-save --prefix target/azurite azurite@3.35.0 >/dev/null
    target/azurite/node_modules/.bin/azurite --blobPort "$blob" --queuePort "$queue" \
        --tablePort "$table" --inMemoryPersistence --disableTelemetry --skipApiVersionCheck \
        --silent &
    AZURITE_PID=$!
    # A plain file server: it ignores the HMAC headers (the tests' simulator checks them).
    python3 -m http.server "$web" --bind 127.0.0.1 --directory "$dir" >/dev/null 2>&1 &
    AZURITE_WEB_PID=$!
    trap 'kill $AZURITE_PID $AZURITE_WEB_PID 2>/dev/null || true' EXIT
    local up=0
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$queue/" &&
            curl -s -o /dev/null "http://127.0.0.1:$web/" && { up=1; break; }
        sleep 0.2
    done
    [ "$up" = 1 ] || { echo "azurite or the file server did not start within 20 s" >&2; return 1; }
    kill -0 "$AZURITE_PID" 2>/dev/null || { echo "azurite exited at start" >&2; return 1; }
}

# azurite_create QUEUE_URL CONTAINER_URL: creates the queue and the blob container.
azurite_create() {
    curl -sSf -X PUT "$1?$AZURITE_SAS" -H 'Content-Length: 0'
    curl -sSf -X PUT "$2?restype=container&$AZURITE_SAS" -H 'Content-Length: 0'
}

# azurite_enqueue QUEUE_URL EVENT_JSON RECORDING_ID WEB_PORT: enqueues the event (base64 JSON)
# with the recording id replaced and every chunk's contentLocation/metadataLocation on the file
# server.
azurite_enqueue() {
    local msg
    msg=$(python3 - "$2" "$3" "$4" <<'PY'
import base64, json, sys
path, recording_id, port = sys.argv[1:]
e = json.load(open(path))
e = e[0] if isinstance(e, list) else e
e["data"]["recordingId"] = recording_id
for c in e["data"]["recordingStorageInfo"]["recordingChunks"]:
    c["contentLocation"] = "http://127.0.0.1:%s/%s.mp4" % (port, c["documentId"])
    c["metadataLocation"] = "http://127.0.0.1:%s/%s.json" % (port, c["documentId"])
print(base64.b64encode(json.dumps(e).encode()).decode())
PY
    )
    curl -sf -X POST "$1/messages?$AZURITE_SAS" \
        -d "<QueueMessage><MessageText>$msg</MessageText></QueueMessage>" >/dev/null
}
