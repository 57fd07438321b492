using StreamMtl.Pipeline.Model.Policy;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// The units (<see cref="ComputeUnits"/> order) one temporal-reuse frame runs, and the compute budget they were chosen at
/// (1 with an explicit set). A skipped unit is the identity for that frame and its reuse state is left as it was.
/// </summary>
public sealed record GatedUnits(IReadOnlyList<bool> Runs, double ComputeBudget = 1)
{
    /// <summary>Every unit but <paramref name="skipped"/>.</summary>
    public static GatedUnits Skipping(int units, params int[] skipped) => new(UnitPlan.Skipping(units, skipped).Row(0));

    /// <summary>Whether unit <paramref name="unit"/> runs.</summary>
    public bool Run(int unit) => Runs[unit];

    /// <summary>Whether any unit is skipped.</summary>
    public bool SkipsAny => Runs.Contains(false);
}
