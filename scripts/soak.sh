#!/usr/bin/env bash
# Memory soak of a looping file source at full speed (default 10 minutes); prints RSS over time.
#   scripts/soak.sh [SECONDS] [URI]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet src/Server/bin/Release/net10.0/linux-x64/streammtl.dll soak --seconds "${1:-600}" --source "${2:-../shared/videos/vtest.avi#mode=batch&loop=1}"
