using System.CommandLine;
using StreamMtl.Pipeline.Model;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class TrainCommand
{
    /// <summary>The options of <c>streammtl train</c>.</summary>
    internal static class Options
    {
        private static readonly ModelConfig Defaults = new();

        public static readonly Option<string> Stage = Text("--stage", "S", "base: segmentation trunk + head; sub: one sub-task's low-rank deltas + head on a " +
            "frozen base (--init); single: a full single-task baseline; policy: a compute policy co-trained with the model (--init; " +
            "docs/adaptive.md); policy-rank: teach a co-trained policy (--init) which frames gain from the units it runs on some frames " +
            "only (the model frozen); all: base, then each sub-task, then the depth and normals baselines " +
            "(writes DIR/streammtl-default, DIR/baseline-depth, DIR/baseline-normals .safetensors)", "all");
        public static readonly Option<string?> Task = OptionalText("--task", "T", "segmentation | depth | normals (sub, single); sub also takes a list, " +
            "e.g. depth,normals: one frozen-trunk pass trains both (each its own loss) [default: base: segmentation; sub: depth,normals]");
        public static readonly Option<string> Out = Text("--out", "PATH", "output model file (for --stage all: a directory)", "models");
        public static readonly Option<string?> Init = OptionalText("--init", "PATH", "start from this model (required for sub)");
        public static readonly Option<int> Steps = Int("--steps", "optimiser steps per stage", 3000, min: 1);
        public static readonly Option<int?> SubSteps = OptionalInt("--sub-steps", "steps per sub-task stage in --stage all [default: steps/2]", min: 1);
        public static readonly Option<int> Batch = Int("--batch", "crops per step", 8, 1, 4096);
        public static readonly Option<string> Crop = Text("--crop", "RxC", "crop size in tokens (16 px)", "8x10");
        public static readonly Option<double> LearningRate = Double("--lr", "peak learning rate", 1e-3, 1e-7, 1);
        public static readonly Option<int> Seed = Int("--seed", "seed for weights and data", 1);
        public static readonly Option<bool> Resume = Flag("--resume", "continue from OUT.ckpt if present (written every 250 steps, and on Ctrl+C or " +
            "SIGTERM, which stop the run with exit code 130); weights, AdamW state and data continue as in an uninterrupted run");
        public static readonly Option<int?> Split = OptionalInt("--split", "new model: split layer (and first delta block); sub: train the " +
            "sub-task with this split (its own blocks L+1..end); base with --init and --aux: the split the auxiliary losses run through " +
            "[default: blocks/2; the file's]", 0, 64, helpName: "L");
        public static readonly Option<int> Blocks = Int("--blocks", "architecture of a new model: transformer blocks", Defaults.Blocks, 1, 64);
        public static readonly Option<int> Dim = Int("--dim", "architecture of a new model: embedding width", Defaults.Dim, 8, 4096);
        public static readonly Option<int> Heads = Int("--heads", "architecture of a new model: attention heads", Defaults.Heads, 1, 64);
        public static readonly Option<int> Rank = Int("--rank", "architecture of a new model: rank of the sub-task deltas", Defaults.Rank, 1, 1024);
        public static readonly Option<int> HeadHidden = Int("--head-hidden", "architecture of a new model: hidden width of the task heads", Defaults.HeadHidden, 1, 4096);
        public static readonly Option<string?> Refine = OptionalText("--refine", "LIST", "heads that get the pixel-aware conv refinement, e.g. " +
            "segmentation; with --init, added to the loaded model (starting as the identity) [default: none]");
        public static readonly Option<int> RefineHidden = Int("--refine-hidden", "hidden channels of the refinement", Defaults.RefineHidden, 1, 256);
        public static readonly Option<bool> HeadsOnly = Flag("--heads-only", "train the heads only (everything else frozen), e.g. a new --refine on a " +
            "trained model without moving its trunk");
        public static readonly Option<string?> Grow = OptionalText("--grow", "N@K", "base with --init: deepen the loaded model's shared trunk by N new " +
            "blocks after its block K, each starting as the identity (so training continues from the trained model); the split layer moves up " +
            "by N, e.g. 4@6");
        public static readonly Option<string> Stem = Text("--stem", "LIST", "hierarchical patch stem widths, e.g. 48,96; \"linear\" = plain patch embedding", "linear");
        public static readonly Option<double> Temporal = Double("--temporal", "temporal-consistency penalty weight: batches become pairs of " +
            "neighbouring frames and the trained blocks' outputs are kept close between them (0 = off)", 0, 0, 1000, helpName: "W");
        public static readonly Option<int> TemporalGap = Int("--temporal-gap", "largest frame distance within a pair", 2, 1, 100);
        public static readonly Option<double> Stability = Double("--stability", "output-stability penalty weight: batches become pairs of one frame " +
            "degraded twice (needs --jpeg), and the trained tasks' outputs on the two copies are kept close (segmentation: symmetric KL) " +
            "(0 = off; not with --temporal)", 0, 0, 1000, helpName: "W");
        public static readonly Option<double> Lovasz = Double("--lovasz", "add the Lovász-softmax loss x W to the segmentation loss: a surrogate of " +
            "the IoU that mIoU averages (0 = off)", 0, 0, 1000, helpName: "W");
        public static readonly Option<double> Aux = Double("--aux", "base stage: add depth and normals losses x W through the sub-task branches, " +
            "so the shared blocks learn geometry too (0 = off)", 0, 0, 1000, helpName: "W");
        public static readonly Option<int> Jpeg = Int("--jpeg", "compression augmentation: re-encode 75% of crops as JPEG at a quality drawn " +
            "from Q..95, each pair frame on its own (0 = off)", 0, 0, 100, helpName: "Q");
        public static readonly Option<bool> BFloat16 = Flag("--bf16", "matrix products in bfloat16 (float32 weights, gradients and optimiser " +
            "state): 1.23x the steps per second measured on an AVX-512 BF16 CPU");
        public static readonly Option<string?> Data = OptionalText("--data", "KIND:PATH", "train on a data set on disk (its train split) instead of " +
            "the synthetic camera: folder:DIR (the layout `streammtl label` writes), nyud:DIR (NYUD-v2, multi-task layout), pascal:DIR or pascal59:DIR " +
            "(PASCAL-Context, multi-task layout; 21 or 59+1 classes); the class table comes from the data (docs/datasets.md)");
        public static readonly Option<string> Size = Text("--size", "WxH", "frame size trained at (data on disk is resized to it)", "320x240");
        public static readonly Option<int?> Adapt = OptionalInt("--adapt", "adapt instead of retraining (MTLoRA): freeze every weight of the --init " +
            "model and train shared low-rank adapters of this rank on its trunk linears, plus the sub-task deltas and the heads; --out gets a small " +
            "adapter file that serve, eval and info load on that model with --adapter (docs/datasets.md)", 1, 1024, helpName: "RANK");
        public static readonly Option<string?> Features = OptionalText("--features", "DIR", "base stage: also train the shared trunk to predict a " +
            "feature teacher's maps on real frames: DIR is what `streammtl label --teacher features=MODEL.onnx:SPEC.json` writes (images/, " +
            "features/; e.g. ResNet-18 layer3 through the spec's output.node); a linear probe (not saved) from the split layer's tokens, " +
            "loss 1 - cosine, beside the usual losses (docs/datasets.md)");
        public static readonly Option<double?> FeatureWeight = OptionalDouble("--feature-weight", "with --features: weight of the feature loss [default: 1]",
            0, 1000);
        public static readonly Option<int?> FeatureBatch = OptionalInt("--feature-batch", "with --features: real frames per step, at the full --size " +
            "[default: 4]", 1, 4096);
        public static readonly Option<int?> Threads = OptionalInt("--threads", "torch CPU threads [default: all cores]", 1, 1024);

    }

    /// <summary>The train command with its options; its body is <see cref="Run"/>.</summary>
    internal static Command Create() => CliOptions.Command("train", "train the model on synthetic-camera data or a data set on disk (stages: base, sub, single, policy, policy-rank, all)", Run,
        Options.Stage, Options.Task, Options.Out, Options.Init, Options.Steps, Options.SubSteps, Options.Batch, Options.Crop, Options.LearningRate,
        Options.Seed, Options.Resume, Options.Split, Options.Blocks, Options.Dim, Options.Heads, Options.Rank, Options.HeadHidden, Options.Refine,
        Options.RefineHidden, Options.HeadsOnly, Options.Grow, Options.Stem, Options.Temporal, Options.TemporalGap, Options.Stability,
        Options.Lovasz, Options.Aux, Options.Jpeg, Options.BFloat16, Options.Data, Options.Size, Options.Adapt, Options.Features, Options.FeatureWeight, Options.FeatureBatch, Options.Threads,
        PolicyOptions.ModelLearningRate, PolicyOptions.FlopWeight, PolicyOptions.FullShare, PolicyOptions.FlopLoss, PolicyOptions.NoiseEnd, PolicyOptions.PlanTargets,
        PolicyOptions.RankSequences, PolicyOptions.RankRule, PolicyOptions.RankTargets);
}
