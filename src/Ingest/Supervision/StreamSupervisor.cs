using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Supervision;

/// <summary>
/// Keeps one stream alive: a single reader drains the source into a <see cref="LatestFrameSlot"/>, detects stalls,
/// and reconnects with exponential backoff until stopped or a permanent error makes retrying pointless.
/// Sources must end their read promptly when its token is cancelled: that is how stalls and stops tear them down.
/// </summary>
public sealed class StreamSupervisor : IAsyncDisposable
{
    private readonly Func<bool, IFrameSource> _createSource;
    private readonly SourceDemand _demand;
    private readonly SupervisorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Backoff _backoff;
    private readonly LatestFrameSlot _slot;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private Task? _loop;
    private int _disposed;
    private StreamState _state = StreamState.Connecting;
    private DateTimeOffset _stateSince;
    private string? _lastError;
    private SourceErrorKind? _lastErrorKind;
    private long _frames;
    private long _reconnects;
    private long _stalls;
    private DateTimeOffset? _lastFrameAt;

    public StreamSupervisor(string displayUri, Func<IFrameSource> createSource, SupervisorOptions? options = null,
        TimeProvider? time = null, ILogger? logger = null, Random? random = null)
        : this(displayUri, _ => createSource(), SourceDemand.Always, options, time, logger, random)
    {
    }

