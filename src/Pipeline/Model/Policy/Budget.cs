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

    /// <summary>The units of <paramref name="candidates"/> whose <paramref name="scores"/> (logits) are above 0.</summary>
    public static bool[] Decide(IReadOnlyList<float> scores, IReadOnlyList<bool> candidates) =>
        [.. Enumerable.Range(0, scores.Count).Select(u => candidates[u] && scores[u] > 0)];
}
