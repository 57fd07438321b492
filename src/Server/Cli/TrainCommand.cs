using System.Globalization;
using System.Runtime.InteropServices;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;

namespace StreamMtl.Server.Cli;

/// <summary>streammtl train: one stage, or the whole plan that produces the shipped model and its baselines.</summary>
public static class TrainCommand
{
    public const string Help = """
        usage: streammtl train --stage base|sub|single|all [options]

          --stage S        base: segmentation trunk + head; sub: one sub-task's low-rank deltas + head on a
                           frozen base (--init); single: a full single-task baseline; all: base, then each
                           sub-task, then the depth and normals baselines (writes DIR/streammtl-default,
                           DIR/baseline-depth, DIR/baseline-normals .safetensors)
          --task T         segmentation | depth | normals (sub, single); sub also takes a list, e.g.
                           depth,normals: one frozen-trunk pass trains both (each its own loss)
                           [base: segmentation; sub: depth,normals]
          --out PATH       output model file (for --stage all: a directory)       [models]
          --init PATH      start from this model (required for sub)
          --steps N        optimiser steps per stage                               [3000]
          --sub-steps N    steps per sub-task stage in --stage all                 [steps/2]
          --batch N        crops per step                                          [8]
          --crop RxC       crop size in tokens (16 px)                             [8x10]
          --lr X           peak learning rate                                      [0.001]
          --seed N         seed for weights and data                               [1]
          --resume         continue from OUT.ckpt if present (written every 250 steps, and on Ctrl+C or
                           SIGTERM, which stop the run with exit code 130); weights, AdamW state and data
                           continue as in an uninterrupted run
          --split L        new model: split layer (and first delta block); sub: train the sub-task with
                           this split (its own blocks L+1..end); base with --init and --aux: the split
                           the auxiliary losses run through                       [blocks/2; file's]
          --blocks N --dim N --heads N --rank N --head-hidden N   architecture of a new model
          --refine LIST    heads that get the pixel-aware conv refinement, e.g. segmentation; with
                           --init, added to the loaded model (starting as the identity)  [none]
          --refine-hidden N  hidden channels of the refinement                  [6]
          --heads-only     train the heads only (everything else frozen), e.g. a new --refine on a
                           trained model without moving its trunk
          --grow N@K       base with --init: deepen the loaded model's shared trunk by N new blocks
                           after its block K, each starting as the identity (so training continues
                           from the trained model); the split layer moves up by N, e.g. 4@6
          --stem LIST      hierarchical patch stem widths, e.g. 48,96; "linear" = plain patch embedding [linear]
          --temporal W     temporal-consistency penalty weight: batches become pairs of neighbouring
                           frames and the trained blocks' outputs are kept close between them [0 = off]
          --temporal-gap N largest frame distance within a pair                    [2]
          --stability W    output-stability penalty weight: batches become pairs of one frame
                           degraded twice (needs --jpeg), and the trained tasks' outputs on the two
                           copies are kept close (segmentation: symmetric KL) [0 = off; not with --temporal]
          --lovasz W       add the Lovász-softmax loss x W to the segmentation loss: a surrogate of
                           the IoU that mIoU averages                           [0 = off]
          --aux W          base stage: add depth and normals losses x W through the sub-task
                           branches, so the shared blocks learn geometry too     [0 = off]
          --jpeg Q         compression augmentation: re-encode 75% of crops as JPEG at a quality
                           drawn from Q..95, each pair frame on its own        [0 = off]
          --bf16           matrix products in bfloat16 (float32 weights, gradients and optimiser
                           state): 1.23x the steps per second measured on an AVX-512 BF16 CPU
          --threads N      torch CPU threads                                      [all cores]
        """;

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

