using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;

namespace StreamMtl.Pipeline.Streams;

/// <summary>
/// One camera stream: supervised source -> reader/preprocess (resize to the model size) -> inference lane (capacity 1,
/// drop oldest) -> encode queue (capacity 2, drop oldest) -> encoder (once per distinct subscriber spec) -> subscriber queues.
/// Only tasks somebody subscribed to are computed (all of the stream's tasks when always-on).
/// </summary>
public sealed partial class CameraStream : IAsyncDisposable
{
    private readonly StreamSupervisor _supervisor;
    private readonly SourceDemand _demand;
    private readonly InferenceLane _lane;
    private readonly ComputeController? _controller;
    private readonly Channel<InferenceOutput> _encodeQueue;
    private readonly FanOut _fanOut;
    private readonly IStreamMetrics _metrics;
    private readonly LoadedModel _model;
    private readonly PipelineOptions _pipeline;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private Task _encoder = Task.CompletedTask;
    private long _ingested;
    private long _processed;
    private long _dropped;
    private long _sourceDropsSeen;
    private long _reconnectsSeen;
    private long _lastAccepted = long.MinValue;
    private int _stopped;

    public CameraStream(StreamDefinition definition, FrameSourceFactory factory, InferenceEngine engine, IStreamMetrics metrics,
        PipelineOptions pipeline, TimeProvider time, ILogger logger, int maxMessageBytes = 4 * 1024 * 1024, Func<EncodedResult, int>? messageSize = null)
    {
        Definition = definition;
        _metrics = metrics;
        _model = engine.Model;
        _pipeline = pipeline;
        _time = time;
        _logger = logger;
        var sourceOptions = new SourceOptions { Width = definition.Width, Height = definition.Height, Egress = definition.Egress };
        // A stream nobody watches (and not always-on) reads nothing: its source pauses or decodes key frames only.
        _demand = new SourceDemand(definition.AlwaysOn, pipeline.IdleGrace, time);
        _supervisor = StreamSupervisor.Create(factory, definition.SourceUri, sourceOptions,
            definition.Reconnect ?? new SupervisorOptions { StallTimeout = pipeline.StallTimeout }, time, logger, _demand);
        _supervisor.StateChanged += OnStateChanged;
        _encodeQueue = Channel.CreateBounded(new BoundedChannelOptions(2) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            (InferenceOutput output) =>
            {
                output.Dispose();
                Drop("encode_busy");
            });
        _fanOut = new FanOut(definition.Id, pipeline.SubscriberQueue, metrics, time, logger, Drop)
        {
            MaxMessageBytes = maxMessageBytes,
            MessageSize = messageSize ?? FanOut.EstimatedSize,
            CountChanged = count => _demand.Set(definition.AlwaysOn || count > 0),
        };
        _lane = engine.OpenLane(definition.Id, definition.Reuse, 1, BoundedChannelFullMode.DropOldest, _ => DropBusy(), Deliver);
        // Streams that gain headroom together step up a window apart, not all at once.
        _controller = definition.Reuse.Adaptive
            ? new ComputeController(definition.Reuse.Level, definition.Reuse.Floor, pipeline.Controller, time, pipeline.Controller.Window * (_lane.Ordinal % 5),
                _model.Config.Policy is null ? null : ComputeController.BudgetLadder(definition.Reuse.ComputeBudget, definition.Reuse.ComputeBudgetFloor, pipeline.Controller.BudgetStep))
            : null;
        metrics.StreamOpened(Id, definition.Tasks);
        metrics.ComputeLevel(Id, definition.Reuse.Level);
        metrics.ComputeBudget(Id, definition.Reuse.ComputeBudget);
        metrics.SourceUp(Id, false);
    }

    public StreamDefinition Definition { get; }
    public string Id => Definition.Id;
    public string DisplayUri => _supervisor.DisplayUri;
    public StreamStatus Status => _supervisor.Status;
    public int SubscriberCount => _fanOut.Count;

    public void Start()
    {
        _supervisor.Start();
        _reader = Task.Run(() => ReadAsync(_stop.Token));
        _encoder = Task.Run(EncodeAsync);
    }

    /// <summary>Adds a subscriber; null with a reason when the stream cannot take one.</summary>
    public Subscriber? Subscribe(OutputSpec spec, int maxSubscribers, out string? error)
    {
        if (Volatile.Read(ref _stopped) == 1)
        {
            error = "stream is stopping";
            return null;
        }
        return _fanOut.Add(spec, maxSubscribers, out error);
    }

    public void Unsubscribe(Subscriber subscriber, string? reason) => _fanOut.Remove(subscriber, reason);

    /// <summary>The stream as it is now: definition, source state and counters.</summary>
    public StreamSnapshot Snapshot()
    {
        var status = Status;
        return new StreamSnapshot(Definition, status, _fanOut.Count, Interlocked.Read(ref _ingested), Interlocked.Read(ref _processed),
            Interlocked.Read(ref _dropped) + status.Drops);
    }

    /// <summary>What to compute for the next frame: every task when always-on, else what subscribers asked for.</summary>
    private TaskSet ComputedTasks() => Definition.AlwaysOn ? Definition.Tasks : _fanOut.Tasks & Definition.Tasks;

