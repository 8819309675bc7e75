#!/usr/bin/env bash
# Regenerates every fixture under testdata/ from nothing (ffmpeg/ffprobe + python3 only).
# Deterministic: single-threaded x264, bitexact muxing, no metadata, fixed seeds and ids.
set -euo pipefail
cd "$(dirname "$0")"
TD=$(pwd)
rm -rf recordings recordings-bad corrupt short
mkdir -p recordings recordings-bad corrupt short
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
PY="$TD/gen_helper.py"

FF=(ffmpeg -nostdin -hide_banner -loglevel error -y -threads 1)
BITEXACT=(-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1)

# encode OUT DUR W H FPS HUE FREQ RATE CHANNELS PROFILE BF MOVFLAGS [EXTRA MUXER ARGS...]
encode() {
  local out=$1 dur=$2 w=$3 h=$4 fps=$5 hue=$6 freq=$7 rate=$8 ch=$9 prof=${10} bf=${11} mf=${12}
  local extra=("${@:13}")
  local aexpr="0.4*sin(2*PI*(${freq}+60*t)*t)+0.05*(random(0)-0.5)"
  local layout=mono
  if [ "$ch" = 2 ]; then
    aexpr="${aexpr}|0.4*sin(2*PI*(${freq}+90+40*t)*t)+0.05*(random(1)-0.5)"
    layout=stereo
  fi
  local mfargs=()
  if [ -n "$mf" ]; then mfargs=(-movflags "$mf"); fi
  "${FF[@]}" \
    -f lavfi -i "testsrc2=size=${w}x${h}:rate=${fps}:duration=${dur},hue=h=${hue},format=yuv420p" \
    -f lavfi -i "aevalsrc=exprs='${aexpr}':s=${rate}:c=${layout}:d=${dur}" \
    -map 0:v -map 1:a \
    -c:v libx264 -preset veryfast -profile:v "$prof" -b:v 60k -maxrate 80k -bufsize 160k \
    -g 16 -keyint_min 16 -sc_threshold 0 -bf "$bf" -pix_fmt yuv420p \
    -x264-params "threads=1" \
    -c:a aac -b:a 32k -ar "$rate" -ac "$ch" \
    "${BITEXACT[@]}" "${mfargs[@]}" "${extra[@]}" -t "$dur" "$out"
}

# make_recording NAME BF MOVFLAGS PROFILE_CHUNK1 MISMATCH HUEBASE FREQBASE [CHUNK1 MUXER ARGS...]
make_recording() {
  local name=$1 bf=$2 mf=$3 prof1=$4 mismatch=$5 huebase=$6 fbase=$7
  local extra1=("${@:8}")
  local dir="recordings/$name"
  mkdir -p "$dir"
  local durs=(5 4 6)
  local ids
  ids=$(python3 "$PY" ids "$name")
  local k=0
  for id in $ids; do
    local w=1920 h=1080 fps=8 rate=16000 ch=1 prof=high extra=()
    if [ "$k" = 1 ]; then
      prof=$prof1
      extra=("${extra1[@]}")
      if [ "$mismatch" = 1 ]; then w=1280 h=720 fps=15 rate=48000 ch=2; fi
    fi
    encode "$dir/$id.mp4" "${durs[$k]}" $w $h $fps $((huebase + 40 * k)) $((fbase + 300 * k)) \
      $rate $ch "$prof" "$bf" "$mf" "${extra[@]}"
    ffprobe -v error -ignore_editlist 1 -show_packets -show_streams -of json "$dir/$id.mp4" \
      > "$TMP/probe.json"
    python3 "$PY" packets "$TMP/probe.json" > "$dir/$id.packets.json"
    if [ -n "$mf" ] && [[ "$mf" == *frag* ]]; then
      python3 "$PY" fragcheck "$dir/$id.mp4" "$dir/$id.packets.json"
    fi
    k=$((k + 1))
  done
  python3 "$PY" meta "$name" "$dir"
  # count the packets that repeat anywhere in the recording (the checks match in order)
  for f in "$dir"/*.mp4; do
    ffmpeg -nostdin -v error -threads 1 -i "$f" -map 0 -c copy -f framemd5 - | grep -v '^#'
  done | python3 "$PY" uniq "$name"
}

make_recording basic      0 ""                                        high 0 0   300
make_recording bframes    2 ""                                        high 0 20  350
make_recording paused     0 ""                                        high 0 60  400
make_recording fragmented 0 "+frag_keyframe+empty_moov+default_base_moof" high 0 100 450
make_recording faststart  0 "+faststart"                              main 0 140 500
make_recording mismatch   0 ""                                        high 1 180 550
# Layouts real encoders write: fragmented with B-frames (trun composition offsets), one chunk
# whose video timescale is 90 kHz (remuxers differ), B-frames with pauses inside a GOP, at a
# chunk's start and back to back.
make_recording fragmented_bframes 2 "+frag_keyframe+empty_moov+default_base_moof" high 0 220 600
make_recording mixed_timescale    0 ""                                high 0 260 650 -video_track_timescale 90000
make_recording paused_bframes     2 ""                                high 0 300 700
# A chunk whose tracks start with an empty edit (its timestamps offset by 0.5 s, as a muxer
# given a start delay writes it: video empty 500 ms, audio empty 436 ms then its priming).
make_recording empty_edit         0 ""                                high 0 340 750 -output_ts_offset 0.5

# recordings-bad/missing_chunk: basic without its middle chunk's files (event still lists it)
cp -r recordings/basic recordings-bad/missing_chunk
mid=$(python3 "$PY" ids basic | sed -n 2p)
rm recordings-bad/missing_chunk/"$mid".mp4 recordings-bad/missing_chunk/"$mid".json \
   recordings-bad/missing_chunk/"$mid".packets.json

# corrupt/: edits of basic chunk 0 (moov at end) and of a faststart remux of it
first=$(python3 "$PY" ids basic | sed -n 1p)
"${FF[@]}" -i "recordings/basic/$first.mp4" -map 0 -c copy "${BITEXACT[@]}" -movflags +faststart \
  "$TMP/faststart.mp4"
python3 "$PY" corrupt "recordings/basic/$first.mp4" "$TMP/faststart.mp4" corrupt

# corrupt/structure/: one parse-OK file per structural defect (callrec_mp4::validate), each a
# chunk 0 with one table edited in place by gen_helper.py's box walker
mkdir -p corrupt/structure
python3 "$PY" structure "recordings/basic/$first.mp4" \
  "recordings/bframes/$(python3 "$PY" ids bframes | sed -n 1p).mp4" \
  "recordings/fragmented/$(python3 "$PY" ids fragmented | sed -n 1p).mp4" corrupt/structure

# short/: valid chunks too short to measure everything: a 50 ms fragmented chunk holding one
# video frame (a recording's last chunk can be this short)
encode short/one_frame.mp4 0.05 1920 1080 8 0 300 16000 1 high 0 \
  "+frag_keyframe+empty_moov+default_base_moof"
