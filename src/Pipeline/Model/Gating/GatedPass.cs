using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// One frame's walk through the gates: applies the settings' threshold and budget, turns the frame into a
/// keyframe when the first gate sees a scene cut, counts the gates' own cost, and records the tokens
/// recomputed per layer for the frame's accounting.
/// </summary>
internal sealed class GatedPass
{
    private readonly List<LayerTokens> _tokens = [];
    private bool _sceneCutChecked;

    private Tensor? _stripe;

    private Tensor? _stripeMask;

    /// <param name="stripe">The rolling refresh's slot (0..K-1): tokens t with t mod K == slot are recomputed at every gate; null = no stripe.</param>
    /// <param name="level">The frame's compute level: the lean and coarse levels scale the threshold and the refresh interval K
    /// (<see cref="ComputeLevels.ThresholdScale"/>, <see cref="ComputeLevels.RefreshStretch"/>).</param>
    public GatedPass(ReuseSettings settings, FlopCounter flops, long frameIndex, long tokens, string? keyframeReason, int? stripe = null,
        ComputeLevel level = ComputeLevel.Full)
    {
        Stripe = stripe;
        ThresholdScale = ComputeLevels.ThresholdScale(level);
        RefreshInterval = Math.Max(1, RefreshIntervalAt(settings, level));
        Settings = settings;
        Flops = flops;
        FrameIndex = frameIndex;
        TokenCount = tokens;
        KeyframeReason = keyframeReason;
        MaxRows = Math.Max(1, (long)Math.Ceiling(settings.Budget * tokens));
    }

    public ReuseSettings Settings { get; }

    /// <summary>The compute budget the policy chooses this frame's units at (1: every unit).</summary>
    public double ComputeBudget { get; init; } = 1;

    /// <summary>The units the frame ran (<see cref="Policy.ComputeUnits"/>); null when every unit ran.</summary>
    public GatedUnits? Units { get; set; }

    public int? Stripe { get; }

    /// <summary>The gates' threshold this frame as a multiple of the settings' (<see cref="ComputeLevels.ThresholdScale"/>).</summary>
    public float ThresholdScale { get; }

    /// <summary>The rolling refresh's interval this frame: the stripe is the tokens t with t mod this == <see cref="Stripe"/>.</summary>
    public int RefreshInterval { get; }

    /// <summary>The rolling refresh's interval for a frame at <paramref name="level"/>: the stream's keyframe interval,
    /// stretched at the lean and coarse levels (<see cref="ComputeLevels.RefreshStretch"/>); 0 when the stream has none.</summary>
    public static int RefreshIntervalAt(ReuseSettings settings, ComputeLevel level) => settings.KeyframeInterval * ComputeLevels.RefreshStretch(level);

    public FlopCounter Flops { get; }

    public long FrameIndex { get; }

    public long TokenCount { get; }

    public long MaxRows { get; }

    public bool Keyframe => KeyframeReason is not null;

    /// <summary>
    /// The rows the first gate picks run through every block and head with no gate of their own
    /// (<see cref="ReuseSettings.GateEveryLayer"/> off): with attention never refreshed for unchanged queries, a token the
    /// first gate holds has the same input at every later gate as on the last frame, so those gates could pick only rows of
    /// the first gate's selection. Not with a compute budget below 1 (the policy's skipped blocks change what later blocks
    /// see) or when attention may be refreshed.
    /// </summary>
    public bool Propagates => PropagatesWith(Settings, ComputeBudget);

    /// <summary>Whether a frame of a stream with <paramref name="settings"/> at <paramref name="computeBudget"/> takes the
    /// propagated pass (<see cref="Propagates"/>).</summary>
    public static bool PropagatesWith(ReuseSettings settings, double computeBudget) =>
        !settings.GateEveryLayer && settings.AttentionRefresh >= 1 && !settings.IncrementalAttention && computeBudget >= 1;

    /// <summary>Makes the frame a keyframe for <paramref name="reason"/> (before its first gate).</summary>
    public void MarkKeyframe(string reason) => KeyframeReason ??= reason;

    public string? KeyframeReason { get; private set; }

    public IReadOnlyList<LayerTokens> Tokens => _tokens;

    /// <summary>Picks the rows <paramref name="gate"/> recomputes for <paramref name="input"/> [N, F]; <paramref name="full"/> forces all (cold branch).</summary>
    public GateSelection Select(TokenGate gate, Tensor input, bool full, VisionTask task, string layer)
    {
        GateSelection selection;
        if (Keyframe || full || !gate.CanScore(TokenCount))
        {
            selection = GateSelection.Everything(TokenCount);
        }
        else
        {
            selection = gate.Select(input, MaxRows, Stripe is not null ? StripeMask() : null, ThresholdScale);
            // Difference and its squared norm: 3 flops per element (the reference norm is kept per token).
            Flops.Overhead(task, 3 * TokenCount * input.shape[1]);
            if (!_sceneCutChecked && selection.OverThreshold > Settings.SceneCutLimit * TokenCount)
            {
                KeyframeReason = "scene-cut";
                selection = GateSelection.Everything(TokenCount);
            }
            else if (Stripe is not null && !selection.WithAlso)
            {
                // Capped by the budget: the stripe joins the top rows here.
                selection = WithStripe(selection);
            }
        }
        _sceneCutChecked = true;
        Record(task, layer, selection.Count);
        return selection;
    }

    /// <summary>Applies another gate's selection to <paramref name="gate"/> (its inputs moved only on those rows); falls back to all rows when the gate is cold.</summary>
    public GateSelection Reuse(TokenGate gate, GateSelection selection, VisionTask task, string layer)
    {
        var chosen = Keyframe || !gate.HasOutput(TokenCount) ? GateSelection.Everything(TokenCount) : selection;
        Record(task, layer, chosen.Count);
        return chosen;
    }

    /// <summary>
    /// Makes this frame's stripe tensors (the rows t mod K == slot, and the same as a bool mask [N]) from C# arrays (no
    /// temporary Scalar on a model path, docs/service.md). Called once at the start of the pass, in the frame's dispose
    /// scope: made lazily inside a block's scope they would be freed with that block.
    /// </summary>
    public void PrepareStripe()
    {
        if (Stripe is not int slot || _stripe is not null)
        {
            return;
        }
        int interval = RefreshInterval;
        var rows = new List<long>();
        var mask = new bool[TokenCount];
        for (long t = slot; t < TokenCount; t += interval)
        {
            rows.Add(t);
            mask[t] = true;
        }
        _stripe = tensor(rows.ToArray());
        _stripeMask = tensor(mask);
    }

    private Tensor StripeMask() => _stripeMask ?? throw StripeNotPrepared();

    private Tensor StripeRows() => _stripe ?? throw StripeNotPrepared();

    private static InvalidOperationException StripeNotPrepared() =>
        new("the pass has a rolling-refresh stripe but PrepareStripe was not called at the start of the pass");

    /// <summary>The selection plus the stripe's tokens (sorted, once each).</summary>
    private GateSelection WithStripe(GateSelection selection)
    {
        if (selection.All)
        {
            return selection;
        }
        var stripe = StripeRows();
        if (selection.Count == 0)
        {
            return new GateSelection(stripe, stripe.shape[0], selection.OverThreshold);
        }
        using var both = cat([selection.Rows!, stripe], 0);
        var (rows, _, _) = both.unique(sorted: true);
        return new GateSelection(rows, rows.shape[0], selection.OverThreshold);
    }

    public void Record(VisionTask task, string layer, long recomputed) =>
        _tokens.Add(new LayerTokens(task, layer, (int)recomputed, (int)TokenCount));
}
