using System.Threading.Channels;
using StreamMtl.Pipeline.Results;

namespace StreamMtl.Pipeline.Streams;

/// <summary>
/// One subscriber's queue: bounded, drop-oldest (a slow client loses old results, never slows the pipeline), drained
/// by exactly one writer (<see cref="PumpAsync"/>) that gives up on a client whose write does not finish in time.
/// </summary>
public sealed class Subscriber
{
    private static long _ids;
    private readonly Channel<EncodedResult> _queue;
    private long _dropped;
    private int _oversized;

    public Subscriber(OutputSpec spec, int capacity, Action onDrop)
    {
        Spec = spec;
        _queue = Channel.CreateBounded(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            (EncodedResult _) =>
            {
                Interlocked.Increment(ref _dropped);
                onDrop();
            });
    }

    public long Id { get; } = Interlocked.Increment(ref _ids);
    public OutputSpec Spec { get; }

    /// <summary>Results this subscriber lost because it fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);
    public int QueueDepth => _queue.Reader.Count;

    public bool Offer(EncodedResult result)
    {
        _oversized = 0;
        return _queue.Writer.TryWrite(result);
    }

    /// <summary>Counts a result of this subscriber's spec that was over the message limit; returns how many in a row (encoder task only).</summary>
    public int CountOversized() => ++_oversized;

    /// <summary>Ends the subscription: the writer finishes the queued results, then ends (with <paramref name="failure"/> if any).</summary>
    public void Complete(Failure? failure = null) => _queue.Writer.TryComplete(failure == null ? null : new PipelineException(failure));

    /// <summary>
    /// Writes results (with this subscriber's drop count at the time) until completion. Throws <see cref="PipelineException"/>:
    /// DeadlineExceeded when one write takes longer than <paramref name="writeTimeout"/>, or the failure the subscription
    /// was completed with.
    /// </summary>
    public async Task PumpAsync(Func<EncodedResult, long, CancellationToken, Task> write, TimeSpan writeTimeout, TimeProvider time,
        CancellationToken cancellationToken)
    {
        await foreach (var result in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            await TimedWrite.WithinAsync(write(result, Dropped, cancellationToken), writeTimeout, time, cancellationToken).ConfigureAwait(false);
        }
    }
}
