#!/usr/bin/env bash
# The main job: install OS packages, build, and start the service on its embedded default source
# (the synthetic camera and the shipped model). Extra arguments go to `streammtl serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh run
dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
exec dotnet src/Server/bin/Release/net10.0/linux-x64/streammtl.dll serve "$@"