    public static int Run(CliArgs args)
    {
        string stage = args.String("stage", "all");
        string output = args.String("out", "models");
        int steps = args.Int("steps", 3000, 1);
        int subSteps = args.Int("sub-steps", Math.Max(1, steps / 2), 1);
        var (cropRows, cropCols) = ParseCrop(args.String("crop", "8x10"));
        var defaults = new ModelConfig();
        var config = defaults with
        {
            Blocks = args.Int("blocks", defaults.Blocks, 1, 64),
            Dim = args.Int("dim", defaults.Dim, 8, 4096),
            Heads = args.Int("heads", defaults.Heads, 1, 64),
            Rank = args.Int("rank", defaults.Rank, 1, 1024),
            HeadHidden = args.Int("head-hidden", defaults.HeadHidden, 1, 4096),
            StemWidths = ParseStem(args.String("stem", "linear")),
            RefineTasks = args.String("refine") is { } refine
                ? ParseTasks(refine, name => $"--refine: '{name}' is not a task (segmentation, depth, normals)")
                : [],
            RefineHidden = args.Int("refine-hidden", defaults.RefineHidden, 1, 256),
        };
        int? splitOption = args.OptionalInt("split", 0, config.Blocks);
        int split = splitOption ?? config.Blocks / 2;
        config = config with { SplitLayer = split, DeltaFrom = split };
        var grow = args.String("grow") is { } growText ? ParseGrow(growText) : (Count: 0, After: 0);
        var template = new TrainOptions
        {
            OutputPath = output,
            Steps = steps,
            Batch = args.Int("batch", 8, 1, 4096),
            CropRows = cropRows,
            CropCols = cropCols,
            LearningRate = args.Double("lr", 1e-3, 1e-7, 1),
            Seed = args.Int("seed", 1),
            Resume = args.Flag("resume"),
            TemporalWeight = args.Double("temporal", 0, 0, 1000),
            TemporalGap = args.Int("temporal-gap", 2, 1, 100),
            StabilityWeight = args.Double("stability", 0, 0, 1000),
            LovaszWeight = args.Double("lovasz", 0, 0, 1000),
            JpegMinQuality = args.Int("jpeg", 0, 0, 100),
            BFloat16 = args.Flag("bf16"),
            HeadsOnly = args.Flag("heads-only"),
            GrowBlocks = grow.Count,
            GrowAfter = grow.After,
            AuxiliaryWeight = args.Double("aux", 0, 0, 1000),
            InitPath = args.String("init") is { } init ? ModelLocator.Resolve(init) : null,
            Config = config,
            SplitLayer = splitOption,
        };
        string? taskName = args.String("task");
        int threads = args.Int("threads", Environment.ProcessorCount, 1, 1024);
        args.EnsureAllUsed();
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
        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }

        if (template.GrowBlocks > 0 && (stage != "base" || template.InitPath == null))
        {
            throw new CliException("--grow deepens a trained base: use it with --stage base --init MODEL");
        }
        if (stage == "all")
        {
            Directory.CreateDirectory(output);
            string main = Path.Combine(output, ModelLocator.DefaultFileName);
            var stages = new List<TrainOptions>
            {
                template with { Stage = TrainStage.Base, Task = VisionTask.Segmentation, OutputPath = main, InitPath = null },
                template with { Stage = TrainStage.SubTask, Task = config.SubTasks[0], Tasks = config.SubTasks, Steps = subSteps, InitPath = main, OutputPath = main, AuxiliaryWeight = 0 },
            };
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
            _ => throw new CliException($"unknown stage '{stage}' (base, sub, single, all)"),
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

    /// <summary>Exit code of a run stopped by a signal (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>Runs one stage; false when a signal stopped it (its checkpoint is written).</summary>
    private static bool RunStage(TrainOptions options, CancellationToken stop)
    {
        Console.WriteLine($"training {options.Stage} ({options.TasksName}): {options.Steps} steps, batch {options.Batch}, " +
            $"crop {options.CropRows}x{options.CropCols} tokens -> {options.OutputPath}");
        var trainer = new Trainer(options, ProgressBar.Print);
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
        if (record.Steps < options.Steps)
        {
            Console.WriteLine($"interrupted after step {record.Steps} of {options.Steps}: checkpoint {trainer.CheckpointPath}; " +
                "run the same command with --resume to continue");
            return false;
        }
        Console.WriteLine($"done: {record.Steps} steps in {record.Seconds:F0} s, loss {record.FinalLoss:F4}, {record.FramesRendered} frames rendered");
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
