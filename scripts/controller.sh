#!/usr/bin/env bash
# The overload controller (issue 25 part 3; a benchmark, not CI): docs/experiments.md, "Overload controller".
# N streams of ../shared/videos/vtest.avi looped live through the real service (`streammtl bench --kind streams`), the
# fixed-budget service (controller off) and Reuse:Adaptive=true one after the other, twice, then the fixed levels;
# then the levels' cost and fidelity in-process against dense (vtest, and the synthetic camera with ground truth).
# JSON per run in artifacts/controller/.
#   scripts/controller.sh [STREAMS] [SECONDS]   STREAMS: 6 (twice the 3 the box sustains at full compute); SECONDS: 30
set -euo pipefail
cd "$(dirname "$0")/.."
streams="${1:-6}"
seconds="${2:-30}"
dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
out=artifacts/controller
mkdir -p "$out"
video="$(cd ../shared/videos && pwd)/vtest.avi"
dll=src/Server/bin/Release/net10.0/linux-x64/streammtl.dll
streams_bench() { dotnet "$dll" bench --kind streams --source "$video#mode=live&loop=1" --streams "$streams" --seconds "$seconds" --warmup 5 "$@"; }

for round in 1 2; do
  streams_bench --json "$out/off-$streams-$round.json"
  streams_bench --set 'StreamMtl:Streams:*:Reuse:Adaptive=true' --json "$out/adaptive-$streams-$round.json"
done
streams_bench --set 'StreamMtl:Streams:*:Reuse:Level=Reduced' --json "$out/reduced-$streams.json"
streams_bench --set 'StreamMtl:Streams:*:Reuse:Level=Minimal' --json "$out/minimal-$streams.json"
streams_bench --set 'StreamMtl:Streams:*:Reuse:Level=Coarse' --json "$out/coarse-$streams.json"

dotnet "$dll" bench --source "$video#mode=batch" --frames 150 --threads 1 --levels --json "$out/levels-vtest.json"
dotnet "$dll" bench --source "synthetic://static?seed=3&w=320&h=240&realtime=0" --frames 150 --threads 1 --levels --json "$out/levels-synthetic.json"
