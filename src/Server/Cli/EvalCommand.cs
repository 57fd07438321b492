using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl eval: metrics, FLOPs and Delta-m on held-out synthetic sequences.</summary>
public static class EvalCommand
{
    public const string Help = """
        usage: streammtl eval [--model F] [options]

          --model F          model file                                  [the shipped model]
          --baselines LIST   single-task baselines, e.g. depth=models/baseline-depth.safetensors,normals=...
                             (default: baseline-*.safetensors beside the model, if present)
          --json OUT         write the full report as JSON
          --sequences N      held-out sequences (seeds 1..N, never used in training)   [8]
          --first-seed S     start the sequences at seed S instead of 1: a validation set (e.g. 101) for
                             choosing among models without looking at the evaluation set; S+N-1 < 10000 [1]
          --frames N         frames per sequence                                         [12]
          --stride N         frames between evaluated frames                             [20]
          --size WxH         input size                                                  [320x240]
          --threshold X      sub-task activation-sharing threshold (0 = exact)           [0]
          --split L          override the split layer
          --bf16             run the shared model's matrix products in bfloat16 (baselines stay float32)
          --record           store the headline figures in the model file's metadata ("metrics", shown by
                             `streammtl info`); only for the file as stored (no --split, --threshold, --bf16)
          --dump DIR         write one PNG per frame showing where the shared model errs (input,
                             segmentation errors, depth relative error, true and predicted normals,
                             normals angle error)
        """;

    public static int Run(CliArgs args)
    {
        string model = ModelLocator.Resolve(args.String("model"));
        var (width, height) = Sizes.ParseModelInput(args.String("size", "320x240"));
        var options = new EvalOptions
        {
            ModelPath = model,
            Baselines = ParseBaselines(args.String("baselines"), model),
            Sequences = args.Int("sequences", SyntheticDataset.EvaluationSequences, 1, 1000),
            FirstSeed = args.Int("first-seed", 1, 1, SyntheticDataset.FirstTrainingSeed - 1),
            FramesPerSequence = args.Int("frames", 12, 1, 10000),
            FrameStride = args.Int("stride", 20, 1, 100000),
            Width = width,
            Height = height,
            ShareThreshold = (float)args.Double("threshold", 0, 0, 100),
            SplitLayer = args.OptionalInt("split", 0, 64),
            BFloat16 = args.Flag("bf16"),
        };
        string? json = args.String("json");
        string? dump = args.String("dump");
        bool record = args.Flag("record");
        args.EnsureAllUsed();
        if (record && (options.SplitLayer != null || options.ShareThreshold != 0 || options.BFloat16 || options.FirstSeed != 1))
        {
            throw new CliException("--record stores figures of the model as stored, on the evaluation set; drop --split, --threshold, --bf16 and --first-seed");
        }
        EnsureBelowTrainingSeeds(options);
        if (dump != null)
        {
            Directory.CreateDirectory(dump);
            options = options with { Inspect = (i, frame, predicted) => WriteErrorMap(Path.Combine(dump, $"frame-{i:D3}.png"), frame, predicted) };
        }
        var report = Evaluator.Run(options, Console.WriteLine);
        Console.WriteLine($"GFLOPs/frame executed: {string.Join(", ", report.ExecutedGflops.Select(kv => $"{kv.Key} {kv.Value:F3}"))}; " +
            $"base alone {report.BaseOnlyGflops:F3}; all tasks / base = {report.AllTasksOverBase:F2}x (separate models: {report.SeparateModelsOverBase:F0}x)");
        Console.WriteLine($"parameter bytes: {string.Join(", ", report.ParameterBytes.Select(kv => $"{kv.Key} {kv.Value / 1024.0:F0} KiB"))}");
        if (report.DeltaM is double dm)
        {
            Console.WriteLine($"Delta-m vs single-task baselines: {dm:+0.00;-0.00}%");
        }
        if (json != null)
        {
            File.WriteAllText(json, report.ToJson());
            Console.WriteLine($"report written to {json}");
        }
        if (record)
        {
            var figures = report.HeadlineFigures(options);
            ModelFile.WriteMetrics(model, figures);
            Console.WriteLine($"{figures.Count} figures recorded in {model}'s metadata");
        }
        return 0;
    }

    /// <summary>Refuses held-out sequences (<c>--first-seed</c>, <c>--sequences</c>) that would reach the training seeds.</summary>
    internal static void EnsureBelowTrainingSeeds(EvalOptions options)
    {
        if ((long)options.FirstSeed + options.Sequences > SyntheticDataset.FirstTrainingSeed)
        {
            throw new CliException($"--first-seed {options.FirstSeed} --sequences {options.Sequences}: the seeds would reach {SyntheticDataset.FirstTrainingSeed}, where training data starts");
        }
    }

    private static void WriteErrorMap(string path, TruthFrame frame, Predictions predicted)
    {
        using var image = ErrorMaps.Compose(frame, predicted);
        if (!OpenCvSharp.Cv2.ImWrite(path, image))
        {
            throw new CliException($"--dump: could not write {path}");
        }
    }

    private static Dictionary<string, string> ParseBaselines(string? text, string model)
    {
        var result = new Dictionary<string, string>();
        if (text == null)
        {
            string dir = Path.GetDirectoryName(Path.GetFullPath(model))!;
            foreach (var task in new[] { "depth", "normals" })
            {
                string candidate = Path.Combine(dir, $"baseline-{task}.safetensors");
                if (File.Exists(candidate))
                {
                    result[task] = candidate;
                }
            }
            return result;
        }
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2 || !File.Exists(kv[1]))
            {
                throw new CliException($"--baselines entry '{part}' must be TASK=EXISTING_FILE");
            }
            result[kv[0]] = kv[1];
        }
        return result;
    }
}
