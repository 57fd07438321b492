namespace StreamMtl.Pipeline.Model;

/// <summary>
/// How much of a temporal-reuse frame a stream computes, from most to least: the overload controller moves a stream
/// down this list to keep its frame rate when the box cannot compute every frame in full, and back up when load falls.
/// The first levels hold sub-task outputs over frames: a branch not run saves all of its operations. The last also
/// coarsens the reuse itself (a higher threshold, a slower rolling refresh): with the propagated pass a frame's cost
/// follows the rows it recomputes, so fewer rows now buy time (docs/experiments.md, "Overload controller").
/// </summary>
public enum ComputeLevel
{
    /// <summary>The stream's reuse settings as configured; every requested task every frame.</summary>
    Full = 0,

    /// <summary>Sub-tasks (depth, normals) on every 2nd frame, the other frames repeat their last output.</summary>
    Reduced = 1,

    /// <summary>Sub-tasks on every 8th frame (was every 4th: 6 vtest streams on 2 cores kept 80-89 % of their frames, 91-93 % at 8th).</summary>
    Minimal = 2,

    /// <summary>
    /// Minimal, with a coarser reuse: a token is recomputed when its input moved <see cref="ComputeLevels.CoarseThresholdScale"/>
    /// times the stream's threshold, and the rolling refresh spreads over <see cref="ComputeLevels.CoarseRefreshStretch"/> times
    /// its interval. On vtest at the defaults (1 thread) 11.6 ms a frame instead of minimal's 15.4, segmentation agreement
    /// with dense 97.0 % instead of 97.8 % (docs/reuse.md, "Compute levels").
    /// </summary>
    Coarse = 3,
}

/// <summary>What each <see cref="ComputeLevel"/> changes in a frame, and its names.</summary>
public static class ComputeLevels
{
    public const string Rule = "full, reduced, minimal or coarse";

    /// <summary>The coarse level's threshold, as a multiple of the stream's (0.05 -> 0.2 at the defaults).</summary>
    public const float CoarseThresholdScale = 4;

    /// <summary>The coarse level's rolling-refresh interval, as a multiple of the stream's (15 -> 30 frames at the defaults).</summary>
    public const int CoarseRefreshStretch = 2;

    /// <summary>Every level, from most to least compute (their numbers are 0, 1, 2, ...).</summary>
    public static IReadOnlyList<ComputeLevel> All { get; } = [ComputeLevel.Full, ComputeLevel.Reduced, ComputeLevel.Minimal, ComputeLevel.Coarse];

    public static bool IsDefined(ComputeLevel level) => level is >= ComputeLevel.Full and <= ComputeLevel.Coarse;

    public static string Name(ComputeLevel level) => level switch
    {
        ComputeLevel.Full => "full",
        ComputeLevel.Reduced => "reduced",
        ComputeLevel.Minimal => "minimal",
        ComputeLevel.Coarse => "coarse",
        _ => ((int)level).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    public static bool TryParse(string? text, out ComputeLevel level)
    {
        foreach (var candidate in All)
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
        ComputeLevel.Minimal or ComputeLevel.Coarse => 8,
        _ => 1,
    };

    /// <summary>The gates' threshold at this level, as a multiple of the stream's (1 above coarse).</summary>
    public static float ThresholdScale(ComputeLevel level) => level == ComputeLevel.Coarse ? CoarseThresholdScale : 1;

    /// <summary>The rolling refresh's interval at this level, as a multiple of the stream's (1 above coarse).</summary>
    public static int RefreshStretch(ComputeLevel level) => level == ComputeLevel.Coarse ? CoarseRefreshStretch : 1;
}
