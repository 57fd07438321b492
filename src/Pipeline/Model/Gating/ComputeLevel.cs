namespace StreamMtl.Pipeline.Model;

/// <summary>
/// How much of a temporal-reuse frame a stream computes, from most to least: the overload controller moves a stream
/// down this list to keep its frame rate when the box cannot compute every frame in full, and back up when load falls.
/// Reduced and minimal hold sub-task outputs over frames: a branch not run saves all of its operations. Lean coarsens
/// the reuse itself instead (a higher threshold, a slower rolling refresh): with the propagated pass a frame's cost
/// follows the rows it recomputes, so fewer rows buy time while every task stays fresh. Coarse does both
/// (docs/reuse.md, "Compute levels").
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
    /// Every task on every frame, with a coarser reuse: a token is recomputed when its input moved
    /// <see cref="ComputeLevels.CoarseThresholdScale"/> times the stream's threshold, and the rolling refresh spreads over
    /// <see cref="ComputeLevels.CoarseRefreshStretch"/> times its interval. On synthetic streams with truth (1 thread) it
    /// costs less than minimal (static camera 22 against 34 ms a frame, moving 35 against 52) and its depth and normals stay
    /// fresh (normals 4.9 against 5.8 deg, moving 6.0 against 6.9), for coarse's segmentation (docs/reuse.md, "Compute levels").
    /// </summary>
    Lean = 3,

    /// <summary>
    /// Minimal and lean together: sub-tasks every 8th frame, the coarser reuse for the rest. On vtest at the defaults
    /// (1 thread) 11.6 ms a frame instead of minimal's 15.4, segmentation agreement with dense 97.0 % instead of 97.8 %.
    /// </summary>
    Coarse = 4,
}

/// <summary>What each <see cref="ComputeLevel"/> changes in a frame, and its names.</summary>
public static class ComputeLevels
{
    public const string Rule = "full, reduced, minimal, lean or coarse";

    /// <summary>The lean and coarse levels' threshold, as a multiple of the stream's (0.05 -> 0.2 at the defaults).</summary>
    public const float CoarseThresholdScale = 4;

    /// <summary>The lean and coarse levels' rolling-refresh interval, as a multiple of the stream's (15 -> 30 frames at the defaults).</summary>
    public const int CoarseRefreshStretch = 2;

    /// <summary>Every level, from most to least compute (their numbers are 0, 1, 2, ...).</summary>
    public static IReadOnlyList<ComputeLevel> All { get; } = [ComputeLevel.Full, ComputeLevel.Reduced, ComputeLevel.Minimal, ComputeLevel.Lean, ComputeLevel.Coarse];

    public static bool IsDefined(ComputeLevel level) => level is >= ComputeLevel.Full and <= ComputeLevel.Coarse;

    public static string Name(ComputeLevel level) => level switch
    {
        ComputeLevel.Full => "full",
        ComputeLevel.Reduced => "reduced",
        ComputeLevel.Minimal => "minimal",
        ComputeLevel.Lean => "lean",
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

    /// <summary>Whether this level coarsens the reuse (lean and coarse).</summary>
    public static bool CoarsensReuse(ComputeLevel level) => level is ComputeLevel.Lean or ComputeLevel.Coarse;

    /// <summary>The gates' threshold at this level, as a multiple of the stream's (1 above lean).</summary>
    public static float ThresholdScale(ComputeLevel level) => CoarsensReuse(level) ? CoarseThresholdScale : 1;

    /// <summary>The rolling refresh's interval at this level, as a multiple of the stream's (1 above lean).</summary>
    public static int RefreshStretch(ComputeLevel level) => CoarsensReuse(level) ? CoarseRefreshStretch : 1;
}
