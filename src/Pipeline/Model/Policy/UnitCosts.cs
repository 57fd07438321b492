namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>
/// FLOPs of one sample's pass by unit (<see cref="ComputeUnits"/> order), as <see cref="FlopCounter"/> counts them:
/// <paramref name="Costs"/> per unit, <paramref name="Candidates"/> the units the requested tasks need,
/// <paramref name="Mandatory"/> what always runs (patch embedding, the requested heads, and the policy itself when it
/// decides), <paramref name="Dense"/> the full pass (patch embedding, every candidate, heads; no policy).
/// </summary>
public sealed record UnitCosts(long[] Costs, bool[] Candidates, long Mandatory, long Dense)
{
    /// <summary>FLOPs the units may spend under <paramref name="budget"/> (negative when even the mandatory part does not fit).</summary>
    public long Available(double budget) => (long)Math.Floor(budget * Dense) - Mandatory;

    /// <summary>Executed FLOPs of a pass running <paramref name="units"/> (by unit: run or not).</summary>
    public long Executed(IReadOnlyList<bool> units) =>
        Mandatory + Enumerable.Range(0, Costs.Length).Where(u => Candidates[u] && units[u]).Sum(u => Costs[u]);
}
