using StreamMtl.Pipeline.Runners;
using System.Diagnostics;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Reuse;

/// <summary>
/// A stream's runner with temporal token reuse: each frame recomputes only the tokens whose inputs moved
/// past the threshold at each gated layer (Eventful Transformers), with full recomputes at start, after
/// gaps or size changes, every K frames and on scene cuts. Owns the stream's <see cref="ReuseState"/>.
/// </summary>
public sealed class ReuseStreamRunner : IStreamRunner
{
    private readonly MultiTaskVit _model;

    private readonly int _phase;

    private readonly SubTaskHolds _holds;

    /// <param name="keyframePhase">Frames by which this stream's interval keyframes come earlier than every K-th frame
    /// after a start (<see cref="ReuseState.KeyframePhase"/>): streams of one engine keyframe at different frames.</param>
    public ReuseStreamRunner(MultiTaskVit model, ReuseSettings settings, int keyframePhase = 0)
    {
        var errors = settings.Validate(model.Config);
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid reuse settings: " + string.Join("; ", errors), nameof(settings));
        }
        _model = model;
        Settings = settings;
        _phase = settings.KeyframeInterval > 0 ? Math.Clamp(keyframePhase, 0, settings.KeyframeInterval - 1) : 0;
        State = new ReuseState(model.Config, settings.Threshold);
        _holds = new SubTaskHolds(model.Config);
    }

    public ReuseSettings Settings { get; }

    public ReuseState State { get; }

    public FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks) => Run(input, frameIndex, tasks, ComputeLevel.Full);

    /// <summary>Runs one frame at <paramref name="level"/> (<see cref="ComputeLevels"/>): the state is the same at every level, so
    /// the level may change from frame to frame.</summary>
    public FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks, ComputeLevel level) => Run(input, frameIndex, tasks, level, Settings.ComputeBudget);

    /// <summary>Runs one frame at <paramref name="level"/> and <paramref name="computeBudget"/> (the stream's own, or the
    /// controller's): below 1 the model's policy picks the units after the patch embedding; the budget may change per frame.</summary>
    public FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks, ComputeLevel level, double computeBudget)
    {
        var clock = Stopwatch.StartNew();
        int p = _model.Config.Patch;
        var grid = ((int)(input.shape[^2] / p), (int)(input.shape[^1] / p));
        string? reason = State.KeyframeReason(frameIndex, grid, Settings.KeyframeInterval, Settings.MaxIndexStep, Settings.RollingRefresh);
        if (reason is "size")
        {
            State.Reset();
        }
        var (computed, held, resumable) = _holds.Plan(tasks, level, reason is not null || State.LastFrame is null);
        var counter = new FlopCounter();
        int? stripe = Settings.RollingRefresh && Settings.KeyframeInterval > 1 ? (int)((State.GatedFrames + 1) % Settings.KeyframeInterval) : null;
        var pass = new GatedPass(Settings, counter, frameIndex, (long)grid.Item1 * grid.Item2, reason, stripe)
        {
            ComputeBudget = Budget.Validate(computeBudget, nameof(computeBudget)),
        };
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var heads = _model.ForwardGated(input, computed, State, pass, resumable);
        var outputs = State.Canvas.Update(heads, grid.Item1, grid.Item2, held);
        // Only a start (first frame, reset, size change) takes the phase: later keyframes keep the stream's interval.
        State.Advance(frameIndex, grid, pass.Keyframe, reason is "start" or "size" ? _phase : 0);
        var heldFrom = held == TaskSet.None ? null : _holds.ComputedOn(held);
        _holds.Ran(computed, held, pass.Keyframe, frameIndex);
        var (fraction, skipped) = _model.DescribeUnits(pass.Units, computed);
        var accounting = FrameAccounting.FromCounter(counter, heads.Keys, pass.Tokens, pass.Keyframe, pass.KeyframeReason) with
        {
            ComputeBudget = pass.Units?.ComputeBudget ?? 1,
            UnitFraction = fraction,
            SkippedUnits = skipped,
            Level = level,
            HeldTasks = held,
            HeldFrom = heldFrom,
        };
        return new FrameAnalysis(frameIndex, outputs, accounting, clock.Elapsed);
    }

    public void Reset()
    {
        State.Reset();
        _holds.Reset();
    }

    public void Dispose() => State.Dispose();
}
