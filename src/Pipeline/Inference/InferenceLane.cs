using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;
using System.Threading.Channels;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// One stream's way into the shared inference thread: a bounded input queue (drop policy chosen by the owner; dropped
/// jobs are disposed and reported) and the stream's own runner (reuse state), which only the worker holding the lane touches.
/// </summary>
public sealed class InferenceLane : IDisposable
{
    private readonly InferenceEngine _engine;
    private readonly Channel<InferenceJob> _input;
    private int _disposed;
    private volatile bool _resetRequested;

    internal InferenceLane(InferenceEngine engine, string streamId, ReuseSettings reuse, int capacity, BoundedChannelFullMode mode,
        Action<InferenceJob> dropped, Action<InferenceOutput> deliver, int ordinal)
    {
        _engine = engine;
        Ordinal = ordinal;
        StreamId = streamId;
        Reuse = reuse;
        Deliver = deliver;
        _input = Channel.CreateBounded(new BoundedChannelOptions(capacity) { FullMode = mode, SingleReader = true },
            (InferenceJob job) =>
            {
                job.Dispose();
                dropped(job);
            });
    }

    public string StreamId { get; }

    /// <summary>The lane's number in its engine (0, 1, ...): staggers the keyframes of streams that start together.</summary>
    public int Ordinal { get; }
    public ReuseSettings Reuse { get; }
    internal Action<InferenceOutput> Deliver { get; }
    internal IStreamRunner? Runner { get; set; }

    /// <summary>A worker holds this lane (one of its frames is in that worker's batch); set and read under the engine's lock.</summary>
    internal bool Held { get; set; }
    internal bool IsClosed => Volatile.Read(ref _disposed) == 1;

    public int QueueDepth => _input.Reader.CanCount ? _input.Reader.Count : 0;

    /// <summary>Queues a job without waiting (drop-oldest lanes always accept); false when the lane is closed.</summary>
    public bool TryEnqueue(InferenceJob job)
    {
        if (IsClosed || !_input.Writer.TryWrite(job))
        {
            return false;
        }
        _engine.Signal();
        return true;
    }

    /// <summary>Queues a job, waiting for room (wait-mode lanes: back-pressure to a client that sends too fast).</summary>
    public async ValueTask EnqueueAsync(InferenceJob job, CancellationToken cancellationToken)
    {
        await _input.Writer.WriteAsync(job, cancellationToken).ConfigureAwait(false);
        _engine.Signal();
    }

    /// <summary>The next frame is computed in full (reconnect, settings change).</summary>
    public void RequestReset() => _resetRequested = true;

    internal bool TakeReset()
    {
        if (!_resetRequested)
        {
            return false;
        }
        _resetRequested = false;
        return true;
    }

    internal bool TryTake(out InferenceJob job) => _input.Reader.TryRead(out job!);

    internal bool TryPeek(out InferenceJob job) => _input.Reader.TryPeek(out job!);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }
        _input.Writer.TryComplete();
        while (_input.Reader.TryRead(out var job))
        {
            job.Dispose();
        }
        _engine.Close(this);
    }
}
