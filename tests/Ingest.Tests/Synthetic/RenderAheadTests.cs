using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

/// <summary>
/// Rendering frames ahead, several at once, must give exactly the frames of rendering them one after another (a frame
/// is a function of spec and index alone), in order, with bounded work in flight and every frame not taken disposed.
/// </summary>
public sealed class RenderAheadTests
{
    public static TheoryData<string> Specs() => new()
    {
        "synthetic://static?seed=7&w=320&h=240&fps=15&noise=2&objects=6&realtime=0",
        "synthetic://moving?seed=5&w=160&h=120&fps=15&noise=3&objects=9&realtime=0",
        // Odd size, the most objects, fast motion and strong noise.
        "synthetic://static?seed=31&w=101&h=67&fps=5&noise=7&objects=24&realtime=0",
        "synthetic://static?seed=2&w=64&h=48&fps=15&noise=2&objects=0&realtime=0",
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void FramesAhead_EqualSequentialRenders_BitForBit(string uri)
    {
        var spec = SyntheticSpec.Parse(uri);
        var ahead = new SyntheticCamera(spec);
        var sequential = new SyntheticCamera(spec);
        var captured = DateTimeOffset.UnixEpoch;

        using var frames = ahead.FramesAhead(0, 60, withTruth: true, () => captured);
        for (var index = 0L; index < 60; index++)
        {
            using var frame = frames.Take();
            Assert.Equal(index, frame.Index);
            Assert.Equal(captured, frame.CaptureTime);
            AssertFrame(Render.Frame(sequential, index), frame);
        }
        Assert.False(frames.HasNext);
        Assert.True(ahead.HasBackground == (spec.Mode == SyntheticMode.Static));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public void ReusedBuffers_OneMoreThanTheDepth_HoldExactlyTheSequentialFrames(int depth)
    {
        // What the benchmark does: frame i renders into buffer set i mod (depth + 1) while the reader holds another.
        var spec = SyntheticSpec.Parse("synthetic://static?seed=12&w=160&h=120&fps=15&noise=2&objects=9&realtime=0");
        var camera = new SyntheticCamera(spec);
        var sequential = new SyntheticCamera(spec);
        var buffers = Enumerable.Range(0, depth + 1).Select(_ => (Pixels: new byte[spec.Width * spec.Height * 3], Truth: camera.CreateTruth())).ToArray();

        using var ahead = new RenderAhead<long>(index =>
        {
            var (pixels, truth) = buffers[index % buffers.Length];
            camera.Render(index, pixels, truth, maxDegreeOfParallelism: 1);
            return index;
        }, _ => { }, 100, 100 + 12 * (depth + 1), depth);
        while (ahead.HasNext)
        {
            var index = ahead.Take();
            var (pixels, truth) = buffers[index % buffers.Length];
            var expected = Render.Frame(sequential, index);
            Assert.True(expected.Pixels.AsSpan().SequenceEqual(pixels), $"image of frame {index} differs");
            Assert.True(TruthBytes(expected.Truth).SequenceEqual(TruthBytes(truth)), $"truth of frame {index} differs");
        }
    }

    [Fact]
    public void InOrder_WithAtMostDepthRendersInFlight_AndNoneBeyondTheEnd()
    {
        const int depth = 3;
        int inFlight = 0, most = 0;
        var started = new ConcurrentBag<long>();
        using var ahead = new RenderAhead<long>(index =>
        {
            started.Add(index);
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref most, now);
            // Later frames finish first, so order comes from the queue, not from timing.
            Thread.Sleep((int)(10 - index % 10));
            Interlocked.Decrement(ref inFlight);
            return index;
        }, _ => { }, 5, 45, depth);

        var taken = new List<long>();
        while (ahead.HasNext)
        {
            taken.Add(ahead.Take());
            // Never more than depth frames beyond the one the reader holds.
            Assert.True(started.Max() <= taken[^1] + depth);
        }

        Assert.Equal(Enumerable.Range(5, 40).Select(i => (long)i), taken);
        Assert.Equal(40, started.Count);
        Assert.InRange(most, 1, depth);
        Assert.Throws<InvalidOperationException>(() => ahead.Take());
    }

    [Fact]
    public void Dispose_DisposesEveryFrameRenderedAndNotTaken()
    {
        var camera = new SyntheticCamera(Render.Small(4, noise: 2));
        var rendered = new ConcurrentQueue<Frame>();
        var ahead = new RenderAhead<Frame>(index =>
        {
            var frame = camera.RenderFrame(index, withTruth: true);
            rendered.Enqueue(frame);
            return frame;
        }, frame => frame.Dispose(), 0, long.MaxValue, depth: 4);

        var taken = new[] { ahead.Take(), ahead.Take(), ahead.Take() };
        ahead.Dispose();

        Assert.Equal(3 + 4, rendered.Count);
        Assert.All(rendered.Where(f => !taken.Contains(f)), f => Assert.True(f.IsDisposed));
        Assert.All(taken, f => Assert.False(f.IsDisposed));
        Assert.Throws<ObjectDisposedException>(() => ahead.Take());
        foreach (var frame in taken)
        {
            frame.Dispose();
        }
    }

    [Fact]
    public async Task AFailedRender_ReachesTheReader_AndTheOthersAreStillDisposed()
    {
        var camera = new SyntheticCamera(Render.Small(4));
        var rendered = new ConcurrentQueue<Frame>();
        var ahead = new RenderAhead<Frame>(index =>
        {
            if (index == 2)
            {
                throw new InvalidOperationException("frame 2");
            }
            var frame = camera.RenderFrame(index, withTruth: false);
            rendered.Enqueue(frame);
            return frame;
        }, frame => frame.Dispose(), 0, 10, depth: 3);

        using (await ahead.TakeAsync())
        {
        }
        using (await ahead.TakeAsync())
        {
        }
        var failure = await Assert.ThrowsAsync<InvalidOperationException>(async () => await ahead.TakeAsync());
        await ahead.DisposeAsync();

        Assert.Equal("frame 2", failure.Message);
        Assert.All(rendered, f => Assert.True(f.IsDisposed));
        Assert.Equal(2 + 2, rendered.Count);
    }

    [Fact]
    public async Task ACancelledTake_LeavesTheFrameQueued_AndDisposeStillDisposesIt()
    {
        using var gate = new ManualResetEventSlim();
        var camera = new SyntheticCamera(Render.Small(4));
        var rendered = new ConcurrentQueue<Frame>();
        var ahead = new RenderAhead<Frame>(index =>
        {
            gate.Wait();
            var frame = camera.RenderFrame(index, withTruth: false);
            rendered.Enqueue(frame);
            return frame;
        }, frame => frame.Dispose(), 0, 10, depth: 2);
        using var cancel = new CancellationTokenSource();

        var take = ahead.TakeAsync(cancel.Token);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await take);
        Assert.True(ahead.HasNext);
        gate.Set();
        await ahead.DisposeAsync();

        Assert.Equal(2, rendered.Count);
        Assert.All(rendered, f => Assert.True(f.IsDisposed));
    }

