using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Runners;

/// <summary>
/// What one frame cost: dense-equivalent vs executed FLOPs per task (dense = the same tasks computed
/// with no temporal reuse and no activation sharing), tokens recomputed per gated layer, and whether
/// the frame was a keyframe (full recompute).
/// </summary>
public sealed record FrameAccounting(
    IReadOnlyDictionary<VisionTask, long> DenseFlops,
    IReadOnlyDictionary<VisionTask, long> ExecutedFlops,
    IReadOnlyList<LayerTokens> Tokens,
    bool Keyframe,
    string? KeyframeReason)
{
    /// <summary>The compute level the frame ran at (<see cref="ComputeLevels"/>).</summary>
    public ComputeLevel Level { get; init; }

    /// <summary>The compute budget the frame ran at (1: every unit; below 1 the model's policy chose the units).</summary>
    public double ComputeBudget { get; init; } = 1;

    /// <summary>Of the units (blocks) the frame's tasks need, the share that ran.</summary>
    public double UnitFraction { get; init; } = 1;

    /// <summary>Names of the units the frame skipped ("trunk.4", "depth.7"); empty when every unit ran.</summary>
    public IReadOnlyList<string> SkippedUnits { get; init; } = [];

    /// <summary>Tasks whose outputs this frame repeat an earlier frame's (held at a reduced level; no FLOPs counted for them).</summary>
    public TaskSet HeldTasks { get; init; }

    /// <summary>The frame index each held task's output was computed on.</summary>
    public IReadOnlyDictionary<VisionTask, long>? HeldFrom { get; init; }

    /// <summary>The frame index this frame's output of <paramref name="task"/> was computed on.</summary>
    public long ComputedOn(VisionTask task, long frameIndex) => HeldFrom != null && HeldFrom.TryGetValue(task, out long from) ? from : frameIndex;

    public long DenseTotal => DenseFlops.Values.Sum();

    public long ExecutedTotal => ExecutedFlops.Values.Sum();

    /// <summary>Fraction of dense FLOPs not spent, 0..1.</summary>
    public double SavedRatio => DenseTotal == 0 ? 0 : 1 - (double)ExecutedTotal / DenseTotal;

    /// <summary>Recomputed tokens over all gated layers, as a fraction of the tokens those layers saw.</summary>
    public double RecomputedRatio
    {
        get
        {
            long total = Tokens.Sum(t => (long)t.Total);
            return total == 0 ? 1 : (double)Tokens.Sum(t => (long)t.Recomputed) / total;
        }
    }

    public static FrameAccounting FromCounter(FlopCounter counter, IEnumerable<VisionTask> tasks, IReadOnlyList<LayerTokens> tokens,
        bool keyframe, string? reason)
    {
        var list = tasks.ToList();
        return new FrameAccounting(list.ToDictionary(t => t, counter.Dense), list.ToDictionary(t => t, counter.Executed), tokens, keyframe, reason);
    }
}
