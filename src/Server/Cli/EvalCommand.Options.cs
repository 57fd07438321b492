using System.CommandLine;
using StreamMtl.Training;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class EvalCommand
{
    /// <summary>The options of <c>streammtl eval</c>.</summary>
    internal static class Options
    {
        public static readonly Option<string?> Model = ModelPath();
        public static readonly Option<string?> Adapter = AdapterPath();
        public static readonly Option<string?> Baselines = OptionalText("--baselines", "LIST", "single-task baselines, e.g. " +
            "depth=models/baseline-depth.safetensors,normals=... [default: baseline-*.safetensors beside the model, if present]");
        public static readonly Option<string?> Json = OptionalText("--json", "OUT", "write the full report as JSON");
        public static readonly Option<int> Sequences = Int("--sequences", "held-out sequences (seeds 1..N, never used in training)",
            SyntheticDataset.EvaluationSequences, 1, 1000);
        public static readonly Option<int> FirstSeed = Int("--first-seed", "start the sequences at seed S instead of 1: a validation set " +
            "(e.g. 101) for choosing among models without looking at the evaluation set; S+N-1 < 10000", 1, 1, SyntheticDataset.FirstTrainingSeed - 1,
            helpName: "S");
        public static readonly Option<int> Frames = Int("--frames", "frames per sequence", 12, 1, 10000);
        public static readonly Option<int> Stride = Int("--stride", "frames between evaluated frames", 20, 1, 100000);
        public static readonly Option<string> Size = InputSize();
        public static readonly Option<double> Threshold = Double("--threshold", "sub-task activation-sharing threshold (0 = exact)", 0, 0, 100);
        public static readonly Option<int?> Split = OptionalInt("--split", "override the split layer", 0, 64, helpName: "L");
        public static readonly Option<bool> BFloat16 = Flag("--bf16", "run the shared model's matrix products in bfloat16 (baselines stay float32)");
        public static readonly Option<bool> Record = Flag("--record", "store the headline figures in the model file's metadata (\"metrics\", " +
            "shown by `streammtl info`); only for the file as stored (no --split, --threshold, --bf16)");
        public static readonly Option<double?> Budget = OptionalDouble("--budget", "target complexity X in (0, 1]: the model's compute policy picks " +
            "each frame's blocks so the executed FLOPs stay within X of the dense FLOPs (1 = the full model); the report adds the executed " +
            "fraction over the frames (docs/adaptive.md)", double.MinValue, double.MaxValue);
        public static readonly Option<bool> Static = Flag("--static", "with --budget: the non-adaptive baseline, the same blocks for every frame " +
            "(the policy's ranking averaged over validation frames; without a policy, the deepest blocks dropped first)");
        public static readonly Option<string> BudgetRule = BudgetRuleOption();
        public static readonly Option<bool> Calibrate = CalibrateOption();
        public static readonly Option<double?> Resolution = OptionalDouble("--resolution", "fraction X in (0, 1]: the lower-resolution baseline, " +
            "the full model on every frame downscaled to the largest token grid whose dense FLOPs fit in X of the frame's (aspect within 10 %), " +
            "its outputs resized back for scoring; the report's resolution gives the grid and the executed fraction (docs/adaptive.md)",
            double.MinValue, double.MaxValue);
        public static readonly Option<string?> Data = OptionalText("--data", "KIND:PATH", "evaluate on a data set's validation split instead of " +
            "synthetic sequences: folder:DIR, nyud:DIR, pascal:DIR or pascal59:DIR (docs/datasets.md); frames are resized to --size; --sequences, --first-seed, " +
            "--frames and --stride do not apply");
        public static readonly Option<string?> DepthRef = OptionalText("--depth-ref", "IMAGE:GT", "also score depth on a real image against its " +
            "disparity ground truth (0 = invalid; relative, e.g. Middlebury Aloe from opencv-doc: aloeL.jpg:aloeGT.png): the predicted inverse depth " +
            "is fitted to it by scale and shift; AbsRel, delta1 and Spearman's rank correlation go to the report (docs/datasets.md)");
        public static readonly Option<string?> Dump = OptionalText("--dump", "DIR", "write one PNG per frame showing where the shared model errs " +
            "(input, segmentation errors, depth relative error, true and predicted normals, normals angle error)");
    }

    /// <summary>The eval command with its options; its body is <see cref="Run"/>.</summary>
    internal static Command Create() => CliOptions.Command("eval", "evaluate a model on held-out synthetic sequences or a data set's validation split (--json report)", Run,
        Options.Model, Options.Adapter, Options.Baselines, Options.Json, Options.Sequences, Options.FirstSeed, Options.Frames, Options.Stride, Options.Size,
        Options.Threshold, Options.Split, Options.BFloat16, Options.Record, Options.Dump, Options.Budget, Options.Static, Options.BudgetRule, Options.Calibrate, Options.Resolution, Options.Data, Options.DepthRef);
}
