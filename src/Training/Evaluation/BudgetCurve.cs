using StreamMtl.Pipeline.Model.Policy;

namespace StreamMtl.Training.Evaluation;

/// <summary>Which curve a point belongs to.</summary>
public enum BudgetCurveSeries
{
    /// <summary>The policy's per-frame choice (<c>eval --budget X</c>).</summary>
    Adaptive,

    /// <summary>One unit set for every frame from the same model's policy (<c>eval --budget X --static</c>).</summary>
    Static,

    /// <summary>Another model (e.g. the shipped one, without a policy: deepest blocks dropped first) under <c>--static</c>.</summary>
    Reference,

    /// <summary>
    /// The adaptive run's own unit sets dealt to the frames at random (<see cref="BudgetedPasses.Shuffled"/>): the same FLOPs
    /// exactly, without the per-frame choice. One point per draw; only where the adaptive run's frames differ.
    /// </summary>
    Shuffled,

    /// <summary>
    /// The same two unit sets at the same counts, the costlier one given by the ground truth to the frames it helps most
    /// (<see cref="OracleBaseline"/>): the most per-frame adaptation can gain with them. Only where the adaptive run's
    /// frames ran exactly two sets.
    /// </summary>
    Oracle,

    /// <summary>
    /// The same model, full, on frames downscaled to the largest input grid that spends no more than the adaptive run
    /// (<see cref="EvalOptions.Resolution"/>): the lower-resolution baseline. Only below target 1.
    /// </summary>
    Resolution,

    /// <summary>The reference model, full, at the same lower input grid. Only with a reference, below target 1.</summary>
    ReferenceResolution,
}

/// <summary>One point of the accuracy-vs-compute curve: a target and series, its executed fraction and headline metrics.</summary>
/// <remarks><see cref="Draw"/> numbers the shuffled series' draws (seed = draw), from 1; 0 for the other series.</remarks>
public sealed record BudgetCurvePoint(BudgetCurveSeries Series, double Target, double ExecutedFraction, double SegmentationMiou, double DepthAbsRel,
    double NormalsMeanDeg, int DistinctPlans, int Draw = 0);

/// <summary>
/// The accuracy-vs-compute curve: <see cref="Evaluator"/> at each target, once with the policy's per-frame choice (under
/// <see cref="EvalOptions.Rule"/>) and once with the static baseline (<see cref="BudgetedPasses.StaticPlan"/>), on the
/// same held-out frames; optionally a reference model under the static rule too; below target 1 the lower-resolution
/// baselines (<see cref="BudgetCurveSeries.Resolution"/>). Under <see cref="BudgetRule.Average"/> the
/// static series take the adaptive one's mean executed fraction as their budget (their greedy fill may land up to a unit
/// below it).
/// </summary>
public static class BudgetCurve
{
    /// <summary>The targets of the curve the docs show.</summary>
    public static IReadOnlyList<double> DefaultTargets { get; } = [1.0, 0.8, 0.6, 0.4];

    /// <summary>Draws of the shuffled baseline per target by default.</summary>
    public const int DefaultShuffles = 8;

