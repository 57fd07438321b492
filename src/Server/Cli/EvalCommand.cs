using StreamMtl.Server.Hosting;
using System.CommandLine;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;

using static StreamMtl.Server.Cli.CliOptions;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl eval: metrics, FLOPs and Delta-m on held-out synthetic sequences.</summary>
public static partial class EvalCommand
{
    public static int Run(ParseResult args)
    {
        string model = ModelArgument.Resolve(args.GetValue(Options.Model));
        var (width, height) = Sizes.ParseModelInput(args.GetRequiredValue(Options.Size));
        var options = new EvalOptions
        {
            ModelPath = model,
            AdapterPath = args.GetValue(Options.Adapter),
            Baselines = ParseBaselines(args.GetValue(Options.Baselines), model),
            Sequences = args.GetValue(Options.Sequences),
            FirstSeed = args.GetValue(Options.FirstSeed),
            FramesPerSequence = args.GetValue(Options.Frames),
            FrameStride = args.GetValue(Options.Stride),
            Width = width,
            Height = height,
            ShareThreshold = (float)args.GetValue(Options.Threshold),
            SplitLayer = args.GetValue(Options.Split),
            BFloat16 = args.GetValue(Options.BFloat16),
            Budget = args.GetValue(Options.Budget),
            Static = args.GetValue(Options.Static),
            Rule = BudgetRuleOf(args.GetValue(Options.BudgetRule)!),
            Calibrate = args.GetValue(Options.Calibrate),
            Resolution = args.GetValue(Options.Resolution),
            Data = DataArgument.Open(args.GetValue(Options.Data)),
            DepthReference = DepthReferenceArgument(args.GetValue(Options.DepthRef)),
        };
        EnsureBudget(options);
        string? json = args.GetValue(Options.Json);
        string? dump = args.GetValue(Options.Dump);
        bool record = args.GetValue(Options.Record);
        if (record && (options.SplitLayer != null || options.ShareThreshold != 0 || options.BFloat16 || options.FirstSeed != 1 || options.Budget != null
            || options.Resolution != null))
        {
            throw new CliException("--record stores figures of the model as stored, on the evaluation set; drop --split, --threshold, --bf16, --first-seed, --budget and --resolution");
        }
        if (record && options.AdapterPath != null)
        {
            throw new CliException("--record stores figures in the model file's metadata; with --adapter they would describe another model: drop --record");
        }
        if (record && options.Data != null)
        {
            throw new CliException("--record stores the model card's figures, measured on the synthetic evaluation set; drop --data");
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
        if (report.Budget is { } b)
        {
            Console.WriteLine($"budget {b.Target:F2} ({b.Rule}{(b.LogitOffset is float offset ? $", logit offset {offset:+0.000;-0.000}" : "")}): executed FLOP fraction mean {b.MeanFraction:F3} " +
                $"(p10 {b.P10:F3}, p50 {b.P50:F3}, p90 {b.P90:F3}; {b.RelativeError:P1} from the target), {b.DistinctPlans} distinct block sets, " +
                $"{b.FramesOverTarget} frame(s) over the target; min {b.MinFraction:F3}, max {b.MaxFraction:F3}");
        }
        if (report.Resolution is { } r)
        {
            Console.WriteLine($"resolution {r.Target:F2}: frames downscaled to {r.InputWidth}x{r.InputHeight} (grid {r.Rows}x{r.Cols}); " +
                $"executed FLOP fraction {r.ExecutedFraction:F3} of the {report.Width}x{report.Height} dense pass");
        }
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

    private static DepthReference? DepthReferenceArgument(string? text)
    {
        if (text == null)
        {
            return null;
        }
        var (reference, problem) = DepthReference.Parse(text);
        return reference ?? throw new CliException("--depth-ref: " + problem);
    }

    /// <summary>Refuses a budget outside (0, 1], and --static or --budget-rule average without one.</summary>
    internal static void EnsureBudget(EvalOptions options)
    {
        if (options.Budget is double budget && StreamMtl.Pipeline.Model.Policy.Budget.Problem(budget) is string problem)
        {
            throw new CliException("--budget: " + problem);
        }
        if (options.Static && options.Budget == null)
        {
            throw new CliException("--static is the non-adaptive baseline at a budget: add --budget X");
        }
        if (options.Rule == StreamMtl.Pipeline.Model.Policy.BudgetRule.Average && (options.Budget == null || options.Static))
        {
            throw new CliException("--budget-rule average is how the policy decides under --budget X: add --budget, and drop --static (one unit set for every frame)");
        }
        if (options.Resolution is double resolution)
        {
            if (StreamMtl.Pipeline.Model.Policy.Budget.Problem(resolution) != null)
            {
                throw new CliException($"--resolution must be a fraction of the dense FLOPs in (0, 1], got {resolution.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
            }
            if (options.Budget != null)
            {
                throw new CliException("--resolution runs the full model on smaller frames: drop --budget (and --static), which skip blocks at the frame's size");
            }
        }
        if (options.Calibrate && (options.Rule != StreamMtl.Pipeline.Model.Policy.BudgetRule.Average || options.Budget == null || options.Static))
        {
            throw new CliException("--calibrate shifts the threshold of --budget-rule average: add --budget X --budget-rule average, and drop --static");
        }
        if (options.Budget != null && (options.ShareThreshold != 0 || options.SplitLayer != null))
        {
            throw new CliException("--budget skips blocks at the model's own split with exact sharing: drop --threshold and --split");
        }
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
