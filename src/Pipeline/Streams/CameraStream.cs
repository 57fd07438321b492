using System.Collections.Concurrent;
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
    private readonly InferenceLane _lane;
    private readonly Channel<InferenceOutput> _encodeQueue;
    private readonly ConcurrentDictionary<long, Subscriber> _subscribers = new();
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
        PipelineOptions pipeline, TimeProvider time, ILogger logger)
    {
        Definition = definition;
        _metrics = metrics;
        _model = engine.Model;
        _pipeline = pipeline;
        _time = time;
        _logger = logger;
        var sourceOptions = new SourceOptions { Width = definition.Width, Height = definition.Height };
        _supervisor = StreamSupervisor.Create(factory, definition.SourceUri, sourceOptions,
            new SupervisorOptions { StallTimeout = pipeline.StallTimeout }, time, logger);
        _supervisor.StateChanged += OnStateChanged;
        _encodeQueue = Channel.CreateBounded(new BoundedChannelOptions(2) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            (InferenceOutput output) =>
            {
                output.Dispose();
                Drop("encode_busy");
            });
        _lane = engine.OpenLane(definition.Id, definition.Reuse, 1, BoundedChannelFullMode.DropOldest, _ => Drop("inference_busy"), Deliver);
        metrics.StreamOpened(Id, definition.Tasks);
        metrics.SourceUp(Id, false);
    }

    public StreamDefinition Definition { get; }
    public string Id => Definition.Id;
    public string DisplayUri => _supervisor.DisplayUri;
    public StreamStatus Status => _supervisor.Status;
    public int SubscriberCount => _subscribers.Count;

    public void Start()
    {
        _supervisor.Start();
        _reader = Task.Run(() => ReadAsync(_stop.Token));
        _encoder = Task.Run(EncodeAsync);
    }

    /// <summary>Adds a subscriber; null with a reason when the stream cannot take one.</summary>
    public Subscriber? Subscribe(OutputSpec spec, int maxSubscribers, out string? error)
    {
        error = null;
        if (Volatile.Read(ref _stopped) == 1)
        {
            error = "stream is stopping";
            return null;
        }
        lock (_subscribers)
        {
            if (_subscribers.Count >= maxSubscribers)
            {
                error = $"stream '{Id}' already has {maxSubscribers} subscribers";
                return null;
            }
            var subscriber = new Subscriber(spec, _pipeline.SubscriberQueue, () => Drop("subscriber_slow"));
            _subscribers[subscriber.Id] = subscriber;
            _metrics.SubscriberCount(Id, _subscribers.Count);
            return subscriber;
        }
    }

    public void Unsubscribe(Subscriber subscriber, string? reason)
    {
        if (_subscribers.TryRemove(subscriber.Id, out _))
        {
            subscriber.Complete();
            _metrics.SubscriberCount(Id, _subscribers.Count);
            if (reason != null)
            {
                _metrics.SubscriberEnded(Id, reason);
            }
        }
    }

    /// <summary>The stream as it is now: definition, source state and counters.</summary>
    public StreamSnapshot Snapshot()
    {
        var status = Status;
        return new StreamSnapshot(Definition, status, _subscribers.Count, Interlocked.Read(ref _ingested), Interlocked.Read(ref _processed),
            Interlocked.Read(ref _dropped) + status.Drops);
    }

    private TaskSet ComputedTasks()
    {
        if (Definition.AlwaysOn)
        {
            return Definition.Tasks;
        }
        var set = TaskSet.None;
        foreach (var subscriber in _subscribers.Values)
        {
            set |= subscriber.Spec.Tasks;
        }
        return set & Definition.Tasks;
    }

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
                CompleteSubscribers(new Failure(FailureKind.Unavailable, $"source failed: {status.LastError}"));
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
        var job = new InferenceJob(input, tasks, _time.GetTimestamp(), preprocess);
        if (!_lane.TryEnqueue(job))
        {
            job.Dispose();
        }
        _metrics.QueueDepth(Id, "inference", _lane.QueueDepth);
    }

    private void Deliver(InferenceOutput output)
    {
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
                    Fanout(output);
                }
                catch (Exception e)
                {
                    Log.EncodeFailed(_logger, Id, e);
                    Drop("error");
                }
            }
        }
    }

    private void Fanout(InferenceOutput output)
    {
        var capture = output.Job.Input.CaptureTime;
        foreach (var group in _subscribers.Values.GroupBy(s => s.Spec))
        {
            if (!output.Job.Tasks.HasFlag(group.Key.Tasks))
            {
                // Subscribed after this frame's tasks were chosen: it starts with the next frame rather than get a result missing its tasks.
                continue;
            }
            var result = ResultStage.Encode(_metrics, Id, output, group.Key);
            int size = MessageSize(result);
            if (size > MaxMessageBytes)
            {
                Drop("error");
                Log.ResultTooLarge(_logger, Id, size);
                EndOversized(group, size);
                continue;
            }
            var latency = _time.GetUtcNow() - capture;
            _metrics.EndToEnd(Id, latency > TimeSpan.Zero ? latency : TimeSpan.Zero);
            foreach (var subscriber in group)
            {
                subscriber.Offer(result);
            }
        }
    }

    /// <summary>Oversized results in a row after which a subscriber is ended (one large frame is dropped, a spec that never fits is refused).</summary>
    public const int MaxOversizedInARow = 3;

    /// <summary>
    /// A spec whose results keep exceeding the send limit would never get a result: without ending it, its subscriber waits
    /// forever (no write, so no write timeout) while every frame is computed and encoded at full size for nothing.
    /// </summary>
    private void EndOversized(IEnumerable<Subscriber> group, int size)
    {
        foreach (var subscriber in group)
        {
            if (subscriber.CountOversized() < MaxOversizedInARow || !_subscribers.TryRemove(subscriber.Id, out _))
            {
                continue;
            }
            subscriber.Complete(new Failure(FailureKind.ResourceExhausted,
                $"results of {size} bytes exceed the {MaxMessageBytes}-byte message limit: request a smaller output size, fewer tasks or PNG encodings"));
            _metrics.SubscriberCount(Id, _subscribers.Count);
            _metrics.SubscriberEnded(Id, "result_too_large");
        }
    }

    /// <summary>Largest encoded result handed to subscribers (the send limit).</summary>
    public int MaxMessageBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>The size a result takes on the wire, measured by the door that sends it; by default its payload plus 1 KiB.</summary>
    public Func<EncodedResult, int> MessageSize { get; init; } = r => (int)Math.Min(int.MaxValue, r.PayloadBytes + 1024);

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
        _metrics.SourceUp(Id, status.State == StreamState.Running);
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

    private void CompleteSubscribers(Failure? failure)
    {
        foreach (var subscriber in _subscribers.Values)
        {
            _subscribers.TryRemove(subscriber.Id, out _);
            subscriber.Complete(failure);
        }
        _metrics.SubscriberCount(Id, 0);
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
        CompleteSubscribers(null);
        _stop.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(11, LogLevel.Error, "Stream {Stream}: reader failed")]
        public static partial void ReaderFailed(ILogger logger, string stream, Exception error);

        [LoggerMessage(12, LogLevel.Error, "Stream {Stream}: encoding failed")]
        public static partial void EncodeFailed(ILogger logger, string stream, Exception error);

        [LoggerMessage(13, LogLevel.Warning, "Stream {Stream}: result of {Bytes} bytes over the message limit dropped")]
        public static partial void ResultTooLarge(ILogger logger, string stream, int bytes);
    }
}
