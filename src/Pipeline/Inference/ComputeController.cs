using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Inference;

/// <summary>A controller's step from one level to another; <see cref="Down"/> when it computes less.</summary>
public readonly record struct LevelChange(ComputeLevel From, ComputeLevel To)
{
    public bool Down => To > From;

    public string Direction => Down ? "down" : "up";
}

/// <summary>
/// One stream's overload controller: keeps the stream real-time by lowering its compute level (<see cref="ComputeLevels"/>)
/// when its frames are dropped for a busy inference lane, and raising it again once it has had headroom for a while.
/// Judged per window (<see cref="ComputeControllerOptions"/>): a window whose drop share is over the limit steps down at
/// once (never below the floor); windows with no drop and short waits for a worker must add up to the up-hold before a
/// step up (never above the target). A step up undone within the probation period doubles the next hold, so a level the
/// box cannot keep is not retried every few seconds; the stream's stagger delays its step ups so that streams which gained
/// headroom together do not all step up at once; drops within the start-up grace after the stream's first frame do not step
/// it down (its first frames are full passes). Time comes from the injected <see cref="TimeProvider"/>; thread-safe.
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
    private ComputeLevel _level;

    /// <param name="target">The level the stream runs at with headroom (its configured level).</param>
    /// <param name="floor">The lowest level the controller may take.</param>
    /// <param name="stagger">Added to this stream's up-hold (e.g. a window times the stream's ordinal mod a few).</param>
    public ComputeController(ComputeLevel target, ComputeLevel floor, ComputeControllerOptions options, TimeProvider time, TimeSpan stagger = default)
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
        Target = target;
        Floor = floor;
        _options = options;
        _time = time;
        _stagger = stagger < TimeSpan.Zero ? TimeSpan.Zero : stagger;
        _level = target;
        _windowStart = time.GetTimestamp();
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
                return _level;
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
            change = starting ? null : StepDown(now);
        }
        else if (_dropped == 0 && _started > 0 && (_waited / _started) < _options.HeadroomWaitRatio * (length / _offered))
        {
            _headroomSince ??= _windowStart;
            if (_level > Target && _time.GetElapsedTime(_headroomSince.Value, now) >= _options.UpHold * _holdFactor + _stagger)
            {
                change = new LevelChange(_level, _level - 1);
                _level--;
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

    private LevelChange? StepDown(long now)
    {
        if (_lastUp is { } up && _time.GetElapsedTime(up, now) <= _options.ProbationPeriod)
        {
            _holdFactor = Math.Min(_holdFactor * 2, _options.MaxUpHoldFactor);
            _lastUp = null;
        }
        if (_level >= Floor)
        {
            return null;
        }
        var change = new LevelChange(_level, _level + 1);
        _level++;
        return change;
    }
}
