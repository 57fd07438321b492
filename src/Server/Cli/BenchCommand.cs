using StreamMtl.Server.Hosting;
using System.CommandLine;
using System.Text.Json;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Training.Benchmarks;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl bench: measured figures for the docs and issue notes (never timed unit tests).</summary>
public static partial class BenchCommand
{
    public static int Run(ParseResult args)
    {
        string kind = args.GetValue(Options.Kind) ?? (args.GetValue(Options.Source) != null ? "reuse" : "model");
        return kind switch
        {
            "render" => Render(args),
            "model" => Model(args),
            "reuse" => Reuse(args),
            "streams" => StreamsAsync(args).GetAwaiter().GetResult(),
            _ => throw new CliException($"unknown bench kind '{kind}' (render, model, reuse, streams)"),
        };
    }

    private static int Render(ParseResult args)
    {
        var (w, h) = Sizes.Parse(args.GetRequiredValue(Options.Size));
        int frames = args.GetValue(Options.Frames) ?? 600;
        bool truth = args.GetValue(Options.Truth);
        var mode = args.GetRequiredValue(Options.Mode) == "moving" ? SyntheticMode.Moving : SyntheticMode.Static;
        int inFlight = args.GetValue(Options.InFlight);
        string? json = args.GetValue(Options.Json);
        Options.EnsureOnly(args, "render", Options.Render);
        var spec = new SyntheticSpec(Mode: mode, Seed: 7, Width: w, Height: h, Truth: truth, Realtime: false);
        var result = RenderBenchmark.Run(spec, frames, truth, inFlight);
        Console.WriteLine($"render {w}x{h} {mode} truth={truth}: {result}");
        WriteJson(json, result);
        return 0;
    }

    private static int Model(ParseResult args)
    {
        string path = ModelArgument.Resolve(args.GetValue(Options.Model));
        var (w, h) = Sizes.ParseModelInput(args.GetRequiredValue(Options.Size));
        int rounds = args.GetValue(Options.Rounds);
        int batch = args.GetValue(Options.Batch);
        float threshold = (float)(args.GetValue(Options.Threshold) ?? 0.3);
        int threads = args.GetValue(Options.Threads) ?? Environment.ProcessorCount;
        string? json = args.GetValue(Options.Json);
        Options.EnsureOnly(args, "model", Options.ModelSpeed);
        TorchSharp.torch.set_num_threads(threads);
        var (model, _) = ModelFile.Load(path);
        using var _m = model;
        var base1 = model.Config.BaseTask.ToSet();
        var result = ModelBenchmark.Run(model, w, h, batch, rounds,
        [
            ("base task only", new ForwardOptions(base1), false),
            ("all tasks, sharing off (threshold 0)", new ForwardOptions(TaskSet.All), false),
            ("all tasks, sharing off, unfused", new ForwardOptions(TaskSet.All, Fused: false), false),
            ($"all tasks, sharing threshold {threshold}", new ForwardOptions(TaskSet.All, threshold), false),
            ("base task only, bfloat16 products", new ForwardOptions(base1), true),
            ("all tasks, sharing off, bfloat16 products", new ForwardOptions(TaskSet.All), true),
        ]);
        var rows = result.Rows;
        Console.WriteLine($"model {path}, {w}x{h}, batch {batch}, {rounds} interleaved rounds, {threads} threads");
        Console.WriteLine($"  {ModelBenchmark.GemmSize}^3 float32 matmul (GEMM), same threads, interleaved: {result.GemmGflopsPerSecond:F1} GFLOP/s");
        foreach (var row in rows)
        {
            Console.WriteLine($"  {row.Name,-41} median {row.MedianMs,7:F1} ms/frame  p90 {row.P90Ms,7:F1}  {row.Gflops,6:F3} GFLOP/frame  " +
                $"{row.MedianMs / rows[0].MedianMs,5:F2}x base  {row.GflopsPerSecond,6:F1} GFLOP/s = {row.GemmShare,4:P0} of GEMM");
        }
        WriteJson(json, result);
        return 0;
    }

