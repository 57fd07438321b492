using StreamMtl.Server.Hosting;
using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl train: one stage, or the whole plan that produces the shipped model and its baselines.</summary>
public static partial class TrainCommand
{
    private static (int Count, int After) ParseGrow(string text)
    {
        var parts = text.Split('@');
        if (parts.Length == 2
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int count) && count is >= 1 and <= 64
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int after) && after <= 1024)
        {
            return (count, after);
        }
        throw new CliException($"--grow: '{text}' is not N@K (N new blocks, 1..64, after block K of the loaded model), e.g. 4@6");
    }

    private static int[] ParseStem(string text)
    {
        if (text == "linear")
        {
            return [];
        }
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var widths = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out widths[i]) || widths[i] < 1 || widths[i] > 4096)
            {
                throw new CliException($"--stem: '{text}' is not 'linear' or a comma-separated list of widths in 1..4096, e.g. 48,96");
            }
        }
        return widths;
    }

    /// <summary>A comma-separated task list, each task once; <paramref name="unknown"/> words the error for a name that is not a task.</summary>
    private static VisionTask[] ParseTasks(string text, Func<string, string> unknown) =>
        [.. text.Split(',', StringSplitOptions.TrimEntries)
            .Select(name => VisionTasks.TryParse(name, out var t) ? t : throw new CliException(unknown(name)))
            .Distinct()];

    public static int Run(ParseResult args)
    {
        string stage = args.GetRequiredValue(Options.Stage);
        string output = args.GetRequiredValue(Options.Out);
        int steps = args.GetValue(Options.Steps);
        int subSteps = args.GetValue(Options.SubSteps) ?? Math.Max(1, steps / 2);
        var (cropRows, cropCols) = ParseCrop(args.GetRequiredValue(Options.Crop));
        var defaults = new ModelConfig();
        var config = defaults with
        {
            Blocks = args.GetValue(Options.Blocks),
            Dim = args.GetValue(Options.Dim),
            Heads = args.GetValue(Options.Heads),
            Rank = args.GetValue(Options.Rank),
            HeadHidden = args.GetValue(Options.HeadHidden),
            StemWidths = ParseStem(args.GetRequiredValue(Options.Stem)),
            RefineTasks = args.GetValue(Options.Refine) is { } refine
                ? ParseTasks(refine, name => $"--refine: '{name}' is not a task (segmentation, depth, normals)")
                : [],
            RefineHidden = args.GetValue(Options.RefineHidden),
        };
        var data = DataArgument.Open(args.GetValue(Options.Data));
        if (data != null)
        {
            // A new model has the sub-tasks the data can supervise (PASCAL-Context has no depth).
            config = config with { SubTasks = [.. config.SubTasks.Where(data.Tasks.Contains)] };
        }
        var (width, height) = Sizes.ParseModelInput(args.GetRequiredValue(Options.Size));
        int? splitOption = args.GetValue(Options.Split);
        if (splitOption > config.Blocks)
        {
            throw new CliException($"--split must be between 0 and {config.Blocks}, got {splitOption}");
        }
        int split = splitOption ?? config.Blocks / 2;
        config = config with { SplitLayer = split, DeltaFrom = split };
        var grow = args.GetValue(Options.Grow) is { } growText ? ParseGrow(growText) : (Count: 0, After: 0);
        var template = new TrainOptions
        {
            OutputPath = output,
            Steps = steps,
            Batch = args.GetValue(Options.Batch),
            CropRows = cropRows,
            CropCols = cropCols,
            LearningRate = args.GetValue(Options.LearningRate),
            Seed = args.GetValue(Options.Seed),
            Resume = args.GetValue(Options.Resume),
            TemporalWeight = args.GetValue(Options.Temporal),
            TemporalGap = args.GetValue(Options.TemporalGap),
            StabilityWeight = args.GetValue(Options.Stability),
            LovaszWeight = args.GetValue(Options.Lovasz),
            JpegMinQuality = args.GetValue(Options.Jpeg),
            BFloat16 = args.GetValue(Options.BFloat16),
            HeadsOnly = args.GetValue(Options.HeadsOnly),
            GrowBlocks = grow.Count,
            GrowAfter = grow.After,
            AuxiliaryWeight = args.GetValue(Options.Aux),
            InitPath = args.GetValue(Options.Init) is { } init ? ModelArgument.Resolve(init) : null,
            Config = config,
            SplitLayer = splitOption,
            Data = data,
            Width = width,
            Height = height,
        };
        template = WithFeatures(template, args, stage);
        string? taskName = args.GetValue(Options.Task);
        int threads = args.GetValue(Options.Threads) ?? Environment.ProcessorCount;
        if (data != null && template.TemporalWeight > 0)
        {
            throw new CliException($"--temporal pairs neighbouring frames of a sequence; --data {data.Name} holds single images");
        }
        if (template.TemporalWeight > 0 && !TrainingBatch.HoldsPairs(template.Batch))
        {
            throw new CliException($"--batch {template.Batch}: --temporal trains on pairs of neighbouring frames, so the batch must be even and at least 2");
        }
        if (template.StabilityWeight > 0)
        {
            if (template.TemporalWeight > 0)
            {
                throw new CliException("--stability pairs each frame with a second degraded copy of itself, --temporal with its neighbour: use one of them");
            }
            if (template.JpegMinQuality <= 0)
            {
                throw new CliException("--stability compares two independently degraded copies of a frame: add --jpeg Q (e.g. --jpeg 30)");
            }
            if (!TrainingBatch.HoldsPairs(template.Batch))
            {
                throw new CliException($"--batch {template.Batch}: --stability trains on pairs of copies of a frame, so the batch must be even and at least 2");
            }
        }
        TorchSharp.torch.set_num_threads(threads);

        // Ctrl+C or SIGTERM ends the current step, writes a checkpoint and stops; --resume continues.
        using var stop = new StopSignal();

        if (args.GetValue(Options.Adapt) is int rank)
        {
            return RunAdapt(template, stage, rank, stop.Token);
        }
        if (stage == "policy-rank")
        {
            if (data != null)
            {
                throw new CliException("--stage policy-rank ranks synthetic-camera frames only: drop --data");
            }
            return RunPolicyRank(args, output, steps, stop.Token);
        }
        if (stage == "policy")
        {
            if (data != null)
            {
                throw new CliException("--stage policy co-trains on the synthetic camera only: drop --data");
            }
            return RunPolicy(args, output, steps, (cropRows, cropCols), stop.Token);
        }
        if (template.GrowBlocks > 0 && (stage != "base" || template.InitPath == null))
        {
            throw new CliException("--grow deepens a trained base: use it with --stage base --init MODEL");
        }
        if (stage == "all")
        {
            Directory.CreateDirectory(output);
            string main = Path.Combine(output, ModelLocator.DefaultFileName);
            var stages = new List<TrainOptions> { template with { Stage = TrainStage.Base, Task = VisionTask.Segmentation, OutputPath = main, InitPath = null } };
            if (config.SubTasks.Length > 0)
            {
                stages.Add(template with { Stage = TrainStage.SubTask, Task = config.SubTasks[0], Tasks = config.SubTasks, Steps = subSteps, InitPath = main, OutputPath = main, AuxiliaryWeight = 0 });
            }
            stages.AddRange(config.SubTasks.Select(single => template with
            {
                Stage = TrainStage.Single, Task = single, InitPath = null, AuxiliaryWeight = 0,
                OutputPath = Path.Combine(output, $"baseline-{single.Name()}.safetensors"),
            }));
            return stages.All(s => RunStage(s, stop.Token)) ? 0 : Interrupted;
        }
        var parsedStage = stage switch
        {
            "base" => TrainStage.Base,
            "sub" => TrainStage.SubTask,
            "single" => TrainStage.Single,
            _ => throw new CliException($"unknown stage '{stage}' (base, sub, single, policy, policy-rank, all)"),
        };
        var tasks = taskName == null
            ? (parsedStage == TrainStage.SubTask ? config.SubTasks : [VisionTask.Segmentation])
            : ParseTasks(taskName, name => $"unknown task '{name}' (segmentation, depth, normals)");
        if (parsedStage == TrainStage.SubTask && template.InitPath == null)
        {
            throw new CliException("--stage sub needs --init MODEL (a trained base)");
        }
        if (parsedStage == TrainStage.SubTask && tasks.Contains(VisionTask.Segmentation))
        {
            throw new CliException("--stage sub trains sub-tasks (depth, normals); segmentation is the base task: use --stage base");
        }
        if (tasks.Length > 1 && parsedStage != TrainStage.SubTask)
        {
            throw new CliException($"--task {taskName}: only --stage sub trains several tasks at once");
        }
        return RunStage(template with { Stage = parsedStage, Task = tasks[0], Tasks = tasks }, stop.Token) ? 0 : Interrupted;
    }

    /// <summary>--features DIR (with --feature-weight, --feature-batch): checked here so a wrong combination fails before any data is read.</summary>
    private static TrainOptions WithFeatures(TrainOptions template, ParseResult args, string stage)
    {
        string? directory = args.GetValue(Options.Features);
        double? weight = args.GetValue(Options.FeatureWeight);
        int? batch = args.GetValue(Options.FeatureBatch);
        if (directory == null)
        {
            return weight != null || batch != null
                ? throw new CliException("--feature-weight and --feature-batch go with --features DIR")
                : template;
        }
        if (stage != "base")
        {
            throw new CliException($"--features trains the shared trunk on a feature teacher: use it with --stage base, not {stage}");
        }
        if (args.GetValue(Options.Adapt) != null || template.HeadsOnly || template.Resume)
        {
            throw new CliException("--features trains the trunk (its probe is not checkpointed): it does not combine with --adapt, --heads-only or --resume");
        }
        if (!Directory.Exists(directory))
        {
            throw new CliException($"--features: no such directory: {directory}");
        }
        return template with { FeaturesPath = directory, FeatureWeight = weight ?? 1, FeatureBatch = batch ?? 4 };
    }

    /// <summary>--adapt RANK: shared adapters, sub-task parameters and heads on the frozen --init model, written as an adapter file.</summary>
    private static int RunAdapt(TrainOptions template, string stage, int rank, CancellationToken stop)
    {
        if (template.InitPath == null)
        {
            throw new CliException("--adapt trains adapters on a trained model: add --init MODEL");
        }
        if (stage is not ("all" or "base"))
        {
            throw new CliException($"--adapt trains every task of the --init model at once; drop --stage {stage}");
        }
        if (template.Resume || template.GrowBlocks > 0 || template.HeadsOnly)
        {
            throw new CliException("--adapt does not combine with --resume, --grow or --heads-only");
        }
        return RunStage(template with { Stage = TrainStage.Base, Task = VisionTask.Segmentation, Tasks = [], AdaptRank = rank }, stop) ? 0 : Interrupted;
    }

    /// <summary>Exit code of a run stopped by a signal (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>Runs one stage; false when a signal stopped it (its checkpoint is written).</summary>
    private static bool RunStage(TrainOptions options, CancellationToken stop)
    {
        Console.WriteLine($"training {options.Stage} ({options.TasksName}): {options.Steps} steps, batch {options.Batch}, " +
            $"crop {options.CropRows}x{options.CropCols} tokens, {options.Data?.Name ?? "synthetic camera"} at {options.Width}x{options.Height} -> {options.OutputPath}");
        var trainer = new Trainer(options, ProgressBar.Print, Console.WriteLine);
        TrainingRecord record;
        try
        {
            record = trainer.Run(stop);
        }
        catch (ArgumentException e)
        {
            // The trainer refuses what the loaded model cannot do (a missing sub-task, a growth outside its trunk).
            throw new CliException(e.Message);
        }
        ProgressBar.Finish();
        if (record.Steps < options.Steps && options.Adapting)
        {
            Console.WriteLine($"interrupted after step {record.Steps} of {options.Steps}: adapting writes no checkpoint; nothing was saved");
            return false;
        }
        if (record.Steps < options.Steps)
        {
            Console.WriteLine($"interrupted after step {record.Steps} of {options.Steps}: checkpoint {trainer.CheckpointPath}; " +
                "run the same command with --resume to continue");
            return false;
        }
        Console.WriteLine($"done: {record.Steps} steps in {record.Seconds:F0} s, loss {record.FinalLoss:F4}, {record.FramesRendered} frames {(options.Data == null ? "rendered" : "loaded")}");
        return true;
    }

    private static (int Rows, int Cols) ParseCrop(string text)
    {
        var parts = text.Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int r)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int c) && r > 0 && c > 0)
        {
            return (r, c);
        }
        throw new CliException($"--crop must look like 8x10 (token rows x cols), got '{text}'");
    }
}
