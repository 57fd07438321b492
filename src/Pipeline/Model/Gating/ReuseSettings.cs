namespace StreamMtl.Pipeline.Model;

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

    public float Threshold { get; init; } = 0.05f;

    /// <summary>Maximum fraction (0..1] of tokens recomputed per gated layer and frame.</summary>
    public float Budget { get; init; } = 0.5f;

    /// <summary>
    /// Frames run between forced full recomputes (frames dropped before inference do not count); 0 = never (only start, gaps and scene cuts). 15 (was 10,
    /// and 100 before that): on real footage most of reuse's difference from dense is drift accumulated since the last
    /// refresh; with the propagated pass (which recomputes its rows in every block) 15 is as close to dense as 10 was with a
    /// gate per layer, on vtest and on the car park, for 12 % fewer FLOPs (docs/reuse.md, "Why these defaults").
    /// </summary>
    public int KeyframeInterval { get; init; } = 15;

    /// <summary>
    /// Largest step between consecutive frame indices that is still gated; a larger jump (or a step back)
    /// forces a keyframe. A live pipeline drops frames whenever inference is slower than the camera, so
    /// gaps are routine, and a stream starved by its neighbours may get one frame in 20 or 50: the gates see the
    /// larger change and the scene-cut limit catches big ones. 300 (was 15, which made every frame of a starved
    /// stream a dense keyframe, so throughput fell past capacity instead of saturating): 30 s at 10 fps.
    /// 1 = any skipped frame forces a keyframe.
    /// </summary>
    public int MaxIndexStep { get; init; } = 300;

    /// <summary>Fraction (0..1] of tokens over threshold at the first gate that counts as a scene cut.</summary>
    public float SceneCutLimit { get; init; } = 0.8f;

    /// <summary>
    /// Fraction (0..1] of a layer's keys recomputed at or above which every query's attention output is
    /// recomputed too, not only the changed queries' (unchanged tokens then see the new keys/values; the
    /// proj gate still filters the ones whose attention output barely moved). 0 = whenever any key changed
    /// (with threshold 0 and budget 1 the pass then equals dense); 1 = never on gated frames.
    /// </summary>
    public float AttentionRefresh { get; init; } = 1f;

    /// <summary>
    /// Keep every query's attention output current by swapping changed keys/values into per-row running
    /// softmax sums (Eventful's incremental A.V) instead of leaving unchanged queries' outputs stale.
    /// </summary>
    public bool IncrementalAttention { get; init; }

    /// <summary>
    /// Spread the interval refresh over the interval instead of a full keyframe every <see cref="KeyframeInterval"/>
    /// frames: each gated frame also recomputes the stripe of tokens whose index is the frame's slot modulo K at every
    /// gate, so every token is recomputed at least once per K frames and no frame costs a dense pass (smooth latency:
    /// the same FLOPs as the keyframes, spent evenly). Start, gaps, size changes and scene cuts stay full keyframes.
    /// On (was off): 4 vtest streams on 2 cores keep their throughput (35.8 vs 36.7 fps) with the worst stream's
    /// inference p99/p50 at 3.1 instead of 8-9, within the fidelity bars (docs/reuse.md, docs/service.md Capacity).
    /// </summary>
    public bool RollingRefresh { get; init; } = true;

    /// <summary>
    /// Score a gate in front of every token-wise stage (qkv, proj, MLP, head), as the Eventful Transformers lay them out,
    /// instead of running the rows the first gate picks through every block (off, the default: see
    /// <see cref="GatedPass.Propagates"/>). With attention never refreshed (<see cref="AttentionRefresh"/> 1) the later gates
    /// can only pick among those rows, so propagating recomputes each of them in every block (closer to dense) for fewer
    /// tensor ops: no scoring, no reference kept per gate, no gather and scatter per stage. Kept for comparison
    /// (docs/reuse.md); other attention settings and compute budgets below 1 score every layer whatever this says.
    /// </summary>
    public bool GateEveryLayer { get; init; }

    /// <summary>Sub-task activation-sharing threshold (across tasks; 0 = exact). Dense runner only: the reuse runner computes sub-tasks without it.</summary>
    public float ShareThreshold { get; init; }

    /// <summary>
    /// The stream's compute level (its target complexity): <see cref="ComputeLevel.Full"/> computes every requested task on
    /// every frame; lower levels hold sub-task outputs over frames and/or coarsen the reuse (<see cref="ComputeLevels"/>). With
    /// <see cref="Adaptive"/> this is the level the controller returns to when the box has headroom.
    /// </summary>
    public ComputeLevel Level { get; init; } = ComputeLevel.Full;

    /// <summary>
    /// The overload controller moves the stream between <see cref="Level"/> and <see cref="Floor"/> to keep its frame rate
    /// (fewer frames dropped as "inference_busy") instead of dropping frames; off: the level stays at <see cref="Level"/>.
    /// </summary>
    public bool Adaptive { get; init; }

    /// <summary>The lowest level the controller may take (at or below <see cref="Level"/> in the order full, reduced, minimal,
    /// lean, coarse). Coarse (was minimal): 12 vtest streams, twice what the box sustains in full, need frames cheaper than
    /// minimal's (docs/service.md, "Capacity").</summary>
    public ComputeLevel Floor { get; init; } = ComputeLevel.Coarse;

    /// <summary>
    /// Target complexity of the stream's frames, a fraction in (0, 1] of their dense FLOPs: below 1 the model's compute
    /// policy (docs/adaptive.md) picks per frame which blocks run. 1 = every block (today's pass). Below 1 needs a model with
    /// a policy. With <see cref="Adaptive"/> the controller lowers it (down to <see cref="ComputeBudgetFloor"/>) before the levels.
    /// </summary>
    public double ComputeBudget { get; init; } = 1;

    /// <summary>The lowest compute budget the stream may run at, set or chosen by the controller (in (0, 1]).</summary>
    public double ComputeBudgetFloor { get; init; } = 0.4;

    /// <summary>Keyframes run every block whatever the compute budget (off: they follow the policy like other frames).</summary>
    public bool FullKeyframes { get; init; }

    /// <summary>A fresh instance with the defaults (fresh each time: configuration binding writes into the objects it is given).</summary>
    public static ReuseSettings Default => new();

    /// <summary>Every problem with the settings; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!(Threshold >= 0) || float.IsInfinity(Threshold)) errors.Add($"threshold must be a finite number >= 0, got {Threshold}");
        if (!(Budget > 0 && Budget <= 1)) errors.Add($"budget must be in (0, 1], got {Budget}");
        if (MaxIndexStep < 1) errors.Add($"max index step must be >= 1, got {MaxIndexStep}");
        if (KeyframeInterval < 0) errors.Add($"keyframe interval must be >= 0, got {KeyframeInterval}");
        if (!(SceneCutLimit > 0 && SceneCutLimit <= 1)) errors.Add($"scene-cut limit must be in (0, 1], got {SceneCutLimit}");
        if (!(AttentionRefresh >= 0 && AttentionRefresh <= 1)) errors.Add($"attention refresh must be in [0, 1], got {AttentionRefresh}");
        if (!(ShareThreshold >= 0) || float.IsInfinity(ShareThreshold)) errors.Add($"share threshold must be a finite number >= 0, got {ShareThreshold}");
        if (!ComputeLevels.IsDefined(Level)) errors.Add($"level must be {ComputeLevels.Rule}, got {ComputeLevels.Name(Level)}");
        if (!ComputeLevels.IsDefined(Floor)) errors.Add($"floor must be {ComputeLevels.Rule}, got {ComputeLevels.Name(Floor)}");
        else if (ComputeLevels.IsDefined(Level) && Floor < Level)
        {
            errors.Add($"floor ({ComputeLevels.Name(Floor)}) must not be above level ({ComputeLevels.Name(Level)}): the order is {ComputeLevels.Rule}");
        }
        if (Policy.Budget.Problem(ComputeBudgetFloor) is string floorProblem) errors.Add("compute budget floor: " + floorProblem);
        if (Policy.Budget.Problem(ComputeBudget) is string budgetProblem) errors.Add("compute " + budgetProblem);
        else if (ComputeBudget < ComputeBudgetFloor)
        {
            errors.Add($"compute budget {Invariant(ComputeBudget)} is below the compute budget floor {Invariant(ComputeBudgetFloor)}");
        }
        if (Dense && ComputeBudget < 1)
        {
            errors.Add("a compute budget below 1 needs temporal reuse: a dense stream always computes in full");
        }
        if (Dense && (Adaptive || Level != ComputeLevel.Full))
        {
            errors.Add("adaptive and level need temporal reuse: a dense stream always computes in full");
        }
        return errors;
    }

    /// <summary>Every problem with the settings for <paramref name="model"/>: <see cref="Validate()"/>, and a compute budget below 1
    /// on a model without a compute policy.</summary>
    public IReadOnlyList<string> Validate(ModelConfig model)
    {
        var errors = Validate();
        if (model.Policy is null && ComputeBudget < 1 && Policy.Budget.Problem(ComputeBudget) is null)
        {
            errors = [.. errors, $"compute budget {Invariant(ComputeBudget)} needs a model with a compute policy; this model has none (use 1, or a model trained with `streammtl train --stage policy`)"];
        }
        return errors;
    }

    private static string Invariant(double value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
