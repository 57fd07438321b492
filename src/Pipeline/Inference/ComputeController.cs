using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Inference;

/// <summary>A controller's step from one level and compute budget to another; <see cref="Down"/> when it computes less.</summary>
public readonly record struct LevelChange(ComputeLevel From, ComputeLevel To, double FromBudget = 1, double ToBudget = 1)
{
    public bool Down => To > From || ToBudget < FromBudget;

    /// <summary>Whether the step changed the compute budget (otherwise it changed the level).</summary>
    public bool BudgetChanged => ToBudget != FromBudget;

    public string Direction => Down ? "down" : "up";
}

/// <summary>
/// One stream's overload controller: keeps the stream real-time by lowering its compute level (<see cref="ComputeLevels"/>)
/// when its frames are dropped for a busy inference lane, and raising it again once it has had headroom for a while.
/// Judged per window (<see cref="ComputeControllerOptions"/>): a window whose drop share is over the limit steps down at
/// once, one rung plus one per further <see cref="ComputeControllerOptions.DropsPerRung"/> of its frames dropped (never
/// below the floor); windows with no drop and short waits for a worker must add up to the up-hold before a
/// step up (never above the target). A step up undone within the probation period doubles the next hold, so a level the
/// box cannot keep is not retried every few seconds; the stream's stagger delays its step ups so that streams which gained
/// headroom together do not all step up at once; drops within the start-up grace after the stream's first frame do not step
/// it down (its first frames are full passes). Time comes from the injected <see cref="TimeProvider"/>; thread-safe.
/// For a stream whose model has a compute policy the ladder also has compute budgets (<see cref="BudgetLadder"/>: its
/// budget, then lower by <see cref="ComputeControllerOptions.BudgetStep"/> down to its floor, e.g. 1, 0.8, 0.6, 0.4): by
/// default the levels first, at the stream's budget, then the lower budgets at the floor level; with
/// <see cref="ComputeControllerOptions.BudgetsFirst"/> the budgets first, at the target level, then the levels at the floor
/// budget. Up steps climb the same ladder back.
/// </summary>
public sealed class ComputeController
{
    private readonly Lock _gate = new();
    private readonly ComputeControllerOptions _options;
    private readonly TimeProvider _time;
    private readonly TimeSpan _stagger;
    private long _windowStart;
    private int _offered;
    private int _dropped;
    private int _started;
    private TimeSpan _waited;
    private long? _headroomSince;
    private long? _lastUp;
    private long? _firstFrame;
    private int _holdFactor = 1;
    private readonly (double Budget, ComputeLevel Level)[] _rungs;
    private int _rung;

    /// <param name="target">The level the stream runs at with headroom (its configured level).</param>
    /// <param name="floor">The lowest level the controller may take.</param>
    /// <param name="stagger">Added to this stream's up-hold (e.g. a window times the stream's ordinal mod a few).</param>
    /// <param name="budgets">The compute budgets to step through before the levels, highest first (<see cref="BudgetLadder"/>);
    /// null or [1] for a model without a policy: the budget stays 1.</param>
    public ComputeController(ComputeLevel target, ComputeLevel floor, ComputeControllerOptions options, TimeProvider time, TimeSpan stagger = default,
        IReadOnlyList<double>? budgets = null)
    {
        var errors = options.Validate();
        if (!ComputeLevels.IsDefined(target) || !ComputeLevels.IsDefined(floor) || floor < target)
        {
            errors = [.. errors, $"target {ComputeLevels.Name(target)} and floor {ComputeLevels.Name(floor)} must be {ComputeLevels.Rule}, the floor not above the target"];
        }
        if (errors.Count > 0)
        {
            throw new ArgumentException("invalid controller settings: " + string.Join("; ", errors), nameof(options));
        }
        budgets = budgets is { Count: > 0 } ? budgets : [1];
        if (budgets.Any(b => Model.Policy.Budget.Problem(b) is not null) || budgets.Zip(budgets.Skip(1), (a, b) => b >= a).Any(x => x))
        {
            throw new ArgumentException($"controller budgets must be decreasing fractions in (0, 1], got {string.Join(", ", budgets)}", nameof(budgets));
        }
        Target = target;
        Floor = floor;
        _options = options;
        _time = time;
        _stagger = stagger < TimeSpan.Zero ? TimeSpan.Zero : stagger;
        var levels = Enumerable.Range((int)target, (int)floor - (int)target + 1).Select(l => (ComputeLevel)l).ToArray();
        _rungs = options.BudgetsFirst
            ? [.. budgets.Select(b => (b, target)), .. levels.Skip(1).Select(l => (budgets[^1], l))]
            : [.. levels.Select(l => (budgets[0], l)), .. budgets.Skip(1).Select(b => (b, floor))];
        _windowStart = time.GetTimestamp();
    }