    private static int Reuse(ParseResult args)
    {
        string source = args.GetValue(Options.Source) ?? throw new CliException("--source URI is required for --kind reuse");
        string? modelArg = args.GetValue(Options.Model);
        var (w, h) = Sizes.ParseModelInput(args.GetRequiredValue(Options.Size));
        int frames = args.GetValue(Options.Frames) ?? 300;
        // The first frames warm up untimed: at least one must be timed, or the timings are undefined (and the JSON unwritable).
        int least = ReuseBenchmark.WarmupFrames + 1;
        if (frames < least)
        {
            throw new CliException($"--frames must be at least {least} for --kind reuse (the first {ReuseBenchmark.WarmupFrames} warm up untimed), got {frames}");
        }
        var d = ReuseSettings.Default;
        var single = d with
        {
            Threshold = Or(args.GetValue(Options.Threshold), d.Threshold),
            Budget = Or(args.GetValue(Options.Budget), d.Budget),
            KeyframeInterval = args.GetValue(Options.Keyframe),
            SceneCutLimit = Or(args.GetValue(Options.SceneCut), d.SceneCutLimit),
            AttentionRefresh = Or(args.GetValue(Options.Refresh), d.AttentionRefresh),
            IncrementalAttention = args.GetValue(Options.Incremental),
        };
        bool rolling = args.GetValue(Options.Rolling);
        int threads = args.GetValue(Options.Threads) ?? Environment.ProcessorCount;
        bool bf16 = args.GetValue(Options.BFloat16);
        bool libtorch = args.GetValue(Options.LibtorchProducts);
        bool sweep = args.GetValue(Options.Sweep);
        var thresholds = args.GetNumbers(Options.Thresholds) ?? [0.05, 0.1, 0.15, 0.2, 0.3];
        var budgets = args.GetNumbers(Options.Budgets) ?? [single.Budget];
        var refreshes = args.GetNumbers(Options.Refreshes) ?? [single.AttentionRefresh];
        string? json = args.GetValue(Options.Json);
        string? plot = args.GetValue(Options.Plot);
        Options.EnsureOnly(args, "reuse", Options.Reuse);

        var settings = sweep
            ? (from t in thresholds from b in budgets from r in refreshes
               select single with { Threshold = (float)t, Budget = (float)b, AttentionRefresh = (float)r }).ToList()
            : [single];
        if (rolling)
        {
            settings = [.. settings.SelectMany(s => new[] { s, s with { RollingRefresh = true } })];
        }
        if (args.GetValue(Options.EveryLayer))
        {
            settings = [.. settings.SelectMany(s => new[] { s, s with { GateEveryLayer = true } })];
        }
        if (args.GetValue(Options.Levels))
        {
            settings = [.. settings.SelectMany(s => ComputeLevels.All.Select(level => s with { Level = level }))];
        }
        if (args.GetNumbers(Options.ComputeBudgets) is { } computeBudgets)
        {
            if (computeBudgets.Select(Pipeline.Model.Policy.Budget.Problem).FirstOrDefault(p => p != null) is { } problem)
            {
                throw new CliException("--compute-budgets: compute " + problem);
            }
            settings = [.. settings.SelectMany(s => computeBudgets.Select(b => s with { ComputeBudget = b, ComputeBudgetFloor = Math.Min(b, s.ComputeBudgetFloor) }))];
        }
        if (args.GetValue(Options.FullKeyframes))
        {
            settings = [.. settings.SelectMany(s => s.ComputeBudget < 1 ? new[] { s, s with { FullKeyframes = true } } : [s])];
        }
        TorchSharp.torch.set_num_threads(threads);
        var model = modelArg == "random" ? new MultiTaskVit(new ModelConfig()) : ModelFile.Load(ModelArgument.Resolve(modelArg)).Model;
        using var _m = model;
        model.eval();
        if (model.Policy is null && settings.Any(s => s.ComputeBudget < 1))
        {
            throw new CliException("--compute-budgets below 1 need a model with a compute policy (e.g. models/streammtl-adaptive.safetensors); this one has none");
        }
        var loaded = BenchFrames.LoadAsync(source, frames, w, h).GetAwaiter().GetResult();
        if (loaded.Count < least)
        {
            throw new CliException($"{source} gave {loaded.Count} frame(s): --kind reuse needs at least {least} (the first {ReuseBenchmark.WarmupFrames} warm up untimed)");
        }
        Console.WriteLine($"reuse bench: {source}, {loaded.Count} frames at {w}x{h}, model {modelArg ?? "shipped"}, {threads} threads; dense and {settings.Count} reuse setting(s) interleaved per frame"
            + (bf16 ? "; each setting also with bfloat16 products (\"bf16\"), against the same float32 dense" : "")
            + (libtorch ? "; each setting also with every product through libtorch (\"libtorch\")" : ""));
        var rows = ReuseBenchmark.Run(model, loaded, w, h, settings, log: Console.WriteLine, withBFloat16: bf16, withLibtorchProducts: libtorch);
        Console.WriteLine("setting                          flops x  enc x   dense ms  reuse ms  p99/p50  speed x  recomp  keyf  seg agr  depth rel  normals deg");
        Console.WriteLine($"dense vs dense on the previous frame (flicker + motion): segmentation agreement {rows[0].DenseFrameToFrameAgreement:P2}, " +
            $"depth rel. diff {rows[0].DenseFrameToFrameDepth:P2}, normals {rows[0].DenseFrameToFrameNormalsDeg:F2} deg");
        foreach (var r in rows)
        {
            Console.WriteLine($"{r.Setting,-32} {r.FlopsRatio,6:F2} {r.EncoderFlopsRatio,6:F2} {r.DenseMsPerFrame,9:F1} {r.ReuseMsPerFrame,9:F1} {r.ReuseMs.Spread,8:F2} {r.SpeedUp,7:F2} {r.RecomputedFraction,7:P1} {r.Keyframes,5} {r.SegmentationAgreement,8:P2} {r.DepthMeanRelativeDifference,10:P2} {r.NormalsMeanAngleDeg,11:F2}");
            if (r.DenseTruth is { } dt && r.ReuseTruth is { } rt)
            {
                Console.WriteLine($"{"",-32} truth dense: mIoU {dt.SegmentationMIoU:F4} depth AbsRel {dt.DepthAbsRel:F4} normals {dt.NormalsMeanDeg:F2} deg | reuse: mIoU {rt.SegmentationMIoU:F4} AbsRel {rt.DepthAbsRel:F4} normals {rt.NormalsMeanDeg:F2} deg");
            }
        }
        WriteJson(json, rows);
        if (plot != null)
        {
            ReuseSweepPlot.Save(rows, plot);
            Console.WriteLine($"plot written to {plot}");
        }
        return 0;
    }

    /// <summary>A reuse setting given on the command line, else its default.</summary>
    private static float Or(double? value, float fallback) => value is double v ? (float)v : fallback;

    private static void WriteJson<T>(string? path, T value)
    {
        if (path != null)
        {
            File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"written to {path}");
        }
    }
}
