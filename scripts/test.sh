#!/usr/bin/env bash
# The whole test suite: install OS packages, build, run every test project.
# Long soak tests are excluded here; run them with scripts/soak.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh test
dotnet build StreamMtl.sln -c Release -nologo -clp:ErrorsOnly
dotnet test StreamMtl.sln -c Release --no-build --nologo --filter "Category!=Soak" --logger "console;verbosity=normal" "$@"
