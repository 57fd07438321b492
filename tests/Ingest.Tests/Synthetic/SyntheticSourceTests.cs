using Microsoft.Extensions.Time.Testing;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

public sealed class SyntheticSourceTests
{
    private static readonly DateTimeOffset Start = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public async Task Unpaced_YieldsExactlyFramesWithConsecutiveIndicesTimestampsAndTruth()
    {
        var time = new FakeTimeProvider(Start);
        await using var source = SyntheticSource.Open("synthetic://static?seed=3&w=64&h=48&fps=10&frames=5&realtime=0", time);

        var frames = new List<Frame>();
        await foreach (var frame in source.ReadAsync())
        {
            frames.Add(frame);
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), frames.Select(f => f.Index));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => TimeSpan.FromSeconds(i / 10.0)), frames.Select(f => f.Timestamp));
        Assert.All(frames, f =>
        {
            Assert.Equal(Start, f.CaptureTime);
            Assert.Equal((64, 48), (f.Width, f.Height));
            Assert.NotNull(f.Truth);
        });
        Assert.Equal(new StreamMtl.Ingest.Sources.SourceInfo(64, 48, 10, 5, IsLive: false), source.Info);
        Assert.Equal("synthetic://static?seed=3&w=64&h=48&fps=10&noise=2&objects=6&frames=5&truth=1&realtime=0", source.DisplayUri);
        frames.ForEach(f => f.Dispose());
    }

    [Fact]
    public async Task TruthOff_FramesCarryNoTruth()
    {
        await using var source = SyntheticSource.Open("synthetic://moving?w=32&h=32&frames=2&truth=0&realtime=0");

        await foreach (var frame in source.ReadAsync())
        {
            using (frame)
            {
                Assert.Null(frame.Truth);
            }
        }
    }

    [Fact]
    public async Task Realtime_PacesFramesWithTheTimeProvider()
    {
        var time = new FakeTimeProvider(Start);
        await using var source = SyntheticSource.Open("synthetic://static?w=32&h=32&fps=10&frames=3&realtime=1", time);
        Assert.True(source.Info.IsLive);
        await using var frames = source.ReadAsync().GetAsyncEnumerator();

        Assert.True(await frames.MoveNextAsync());
        Assert.Equal(0, frames.Current.Index);
        frames.Current.Dispose();

        var next = frames.MoveNextAsync();
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(next.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(await next);
        Assert.Equal(1, frames.Current.Index);
        Assert.Equal(Start + TimeSpan.FromMilliseconds(100), frames.Current.CaptureTime);
        frames.Current.Dispose();
    }

    [Fact]
    public async Task Realtime_ReaderFallingBehind_SkipsToTheCurrentFrameLikeALiveCamera()
    {
        var time = new FakeTimeProvider(Start);
        await using var source = SyntheticSource.Open("synthetic://static?w=32&h=32&fps=10&frames=10&realtime=1", time);
        await using var frames = source.ReadAsync().GetAsyncEnumerator();
        Assert.True(await frames.MoveNextAsync());
        frames.Current.Dispose();

        time.Advance(TimeSpan.FromMilliseconds(350));
        Assert.True(await frames.MoveNextAsync());
        Assert.Equal(3, frames.Current.Index);
        frames.Current.Dispose();

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.False(await frames.MoveNextAsync()); // past the end of a 10-frame stream
    }

    [Fact]
    public async Task Cancellation_StopsAPacedRead()
    {
        var time = new FakeTimeProvider(Start);
        await using var source = SyntheticSource.Open("synthetic://static?w=32&h=32&fps=1&realtime=1", time);
        using var cts = new CancellationTokenSource();
        await using var frames = source.ReadAsync(cts.Token).GetAsyncEnumerator();
        Assert.True(await frames.MoveNextAsync());
        frames.Current.Dispose();

        var next = frames.MoveNextAsync();
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await next);
    }

    [Fact]
    public async Task Dispose_EndsARunningReadAndRefusesNewOnes()
    {
        var source = SyntheticSource.Open("synthetic://static?w=32&h=32&realtime=0");
        var count = 0;
        await foreach (var frame in source.ReadAsync())
        {
            frame.Dispose();
            if (++count == 3)
            {
                await source.DisposeAsync();
            }
        }

        Assert.Equal(3, count);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () =>
        {
            await foreach (var frame in source.ReadAsync())
            {
                frame.Dispose();
            }
        });
    }
}
