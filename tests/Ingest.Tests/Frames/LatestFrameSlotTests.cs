using OpenCvSharp;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Tests.Frames;

public sealed class LatestFrameSlotTests
{
    [Fact]
    public void Keeps_the_newest_frame_and_disposes_and_counts_the_rest()
    {
        using var slot = new LatestFrameSlot(capacity: 1);
        var frames = Enumerable.Range(0, 5).Select(NewFrame).ToList();

        frames.ForEach(slot.Publish);

        Assert.Equal(4, slot.Dropped);
        Assert.All(frames.Take(4), f => Assert.True(f.IsDisposed));
        Assert.True(slot.Reader.TryRead(out var newest));
        Assert.Equal(4, newest!.Index);
        newest.Dispose();
    }

    [Fact]
    public void Frames_published_after_completion_are_disposed()
    {
        using var slot = new LatestFrameSlot(capacity: 2);
        slot.Complete();
        var frame = NewFrame(0);

        slot.Publish(frame);

        Assert.True(frame.IsDisposed);
        Assert.Equal(1, slot.Dropped);
    }

    [Fact]
    public void Dispose_releases_frames_nobody_took()
    {
        var slot = new LatestFrameSlot(capacity: 3);
        var frames = Enumerable.Range(0, 3).Select(NewFrame).ToList();
        frames.ForEach(slot.Publish);

        slot.Dispose();

        Assert.All(frames, f => Assert.True(f.IsDisposed));
        Assert.Equal(0, slot.Dropped);
    }

    private static Frame NewFrame(int index)
        => new(new Mat(4, 4, MatType.CV_8UC3, Scalar.All(index)), index, TimeSpan.FromMilliseconds(index * 100), DateTimeOffset.UnixEpoch);
}
