namespace StreamMtl.Training.Evaluation;

/// <summary>One point of the accuracy-vs-compute curve: a target, adaptive or static, its executed fraction and headline metrics.</summary>
public sealed record BudgetCurvePoint(double Target, bool Static, double ExecutedFraction, double SegmentationMiou, double DepthAbsRel,
    double NormalsMeanDeg, int DistinctPlans);

/// <summary>
/// The accuracy-vs-compute curve: <see cref="Evaluator"/> at each target, once with the policy's per-frame choice and once
/// with the static baseline (<see cref="BudgetedPasses.StaticPlan"/>), on the same held-out frames.
/// </summary>
public static class BudgetCurve
{
    /// <summary>The targets of the curve the docs show.</summary>
    public static IReadOnlyList<double> DefaultTargets { get; } = [1.0, 0.8, 0.6, 0.4];

    public static List<BudgetCurvePoint> Run(EvalOptions options, IReadOnlyList<double> targets, Action<string>? log = null)
    {
        var points = new List<BudgetCurvePoint>();
        foreach (double target in targets)
        {
            foreach (bool isStatic in new[] { false, true })
            {
                var report = Evaluator.Run(options with { Budget = target, Static = isStatic, Baselines = [] });
                var b = report.Budget!;
                var point = new BudgetCurvePoint(target, isStatic, b.MeanFraction, report.Metrics["segmentation.miou"],
                    report.Metrics["depth.abs_rel"], report.Metrics["normals.mean_deg"], b.DistinctPlans);
                log?.Invoke($"target {target:F2} {(isStatic ? "static  " : "adaptive")}: executed {point.ExecutedFraction:F3} " +
                    $"(p10 {b.P10:F3}, p90 {b.P90:F3}, {b.DistinctPlans} block sets); mIoU {point.SegmentationMiou:F4}, " +
                    $"depth AbsRel {point.DepthAbsRel:F4}, normals {point.NormalsMeanDeg:F2} deg");
                points.Add(point);
            }
        }
        return points;
    }
}
