using StreamMtl.Pipeline.Runners;
using System.Diagnostics;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Training;
using StreamMtl.Training.Data;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Training.Evaluation;

/// <summary>
/// Evaluates a model on held-out synthetic sequences (seeds never used in training), or on the validation split of a data set
/// on disk (<see cref="EvalOptions.Data"/>, whose ignore labels, invalid depth and missing normals are left out): pooled task
/// metrics, executed FLOPs per task, parameter bytes per task, and Delta-m against single-task baselines.
/// </summary>
public static class Evaluator
{
    public static EvalReport Run(EvalOptions options, Action<string>? log = null)
    {
        IReadOnlyList<TruthFrame> frames;
        if (options.Data is { } data)
        {
            frames = new DatasetFrames(data, DataSplit.Validation, options.Width, options.Height);
            log?.Invoke($"evaluating on {((DatasetFrames)frames).Description}");
        }
        else
        {
            frames = RenderFrames(options);
            log?.Invoke($"rendered {frames.Count} held-out frames from {options.Sequences} sequences (seeds {options.FirstSeed}..{options.FirstSeed + options.Sequences - 1})");
        }
        IReadOnlyCollection<VisionTask>? labelled = options.Data?.Tasks;

        var (model, metadata) = options.AdapterPath != null
            ? AdapterFile.LoadFolded(options.ModelPath, options.AdapterPath, options.SplitLayer)
            : ModelFile.Load(options.ModelPath, options.SplitLayer);
        using var modelScope = model;
        EnsureSameClasses(options, model, metadata);
        var forward = BudgetedPasses.For(model, options);
        var framePlans = BudgetedPasses.FramePlans(model, options, frames.Count);
        var grid = LowerGrid(model, options);
        Scored shared;
        using (Autocast.BFloat16(options.BFloat16))
        {
            shared = Score(model, metadata.Classes, frames, labelled, forward, log, options.BFloat16 ? "shared model (bfloat16 products)" : "shared model",
                options.Inspect, framePlans, grid);
        }

        var report = new EvalReport
        {
            Model = options.ModelPath,
            Frames = frames.Count,
            FirstSeed = options.Data == null ? options.FirstSeed : 0,
            Sequences = options.Data == null ? options.Sequences : 0,
            Data = options.Data?.Name,
            Labels = options.Data?.Labels,
            Width = options.Width,
            Height = options.Height,
            SplitLayer = model.Config.SplitLayer,
            ShareThreshold = options.ShareThreshold,
            Metrics = shared.Metrics,
            MsPerFrame = shared.MsPerFrame,
            ExecutedGflops = shared.Flops.ToDictionary(kv => kv.Key, kv => kv.Value.Executed),
            DenseGflops = shared.Flops.ToDictionary(kv => kv.Key, kv => kv.Value.Dense),
            SharedRowsComputedFraction = shared.SharedFraction,
            ParameterBytes = model.Config.AllTasks.ToDictionary(t => t.Name(), model.TaskBytes),
        };
        if (options.Budget is double budget)
        {
            report.Budget = BudgetReport.From(budget, options.Static, model.Units, shared.Decisions, options.FramesPerSequence) with
            {
                Rule = options.Static ? "static" : framePlans != null ? "given"
                    : options.Rule == BudgetRule.Average ? "average" : "frame",
                LogitOffset = options.Calibrate && framePlans == null ? forward.LogitOffset : null,
            };
        }
        if (grid != null)
        {
            int patch = model.Config.Patch;
            double fullDense = InputGrid.Dense(model, InputGrid.Frame(options, patch).Tokens);
            report.Resolution = new ResolutionReport(options.Resolution!.Value, grid.Rows, grid.Cols, grid.Cols * patch, grid.Rows * patch,
                shared.ExecutedPerFrame / fullDense);
            log?.Invoke($"input grid {grid} ({grid.Cols * patch}x{grid.Rows * patch} pixels) for {options.Resolution:F2} of the dense FLOPs: " +
                $"executed {report.Resolution.ExecutedFraction:F3} of the {options.Width}x{options.Height} dense pass");
        }
        if (options.DepthReference is { } reference)
        {
            var scored = reference.Score(model, options.Width, options.Height);
            report.DepthReference = new DepthReference.Report(reference.Image, reference.Truth, options.Width, options.Height, scored);
            log?.Invoke($"depth on {Path.GetFileName(reference.Image)} vs {Path.GetFileName(reference.Truth)} (scale and shift fitted, {scored.Pixels} pixels): " +
                $"AbsRel {scored.AbsRel:F4}, delta1 {scored.Delta1:F4}, Spearman {scored.Spearman:F4}");
        }
        report.BaseOnlyGflops = BaseOnlyGflops(model, frames[0], grid);
        report.AllTasksOverBase = report.ExecutedGflops.Values.Sum() / report.BaseOnlyGflops;
        report.SeparateModelsOverBase = model.Config.AllTasks.Count();

        foreach (var (taskName, path) in options.Baselines)
        {
            var (baseline, baselineMetadata) = ModelFile.Load(path);
            using (baseline)
            {
                EnsureSameClasses(options with { ModelPath = path }, baseline, baselineMetadata);
                var scored = Score(baseline, baselineMetadata.Classes, frames, labelled, new ForwardOptions(baseline.Config.BaseTask.ToSet()), log, $"{taskName} baseline", null);
                foreach (var (k, v) in scored.Metrics)
                {
                    report.BaselineMetrics[k] = v;
                }
            }
        }
        if (report.BaselineMetrics.Count > 0)
        {
            report.DeltaM = DeltaMOf(report.Metrics, report.BaselineMetrics);
        }
        return report;
    }