    private async Task ReadAsync(CancellationToken stop)
    {
        try
        {
            await foreach (var frame in _supervisor.Frames.ReadAllAsync(stop).ConfigureAwait(false))
            {
                Interlocked.Increment(ref _ingested);
                _metrics.FrameIngested(Id);
                CountSourceDrops();
                Accept(frame);
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            Log.ReaderFailed(_logger, Id, e);
        }
        finally
        {
            // A source that ended or failed for good: subscribers learn it now instead of waiting forever.
            var status = _supervisor.Status;
            if (!stop.IsCancellationRequested && status.State == StreamState.Failed)
            {
                _fanOut.CompleteAll(new Failure(FailureKind.Unavailable, $"source failed: {status.LastError}"));
            }
        }
    }

    private void Accept(Frame frame)
    {
        var tasks = ComputedTasks();
        if (tasks == TaskSet.None)
        {
            frame.Dispose();
            Drop("idle");
            return;
        }
        long now = _time.GetTimestamp();
        if (Definition.MaxFps > 0 && _lastAccepted != long.MinValue
            && _time.GetElapsedTime(_lastAccepted, now).TotalSeconds < 0.95 / Definition.MaxFps)
        {
            frame.Dispose();
            Drop("rate_limit");
            return;
        }
        _lastAccepted = now;
        var clock = Stopwatch.StartNew();
        Frame input;
        using (frame)
        {
            input = Preprocess.Resize(frame, _model.InputWidth, _model.InputHeight);
        }
        var preprocess = clock.Elapsed;
        _metrics.StageTime(Id, "preprocess", preprocess);
        var level = NextLevel();
        var job = new InferenceJob(input, tasks, _time.GetTimestamp(), preprocess) { Level = level, ComputeBudget = _controller?.Budget };
        if (!_lane.TryEnqueue(job))
        {
            job.Dispose();
        }
        _metrics.QueueDepth(Id, "inference", _lane.QueueDepth);
    }

    /// <summary>The compute level for the frame being queued: the configured one, or the controller's.</summary>
    private ComputeLevel NextLevel()
    {
        if (_controller is null)
        {
            return Definition.Reuse.Level;
        }
        if (_controller.FrameOffered() is { } change)
        {
            if (change.BudgetChanged)
            {
                _metrics.ComputeBudgetChanged(Id, change);
                _metrics.ComputeBudget(Id, change.ToBudget);
                Log.BudgetChanged(_logger, Id, change.FromBudget, change.ToBudget);
            }
            else
            {
                _metrics.ComputeLevelChanged(Id, change);
                _metrics.ComputeLevel(Id, change.To);
                Log.LevelChanged(_logger, Id, ComputeLevels.Name(change.From), ComputeLevels.Name(change.To));
            }
        }
        return _controller.Level;
    }

    private void DropBusy()
    {
        _controller?.FrameDropped();
        Drop("inference_busy");
    }

    private void Deliver(InferenceOutput output)
    {
        _controller?.FrameStarted(output.QueueTime);
        if (!_encodeQueue.Writer.TryWrite(output))
        {
            output.Dispose();
        }
    }

    private async Task EncodeAsync()
    {
        await foreach (var output in _encodeQueue.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            using (output)
            {
                _metrics.QueueDepth(Id, "encode", _encodeQueue.Reader.Count);
                if (output.Analysis is null)
                {
                    Drop("error");
                    continue;
                }
                Interlocked.Increment(ref _processed);
                ResultStage.Record(_metrics, Id, output);
                try
                {
                    _fanOut.Deliver(output);
                }
                catch (Exception e)
                {
                    Log.EncodeFailed(_logger, Id, e);
                    Drop("error");
                }
            }
        }
    }

    private void Drop(string reason)
    {
        Interlocked.Increment(ref _dropped);
        _metrics.FramesDropped(Id, reason);
    }

    private void CountSourceDrops()
    {
        long drops = _supervisor.Status.Drops;
        long delta = drops - Interlocked.Exchange(ref _sourceDropsSeen, drops);
        if (delta > 0)
        {
            _metrics.FramesDropped(Id, "source_overwritten", delta);
        }
    }

    private void OnStateChanged(StreamStatus status)
    {
        _metrics.SourceUp(Id, status.State is StreamState.Running or StreamState.Idle);
        long delta = status.Reconnects - Interlocked.Exchange(ref _reconnectsSeen, status.Reconnects);
        if (delta > 0)
        {
            _metrics.SourceReconnects(Id, delta);
        }
        if (status.State is StreamState.Connecting && status.Reconnects > 0)
        {
            // New connection: the reuse references belong to the old one.
            _lane.RequestReset();
        }
    }

    /// <summary>Stops the source, drains the pipeline and completes every subscriber (their calls end with OK).</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }
        _supervisor.StateChanged -= OnStateChanged;
        await _stop.CancelAsync().ConfigureAwait(false);
        await _supervisor.DisposeAsync().ConfigureAwait(false);
        await _reader.ConfigureAwait(false);
        _lane.Dispose();
        _encodeQueue.Writer.TryComplete();
        await _encoder.ConfigureAwait(false);
        _fanOut.CompleteAll(null);
        _demand.Dispose();
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(11, LogLevel.Error, "Stream {Stream}: reader failed")]
        public static partial void ReaderFailed(ILogger logger, string stream, Exception error);

        [LoggerMessage(12, LogLevel.Error, "Stream {Stream}: encoding failed")]
        public static partial void EncodeFailed(ILogger logger, string stream, Exception error);

        [LoggerMessage(13, LogLevel.Information, "Stream {Stream}: compute level {From} -> {To}")]
        public static partial void LevelChanged(ILogger logger, string stream, string from, string to);

        [LoggerMessage(14, LogLevel.Information, "Stream {Stream}: compute budget {From} -> {To}")]
        public static partial void BudgetChanged(ILogger logger, string stream, double from, double to);
    }
}
