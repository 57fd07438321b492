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
}

/// <summary>One point of the accuracy-vs-compute curve: a target and series, its executed fraction and headline metrics.</summary>
public sealed record BudgetCurvePoint(BudgetCurveSeries Series, double Target, double ExecutedFraction, double SegmentationMiou, double DepthAbsRel,
    double NormalsMeanDeg, int DistinctPlans);

/// <summary>
/// The accuracy-vs-compute curve: <see cref="Evaluator"/> at each target, once with the policy's per-frame choice (under
/// <see cref="EvalOptions.Rule"/>) and once with the static baseline (<see cref="BudgetedPasses.StaticPlan"/>), on the
/// same held-out frames; optionally a reference model under the static rule too. Under <see cref="BudgetRule.Average"/> the
/// static series take the adaptive one's mean executed fraction as their budget (their greedy fill may land up to a unit
/// below it).
/// </summary>
public static class BudgetCurve
{
    /// <summary>The targets of the curve the docs show.</summary>
    public static IReadOnlyList<double> DefaultTargets { get; } = [1.0, 0.8, 0.6, 0.4];

    public static List<BudgetCurvePoint> Run(EvalOptions options, IReadOnlyList<double> targets, string? reference = null, Action<string>? log = null)
    {
        var runs = new List<(BudgetCurveSeries Series, EvalOptions Options)>
        {
            (BudgetCurveSeries.Adaptive, options with { Static = false }),
            (BudgetCurveSeries.Static, options with { Static = true, Rule = BudgetRule.PerFrame }),
        };
        if (reference != null)
        {
            runs.Add((BudgetCurveSeries.Reference, options with { ModelPath = reference, Static = true, Rule = BudgetRule.PerFrame }));
        }
        var points = new List<BudgetCurvePoint>();
        foreach (double target in targets)
        {
            // Under the average rule the policy's mean may miss the target: the static series get what it spent as their budget.
            double staticBudget = target;
            foreach (var (series, run) in runs)
            {
                var report = Evaluator.Run(run with { Budget = series == BudgetCurveSeries.Adaptive ? target : staticBudget, Baselines = [] });
                if (series == BudgetCurveSeries.Adaptive && options.Rule == BudgetRule.Average)
                {
                    staticBudget = Math.Min(1, report.Budget!.MeanFraction);
                }
                var b = report.Budget!;
                var point = new BudgetCurvePoint(series, target, b.MeanFraction, report.Metrics["segmentation.miou"],
                    report.Metrics["depth.abs_rel"], report.Metrics["normals.mean_deg"], b.DistinctPlans);
                log?.Invoke($"target {target:F2} {series,-9}: executed {point.ExecutedFraction:F3} " +
                    $"(p10 {b.P10:F3}, p90 {b.P90:F3}, {b.DistinctPlans} block sets); mIoU {point.SegmentationMiou:F4}, " +
                    $"depth AbsRel {point.DepthAbsRel:F4}, normals {point.NormalsMeanDeg:F2} deg");
                points.Add(point);
            }
        }
        return points;
    }
}