    /// <summary>
    /// Supervises sources made by <paramref name="createSource"/> (its argument: whether nobody wants frames, so a live
    /// source should decode key frames only) and reads them only while <paramref name="demand"/> wants frames.
    /// </summary>
    public StreamSupervisor(string displayUri, Func<bool, IFrameSource> createSource, SourceDemand demand, SupervisorOptions? options = null,
        TimeProvider? time = null, ILogger? logger = null, Random? random = null)
    {
        _demand = demand;
        _options = options ?? SupervisorOptions.Default;
        var errors = _options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException($"invalid supervisor options: {string.Join("; ", errors)}", nameof(options));
        }
        DisplayUri = UriRedactor.Redact(displayUri);
        _createSource = createSource;
        _time = time ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _backoff = new Backoff(_options, random);
        _slot = new LatestFrameSlot(_options.Capacity);
        _stateSince = _time.GetUtcNow();
    }

    /// <summary>Supervises the source that <paramref name="factory"/> makes for <paramref name="uri"/> (re-created per connection).</summary>
    public static StreamSupervisor Create(FrameSourceFactory factory, string uri, SourceOptions? sourceOptions = null,
        SupervisorOptions? options = null, TimeProvider? time = null, ILogger? logger = null, SourceDemand? demand = null)
    {
        var full = sourceOptions ?? SourceOptions.Default;
        var keyframes = full with { KeyframesOnly = true };
        return new(uri, idle => factory.Create(uri, idle ? keyframes : full), demand ?? SourceDemand.Always, options, time, logger);
    }

    public string DisplayUri { get; }

    /// <summary>The newest frames; the consumer owns what it reads. Completes when the supervisor stops or fails.</summary>
    public ChannelReader<Frame> Frames => _slot.Reader;

    /// <summary>Completes when the supervisor reaches <see cref="StreamState.Stopped"/> or <see cref="StreamState.Failed"/>.</summary>
    public Task Completion => _loop ?? Task.CompletedTask;

    /// <summary>Raised (on the reader's thread, so keep handlers short) after every state change.</summary>
    public event Action<StreamStatus>? StateChanged;

    public StreamStatus Status
    {
        get
        {
            lock (_gate)
            {
                return new StreamStatus(DisplayUri, _state, _stateSince, _lastError, _lastErrorKind, Interlocked.Read(ref _frames),
                    _slot.Dropped, Interlocked.Read(ref _reconnects), Interlocked.Read(ref _stalls), _lastFrameAt);
            }
        }
    }

    /// <summary>Starts the reader; calling it again does nothing.</summary>
    public void Start()
    {
        lock (_gate)
        {
            _loop ??= Task.Run(() => RunAsync(_stop.Token));
        }
    }

    /// <summary>Stops reading, kills the source (and any child process) and waits for the reader to finish.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_loop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }
        SetState(StreamState.Stopped, onlyIfActive: true);
        _slot.Complete();
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        await StopAsync().ConfigureAwait(false);
        _slot.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync(CancellationToken stop)
    {
        var attempt = 0;
        long outageSince = _time.GetTimestamp();
        try
        {
            while (!stop.IsCancellationRequested)
            {
                SetState(StreamState.Connecting);
                var (outcome, delivered) = await RunOnceAsync(stop).ConfigureAwait(false);
                if (outcome is Outcome.Stopped or Outcome.Completed || stop.IsCancellationRequested)
                {
                    SetState(StreamState.Stopped);
                    return;
                }
                if (outcome == Outcome.Failed)
                {
                    SetState(StreamState.Failed);
                    return;
                }
                if (outcome == Outcome.Retune)
                {
                    // Demand changed under a live source: reconnect at once in the other mode; not a failure.
                    attempt = 0;
                    outageSince = _time.GetTimestamp();
                    continue;
                }
                if (delivered)
                {
                    // Backoff grows only while attempts fail: a camera that blips often must come back as fast as the first time.
                    attempt = 0;
                    outageSince = _time.GetTimestamp();
                }
                var delay = _backoff.Delay(attempt, _time.GetElapsedTime(outageSince));
                IngestLog.BackingOff(_logger, DisplayUri, delay, attempt + 1);
                attempt++;
                SetState(StreamState.Backoff);
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                Interlocked.Increment(ref _reconnects);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            SetState(StreamState.Stopped);
        }
        finally
        {
            _slot.Complete();
        }
    }

    private async Task<(Outcome Outcome, bool Delivered)> RunOnceAsync(CancellationToken stop)
    {
        using var read = CancellationTokenSource.CreateLinkedTokenSource(stop);
        var timedOut = 0;
        var retuned = 0;
        // One timer re-armed per frame: the watchdog costs no allocation per frame.
        using var watchdog = _time.CreateTimer(_ =>
        {
            Interlocked.Exchange(ref timedOut, 1);
            CancelQuietly(read);
        }, null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        long firstFrameAt = 0;
        IFrameSource? source = null;
        CancellationTokenRegistration onDemandChange = default;
        try
        {
            var (wanted, changed) = _demand.Current;
            source = _createSource(!wanted);
            var reconnectsWhenIdle = source.WhenIdle == IdleMode.Reconnect;
            if (reconnectsWhenIdle)
            {
                onDemandChange = changed.Register(() =>
                {
                    Interlocked.Exchange(ref retuned, 1);
                    CancelQuietly(read);
                });
            }
            var connectTimeout = source is FfmpegFrameSource { IsListener: true } ? Timeout.InfiniteTimeSpan : _options.ConnectTimeout;
            watchdog.Change(connectTimeout, Timeout.InfiniteTimeSpan);
            await using var frames = source.ReadAsync(read.Token).GetAsyncEnumerator(read.Token);
            while (true)
            {
                if (!reconnectsWhenIdle && firstFrameAt != 0 && !_demand.IsWanted)
                {
                    // A pull source nobody wants is not read past its first frame (which proves it opens): no decoding,
                    // no rendering, no stall.
                    watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                    SetState(StreamState.Idle);
                    await _demand.WhenWantedAsync(read.Token).ConfigureAwait(false);
                    watchdog.Change(_options.StallTimeout, Timeout.InfiniteTimeSpan);
                }
                if (!await frames.MoveNextAsync().ConfigureAwait(false))
                {
                    break;
                }
                var frame = frames.Current;
                // Key frames of an idle live stream may be seconds apart: only the socket timeout watches it then.
                watchdog.Change(wanted || !reconnectsWhenIdle ? _options.StallTimeout : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
                if (firstFrameAt == 0)
                {
                    firstFrameAt = _time.GetTimestamp();
                }
                SetState(wanted || !reconnectsWhenIdle ? StreamState.Running : StreamState.Idle);
                Interlocked.Increment(ref _frames);
                lock (_gate)
                {
                    _lastFrameAt = frame.CaptureTime;
                }
                _slot.Publish(frame);
            }
            watchdog.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (source.Info.IsLive)
            {
                Fail(SourceErrorKind.Unreachable, $"{DisplayUri}: stream ended");
                return (Outcome.Disconnected, firstFrameAt != 0);
            }
            // A finite source that ended says so: the state alone does not tell an operator why the stream stopped.
            lock (_gate)
            {
                _lastError = $"{DisplayUri}: end of file after {Interlocked.Read(ref _frames)} frames";
                _lastErrorKind = null;
            }
            return (Outcome.Completed, firstFrameAt != 0);
        }
        catch (Exception ex) when (Volatile.Read(ref retuned) == 1 && Volatile.Read(ref timedOut) == 0 && !stop.IsCancellationRequested
            && ex is OperationCanceledException or SourceException)
        {
            return (Outcome.Retune, firstFrameAt != 0);
        }
        catch (Exception ex) when (Volatile.Read(ref timedOut) == 1 && !stop.IsCancellationRequested && ex is OperationCanceledException or SourceException)
        {
            if (firstFrameAt == 0)
            {
                Fail(SourceErrorKind.Unreachable, $"{DisplayUri}: no frame within the connect timeout of {_options.ConnectTimeout.TotalSeconds:0.#} s");
                return (Outcome.Disconnected, false);
            }
            Interlocked.Increment(ref _stalls);
            IngestLog.Stalled(_logger, DisplayUri, _options.StallTimeout);
            Fail(SourceErrorKind.Stalled, $"{DisplayUri}: no frame for {_options.StallTimeout.TotalSeconds:0.#} s (stalled)");
            SetState(StreamState.Stalled);
            return (Outcome.Stalled, firstFrameAt != 0);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            return (Outcome.Stopped, firstFrameAt != 0);
        }
        catch (SourceException ex)
        {
            Fail(ex.Kind, ex.Message);
            return (ex.IsPermanent ? Outcome.Failed : Outcome.Disconnected, firstFrameAt != 0);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A bug or an unforeseen library failure: retry like a disconnect rather than take the service down.
            IngestLog.Unexpected(_logger, DisplayUri, ex);
            Fail(SourceErrorKind.Corrupt, $"{DisplayUri}: {ex.GetType().Name}: {UriRedactor.Redact(ex.Message)}", log: false);
            return (Outcome.Disconnected, firstFrameAt != 0);
        }
        finally
        {
            await onDemandChange.DisposeAsync().ConfigureAwait(false);
            if (source is not null)
            {
                await source.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static void CancelQuietly(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The connection ended while the timer or the demand fired.
        }
    }


    private void Fail(SourceErrorKind kind, string message, bool log = true)
    {
        message = UriRedactor.Redact(message);
        lock (_gate)
        {
            _lastError = message;
            _lastErrorKind = kind;
        }
        if (log)
        {
            IngestLog.SourceFailed(_logger, DisplayUri, kind, message);
        }
    }

    private void SetState(StreamState state, bool onlyIfActive = false)
    {
        StreamState previous;
        lock (_gate)
        {
            previous = _state;
            if (previous == state || (onlyIfActive && previous is StreamState.Stopped or StreamState.Failed))
            {
                return;
            }
            _state = state;
            _stateSince = _time.GetUtcNow();
        }
        IngestLog.StateChanged(_logger, DisplayUri, previous, state);
        try
        {
            StateChanged?.Invoke(Status);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // An observer's bug must not kill the reader.
            IngestLog.Unexpected(_logger, DisplayUri, ex);
        }
    }

    private enum Outcome
    {
        Completed,
        Disconnected,
        Stalled,
        Failed,
        Stopped,
        Retune,
    }
}
