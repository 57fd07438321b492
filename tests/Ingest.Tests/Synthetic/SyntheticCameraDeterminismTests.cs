using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

public sealed class SyntheticCameraDeterminismTests
{
    [Theory]
    [InlineData(SyntheticMode.Static)]
    [InlineData(SyntheticMode.Moving)]
    public void SameSpecAndIndex_RenderIdenticalBytesAndTruth_WhateverTheThreading(SyntheticMode mode)
    {
        var spec = Render.Small(7, mode, noise: 2);
        var parallel = Render.Frame(new SyntheticCamera(spec), 42);
        var serial = Render.Frame(new SyntheticCamera(spec) { MaxDegreeOfParallelism = 1 }, 42);

        Assert.Equal(parallel.Pixels, serial.Pixels);
        Assert.Equal(parallel.Truth.Labels, serial.Truth.Labels);
        Assert.Equal(parallel.Truth.Depth, serial.Truth.Depth);
        Assert.Equal(parallel.Truth.Normals, serial.Truth.Normals);
    }

    [Fact]
    public void RenderFrame_MatchesRenderIntoSpan()
    {
        var camera = new SyntheticCamera(Render.Small(3, noise: 2));
        using var frame = camera.RenderFrame(5, withTruth: true);
        var expected = Render.Frame(camera, 5);

        Assert.True(frame.Image.GetArray(out OpenCvSharp.Vec3b[] pixels));
        Assert.Equal(expected.Pixels, pixels.SelectMany(p => new[] { p.Item0, p.Item1, p.Item2 }).ToArray());
        Assert.Equal(expected.Truth.Depth, frame.Truth!.Depth);
        Assert.Equal(5, frame.Index);
        Assert.Equal(TimeSpan.FromSeconds(5 / 15.0), frame.Timestamp);
    }

    [Fact]
    public void DifferentSeeds_DiffereClearly()
    {
        var a = Render.Frame(new SyntheticCamera(Render.Small(1)), 0);
        var b = Render.Frame(new SyntheticCamera(Render.Small(2)), 0);

        var differing = a.Pixels.Zip(b.Pixels).Count(p => Math.Abs(p.First - p.Second) > 10);
        Assert.True(differing > a.Pixels.Length / 2, $"only {differing} of {a.Pixels.Length} bytes differ");
        Assert.NotEqual(a.Truth.Labels, b.Truth.Labels);
    }

    [Fact]
    public void StaticCamera_RoomStaysPutWhileObjectsMove()
    {
        var camera = new SyntheticCamera(Render.Small(5));
        var first = Render.Frame(camera, 0);
        var later = Render.Frame(camera, 15);
        Assert.Equal(camera.PoseAt(0), camera.PoseAt(15));

        int roomBoth = 0, roomSameColour = 0, labelChanges = 0;
        for (var i = 0; i < first.Truth.Labels.Length; i++)
        {
            var l0 = first.Truth.Labels[i];
            var l1 = later.Truth.Labels[i];
            labelChanges += l0 != l1 ? 1 : 0;
            if (l0 > SyntheticClasses.Wall || l1 > SyntheticClasses.Wall)
            {
                continue;
            }
            roomBoth++;
            Assert.Equal(first.Truth.Depth[i], later.Truth.Depth[i]);
            // Moving shadows may change some room pixels, but not most.
            if (first.Pixels.AsSpan(3 * i, 3).SequenceEqual(later.Pixels.AsSpan(3 * i, 3)))
            {
                roomSameColour++;
            }
        }

        Assert.True(roomBoth > first.Truth.Labels.Length / 2);
        Assert.True(roomSameColour > 0.9 * roomBoth, $"{roomSameColour} of {roomBoth} room pixels unchanged");
        Assert.True(labelChanges > 50, $"only {labelChanges} pixels changed label in one second");
    }

    [Fact]
    public void MovingCamera_ChangesThePose()
    {
        var camera = new SyntheticCamera(Render.Small(5, SyntheticMode.Moving));

        Assert.NotEqual(camera.PoseAt(0), camera.PoseAt(15));
        var first = Render.Frame(camera, 0);
        var later = Render.Frame(camera, 15);
        Assert.NotEqual(first.Truth.Depth, later.Truth.Depth);
    }

    [Fact]
    public void SensorNoise_ChangesPixelsOnlySlightly()
    {
        var clean = Render.Frame(new SyntheticCamera(Render.Small(9, noise: 0)), 3);
        var noisy = Render.Frame(new SyntheticCamera(Render.Small(9, noise: 2)), 3);

        var diffs = clean.Pixels.Zip(noisy.Pixels, (a, b) => Math.Abs(a - b)).ToArray();
        var mean = diffs.Average();
        Assert.InRange(mean, 0.8, 2.5); // E|N(0, 2)| ~ 1.6 levels
        Assert.True(diffs.Max() <= 16, $"max difference {diffs.Max()}");
        Assert.Equal(clean.Truth.Labels, noisy.Truth.Labels);
        Assert.Equal(clean.Truth.Depth, noisy.Truth.Depth);
    }

    [Fact]
    public void SensorNoise_ChangesFromFrameToFrame()
    {
        var camera = new SyntheticCamera(Render.Small(9, noise: 2));
        var a = Render.Frame(camera, 0);
        var b = Render.Frame(camera, 1);

        var roomPixels = Enumerable.Range(0, a.Truth.Labels.Length).Where(i => a.Truth.Labels[i] <= SyntheticClasses.Wall && b.Truth.Labels[i] <= SyntheticClasses.Wall);
        var changed = roomPixels.Count(i => !a.Pixels.AsSpan(3 * i, 3).SequenceEqual(b.Pixels.AsSpan(3 * i, 3)));
        Assert.True(changed > roomPixels.Count() / 2);
    }
}