    /// <summary>
    /// The curve at <paramref name="targets"/>; where the adaptive run's frames ran more than one unit set, also
    /// <paramref name="shuffles"/> draws of the shuffled baseline (<see cref="BudgetCurveSeries.Shuffled"/>) and, with
    /// draws and exactly two sets, the oracle (<see cref="BudgetCurveSeries.Oracle"/>).
    /// </summary>
    public static List<BudgetCurvePoint> Run(EvalOptions options, IReadOnlyList<double> targets, string? reference = null, Action<string>? log = null,
        int shuffles = DefaultShuffles)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shuffles);
        var runs = new List<(BudgetCurveSeries Series, EvalOptions Options)>
        {
            (BudgetCurveSeries.Adaptive, options with { Static = false }),
            (BudgetCurveSeries.Static, options with { Static = true, Rule = BudgetRule.PerFrame, Calibrate = false }),
        };
        if (reference != null)
        {
            runs.Add((BudgetCurveSeries.Reference, options with { ModelPath = reference, Static = true, Rule = BudgetRule.PerFrame, Calibrate = false }));
        }
        var points = new List<BudgetCurvePoint>();
        foreach (double target in targets)
        {
            // Under the average rule the policy's mean may miss the target: the static series get what it spent as their budget.
            double staticBudget = target;
            foreach (var (series, run) in runs)
            {
                var report = Evaluator.Run(run with { Budget = series == BudgetCurveSeries.Adaptive ? target : staticBudget, Baselines = [] });
                var point = Point(series, target, report);
                points.Add(point);
                if (series != BudgetCurveSeries.Adaptive)
                {
                    continue;
                }
                if (options.Rule == BudgetRule.Average)
                {
                    staticBudget = Math.Min(1, report.Budget!.MeanFraction);
                }
                if (target < 1)
                {
                    // The lower-resolution baselines never spend more than the adaptive run did.
                    double fraction = Math.Min(target, report.Budget!.MeanFraction);
                    var lower = options with { Static = false, Rule = BudgetRule.PerFrame, Calibrate = false, Budget = null, Resolution = fraction, Baselines = [] };
                    points.Add(Point(BudgetCurveSeries.Resolution, target, Evaluator.Run(lower)));
                    if (reference != null)
                    {
                        points.Add(Point(BudgetCurveSeries.ReferenceResolution, target, Evaluator.Run(lower with { ModelPath = reference })));
                    }
                }
                if (report.Budget!.DistinctPlans > 1)
                {
                    var sets = report.Budget.FrameUnits;
                    var draws = Enumerable.Range(1, shuffles).Select(draw => Point(BudgetCurveSeries.Shuffled, target,
                        Evaluator.Run(run with { Budget = target, Baselines = [], FramePlans = BudgetedPasses.Shuffled(sets, draw) }), draw)).ToList();
                    points.AddRange(draws);
                    if (draws.Count > 0)
                    {
                        string Range(Func<BudgetCurvePoint, double> value, string format) =>
                            $"adaptive {value(point).ToString(format)}, shuffled {draws.Average(value).ToString(format)} " +
                            $"({draws.Min(value).ToString(format)}..{draws.Max(value).ToString(format)})";
                        log?.Invoke($"target {target:F2} adaptive against {draws.Count} shuffles at equal FLOPs: mIoU {Range(p => p.SegmentationMiou, "F4")}; " +
                            $"AbsRel {Range(p => p.DepthAbsRel, "F4")}; normals deg {Range(p => p.NormalsMeanDeg, "F2")}");
                        if (OracleBaseline.Run(run with { Budget = target, Baselines = [] }, report.Budget) is { } oracle)
                        {
                            points.Add(Point(BudgetCurveSeries.Oracle, target, oracle));
                        }
                    }
                }
            }
        }
        return points;

        BudgetCurvePoint Point(BudgetCurveSeries series, double target, EvalReport report, int draw = 0)
        {
            var (fraction, plans, how) = report.Resolution is { } r
                ? (r.ExecutedFraction, 1, $"input {r.InputWidth}x{r.InputHeight}, grid {r.Rows}x{r.Cols}")
                : (report.Budget!.MeanFraction, report.Budget.DistinctPlans,
                    $"p10 {report.Budget.P10:F3}, p90 {report.Budget.P90:F3}, {report.Budget.DistinctPlans} block sets" +
                    (report.Budget.LogitOffset is float offset ? $", logit offset {offset:+0.000;-0.000}" : ""));
            var point = new BudgetCurvePoint(series, target, fraction, report.Metrics["segmentation.miou"],
                report.Metrics["depth.abs_rel"], report.Metrics["normals.mean_deg"], plans, draw);
            log?.Invoke($"target {target:F2} {series,-9}{(draw > 0 ? $" draw {draw}" : "")}: executed {point.ExecutedFraction:F3} " +
                $"({how}); mIoU {point.SegmentationMiou:F4}, depth AbsRel {point.DepthAbsRel:F4}, normals {point.NormalsMeanDeg:F2} deg");
            return point;
        }
    }
}
