using System.Threading.Channels;
using Grpc.Core;
using StreamMtl.Api.V1;
using StreamMtl.Server.Results;

namespace StreamMtl.Server.Streams;

/// <summary>
/// One response stream's queue: bounded, drop-oldest (a slow client loses old results, never slows the pipeline),
/// drained by exactly one writer (<see cref="PumpAsync"/>) that gives up on a client whose write does not finish in time.
/// </summary>
public sealed class Subscriber
{
    private static long _ids;
    private readonly Channel<FrameResult> _queue;
    private readonly Action _onDrop;
    private long _dropped;
    private int _oversized;

    public Subscriber(OutputSpec spec, int capacity, Action onDrop)
    {
        Spec = spec;
        _onDrop = onDrop;
        _queue = Channel.CreateBounded(new BoundedChannelOptions(capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true },
            (FrameResult _) =>
            {
                Interlocked.Increment(ref _dropped);
                _onDrop();
            });
    }

    public long Id { get; } = Interlocked.Increment(ref _ids);
    public OutputSpec Spec { get; }
    public long Dropped => Interlocked.Read(ref _dropped);
    public int QueueDepth => _queue.Reader.Count;

    public bool Offer(FrameResult result)
    {
        _oversized = 0;
        return _queue.Writer.TryWrite(result);
    }

    /// <summary>Counts a result of this subscriber's spec that was over the message limit; returns how many in a row (encoder task only).</summary>
    public int CountOversized() => ++_oversized;

    /// <summary>Ends the subscription: the writer finishes the queued results, then the call ends (with the error's status if any).</summary>
    public void Complete(Exception? error = null) => _queue.Writer.TryComplete(error);

    /// <summary>Writes results until completion; throws DeadlineExceeded when one write takes longer than <paramref name="writeTimeout"/>.</summary>
    public async System.Threading.Tasks.Task PumpAsync(IServerStreamWriter<FrameResult> writer, TimeSpan writeTimeout, TimeProvider time,
        Action<FrameResult> sent, CancellationToken cancellationToken)
    {
        await foreach (var result in _queue.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            result.DroppedForSubscriber = Dropped;
            try
            {
                await writer.WriteAsync(result, cancellationToken).WaitAsync(writeTimeout, time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw new RpcException(new Status(StatusCode.DeadlineExceeded, $"client did not accept a result within {writeTimeout.TotalSeconds:0.#} s: dropped"));
            }
            sent(result);
        }
    }
}
