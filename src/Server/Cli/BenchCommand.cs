using System.Globalization;
using System.Text.Json;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Training.Benchmarks;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl bench: measured figures for the docs and issue notes (never timed unit tests).</summary>
public static class BenchCommand
{
    public const string Help = """
        usage: streammtl bench --kind render|model|reuse [options]   (--source alone implies --kind reuse)

          render: synthetic camera rendering speed
            --size WxH      [320x240]   --frames N [600]   --truth true|false [true]   --mode static|moving
          model: forward ms/frame of base only, all tasks dense, all tasks with activation sharing
            --model F       [shipped]   --size WxH [320x240]   --rounds N [20]   --batch N [1]
            --threshold X   sharing threshold for the shared row [0.3]
          reuse: dense vs temporal token reuse on the same frames, same process (FLOPs, ms/frame, fidelity)
            --source URI    e.g. ../shared/videos/vtest.avi#mode=batch or synthetic://static?seed=3&w=320&h=240&realtime=0
            --model F       [shipped]  (random = untrained weights, for development)
            --size WxH      [320x240]  --frames N [300]
            --threshold X   --budget X  --keyframe K  --scene-cut X  --refresh X   --incremental true|false   [ReuseSettings defaults]
            --threads N     [cores]  intra-op threads
            --bf16          each setting also with bfloat16 matrix products (Model:Precision=bfloat16), against
                            the same float32 dense
            --sweep         cross product of --thresholds LIST x --budgets LIST x --refreshes LIST
                            [0.05,0.1,0.15,0.2,0.3 x budget x refresh]   --plot PNG  FLOPs saved vs seg agreement
          --json OUT        write the results as JSON
        """;

    public static int Run(CliArgs args)
    {
        string kind = args.String("kind", args.String("source") != null ? "reuse" : "model");
        return kind switch
        {
            "render" => Render(args),
            "model" => Model(args),
            "reuse" => Reuse(args),
            _ => throw new CliException($"unknown bench kind '{kind}' (render, model, reuse)"),
        };
    }

    private static int Render(CliArgs args)
    {
        var (w, h) = Sizes.Parse(args.String("size", "320x240"));
        int frames = args.Int("frames", 600, 1);
        bool truth = !args.String("truth", "true").Equals("false", StringComparison.OrdinalIgnoreCase);
        var mode = args.String("mode", "static") == "moving" ? SyntheticMode.Moving : SyntheticMode.Static;
        string? json = args.String("json");
        args.EnsureAllUsed();
        var spec = new SyntheticSpec(Mode: mode, Seed: 7, Width: w, Height: h, Truth: truth, Realtime: false);
        var result = RenderBenchmark.Run(spec, frames, truth);
        Console.WriteLine($"render {w}x{h} {mode} truth={truth}: {result}");
        WriteJson(json, result);
        return 0;
    }

    private static int Model(CliArgs args)
    {
        string path = ModelLocator.Resolve(args.String("model"));
        var (w, h) = Sizes.ParseModelInput(args.String("size", "320x240"));
        int rounds = args.Int("rounds", 20, 1);
        int batch = args.Int("batch", 1, 1, 64);
        float threshold = (float)args.Double("threshold", 0.3, 0, 100);
        string? json = args.String("json");
        args.EnsureAllUsed();
        TorchSharp.torch.set_num_threads(Environment.ProcessorCount);
        var (model, _) = ModelFile.Load(path);
        using var _m = model;
        var base1 = model.Config.BaseTask.ToSet();
        var rows = ModelBenchmark.Run(model, w, h, batch, rounds,
        [
            ("base task only", new ForwardOptions(base1), false),
            ("all tasks, sharing off (threshold 0)", new ForwardOptions(TaskSet.All), false),
            ($"all tasks, sharing threshold {threshold}", new ForwardOptions(TaskSet.All, threshold), false),
            ("base task only, bfloat16 products", new ForwardOptions(base1), true),
            ("all tasks, sharing off, bfloat16 products", new ForwardOptions(TaskSet.All), true),
        ]);
        Console.WriteLine($"model {path}, {w}x{h}, batch {batch}, {rounds} interleaved rounds, {Environment.ProcessorCount} threads");
        foreach (var row in rows)
        {
            Console.WriteLine($"  {row.Name,-40} median {row.MedianMs,8:F1} ms/frame  p90 {row.P90Ms,8:F1}  {row.Gflops,7:F3} GFLOP/frame  {row.MedianMs / rows[0].MedianMs,5:F2}x base");
        }
        WriteJson(json, rows);
        return 0;
    }