    /// <summary>
    /// The compute budgets a controller steps through from <paramref name="start"/> down to <paramref name="floor"/> by
    /// <paramref name="step"/> (the last step may be shorter: it stops at the floor); [start] when the floor is not below it.
    /// </summary>
    public static IReadOnlyList<double> BudgetLadder(double start, double floor, double step)
    {
        var ladder = new List<double> { start };
        for (int k = 1; start - k * step > floor + 1e-9; k++)
        {
            ladder.Add(Math.Round(start - k * step, 6));
        }
        if (floor < start)
        {
            ladder.Add(floor);
        }
        return ladder;
    }

    /// <summary>The compute budget for the next frame.</summary>
    public double Budget
    {
        get
        {
            lock (_gate)
            {
                return _rungs[_rung].Budget;
            }
        }
    }

    public ComputeLevel Target { get; }

    public ComputeLevel Floor { get; }

    /// <summary>The level for the next frame.</summary>
    public ComputeLevel Level
    {
        get
        {
            lock (_gate)
            {
                return _rungs[_rung].Level;
            }
        }
    }

    /// <summary>The up-hold now in force (the base hold times the backoff factor, plus the stagger).</summary>
    public TimeSpan UpHold
    {
        get
        {
            lock (_gate)
            {
                return _options.UpHold * _holdFactor + _stagger;
            }
        }
    }

    /// <summary>A frame reached the inference lane. Judges the window first when it is over; the change, if any, applies from
    /// this frame on.</summary>
    public LevelChange? FrameOffered()
    {
        lock (_gate)
        {
            var change = JudgeIfDue();
            _firstFrame ??= _time.GetTimestamp();
            _offered++;
            return change;
        }
    }

    /// <summary>A frame was dropped because the stream's inference lane was still busy ("inference_busy").</summary>
    public void FrameDropped()
    {
        lock (_gate)
        {
            _dropped++;
        }
    }

    /// <summary>A frame reached a worker after waiting <paramref name="wait"/> in the lane.</summary>
    public void FrameStarted(TimeSpan wait)
    {
        lock (_gate)
        {
            _started++;
            _waited += wait;
        }
    }

    /// <summary>Judges the window now if it is over (for a stream whose frames stopped; <see cref="FrameOffered"/> does this per frame).</summary>
    public LevelChange? Tick()
    {
        lock (_gate)
        {
            return JudgeIfDue();
        }
    }

    private LevelChange? JudgeIfDue()
    {
        long now = _time.GetTimestamp();
        var length = _time.GetElapsedTime(_windowStart, now);
        if (length < _options.Window)
        {
            return null;
        }
        LevelChange? change = null;
        if (_offered < _options.MinFrames)
        {
            _headroomSince = null;
        }
        else if (_dropped > _options.StepDownDropRatio * _offered)
        {
            _headroomSince = null;
            bool starting = _firstFrame is { } first && _time.GetElapsedTime(first, now) <= _options.StartupGrace;
            change = starting ? null : StepDown(now, (double)_dropped / _offered);
        }
        else if (_dropped == 0 && _started > 0 && (_waited / _started) < _options.HeadroomWaitRatio * (length / _offered))
        {
            _headroomSince ??= _windowStart;
            if (_rung > 0 && _time.GetElapsedTime(_headroomSince.Value, now) >= _options.UpHold * _holdFactor + _stagger)
            {
                change = Step(-1);
                _lastUp = now;
                _headroomSince = null;
            }
        }
        else
        {
            _headroomSince = null;
        }
        if (change is null && _lastUp is { } up && _time.GetElapsedTime(up, now) > _options.ProbationPeriod)
        {
            // The last step up held: forgive one doubling.
            _holdFactor = Math.Max(1, _holdFactor / 2);
            _lastUp = null;
        }
        _windowStart = now;
        _offered = 0;
        _dropped = 0;
        _started = 0;
        _waited = TimeSpan.Zero;
        return change;
    }

    private LevelChange? StepDown(long now, double dropRatio)
    {
        if (_lastUp is { } up && _time.GetElapsedTime(up, now) <= _options.ProbationPeriod)
        {
            _holdFactor = Math.Min(_holdFactor * 2, _options.MaxUpHoldFactor);
            _lastUp = null;
        }
        int rungs = 1 + (int)Math.Floor((dropRatio - _options.StepDownDropRatio) / _options.DropsPerRung);
        int by = Math.Min(Math.Max(1, rungs), _rungs.Length - 1 - _rung);
        return by > 0 ? Step(by) : null;
    }

    private LevelChange Step(int by)
    {
        var (fromBudget, from) = _rungs[_rung];
        _rung += by;
        var (toBudget, to) = _rungs[_rung];
        return new LevelChange(from, to, fromBudget, toBudget);
    }
}
