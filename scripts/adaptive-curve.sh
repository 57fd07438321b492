#!/usr/bin/env bash
# The accuracy-vs-compute curve of the compute policy (docs/adaptive.md): eval --budget X and eval --budget X --static at
# 1.0, 0.8, 0.6, 0.4 on the held-out synthetic set, beside the shipped model with its deepest blocks dropped and both models
# on smaller frames (eval --resolution) at the same FLOPs, plotted to
# docs/adaptive-curve.png; then the average rule with the equal-FLOPs baselines to docs/adaptive-curve-average.png, and the
# same with its threshold calibrated on validation frames (--calibrate) to docs/adaptive-curve-calibrated.png.
# Usage: scripts/adaptive-curve.sh [MODEL] (default models/streammtl-adaptive.safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/streammtl-adaptive.safetensors}"
export OMP_WAIT_POLICY=PASSIVE
dotnet build src/Server -c Release -nologo -clp:ErrorsOnly
./src/Server/bin/Release/net10.0/linux-x64/streammtl budget-curve --model "$model" --budgets 1,0.8,0.6,0.4 \
  --reference models/streammtl-default.safetensors --plot docs/adaptive-curve.png --json docs/adaptive-curve.json
# The average rule (AdaMTL's own: frames may spend differently), with the baselines at exactly the adaptive run's FLOPs:
# its unit sets dealt to the frames at random (8 draws) and the oracle (the truth picks the frames).
./src/Server/bin/Release/net10.0/linux-x64/streammtl budget-curve --model "$model" --budgets 0.8,0.6,0.4 --budget-rule average \
  --shuffles 8 --plot docs/adaptive-curve-average.png --json docs/adaptive-curve-average.json
./src/Server/bin/Release/net10.0/linux-x64/streammtl budget-curve --model "$model" --budgets 0.8,0.6,0.4 --budget-rule average \
  --calibrate --shuffles 8 --plot docs/adaptive-curve-calibrated.png --json docs/adaptive-curve-calibrated.json