    private static int Reuse(CliArgs args)
    {
        string source = args.String("source") ?? throw new CliException("--source URI is required for --kind reuse");
        string? modelArg = args.String("model");
        var (w, h) = Sizes.ParseModelInput(args.String("size", "320x240"));
        int frames = args.Int("frames", 300, 2);
        var d = ReuseSettings.Default;
        var single = d with
        {
            Threshold = (float)args.Double("threshold", d.Threshold, 0, 100),
            Budget = (float)args.Double("budget", d.Budget, 0, 1),
            KeyframeInterval = args.Int("keyframe", d.KeyframeInterval, 0),
            SceneCutLimit = (float)args.Double("scene-cut", d.SceneCutLimit, 0, 1),
            AttentionRefresh = (float)args.Double("refresh", d.AttentionRefresh, 0, 1),
            IncrementalAttention = args.String("incremental", d.IncrementalAttention ? "true" : "false") == "true",
        };
        int threads = args.Int("threads", Environment.ProcessorCount, 1, 256);
        bool bf16 = args.Flag("bf16");
        bool sweep = args.Flag("sweep");
        var thresholds = Numbers(args.String("thresholds"), [0.05, 0.1, 0.15, 0.2, 0.3]);
        var budgets = Numbers(args.String("budgets"), [single.Budget]);
        var refreshes = Numbers(args.String("refreshes"), [single.AttentionRefresh]);
        string? json = args.String("json");
        string? plot = args.String("plot");
        args.EnsureAllUsed();

        var settings = sweep
            ? (from t in thresholds from b in budgets from r in refreshes
               select single with { Threshold = (float)t, Budget = (float)b, AttentionRefresh = (float)r }).ToList()
            : [single];
        TorchSharp.torch.set_num_threads(threads);
        var model = modelArg == "random" ? new MultiTaskVit(new ModelConfig()) : ModelFile.Load(ModelLocator.Resolve(modelArg)).Model;
        using var _m = model;
        model.eval();
        var loaded = BenchFrames.LoadAsync(source, frames, w, h).GetAwaiter().GetResult();
        Console.WriteLine($"reuse bench: {source}, {loaded.Count} frames at {w}x{h}, model {modelArg ?? "shipped"}, {threads} threads; dense and {settings.Count} reuse setting(s) interleaved per frame"
            + (bf16 ? "; each setting also with bfloat16 products (\"bf16\"), against the same float32 dense" : ""));
        var rows = ReuseBenchmark.Run(model, loaded, w, h, settings, log: Console.WriteLine, withBFloat16: bf16);
        Console.WriteLine("setting                          flops x  enc x   dense ms  reuse ms  speed x  recomp  keyf  seg agr  depth rel  normals deg");
        Console.WriteLine($"dense vs dense on the previous frame (flicker + motion): segmentation agreement {rows[0].DenseFrameToFrameAgreement:P2}, " +
            $"depth rel. diff {rows[0].DenseFrameToFrameDepth:P2}, normals {rows[0].DenseFrameToFrameNormalsDeg:F2} deg");
        foreach (var r in rows)
        {
            Console.WriteLine($"{r.Setting,-32} {r.FlopsRatio,6:F2} {r.EncoderFlopsRatio,6:F2} {r.DenseMsPerFrame,9:F1} {r.ReuseMsPerFrame,9:F1} {r.SpeedUp,7:F2} {r.RecomputedFraction,7:P1} {r.Keyframes,5} {r.SegmentationAgreement,8:P2} {r.DepthMeanRelativeDifference,10:P2} {r.NormalsMeanAngleDeg,11:F2}");
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

    private static double[] Numbers(string? text, double[] fallback) => text == null
        ? fallback
        : [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(v => double.Parse(v, CultureInfo.InvariantCulture))];

    private static void WriteJson<T>(string? path, T value)
    {
        if (path != null)
        {
            File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"written to {path}");
        }
    }
}
