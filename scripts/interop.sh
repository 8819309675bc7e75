#!/usr/bin/env bash
# The interop checks against ffmpeg: see scripts/interop.py.
exec python3 "$(dirname "$0")/interop.py" "$@"
