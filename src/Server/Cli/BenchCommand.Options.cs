using System.CommandLine;
using StreamMtl.Pipeline.Model;
using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

public static partial class BenchCommand
{
    /// <summary>The options of <c>streammtl bench</c>; each kind reads its own, and refuses the others.</summary>
    internal static class Options
    {
        private static readonly ReuseSettings Defaults = ReuseSettings.Default;

        public static readonly Option<string?> Kind = OptionalText("--kind", "K", "render: synthetic camera rendering speed; model: forward " +
            "ms/frame of base only, all tasks dense, all tasks with activation sharing; reuse: dense vs temporal token reuse on the same frames, " +
            "same process (FLOPs, ms/frame, fidelity) [default: reuse with --source, else model]");
        public static readonly Option<string?> Source = OptionalText("--source", "URI", "reuse: the frames, e.g. " +
            "../shared/videos/vtest.avi#mode=batch or synthetic://static?seed=3&w=320&h=240&realtime=0; required");
        public static readonly Option<string?> Model = OptionalText("--model", "F", "model, reuse: model file; reuse also takes random " +
            "(untrained weights, for development) [default: the shipped model]");
        public static readonly Option<string> Size = Text("--size", "WxH", "frame size", "320x240");
        public static readonly Option<int?> Frames = OptionalInt("--frames", "render, reuse: frames [default: render 600, reuse 300]", min: 1);
        public static readonly Option<bool> Truth = Flag("--truth", "render: render the ground truth too", fallback: true);
        public static readonly Option<string> Mode = Text("--mode", "M", "render: static | moving camera", "static");
        public static readonly Option<int> Rounds = Int("--rounds", "model: interleaved rounds", 20, min: 1);
        public static readonly Option<int> Batch = Int("--batch", "model: frames per forward pass", 1, 1, 64);
        public static readonly Option<double?> Threshold = OptionalDouble("--threshold", "model: sharing threshold for the shared row; reuse: " +
            $"token reuse threshold [default: model 0.3, reuse {Defaults.Threshold}]", 0, 100);
        public static readonly Option<double?> Budget = OptionalDouble("--budget", $"reuse: reuse budget [default: {Defaults.Budget}]", 0, 1);
        public static readonly Option<int> Keyframe = Int("--keyframe", "reuse: keyframe interval", Defaults.KeyframeInterval, min: 0, helpName: "K");
        public static readonly Option<double?> SceneCut = OptionalDouble("--scene-cut", $"reuse: scene-cut limit [default: {Defaults.SceneCutLimit}]", 0, 1);
        public static readonly Option<double?> Refresh = OptionalDouble("--refresh", $"reuse: attention refresh [default: {Defaults.AttentionRefresh}]", 0, 1);
        public static readonly Option<bool> Incremental = Flag("--incremental", "reuse: incremental attention", fallback: Defaults.IncrementalAttention);
        public static readonly Option<int?> Threads = OptionalInt("--threads", "model, reuse: intra-op threads [default: all cores]", 1, 256);
        public static readonly Option<bool> BFloat16 = Flag("--bf16", "reuse: each setting also with bfloat16 matrix products " +
            "(Model:Precision=bfloat16), against the same float32 dense");
        public static readonly Option<bool> Sweep = Flag("--sweep", "reuse: cross product of --thresholds x --budgets x --refreshes");
        public static readonly Option<double[]?> Thresholds = Numbers("--thresholds", "reuse --sweep: thresholds [default: 0.05,0.1,0.15,0.2,0.3]");
        public static readonly Option<double[]?> Budgets = Numbers("--budgets", "reuse --sweep: budgets [default: --budget]");
        public static readonly Option<double[]?> Refreshes = Numbers("--refreshes", "reuse --sweep: attention refreshes [default: --refresh]");
        public static readonly Option<string?> Plot = OptionalText("--plot", "PNG", "reuse: plot FLOPs saved vs segmentation agreement");
        public static readonly Option<string?> Json = OptionalText("--json", "OUT", "write the results as JSON");

        public static readonly Option[] All = [Kind, Source, Model, Size, Frames, Truth, Mode, Rounds, Batch, Threshold, Budget, Keyframe,
            SceneCut, Refresh, Incremental, Threads, BFloat16, Sweep, Thresholds, Budgets, Refreshes, Plot, Json];

        public static readonly Option[] Render = [Size, Frames, Truth, Mode, Json];
        public static readonly Option[] ModelSpeed = [Model, Size, Rounds, Batch, Threshold, Threads, Json];
        public static readonly Option[] Reuse = [Source, Model, Size, Frames, Threshold, Budget, Keyframe, SceneCut, Refresh, Incremental,
            Threads, BFloat16, Sweep, Thresholds, Budgets, Refreshes, Plot, Json];

        /// <summary>Refuses an option given on the command line that <paramref name="kind"/> does not read (it would be silently ignored).</summary>
        public static void EnsureOnly(ParseResult args, string kind, Option[] used)
        {
            if (All.Except(used).FirstOrDefault(o => o != Kind && args.GetResult(o) is { Implicit: false }) is { } stray)
            {
                throw new CliException($"{stray.Name} does not apply to --kind {kind}");
            }
        }
    }

    /// <summary>The bench command with its options; its body is <see cref="Run"/>.</summary>
    internal static Command Create() => CliOptions.Command("bench", "benchmarks: --kind render | model | reuse", Run, Options.All);
}
