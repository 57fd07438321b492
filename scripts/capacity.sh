#!/usr/bin/env bash
# Cameras per box (issue 22; a benchmark, not CI): the capacity table of docs/service.md, "Capacity".
# Streams of ../shared/videos/vtest.avi (768x576, 10 fps) looped live, and the same clip over RTSP from a GStreamer
# server on loopback (ffmpeg decoders competing), through the real service (`streammtl bench --kind streams`).
# JSON per run in artifacts/capacity/. Takes ~25 minutes on 2 cores.
#   scripts/capacity.sh [SECONDS] [BEFORE_DLL]   SECONDS: measured window per run (30); BEFORE_DLL: another build's
#                                                streammtl.dll, run at 8 streams beside this one for a before/after row
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
before="${2:-}"
scripts/install-deps.sh test >/dev/null
dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
out=artifacts/capacity
mkdir -p "$out"
video="$(cd ../shared/videos && pwd)/vtest.avi"
bench() { dotnet src/Server/bin/Release/net10.0/linux-x64/streammtl.dll bench --kind streams --seconds "$seconds" "$@"; }

if [[ -n "$before" ]]; then
  bench --source "$video#mode=live&loop=1" --streams 8 --server-dll "$before" --json "$out/before-8.json"
fi
bench --source "$video#mode=live&loop=1" --streams 8 --set StreamMtl:Pipeline:InferenceWorkers=1 --json "$out/reuse-8-one-worker.json"
bench --source "$video#mode=live&loop=1" --streams 8 --json "$out/reuse-8.json"
bench --source "$video#mode=live&loop=1" --find-max --streams 12 --json "$out/reuse-max.json"
bench --source "$video#mode=live&loop=1" --find-max --streams 12 --stored-pngs --json "$out/reuse-max-stored.json"
bench --source "$video#mode=live&loop=1" --find-max --streams 12 --dense --json "$out/dense-max.json"
bench --source "$video#mode=live&loop=1" --streams 4 --neighbour both --json "$out/reuse-4-neighbour.json"

# RTSP: the clip as H.264 without B-frames (what the test server's RTP payloader wants), served per client from its start.
mp4="$out/vtest-h264.mp4"
[[ -f "$mp4" ]] || ffmpeg -loglevel error -y -i "$video" -c:v libx264 -bf 0 -g 10 -pix_fmt yuv420p "$mp4"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
/usr/bin/python3 tests/Ingest.Tests/Rtsp/rtsp_server.py "$port" "$mp4" /vtest > "$out/rtsp-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q READY "$out/rtsp-server.log" && break; sleep 0.2; done
# The clip is 79.5 s: a probe (start-up, warm-up and window) must end before it does.
bench --source "rtsp://127.0.0.1:$port/vtest" --source-fps 10 --find-max --streams 12 --json "$out/rtsp-reuse-max.json"