    [Fact]
    public async Task UnpacedSource_YieldsTheCameraFrames_InOrder()
    {
        const string uri = "synthetic://static?seed=7&w=96&h=64&fps=15&noise=2&objects=6&frames=40&truth=1&realtime=0";
        var camera = new SyntheticCamera(SyntheticSpec.Parse(uri));
        await using var source = SyntheticSource.Open(uri);

        var index = 0L;
        await foreach (var frame in source.ReadAsync())
        {
            using (frame)
            {
                Assert.Equal(index, frame.Index);
                AssertFrame(Render.Frame(camera, index), frame);
            }
            index++;
        }
        Assert.Equal(40, index);
    }

    [Fact]
    public async Task UnpacedSource_ReaderStoppingEarly_EndsTheReadCleanly_AndCanReadAgain()
    {
        await using var source = SyntheticSource.Open("synthetic://static?seed=3&w=64&h=48&noise=2&realtime=0");
        for (var read = 0; read < 3; read++)
        {
            var indices = new List<long>();
            await foreach (var frame in source.ReadAsync())
            {
                using (frame)
                {
                    indices.Add(frame.Index);
                }
                if (indices.Count == 5)
                {
                    break;
                }
            }
            Assert.Equal([0, 1, 2, 3, 4], indices);
        }
    }

    private static void AssertFrame((byte[] Pixels, FrameTruth Truth) expected, Frame frame)
    {
        Assert.True(frame.Image.GetArray(out OpenCvSharp.Vec3b[] pixels));
        Assert.True(expected.Pixels.AsSpan().SequenceEqual(MemoryMarshal.AsBytes(pixels.AsSpan())), $"image of frame {frame.Index} differs");
        Assert.True(TruthBytes(expected.Truth).SequenceEqual(TruthBytes(frame.Truth!)), $"truth of frame {frame.Index} differs");
    }

    /// <summary>Labels, then depth and normals as raw bits (0 and -0 differ).</summary>
    private static byte[] TruthBytes(FrameTruth truth) =>
        [.. truth.Labels, .. MemoryMarshal.AsBytes(truth.Depth.AsSpan()), .. MemoryMarshal.AsBytes(truth.Normals.AsSpan())];

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen)
        {
            var previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }
            seen = previous;
        }
    }
}
