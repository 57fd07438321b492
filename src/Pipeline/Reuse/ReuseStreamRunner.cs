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
        var frame = Begin(input, frameIndex, tasks, level, computeBudget);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var heads = _model.ForwardGated(input, frame.Computed, State, frame.Pass, frame.Resumable);
        return Finish(frame, heads, clock.Elapsed);
    }

    /// <summary>
    /// Runs one frame of each of several streams (their runners must share one model, one frame per runner) with their
    /// gated passes batched (<see cref="MultiTaskVit.ForwardGatedBatch"/>): the same outputs and accounting as running
    /// them one by one, in fewer, larger operations. Each result's time is the batch's.
    /// </summary>
    public static IReadOnlyList<FrameAnalysis> RunBatch(IReadOnlyList<ReuseFrame> frames)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (frames.Count == 0)
        {
            return [];
        }
        var model = frames[0].Runner._model;
        if (frames.Any(f => f.Runner._model != model))
        {
            throw new ArgumentException("the runners of a batch must share one model", nameof(frames));
        }
        if (frames.Select(f => f.Runner).Distinct().Count() != frames.Count)
        {
            throw new ArgumentException("a batch holds at most one frame per runner", nameof(frames));
        }
        var clock = Stopwatch.StartNew();
        var begun = frames.Select(f => f.Runner.Begin(f.Input, f.FrameIndex, f.Tasks, f.Level, f.ComputeBudget)).ToList();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var heads = model.ForwardGatedBatch([.. frames.Select((f, i) => (f.Input, begun[i].Computed, f.Runner.State, begun[i].Pass, begun[i].Resumable))]);
        var elapsed = clock.Elapsed;
        return [.. frames.Select((f, i) => f.Runner.Finish(begun[i], heads[i], elapsed))];
    }

    /// <summary>A frame's plan before its pass: keyframe reason (a size change resets the state), the tasks it computes,
    /// holds and resumes at its level, and its pass.</summary>
    private Planned Begin(Tensor input, long frameIndex, TaskSet tasks, ComputeLevel level, double computeBudget)
    {
        int p = _model.Config.Patch;
        var grid = ((int)(input.shape[^2] / p), (int)(input.shape[^1] / p));
        string? reason = State.KeyframeReason(frameIndex, grid, Settings.KeyframeInterval, Settings.MaxIndexStep, Settings.RollingRefresh);
        if (reason is "size")
        {
            State.Reset();
        }
        var (computed, held, resumable) = _holds.Plan(tasks, level, reason is not null || State.LastFrame is null);
        var counter = new FlopCounter();
        int interval = GatedPass.RefreshIntervalAt(Settings, level);
        int? stripe = Settings.RollingRefresh && interval > 1 ? (int)((State.GatedFrames + 1) % interval) : null;
        var pass = new GatedPass(Settings, counter, frameIndex, (long)grid.Item1 * grid.Item2, reason, stripe, level)
        {
            ComputeBudget = Budget.Validate(computeBudget, nameof(computeBudget)),
        };
        return new Planned(frameIndex, grid, level, reason, computed, held, resumable, counter, pass);
    }

    /// <summary>After the pass: the canvas, the state's frame bookkeeping, the holds and the frame's accounting.</summary>
    private FrameAnalysis Finish(Planned frame, IReadOnlyDictionary<VisionTask, GatedHeadOutput> heads, TimeSpan elapsed)
    {
        var pass = frame.Pass;
        var outputs = State.Canvas.Update(heads, frame.Grid.Rows, frame.Grid.Cols, frame.Held);
        // Only a start (first frame, reset, size change) takes the phase: later keyframes keep the stream's interval.
        State.Advance(frame.FrameIndex, frame.Grid, pass.Keyframe, frame.Reason is "start" or "size" ? _phase : 0);
        var heldFrom = frame.Held == TaskSet.None ? null : _holds.ComputedOn(frame.Held);
        _holds.Ran(frame.Computed, frame.Held, pass.Keyframe, frame.FrameIndex);
        var (fraction, skipped) = _model.DescribeUnits(pass.Units, frame.Computed);
        var accounting = FrameAccounting.FromCounter(frame.Counter, heads.Keys, pass.Tokens, pass.Keyframe, pass.KeyframeReason) with
        {
            ComputeBudget = pass.Units?.ComputeBudget ?? 1,
            UnitFraction = fraction,
            SkippedUnits = skipped,
            Level = frame.Level,
            HeldTasks = frame.Held,
            HeldFrom = heldFrom,
        };
        return new FrameAnalysis(frame.FrameIndex, outputs, accounting, elapsed);
    }

    private sealed record Planned(long FrameIndex, (int Rows, int Cols) Grid, ComputeLevel Level, string? Reason, TaskSet Computed,
        TaskSet Held, TaskSet Resumable, FlopCounter Counter, GatedPass Pass);

    public void Reset()
    {
        State.Reset();
        _holds.Reset();
    }

    public void Dispose() => State.Dispose();
}

/// <summary>One stream's frame for <see cref="ReuseStreamRunner.RunBatch"/>: its runner, the frame [1, 3, H, W], its index, the
/// tasks asked for, and the level and compute budget it runs at.</summary>
public sealed record ReuseFrame(ReuseStreamRunner Runner, Tensor Input, long FrameIndex, TaskSet Tasks, ComputeLevel Level, double ComputeBudget);
