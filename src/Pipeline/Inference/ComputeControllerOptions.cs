namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// How the overload controller judges a stream (<see cref="ComputeController"/>): per window, the share of its frames
/// dropped before inference and how long its frames waited for a worker.
/// </summary>
public sealed record ComputeControllerOptions
{
    /// <summary>Observations are judged per window of this length.</summary>
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>A window with fewer frames offered is not judged (a paused or idle stream says nothing about load).</summary>
    public int MinFrames { get; init; } = 5;

    /// <summary>Step down when more than this share of a window's frames was dropped for a busy inference lane.</summary>
    public double StepDownDropRatio { get; init; } = 0.05;

    /// <summary>
    /// Each further share this large of a window's frames dropped (beyond <see cref="StepDownDropRatio"/>) takes one more
    /// rung down in the same step: a window that dropped half its frames needs about half the cost, three rungs below full,
    /// not three windows of dropping at the levels in between (at twice capacity the descent one rung a window cost 5-13 %
    /// of a 20 s window's frames). 1 = one rung per window.
    /// </summary>
    public double DropsPerRung { get; init; } = 0.2;

    /// <summary>A window has headroom when none of its frames was dropped and their mean wait for a worker was under this
    /// share of the mean interval between frames (a stream near capacity waits most of an interval).</summary>
    public double HeadroomWaitRatio { get; init; } = 0.25;

    /// <summary>Headroom must last this long (whole windows, since the last change) before stepping up; doubled after each
    /// step up that had to be undone within <see cref="ProbationPeriod"/>, up to <see cref="MaxUpHoldFactor"/> times.</summary>
    public TimeSpan UpHold { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>A step down this soon after a step up marks the step up as failed (the hold doubles).</summary>
    public TimeSpan ProbationPeriod { get; init; } = TimeSpan.FromSeconds(10);

    public int MaxUpHoldFactor { get; init; } = 8;

    /// <summary>
    /// Drops in the windows that end within this long of the stream's first frame do not step it down: a stream's first
    /// frames are full passes (its first keyframe, the model's first runs on the thread), so a stream starting beside others
    /// dropped frames it would not drop a few seconds later, stepped down, and then needed the whole up-hold to come back
    /// (2 streams spent a third of a 20 s window at reduced). Two windows.
    /// </summary>
    public TimeSpan StartupGrace { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>For a stream whose model has a compute policy, the controller lowers its compute budget by this much per
    /// step (1, 0.8, 0.6, 0.4 at 0.2), down to the stream's compute-budget floor (<see cref="BudgetsFirst"/>: before or
    /// after the compute levels).</summary>
    public double BudgetStep { get; init; } = 0.2;

    /// <summary>
    /// For a stream whose model has a compute policy: step the budgets down before the levels (true) or the levels before
    /// the budgets (false, the default). On a synthetic stream with truth the adaptive model at `coarse` and budget 1 ran
    /// faster and more accurately than at `full` and budget 0.4 (15.8 against 24.3 ms a frame, mIoU 0.626 against 0.571),
    /// and a budget below 1 leaves the propagated pass, so 0.8 cost a frame what 1 did (docs/adaptive.md, "Under load").
    /// </summary>
    public bool BudgetsFirst { get; init; }

    /// <summary>Every problem with the options; empty when valid.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Window <= TimeSpan.Zero) errors.Add($"controller window must be > 0, got {Window}");
        if (MinFrames < 1) errors.Add($"controller min frames must be >= 1, got {MinFrames}");
        if (!(StepDownDropRatio >= 0 && StepDownDropRatio < 1)) errors.Add($"controller step-down drop ratio must be in [0, 1), got {StepDownDropRatio}");
        if (!(DropsPerRung > 0 && DropsPerRung <= 1)) errors.Add($"controller drops per rung must be in (0, 1], got {DropsPerRung}");
        if (!(HeadroomWaitRatio > 0 && HeadroomWaitRatio <= 1)) errors.Add($"controller headroom wait ratio must be in (0, 1], got {HeadroomWaitRatio}");
        if (UpHold < Window) errors.Add($"controller up hold must be at least one window ({Window}), got {UpHold}");
        if (ProbationPeriod < TimeSpan.Zero) errors.Add($"controller probation period must be >= 0, got {ProbationPeriod}");
        if (MaxUpHoldFactor < 1) errors.Add($"controller max up-hold factor must be >= 1, got {MaxUpHoldFactor}");
        if (StartupGrace < TimeSpan.Zero) errors.Add($"controller start-up grace must be >= 0, got {StartupGrace}");
        if (!(BudgetStep > 0 && BudgetStep < 1)) errors.Add($"controller budget step must be in (0, 1), got {BudgetStep}");
        return errors;
    }
}
