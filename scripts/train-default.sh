#!/usr/bin/env bash
# Reproduces the shipped model and its single-task baselines from scratch on synthetic-camera data.
#   scripts/train-default.sh OUT_DIR [STREAMMTL_DLL]
# Writes OUT_DIR/base.safetensors (segmentation), OUT_DIR/temporal.safetensors (the base fine-tuned with the
# temporal-consistency penalty), OUT_DIR/steady.safetensors (that, briefly fine-tuned on JPEG-compressed frames),
# OUT_DIR/stable.safetensors (that, fine-tuned on whole frames with the output-stability penalty),
# OUT_DIR/split6.safetensors (that plus depth and normals deltas trained at split layer 6) and OUT_DIR/baseline-{depth,normals}.safetensors (full single-task models with
# the same architecture and step budget, for Delta-m; no penalty), and OUT_DIR/calibrated.safetensors (split6 with
# per-class segmentation offsets chosen for mIoU on validation sequences, `streammtl calibrate`). The shipped
# models/streammtl-default.safetensors went the same way from a soup of six runs (docs/model.md). Environment: STEPS, LR, SUB_STEPS, STEM, SPLITS (e.g. "6 4"), TEMPORAL (penalty
# weight, 0 = skip the fine-tune), TEMPORAL_STEPS, AUX (weight of the fine-tune's auxiliary depth and normals
# losses, run through the first of SPLITS; 0 = off), JPEG (lowest quality of the fine-tune's compression
# augmentation, 0 = off), TRUNK_BATCH and TRUNK_CROP (the fine-tunes' batch and crop: 4 crops of 12x16 tokens see
# whole objects), STEADY_STEPS and STEADY_JPEG (the short JPEG fine-tune of the trunk, 0 steps = skip), STABILITY and
# STABILITY_STEPS (weight and length of the whole-frame fine-tune with the output-stability penalty, 0 steps = skip), SUB_TEMPORAL (penalty in the sub-task stage: 1 brings reuse's normals within 3 deg of
# dense on real footage but costs 7 points of Delta-m, so the default is 0), SUB_JPEG (the sub-task stage's
# compression augmentation, 0 = off; see docs/model.md).
#
# Stages that do not depend on each other run at the same time, one torch thread each: the base and the two
# baselines first, then the sub-tasks. On 2 cores that gives about twice the samples/s of one stage with
# 2 threads (measured: 3 stages at 16-17 samples/s each vs one stage at 22 with 2 threads; part of a step is
# single-threaded: cropping, rendering, the optimiser step).
set -euo pipefail
out="${1:?usage: $0 OUT_DIR [STREAMMTL_DLL]}"
dll="${2:-}"
cd "$(dirname "$0")/.."
if [ -z "$dll" ]; then
  dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
  dll=src/Server/bin/Release/net10.0/linux-x64/streammtl.dll
fi
mkdir -p "$out"
# libtorch's OpenMP threads spin while waiting; on a shared 2-core machine that starves everything else.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
steps="${STEPS:-7000}"
lr="${LR:-0.0005}"
sub_steps="${SUB_STEPS:-12000}"
stem="${STEM:-48,96}"
splits="${SPLITS:-6}"
temporal="${TEMPORAL:-0.3}"
temporal_steps="${TEMPORAL_STEPS:-12000}"
aux="${AUX:-0.5}"
jpeg="${JPEG:-0}"
sub_temporal="${SUB_TEMPORAL:-0}"
sub_jpeg="${SUB_JPEG:-30}"
trunk_batch="${TRUNK_BATCH:-4}"
trunk_crop="${TRUNK_CROP:-12x16}"
steady_steps="${STEADY_STEPS:-2000}"
steady_jpeg="${STEADY_JPEG:-30}"
stability="${STABILITY:-5}"
stability_steps="${STABILITY_STEPS:-4000}"

pids=()
# [threads=N] run NAME ARGS...: one stage in the background (N torch threads, default 1), output in OUT_DIR/NAME.log.
run() {
  local name="$1"; shift
  echo "== $(date -u +%H:%M:%S) $name: streammtl train $*"
  # A stage that dies (TorchSharp 0.107 can crash natively under GC pressure) resumes from its checkpoint,
  # written every 250 steps; up to 5 attempts.
  (
    for attempt in 1 2 3 4 5; do
      if dotnet "$dll" train --resume --threads "${threads:-1}" "$@" >> "$out/$name.log" 2>&1; then exit 0; fi
      echo "== $(date -u +%H:%M:%S) $name: attempt $attempt failed, resuming" | tee -a "$out/$name.log" >&2
      sleep 2
    done
    exit 1
  ) &
  pids+=($!)
}
# wait_all: waits for the running stages; fails if any failed.
wait_all() {
  local failed=0
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  pids=()
  if [ "$failed" -ne 0 ]; then echo "a training stage failed; see $out/*.log" >&2; exit 1; fi
}
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

