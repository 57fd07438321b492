namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>How a pass under a target turns the policy's logits into the units it runs.</summary>
public enum BudgetRule
{
    /// <summary>Every frame within the target: the units in order of decreasing logit while they fit (<see cref="Budget.Choose"/>).</summary>
    PerFrame,

    /// <summary>
    /// AdaMTL's own rule: a unit runs when the policy gives it a logit above 0 (probability above 1/2) at the target, so a
    /// frame may spend more or less than the target; a policy co-trained to hold the mean of its hard decisions at the
    /// target (<c>train --stage policy --flop-loss batch</c>) holds it on average (<see cref="Budget.Decide"/>).
    /// </summary>
    Average,
}

/// <summary>
/// Target complexity X in (0, 1]: the fraction of a frame's dense FLOPs (for the requested tasks) a pass may execute,
/// and the greedy choice of units under it.
/// </summary>
public static class Budget
{
    /// <summary>Why <paramref name="budget"/> is not a valid target complexity, or null when it is.</summary>
    public static string? Problem(double budget) => double.IsNaN(budget) || budget <= 0 || budget > 1
        ? $"budget must be a fraction of the dense FLOPs in (0, 1], got {budget.ToString(System.Globalization.CultureInfo.InvariantCulture)}"
        : null;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when <paramref name="budget"/> is not in (0, 1].</summary>
    public static double Validate(double budget, string parameter = "budget") =>
        Problem(budget) is string problem ? throw new ArgumentOutOfRangeException(parameter, budget, problem) : budget;

    /// <summary>
    /// Units in order of decreasing <paramref name="scores"/>, each taken when its cost still fits in
    /// <paramref name="available"/> FLOPs (a unit that does not fit is passed over and cheaper ones after it may still
    /// fit); units that are not <paramref name="candidates"/> are never taken. Ties go to the lower index.
    /// </summary>
    public static bool[] Choose(IReadOnlyList<float> scores, IReadOnlyList<long> costs, IReadOnlyList<bool> candidates, long available)
    {
        var chosen = new bool[scores.Count];
        var order = Enumerable.Range(0, scores.Count).Where(u => candidates[u]).OrderByDescending(u => scores[u]).ThenBy(u => u);
        long left = available;
        foreach (int u in order)
        {
            if (costs[u] <= left)
            {
                chosen[u] = true;
                left -= costs[u];
            }
        }
        return chosen;
    }

    /// <summary>
    /// The units of <paramref name="candidates"/> whose <paramref name="scores"/> (logits) plus <paramref name="offset"/> are
    /// above 0 (offset 0: probability above 1/2, AdaMTL's rule; a calibrated offset, <see cref="CalibrateOffset"/>).
    /// </summary>
    public static bool[] Decide(IReadOnlyList<float> scores, IReadOnlyList<bool> candidates, float offset = 0) =>
        [.. Enumerable.Range(0, scores.Count).Select(u => candidates[u] && scores[u] + offset > 0)];

    /// <summary>
    /// The offset to every logit under which <see cref="Decide"/> spends, on average over the frames whose logits
    /// <paramref name="scores"/> gives ([frames x units], row-major), the fraction of the dense FLOPs nearest
    /// <paramref name="target"/>; among offsets that come as near, the one nearest 0 (the policy's own decisions). The mean
    /// changes only where the offset crosses -logit of some frame's unit, so each interval between those points is tried at
    /// its middle (the ends one logit beyond). Returns the offset and the mean it gives.
    /// </summary>
    public static (float Offset, double Mean) CalibrateOffset(IReadOnlyList<float> scores, UnitCosts costs, double target)
    {
        Validate(target, nameof(target));
        int units = costs.Costs.Length;
        if (scores.Count == 0 || scores.Count % units != 0)
        {
            throw new ArgumentException($"{scores.Count} logits are not whole frames of {units} units", nameof(scores));
        }
        int frames = scores.Count / units;
        var points = Enumerable.Range(0, scores.Count).Where(i => costs.Candidates[i % units]).Select(i => -scores[i]).Distinct().Order().ToList();
        var trials = new List<float> { 0 };
        if (points.Count > 0)
        {
            trials.Add(points[0] - 1);
            trials.Add(points[^1] + 1);
            trials.AddRange(points.Zip(points.Skip(1), (a, b) => a + (b - a) / 2));
        }
        (float Offset, double Mean) best = (0, double.NaN);
        double bestMiss = double.PositiveInfinity;
        foreach (float offset in trials)
        {
            double total = 0;
            for (int f = 0; f < frames; f++)
            {
                long executed = costs.Mandatory;
                for (int u = 0; u < units; u++)
                {
                    if (costs.Candidates[u] && scores[f * units + u] + offset > 0)
                    {
                        executed += costs.Costs[u];
                    }
                }
                total += (double)executed / costs.Dense;
            }
            double mean = total / frames;
            double miss = Math.Abs(mean - target);
            if (miss < bestMiss - 1e-12 || (Math.Abs(miss - bestMiss) <= 1e-12 && Math.Abs(offset) < Math.Abs(best.Offset)))
            {
                best = (offset, mean);
                bestMiss = miss;
            }
        }
        return best;
    }
}