    /// <summary>Primary metric of each task and whether lower is better (for Delta-m).</summary>
    public static IReadOnlyList<(string Name, bool LowerIsBetter)> DeltaMTerms { get; } =
    [
        ("segmentation.miou", false),
        ("depth.rmse", true),
        ("depth.abs_rel", true),
        ("normals.mean_deg", true),
    ];

    private static double? DeltaMOf(Dictionary<string, double> multi, Dictionary<string, double> single)
    {
        var terms = DeltaMTerms.Where(t => multi.ContainsKey(t.Name) && single.ContainsKey(t.Name))
            .Select(t => (multi[t.Name], single[t.Name], t.LowerIsBetter)).ToList();
        return terms.Count == 0 ? null : DeltaM.Compute(terms);
    }

    /// <summary>
    /// The grid <see cref="EvalOptions.Resolution"/> asks for (the full model at a lower input resolution), or null; refused
    /// beside a budget (that skips blocks at the frame's own resolution) and where no grid fits.
    /// </summary>
    private static InputGrid? LowerGrid(MultiTaskVit model, EvalOptions options)
    {
        if (options.Resolution is not double fraction)
        {
            return null;
        }
        if (options.Budget != null)
        {
            throw new ArgumentException("a lower input resolution runs the full model: it does not go with a budget", nameof(options));
        }
        var frame = InputGrid.Frame(options, model.Config.Patch);
        return InputGrid.Largest(model, frame.Rows, frame.Cols, fraction)
            ?? throw new ArgumentException($"no input grid's dense pass fits in {fraction} of the {options.Width}x{options.Height} one", nameof(options));
    }

    /// <summary>Renders the held-out frames <paramref name="options"/> names (its sequences, frames per sequence and stride).</summary>
    internal static List<TruthFrame> RenderFrames(EvalOptions options)
    {
        var dataset = SyntheticDataset.Evaluation(options.Sequences, options.Width, options.Height, options.FirstSeed);
        return dataset.Render([.. Enumerable.Range(0, options.Sequences)], options.FramesPerSequence, options.FrameStride);
    }

