using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

/// <summary>
/// A static camera's background cache must change nothing: every frame equals a full trace of it, byte for byte
/// and bit for bit in the truth, whatever was in the buffers before.
/// </summary>
public sealed class StaticBackgroundTests
{
    public static TheoryData<string> Specs() => new()
    {
        "synthetic://static?seed=7&w=320&h=240&fps=15&noise=2&objects=6&realtime=0",
        "synthetic://static?seed=12&w=160&h=120&fps=15&noise=0&objects=9&realtime=0",
        // Odd size (partial tiles), the most objects, fast motion and strong noise.
        "synthetic://static?seed=31&w=101&h=67&fps=5&noise=7&objects=24&realtime=0",
        "synthetic://static?seed=44&w=48&h=200&fps=30&noise=1&objects=3&realtime=0",
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void CachedFrames_EqualFullTraces_OverManyFrames(string uri)
    {
        var spec = SyntheticSpec.Parse(uri);
        var cached = new SyntheticCamera(spec);
        var full = new SyntheticCamera(spec) { CacheBackground = false };
        var pixels = new byte[spec.Width * spec.Height * 3];
        var truth = cached.CreateTruth();

        IEnumerable<long> frames = [.. Enumerable.Range(0, 90).Select(i => (long)i), 500, 4321, 1_000_003];
        foreach (var index in frames)
        {
            Fill(pixels, truth, index);
            cached.Render(index, pixels, truth);
            var expected = Render.Frame(full, index);

            AssertSame(expected, pixels, truth, index);
        }
        Assert.True(cached.HasBackground);
        Assert.False(full.HasBackground);
    }

    [Fact]
    public void WithoutTruth_CachedImagesEqualFullTraces()
    {
        var spec = SyntheticSpec.Parse("synthetic://static?seed=5&w=96&h=64&noise=2&objects=7&realtime=0");
        var cached = new SyntheticCamera(spec);
        var full = new SyntheticCamera(spec) { CacheBackground = false };
        var pixels = new byte[spec.Width * spec.Height * 3];

        for (var index = 0L; index < 30; index++)
        {
            cached.Render(index, pixels, truth: null);
            Assert.Equal(Render.Frame(full, index).Pixels, pixels);
        }
        Assert.True(cached.HasBackground);
    }

    [Fact]
    public void RendersFromSeveralThreads_WhileTheCacheIsBuilt_EqualFullTraces()
    {
        var spec = SyntheticSpec.Parse("synthetic://static?seed=8&w=128&h=96&noise=2&objects=6&realtime=0");
        var cached = new SyntheticCamera(spec);
        var full = new SyntheticCamera(spec) { CacheBackground = false };
        var frames = Enumerable.Range(0, 48).Select(i => (long)i * 7).ToArray();

        var results = new (byte[] Pixels, FrameTruth Truth)[frames.Length];
        Parallel.For(0, frames.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => results[i] = Render.Frame(cached, frames[i]));

        for (var i = 0; i < frames.Length; i++)
        {
            AssertSame(Render.Frame(full, frames[i]), results[i].Pixels, results[i].Truth, frames[i]);
        }
        Assert.True(cached.HasBackground);
    }

    [Fact]
    public void RenderFrame_FromTheCache_MatchesRenderIntoSpan_AndDisposesItsMat()
    {
        var spec = SyntheticSpec.Parse("synthetic://static?seed=3&w=64&h=48&noise=2&objects=4&realtime=0");
        var camera = new SyntheticCamera(spec);
        var full = new SyntheticCamera(spec) { CacheBackground = false };

        for (var index = 0L; index < 6; index++)
        {
            var frame = camera.RenderFrame(index, withTruth: true);
            using (frame)
            {
                Assert.True(frame.Image.GetArray(out OpenCvSharp.Vec3b[] pixels));
                var expected = Render.Frame(full, index);
                AssertSame(expected, [.. pixels.SelectMany(p => new[] { p.Item0, p.Item1, p.Item2 })], frame.Truth!, index);
            }
            Assert.True(frame.IsDisposed);
        }
        Assert.True(camera.HasBackground);
    }

    [Theory]
    [InlineData("synthetic://moving?seed=7&w=64&h=48&objects=6&realtime=0")]
    [InlineData("synthetic://static?seed=7&w=1281&h=720&objects=1&noise=0&realtime=0")]
    public void MovingOrVeryLargeCameras_DoNotCache(string uri)
    {
        var camera = new SyntheticCamera(SyntheticSpec.Parse(uri));
        var pixels = new byte[camera.Spec.Width * camera.Spec.Height * 3];

        for (var index = 0L; index < 4; index++)
        {
            camera.Render(index, pixels, truth: null);
        }

        Assert.False(camera.HasBackground);
    }

    [Fact]
    public void AFrameOrTwo_DoNotBuildTheCache()
    {
        var camera = new SyntheticCamera(Render.Small(4));

        Render.Frame(camera, 10);
        Render.Frame(camera, 11);
        Assert.False(camera.HasBackground);

        Render.Frame(camera, 12);
        Assert.True(camera.HasBackground);
    }

    /// <summary>Junk where a frame will be written, so anything the cached path leaves unwritten shows.</summary>
    private static void Fill(byte[] pixels, FrameTruth truth, long seed)
    {
        var random = new Random((int)(seed % int.MaxValue));
        random.NextBytes(pixels);
        random.NextBytes(truth.Labels);
        Array.Fill(truth.Depth, float.NaN);
        Array.Fill(truth.Normals, -7f);
    }

    private static void AssertSame((byte[] Pixels, FrameTruth Truth) expected, byte[] pixels, FrameTruth truth, long index)
    {
        Assert.True(expected.Pixels.AsSpan().SequenceEqual(pixels), $"image of frame {index} differs");
        Assert.True(expected.Truth.Labels.AsSpan().SequenceEqual(truth.Labels), $"labels of frame {index} differ");
        // Compared as bits: equal floats with different bits (0 and -0) would still be a difference.
        Assert.True(Bits(expected.Truth.Depth).SequenceEqual(Bits(truth.Depth)), $"depth of frame {index} differs");
        Assert.True(Bits(expected.Truth.Normals).SequenceEqual(Bits(truth.Normals)), $"normals of frame {index} differ");
    }

    private static ReadOnlySpan<int> Bits(float[] values) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(values);
}
