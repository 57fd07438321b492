using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Results;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Streams;

namespace StreamMtl.Pipeline.Tests.Streams;

/// <summary>A subscriber's queue: drop-oldest with a count, one writer, write timeouts and completion failures as values.</summary>
public sealed class SubscriberTests
{
    private static readonly OutputSpec Spec = new(TaskSet.Segmentation, PayloadFormat.Png16Depth, PayloadFormat.PngRgb8Normals,
        OutputSpec.DefaultDepthScale, false, 80, 64, 48);

    [Fact]
    public async Task A_full_queue_drops_the_oldest_and_the_writer_sees_the_count()
    {
        int drops = 0;
        var subscriber = new Subscriber(Spec, 2, () => drops++);
        for (int i = 0; i < 5; i++)
        {
            subscriber.Offer(Result(i));
        }
        subscriber.Complete();
        var written = new List<(long Index, long Dropped)>();
        await subscriber.PumpAsync((r, dropped, _) =>
        {
            written.Add((r.FrameIndex, dropped));
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None);
        Assert.Equal(3, drops);
        Assert.Equal([(3L, 3L), (4L, 3L)], written);
    }

    [Fact]
    public async Task A_write_that_does_not_finish_in_time_ends_with_deadline_exceeded()
    {
        var subscriber = new Subscriber(Spec, 2, () => { });
        subscriber.Offer(Result(0));
        var e = await Assert.ThrowsAsync<PipelineException>(() => subscriber.PumpAsync((_, _, ct) => Task.Delay(Timeout.Infinite, ct),
            TimeSpan.FromMilliseconds(100), TimeProvider.System, CancellationToken.None));
        Assert.Equal(FailureKind.DeadlineExceeded, e.Failure.Kind);
        Assert.Contains("within 0.1 s", e.Failure.Message);
    }

    [Fact]
    public async Task Completing_with_a_failure_delivers_what_was_queued_then_the_failure()
    {
        var subscriber = new Subscriber(Spec, 4, () => { });
        subscriber.Offer(Result(7));
        subscriber.Complete(new Failure(FailureKind.Unavailable, "source failed: gone"));
        var written = new List<long>();
        var e = await Assert.ThrowsAsync<PipelineException>(() => subscriber.PumpAsync((r, _, _) =>
        {
            written.Add(r.FrameIndex);
            return Task.CompletedTask;
        }, TimeSpan.FromSeconds(5), TimeProvider.System, CancellationToken.None));
        Assert.Equal([7L], written);
        Assert.Equal(new Failure(FailureKind.Unavailable, "source failed: gone"), e.Failure);
    }

    private static EncodedResult Result(long index) => new("s", index, DateTimeOffset.UnixEpoch,
        new FrameAccounting(new Dictionary<VisionTask, long>(), new Dictionary<VisionTask, long>(), [], true, "start"), [], [], null);
}