    /// <summary>The name of class <paramref name="c"/> in a model's class table, or "classN" past its end.</summary>
    internal static string ClassName(string[] classes, int c) => c < classes.Length ? classes[c] : $"class{c}";

    /// <summary>Pixels within this distance of a true class boundary are left out of <c>segmentation.interior_miou</c>.</summary>
    public const int InteriorBand = 2;

    private sealed record Scored(Dictionary<string, double> Metrics, double MsPerFrame,
        Dictionary<string, (double Executed, double Dense)> Flops, double? SharedFraction, List<FrameDecision> Decisions, double ExecutedPerFrame);

    /// <summary>A data set's class ids index its own class table: a model that segments another table cannot be scored on them.</summary>
    private static void EnsureSameClasses(EvalOptions options, MultiTaskVit model, ModelMetadata metadata)
    {
        if (options.Data is { Classes.Count: > 0 } data && data.Tasks.Contains(VisionTask.Segmentation) && model.Config.Has(VisionTask.Segmentation)
            && !data.Classes.SequenceEqual(metadata.Classes))
        {
            throw new DatasetException($"{options.ModelPath} segments {Dataset.ClassTable(metadata.Classes)} but {data.Name} has {Dataset.ClassTable(data.Classes)}: " +
                $"train on the data first (train --data {data.Name} --init MODEL)");
        }
    }

