namespace StreamMtl.Pipeline.Reuse;

/// <summary>
/// Per-stream temporal-reuse settings. A token is recomputed at a gated layer when its input moved more
/// than <see cref="Threshold"/> (relative L2) from the reference kept for it, at most <see cref="Budget"/>
/// of the tokens per frame (top-k by score); full recomputes happen every <see cref="KeyframeInterval"/>
/// frames and when more than <see cref="SceneCutLimit"/> of the tokens are over the threshold.
/// </summary>
public sealed record ReuseSettings
{
    /// <summary>Reuse off: every frame is computed in full.</summary>
    public bool Dense { get; init; }

    public float Threshold { get; init; } = 0.1f;

    /// <summary>Maximum fraction (0..1] of tokens recomputed per gated layer and frame.</summary>
    public float Budget { get; init; } = 0.5f;

    /// <summary>Frames between forced full recomputes; 0 = never (only start, gaps and scene cuts).</summary>
    public int KeyframeInterval { get; init; } = 100;

    /// <summary>Fraction (0..1] of tokens over threshold at the first gate that counts as a scene cut.</summary>
    public float SceneCutLimit { get; init; } = 0.6f;

    /// <summary>Sub-task activation-sharing threshold (across tasks; 0 = exact).</summary>
    public float ShareThreshold { get; init; }

    public static ReuseSettings Default { get; } = new();

    /// <summary>Every problem with the settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(Threshold >= 0) || float.IsInfinity(Threshold)) errors.Add($"threshold must be a finite number >= 0, got {Threshold}");
        if (!(Budget > 0 && Budget <= 1)) errors.Add($"budget must be in (0, 1], got {Budget}");
        if (KeyframeInterval < 0) errors.Add($"keyframe interval must be >= 0, got {KeyframeInterval}");
        if (!(SceneCutLimit > 0 && SceneCutLimit <= 1)) errors.Add($"scene-cut limit must be in (0, 1], got {SceneCutLimit}");
        if (!(ShareThreshold >= 0) || float.IsInfinity(ShareThreshold)) errors.Add($"share threshold must be a finite number >= 0, got {ShareThreshold}");
        return errors;
    }
}
