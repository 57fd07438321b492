namespace StreamMtl.Pipeline.Model;

/// <summary>
/// How much of a temporal-reuse frame a stream computes, from most to least: the overload controller moves a stream
/// down this list to keep its frame rate when the box cannot compute every frame in full, and back up when load falls.
/// The levels hold sub-task outputs over frames rather than lowering the reuse budget or raising its threshold: a gated
/// frame's cost is mostly per-operation overhead, so fewer tokens buy little, while a branch not run saves all of its
/// operations (measured with 8 vtest streams: docs/experiments.md, "Overload controller").
/// </summary>
public enum ComputeLevel
{
    /// <summary>The stream's reuse settings as configured; every requested task every frame.</summary>
    Full = 0,

    /// <summary>Sub-tasks (depth, normals) on every 2nd frame, the other frames repeat their last output.</summary>
    Reduced = 1,

    /// <summary>Sub-tasks on every 8th frame (was every 4th: 6 vtest streams on 2 cores kept 80-89 % of their frames, 91-93 % at 8th).</summary>
    Minimal = 2,
}

/// <summary>What each <see cref="ComputeLevel"/> changes in a frame, and its names.</summary>
public static class ComputeLevels
{
    public const string Rule = "full, reduced or minimal";

    public static bool IsDefined(ComputeLevel level) => level is ComputeLevel.Full or ComputeLevel.Reduced or ComputeLevel.Minimal;

    public static string Name(ComputeLevel level) => level switch
    {
        ComputeLevel.Full => "full",
        ComputeLevel.Reduced => "reduced",
        ComputeLevel.Minimal => "minimal",
        _ => ((int)level).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static bool TryParse(string? text, out ComputeLevel level)
    {
        foreach (var candidate in (ReadOnlySpan<ComputeLevel>)[ComputeLevel.Full, ComputeLevel.Reduced, ComputeLevel.Minimal])
        {
            if (string.Equals(text, Name(candidate), StringComparison.OrdinalIgnoreCase))
            {
                level = candidate;
                return true;
            }
        }
        level = default;
        return false;
    }

    /// <summary>Sub-tasks are computed on every n-th gated frame at this level (1 = every frame).</summary>
    public static int SubTaskStride(ComputeLevel level) => level switch
    {
        ComputeLevel.Reduced => 2,
        ComputeLevel.Minimal => 8,
        _ => 1,
    };
}
