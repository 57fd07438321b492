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
            "same process (FLOPs, ms/frame, fidelity); streams: N streams of --source through the real service (a child " +
            "streammtl serve), per-stream fps, drops, keyframes, latency, CPU [default: reuse with --source, else model]");
        public static readonly Option<string?> Source = OptionalText("--source", "URI", "reuse: the frames, e.g. " +
            "../shared/videos/vtest.avi#mode=batch or synthetic://static?seed=3&w=320&h=240&realtime=0; required");
        public static readonly Option<string?> Model = OptionalText("--model", "F", "model, reuse: model file; reuse also takes random " +
            "(untrained weights, for development) [default: the shipped model]");
        public static readonly Option<string> Size = Text("--size", "WxH", "frame size", "320x240");
        public static readonly Option<int?> Frames = OptionalInt("--frames", "render, reuse: frames [default: render 600, reuse 300]", min: 1);
        public static readonly Option<bool> Truth = Flag("--truth", "render: render the ground truth too", fallback: true);
        public static readonly Option<string> Mode = Text("--mode", "M", "render: static | moving camera", "static");
        public static readonly Option<int> InFlight = Int("--in-flight", "render: frames rendering at once, in order, each on its share " +
            "of the cores (what an unpaced synthetic source does); 1: one frame at a time on all cores", 2, 1, 64, "N");
        public static readonly Option<int> Rounds = Int("--rounds", "model: interleaved rounds", 20, min: 1);
        public static readonly Option<int> Batch = Int("--batch", "model: frames per forward pass", 1, 1, 64);
        public static readonly Option<double?> Threshold = OptionalDouble("--threshold", "model: sharing threshold for the shared row; reuse: " +
            $"token reuse threshold [default: model 0.3, reuse {Defaults.Threshold}]", 0, 100);
        public static readonly Option<double?> Budget = OptionalDouble("--budget", $"reuse: reuse budget [default: {Defaults.Budget}]", 0, 1);
        public static readonly Option<int> Keyframe = Int("--keyframe", "reuse: keyframe interval", Defaults.KeyframeInterval, min: 0, helpName: "K");
        public static readonly Option<double?> SceneCut = OptionalDouble("--scene-cut", $"reuse: scene-cut limit [default: {Defaults.SceneCutLimit}]", 0, 1);
        public static readonly Option<double?> Refresh = OptionalDouble("--refresh", $"reuse: attention refresh [default: {Defaults.AttentionRefresh}]", 0, 1);
        public static readonly Option<bool> Incremental = Flag("--incremental", "reuse: incremental attention", fallback: Defaults.IncrementalAttention);
        public static readonly Option<bool> Rolling = Flag("--rolling", "reuse: each setting also with rolling refresh (a " +
            "stripe of 1/K of the tokens per frame instead of a keyframe every K frames)");
        public static readonly Option<bool> EveryLayer = Flag("--every-layer", "reuse: each setting also with a gate scored in front of " +
            "every stage (Reuse:GateEveryLayer) instead of the first gate's rows run through every block");
        public static readonly Option<bool> Levels = Flag("--levels", "reuse: each setting also at the reduced, minimal, lean and coarse compute " +
            "levels (reduced, minimal: sub-tasks every 2nd / 8th frame, their last output repeated in between; lean: every task at 4x the " +
            "threshold, refresh over 2K; coarse: minimal and lean)");
        public static readonly Option<int?> Threads = OptionalInt("--threads", "model, reuse, streams: intra-op threads [default: all cores]", 1, 256);
        public static readonly Option<bool> BFloat16 = Flag("--bf16", "streams: bfloat16 matrix products; reuse: each setting also with bfloat16 matrix products " +
            "(Model:Precision=bfloat16), against the same float32 dense");
        public static readonly Option<bool> LibtorchProducts = Flag("--libtorch-products", "reuse: each setting also with every matrix product " +
            "through libtorch (Model:PackedProducts=false) instead of few-row products on packed weights");
        public static readonly Option<bool> Sweep = Flag("--sweep", "reuse: cross product of --thresholds x --budgets x --refreshes");
        public static readonly Option<double[]?> Thresholds = Numbers("--thresholds", "reuse --sweep: thresholds [default: 0.05,0.1,0.15,0.2,0.3]");
        public static readonly Option<double[]?> Budgets = Numbers("--budgets", "reuse --sweep: budgets [default: --budget]");
        public static readonly Option<double[]?> ComputeBudgets = Numbers("--compute-budgets", "reuse: each setting at each compute budget " +
            "(the model's policy skips blocks below 1; needs a model with a policy), side by side, e.g. 1,0.8,0.6");
        public static readonly Option<bool> FullKeyframes = Flag("--full-keyframes", "reuse: each setting below compute budget 1 also " +
            "with keyframes run in full (Reuse:FullKeyframes) instead of following the policy");
        public static readonly Option<double[]?> Refreshes = Numbers("--refreshes", "reuse --sweep: attention refreshes [default: --refresh]");
        public static readonly Option<string?> Plot = OptionalText("--plot", "PNG", "reuse: plot FLOPs saved vs segmentation agreement");
        public static readonly Option<string?> Json = OptionalText("--json", "OUT", "write the results as JSON");
        public static readonly Option<int> Streams = Int("--streams", "streams: how many streams of --source (with --find-max: the most to try)", 8, 1, 64);
        public static readonly Option<bool> FindMax = Flag("--find-max", "streams: find the largest stream count whose every stream keeps " +
            ">= 99% of its source's frames (doubling, then bisecting; a fresh service per probe)");
        public static readonly Option<int> Seconds = Int("--seconds", "streams: measured window per run", 30, 5, 3600, "S");
        public static readonly Option<int> Warmup = Int("--warmup", "streams: seconds before the window (model load excluded)", 10, 0, 600, "S");
        public static readonly Option<bool> Dense = Flag("--dense", "streams: every frame computed in full (Reuse:Dense) instead of temporal reuse");
        public static readonly Option<bool> SkipUnchanged = Flag("--skip-unchanged", "streams: the subscribers ask for unchanged outputs without data " +
            "(Encoding.skip_unchanged: a held task's output is sent once)");
        public static readonly Option<bool> StoredPngs = Flag("--stored-pngs", "streams: the subscribers ask for stored PNGs " +
            "(Encoding.png_compression NONE: ~2.5x the bytes, a tenth of the encoding CPU)");
        public static readonly Option<string> Neighbour = Text("--neighbour", "M", "streams: off | on (a thread of this process spinning " +
            "on one core during the run) | both (quiet, then with the neighbour, side by side)", "off");
        public static readonly Option<double?> SourceFps = OptionalDouble("--source-fps", "streams: the source's own frame rate, what every frame means " +
            "[default: a synthetic camera's fps, a local file's container fps, else what the service ingested]", 0.1, 1000);
        public static readonly Option<bool> ScoreTruth = Flag("--score-truth", "streams: score what each subscriber received against the " +
            "truth of a synthetic:// source, after the run: each result against its own frame, and every source frame against the result " +
            "on screen (a dropped frame leaves the last one)");
        public static readonly Option<string?> ServerDll = OptionalText("--server-dll", "F", "streams: the streammtl.dll to serve with, " +
            "e.g. another build's, for before/after figures [default: this one]");
        public static readonly Option<string[]> Set = new("--set")
        {
            HelpName = "KEY=VALUE",
            Description = "streams: a service setting for the run, e.g. StreamMtl:Pipeline:BatchSize=8; StreamMtl:Streams:*:KEY sets KEY of " +
                "every stream, e.g. StreamMtl:Streams:*:Reuse:RollingRefresh=true (repeatable)",
            Arity = System.CommandLine.ArgumentArity.ZeroOrMore,
            DefaultValueFactory = _ => [],
        };

        public static readonly Option[] All = [Kind, Source, Model, Size, Frames, Truth, Mode, Rounds, Batch, Threshold, Budget, Keyframe,
            SceneCut, Refresh, Incremental, Threads, BFloat16, LibtorchProducts, Sweep, Thresholds, Budgets, Refreshes, Plot, Json, Rolling, EveryLayer, Levels, ComputeBudgets, FullKeyframes, Streams, FindMax, Seconds,
            Warmup, Dense, SkipUnchanged, StoredPngs, Neighbour, SourceFps, Set, ServerDll, InFlight, ScoreTruth];

        public static readonly Option[] Render = [Size, Frames, Truth, Mode, InFlight, Json];
        public static readonly Option[] ModelSpeed = [Model, Size, Rounds, Batch, Threshold, Threads, Json];
        public static readonly Option[] Reuse = [Source, Model, Size, Frames, Threshold, Budget, Keyframe, SceneCut, Refresh, Incremental, Rolling,
            EveryLayer, Levels, ComputeBudgets, FullKeyframes, Threads, BFloat16, LibtorchProducts, Sweep, Thresholds, Budgets, Refreshes, Plot, Json];
        public static readonly Option[] StreamsRun = [Source, Model, Size, Threads, BFloat16, Json, Streams, FindMax, Seconds, Warmup, Dense,
            SkipUnchanged, StoredPngs, Neighbour, SourceFps, Set, ServerDll, ScoreTruth];

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
    internal static Command Create() => CliOptions.Command("bench", "benchmarks: --kind render | model | reuse | streams", Run, Options.All);
}
