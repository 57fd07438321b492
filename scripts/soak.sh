#!/usr/bin/env bash
# Service soak (issue 21's bar; a benchmark, not CI): the service as a child process with 2 streams (the synthetic camera
# and ../shared/videos/vtest.avi looped live), a subscriber each and a Process client sending 1920x1080 PNGs, for an hour.
# Samples the service's RSS, file descriptors and threads every 10 s into artifacts/soak.csv and draws docs/soak.png;
# exits 0 when RSS growth after warm-up is < 5% and descriptors and threads stay flat, 1 otherwise.
#   scripts/soak.sh [SECONDS] [more streammtl soak options, e.g. --process-size 3840x2160]
# The ingest-only soak of a looping file read flat out: streammtl soak --mode ingest --seconds 600.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet src/Server/bin/Release/net10.0/linux-x64/streammtl.dll soak --seconds "${1:-3600}" --csv artifacts/soak.csv --png docs/soak.png "${@:2}"
