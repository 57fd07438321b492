using System.Diagnostics;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Flops;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl serve: runs the model on a source and reports every frame.</summary>
public static class ServeCommand
{
    public const string DefaultSource = "synthetic://static?seed=7&w=320&h=240&fps=15";

    public const string Help = $"""
        usage: streammtl serve [options]

          --source URI    frame source                       [{DefaultSource}]
          --model F       model file                         [the shipped model]
          --size WxH      model input size                   [320x240]
          --frames N      stop after N frames (0 = run until Ctrl+C)   [0]
          --threshold X   sub-task activation-sharing threshold        [0]
        """;

    public static async Task<int> RunAsync(CliArgs args)
    {
        string uri = args.String("source", DefaultSource);
        string modelPath = ModelLocator.Resolve(args.String("model"));
        var (width, height) = Sizes.Parse(args.String("size", "320x240"));
        int limit = args.Int("frames", 0, 0);
        float threshold = (float)args.Double("threshold", 0, 0, 100);
        args.EnsureAllUsed();

        set_num_threads(Environment.ProcessorCount);
        var (model, _) = ModelFile.Load(modelPath);
        using var _m = model;
        Console.WriteLine($"model {modelPath}: {model.Config.Blocks} blocks, D={model.Config.Dim}, split {model.Config.SplitLayer}, tasks {string.Join(", ", model.Config.AllTasks.Select(t => t.Name()))}");
        await using var source = new SyntheticSource(SyntheticSpec.Parse(uri));
        Console.WriteLine($"source {source.DisplayUri}");
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        var options = new ForwardOptions(TaskSet.All, threshold);
        int processed = 0;
        try
        {
            await foreach (var frame in source.ReadAsync(cts.Token))
            {
                using (frame)
                {
                    var clock = Stopwatch.StartNew();
                    var flops = new FlopCounter();
                    using (var scope = NewDisposeScope())
                    using (no_grad())
                    {
                        var input = FrameInput.ToTensor(frame, width, height, model.Config);
                        using var result = model.Forward(input, options, flops);
                        foreach (var task in result.Tasks)
                        {
                            result.Final(task).sum().item<float>();
                        }
                    }
                    Console.WriteLine($"frame {frame.Index,6} t={frame.Timestamp.TotalSeconds,7:F2}s  {clock.Elapsed.TotalMilliseconds,6:F1} ms  " +
                        $"{flops.ExecutedTotal / 1e9:F2} GFLOP executed of {flops.DenseTotal / 1e9:F2} dense");
                }
                if (limit > 0 && ++processed >= limit)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }
        return 0;
    }
}
