using System.Text.Json;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Benchmarks;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl bench: measured figures for the docs and issue notes (never timed unit tests).</summary>
public static class BenchCommand
{
    public const string Help = """
        usage: streammtl bench --kind render|model [options]

          render: synthetic camera rendering speed
            --size WxH      [320x240]   --frames N [600]   --truth true|false [true]   --mode static|moving
          model: forward ms/frame of base only, all tasks dense, all tasks with activation sharing
            --model F       [shipped]   --size WxH [320x240]   --rounds N [20]   --batch N [1]
            --threshold X   sharing threshold for the shared row [0.3]
          --json OUT        write the results as JSON
        """;

    public static int Run(CliArgs args)
    {
        string kind = args.String("kind", "model");
        return kind switch
        {
            "render" => Render(args),
            "model" => Model(args),
            _ => throw new CliException($"unknown bench kind '{kind}' (render, model)"),
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
        var (w, h) = Sizes.Parse(args.String("size", "320x240"));
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
            ("base task only", new ForwardOptions(base1)),
            ("all tasks, sharing off (threshold 0)", new ForwardOptions(TaskSet.All)),
            ($"all tasks, sharing threshold {threshold}", new ForwardOptions(TaskSet.All, threshold)),
        ]);
        Console.WriteLine($"model {path}, {w}x{h}, batch {batch}, {rounds} interleaved rounds, {Environment.ProcessorCount} threads");
        foreach (var row in rows)
        {
            Console.WriteLine($"  {row.Name,-40} median {row.MedianMs,8:F1} ms/frame  p90 {row.P90Ms,8:F1}  {row.Gflops,7:F3} GFLOP/frame  {row.MedianMs / rows[0].MedianMs,5:F2}x base");
        }
        WriteJson(json, rows);
        return 0;
    }

    private static void WriteJson<T>(string? path, T value)
    {
        if (path != null)
        {
            File.WriteAllText(path, JsonSerializer.Serialize(value, new JsonSerializerOptions { WriteIndented = true }));
            Console.WriteLine($"written to {path}");
        }
    }
}
