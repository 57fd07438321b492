namespace StreamMtl.Ingest.Supervision;

/// <summary>
/// Whether anybody wants a source's frames now. A supervised source that nobody wants costs (almost) nothing: pull
/// sources (the synthetic camera, files, devices) are not read at all, live network sources reconnect to decode key
/// frames only. Wanting applies at once; not wanting applies after a grace period, so a subscriber that reconnects
/// does not restart the source.
/// </summary>
public sealed class SourceDemand : IDisposable
{
    private readonly Lock _gate = new();
    private readonly TimeSpan _idleGrace;
    private readonly ITimer _idleTimer;
    private bool _wanted;
    private bool _idlePending;
    private TaskCompletionSource _whenWanted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private CancellationTokenSource _changed = new();

    public SourceDemand(bool wanted, TimeSpan idleGrace, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(idleGrace, TimeSpan.Zero);
        _idleGrace = idleGrace;
        _idleTimer = (time ?? TimeProvider.System).CreateTimer(_ => Apply(false, onlyIfPending: true), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _wanted = wanted;
        if (wanted)
        {
            _whenWanted.SetResult();
        }
    }

    /// <summary>A demand that never changes: the source is always read (tools, benchmarks, always-on streams).</summary>
    public static SourceDemand Always { get; } = new(true, TimeSpan.Zero);

    public bool IsWanted
    {
        get
        {
            lock (_gate)
            {
                return _wanted;
            }
        }
    }

    /// <summary>Whether frames are wanted now and a token cancelled at the next change, read together.</summary>
    public (bool Wanted, CancellationToken Changed) Current
    {
        get
        {
            lock (_gate)
            {
                return (_wanted, _changed.Token);
            }
        }
    }

    /// <summary>Frames are wanted (applies now) or not (applies after the grace period unless wanted again before).</summary>
    public void Set(bool wanted)
    {
        if (wanted || _idleGrace == TimeSpan.Zero)
        {
            Apply(wanted, onlyIfPending: false);
            return;
        }
        lock (_gate)
        {
            if (!_wanted || _idlePending)
            {
                return;
            }
            _idlePending = true;
        }
        _idleTimer.Change(_idleGrace, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Completes when frames are wanted.</summary>
    public Task WhenWantedAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return _whenWanted.Task.WaitAsync(cancellationToken);
        }
    }

    public void Dispose() => _idleTimer.Dispose();

    private void Apply(bool wanted, bool onlyIfPending)
    {
        CancellationTokenSource changed;
        lock (_gate)
        {
            if (onlyIfPending && !_idlePending)
            {
                return;
            }
            _idlePending = false;
            if (_wanted == wanted)
            {
                return;
            }
            _wanted = wanted;
            if (wanted)
            {
                _whenWanted.TrySetResult();
            }
            else
            {
                _whenWanted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            changed = _changed;
            _changed = new CancellationTokenSource();
        }
        changed.Cancel();
        changed.Dispose();
    }
}