run base --stage base --steps "$steps" --lr "$lr" --seed 1 --split 4 --stem "$stem" --out "$out/base.safetensors"
for task in depth normals; do
  run "baseline-$task" --stage single --task "$task" --steps "$steps" --lr "$lr" --seed 1 --split 4 --stem "$stem" \
    --out "$out/baseline-$task.safetensors"
done
wait_all

# Fine-tune of the trunk: batches of neighbouring-frame pairs with an L1 penalty on how much each block's output
# moves between them, plus auxiliary depth and normals losses through the sub-task branches so the shared blocks
# learn geometry (Delta-m -7.3% -> +3.6% against the same fine-tune without them, same baselines). JPEG=30 adds the compression
# augmentation: steadier on real footage (reuse agreement on vtest with a keyframe every 100: 92.1% -> 96.1%) for
# 0.04 mIoU on clean synthetic frames; the shipped lineage uses it from j2 on (docs/model.md). The auxiliary
# losses branch off at the serving split: through split 4 they leave blocks 5-6 to segmentation alone, and the
# sub-tasks at split 6 then lack the wall orientations (normals 15.4 -> 11.3 deg, docs/model.md).
trunk="$out/base.safetensors"
# Shared by both trunk fine-tunes.
trunk_args=(--stage base --lr 0.0003 --temporal "$temporal" --aux "$aux" --split "${splits%% *}" --batch "$trunk_batch" --crop "$trunk_crop")
if [ "$temporal" != "0" ]; then
  threads=2 run temporal "${trunk_args[@]}" --init "$out/base.safetensors" --steps "$temporal_steps" --seed 8 --jpeg "$jpeg" \
    --out "$out/temporal.safetensors"
  wait_all
  trunk="$out/temporal.safetensors"
fi
# Larger crops (4 x 12x16 tokens instead of 8 x 8x10, the same tokens per step) show whole objects with their
# surroundings: from the same trunk and for the same time, mIoU 0.602 (8x10) vs 0.639 (12x16), and the box class
# 0.22 vs 0.32. Such a trunk flickers more on real footage (dense self-agreement on vtest 95.6 %), which a short
# fine-tune on JPEG-compressed frames undoes (96.5 %) while its decaying learning rate sharpens the model
# (mIoU 0.740, docs/model.md).
if [ "$steady_steps" != "0" ]; then
  threads=2 run steady "${trunk_args[@]}" --init "$trunk" --steps "$steady_steps" --seed 23 --jpeg "$steady_jpeg" \
    --out "$out/steady.safetensors"
  wait_all
  trunk="$out/steady.safetensors"
fi
# Whole frames (4 x 15x20 tokens) teach the trunk the room around each object (mIoU +0.025), but such a trunk
# flickers more on real footage: reuse fell under issue 4's 97 % agreement with dense on vtest. The output-stability
# penalty (`--stability`: one frame, two independent JPEG degradations, symmetric KL between the two segmentations)
# asks for the same decision when only the artefacts change, which is what a static camera's stream shows; with it,
# reuse agrees with dense on 97.8 % of vtest pixels (docs/model.md).
if [ "$stability_steps" != "0" ]; then
  threads=2 run stable --stage base --lr 0.0002 --stability "$stability" --jpeg 30 --aux "$aux" --split "${splits%% *}" \
    --batch 4 --crop 15x20 --init "$trunk" --steps "$stability_steps" --seed 43 --out "$out/stable.safetensors"
  wait_all
  trunk="$out/stable.safetensors"
fi

# Both sub-tasks train in one stage: one forward pass of the frozen trunk feeds both (each has its own loss,
# parameters and gradient clipping, so this equals training them one after the other; tested).
for split in $splits; do
  # Compression augmentation from the start: sub-tasks trained on clean frames only drift further from dense
  # under temporal reuse on real footage (vtest normals 3.5 deg at the default keyframe interval, bar 3).
  threads=2 run "split$split" --stage sub --task depth,normals --split "$split" --steps "$sub_steps" --lr 0.001 \
    --seed 2 --temporal "$sub_temporal" --jpeg "$sub_jpeg" --init "$trunk" --out "$out/split$split.safetensors"
  wait_all
done

# Cross-entropy's argmax is not the decision that maximises mIoU: one logit offset per class, chosen on validation
# seeds 101..116 (never the evaluation set 1..8), raised the shipped soup from 0.773 to 0.787 there and from 0.786
# to 0.803 on the evaluation set, at no cost per frame (folded into the head's bias; docs/model.md).
first_split="${splits%% *}"
echo "== $(date -u +%H:%M:%S) calibrated: streammtl calibrate"
dotnet "$dll" calibrate --model "$out/split$first_split.safetensors" --out "$out/calibrated.safetensors" \
  --first-seed 101 --sequences 16 > "$out/calibrated.log" 2>&1
echo "== $(date -u +%H:%M:%S) done"