    private static Scored Score(MultiTaskVit model, string[] classes, IReadOnlyList<TruthFrame> frames, IReadOnlyCollection<VisionTask>? labelled,
        ForwardOptions forward, Action<string>? log, string what,
        Action<int, TruthFrame, Predictions>? inspect, IReadOnlyList<UnitPlan>? framePlans = null, InputGrid? grid = null)
    {
        var seg = new SegmentationMetrics(model.Config.Classes);
        var segInterior = new SegmentationMetrics(model.Config.Classes);
        var depth = new DepthMetrics(model.Config.Classes);
        var normals = new NormalsMetrics(model.Config.Classes);
        var flops = new FlopCounter();
        long sharedComputed = 0;
        long sharedTotal = 0;
        var decisions = new List<FrameDecision>();
        var clock = new Stopwatch();
        using (no_grad())
        {
            for (int i = 0; i < frames.Count; i++)
            {
                var frame = frames[i];
                using var scope = NewDisposeScope();
                var input = ImageTensors.FromBgr(frame.Bgr, frame.Width, frame.Height, model.Config);
                clock.Start();
                if (grid != null)
                {
                    input = grid.Shrink(input, model.Config.Patch);
                }
                long executedBefore = flops.ExecutedTotal;
                long denseBefore = flops.DenseTotal;
                using var result = model.Forward(input, framePlans == null ? forward : forward with { Units = framePlans[i] }, flops);
                var predictions = Predictions.From(result, size: grid == null ? null : (frame.Width, frame.Height));
                clock.Stop();
                decisions.Add(new FrameDecision((double)(flops.ExecutedTotal - executedBefore) / (flops.DenseTotal - denseBefore),
                    [.. Enumerable.Range(0, model.Units.Count).Select(u => result.Executed?.Runs(0, u) ?? true)], result.UnitScores));
                sharedComputed += result.SharedRowsComputed;
                sharedTotal += result.SharedRowsTotal;
                if (predictions.Labels != null)
                {
                    seg.Add(predictions.Labels, frame.Truth.Labels);
                    segInterior.Add(predictions.Labels, BoundaryBand.Interior(frame.Truth.Labels, frame.Width, frame.Height, InteriorBand));
                }
                if (predictions.Depth != null) depth.Add(predictions.Depth, frame.Truth.Depth, frame.Truth.Labels);
                if (predictions.Normals != null) normals.Add(predictions.Normals, frame.Truth.Normals, frame.Truth.Labels);
                inspect?.Invoke(i, frame, predictions);
            }
        }
        var metrics = new Dictionary<string, double>();
        // A task the data has no labels for has no figures (they would be NaN, as no pixel was scored).
        var tasks = forward.Tasks.Tasks().Where(t => model.Config.Has(t) && (labelled?.Contains(t) ?? true)).ToList();
        if (tasks.Contains(VisionTask.Segmentation))
        {
            metrics["segmentation.miou"] = seg.MeanIoU;
            metrics["segmentation.pixel_accuracy"] = seg.PixelAccuracy;
            var iou = seg.ClassIoU();
            for (int c = 0; c < iou.Length; c++)
            {
                if (!double.IsNaN(iou[c])) metrics[$"segmentation.iou.{ClassName(c)}"] = iou[c];
            }
            // Diagnostic, not a bar: how much of the gap is the band along object outlines.
            metrics["segmentation.interior_miou"] = segInterior.MeanIoU;
            metrics["segmentation.interior_share"] = (double)segInterior.Pixels / seg.Pixels;
            log?.Invoke($"{what}: segmentation confusion (row = truth, % of the row's pixels):\n{seg.FormatConfusion(ClassName)}");
        }
        if (tasks.Contains(VisionTask.Depth))
        {
            metrics["depth.rmse"] = depth.Rmse;
            metrics["depth.abs_rel"] = depth.AbsRel;
            metrics["depth.delta1"] = depth.Delta1;
            AddByClass("depth.abs_rel", depth.AbsRelByClass!, "AbsRel", "");
        }
        if (tasks.Contains(VisionTask.Normals))
        {
            metrics["normals.mean_deg"] = normals.MeanDeg;
            metrics["normals.median_deg"] = normals.MedianDeg;
            metrics["normals.within_11_25"] = normals.Within11_25;
            metrics["normals.within_22_5"] = normals.Within22_5;
            metrics["normals.within_30"] = normals.Within30;
            AddByClass("normals.mean_deg", normals.AngleByClass!, "mean angle", " deg");
        }
        double ms = clock.Elapsed.TotalMilliseconds / frames.Count;

        string ClassName(int c) => Evaluator.ClassName(classes, c);

        // Per true class: metrics "<name>.<class>", and a log line with each class's share of the pooled error.
        void AddByClass(string name, ClassBreakdown breakdown, string label, string unit)
        {
            for (int c = 0; c < breakdown.Classes; c++)
            {
                if (!double.IsNaN(breakdown.Mean(c))) metrics[$"{name}.{ClassName(c)}"] = breakdown.Mean(c);
            }
            log?.Invoke($"{what}: {label} by true class (share of the summed error): {breakdown.Format(ClassName, unit)}");
        }
        log?.Invoke($"{what}: {string.Join(", ", metrics.Select(kv => $"{kv.Key} {kv.Value:F4}"))}; {ms:F1} ms/frame");
        var perTask = tasks.ToDictionary(t => t.Name(),
            t => (flops.Executed(t) / 1e9 / frames.Count, flops.Dense(t) / 1e9 / frames.Count));
        return new Scored(metrics, ms, perTask, sharedTotal == 0 ? null : (double)sharedComputed / sharedTotal, decisions,
            (double)flops.ExecutedTotal / frames.Count);
    }

    /// <summary>The base task's pass alone on <paramref name="frame"/>, at <paramref name="grid"/> when the evaluation ran there.</summary>
    private static double BaseOnlyGflops(MultiTaskVit model, TruthFrame frame, InputGrid? grid)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var counter = new FlopCounter();
        var input = ImageTensors.FromBgr(frame.Bgr, frame.Width, frame.Height, model.Config);
        if (grid != null)
        {
            input = grid.Shrink(input, model.Config.Patch);
        }
        using var result = model.Forward(input, new ForwardOptions(model.Config.BaseTask.ToSet()), counter);
        return counter.ExecutedTotal / 1e9;
    }
}
