using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

public sealed class GroundTruthTests
{
    public static TheoryData<int, SyntheticMode, long> Frames() => new()
    {
        { 1, SyntheticMode.Static, 0 },
        { 2, SyntheticMode.Static, 40 },
        { 3, SyntheticMode.Moving, 7 },
        { 4, SyntheticMode.Moving, 200 },
    };

    [Theory]
    [MemberData(nameof(Frames))]
    public void FloorNormalIsCameraUp_AndFloorDepthGrowsUpTheImage(int seed, SyntheticMode mode, long index)
    {
        var camera = new SyntheticCamera(Render.Small(seed, mode));
        var (_, truth) = Render.Frame(camera, index);
        var up = camera.PoseAt(index).UpInCamera;
        int w = truth.Width, h = truth.Height, floorPixels = 0, pairs = 0;

        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var i = y * w + x;
                if (truth.Labels[i] != SyntheticClasses.Floor)
                {
                    continue;
                }
                floorPixels++;
                var n = new Vec3(truth.Normals[3 * i], truth.Normals[3 * i + 1], truth.Normals[3 * i + 2]);
                Assert.True(Vec3.Dot(n, up) > 0.9999f, $"floor normal {n} at ({x},{y}) is not camera up {up}");
                if (y > 0 && truth.Labels[i - w] == SyntheticClasses.Floor)
                {
                    pairs++;
                    Assert.True(truth.Depth[i - w] > truth.Depth[i], $"floor depth does not grow going up at ({x},{y})");
                }
            }
        }
        Assert.True(floorPixels > w * h / 10, $"only {floorPixels} floor pixels");
        Assert.True(pairs > floorPixels / 2);
    }

    [Theory]
    [MemberData(nameof(Frames))]
    public void EveryPixelHasPositiveDepthUnitNormalFacingTheCameraAndAKnownLabel(int seed, SyntheticMode mode, long index)
    {
        var camera = new SyntheticCamera(Render.Small(seed, mode));
        var (_, truth) = Render.Frame(camera, index);
        var pose = camera.PoseAt(index);

        for (var i = 0; i < truth.Labels.Length; i++)
        {
            Assert.InRange(truth.Labels[i], (byte)0, (byte)(SyntheticClasses.Count - 1));
            Assert.True(float.IsFinite(truth.Depth[i]) && truth.Depth[i] > 0.1f, $"depth {truth.Depth[i]} at {i}");
            var n = new Vec3(truth.Normals[3 * i], truth.Normals[3 * i + 1], truth.Normals[3 * i + 2]);
            Assert.InRange(n.Length, 0.999f, 1.001f);
            var x = i % truth.Width;
            var y = i / truth.Width;
            var ray = new Vec3((x + 0.5f - pose.CentreX) / pose.FocalPixels, (y + 0.5f - pose.CentreY) / pose.FocalPixels, 1);
            Assert.True(Vec3.Dot(n, ray) <= 0, $"normal {n} at {i} faces away from the camera");
        }
    }

    [Fact]
    public void SphereNormalAtItsProjectedCentre_PointsAtTheCamera()
    {
        var checkedSpheres = 0;
        for (var seed = 1; seed <= 10; seed++)
        {
            var camera = new SyntheticCamera(Render.Small(seed) with { Width = 320, Height = 240 });
            var (_, truth) = Render.Frame(camera, 10);
            var pose = camera.PoseAt(10);
            foreach (var (classId, centre) in camera.ObjectsAt(10))
            {
                if (classId != SyntheticClasses.Sphere)
                {
                    continue;
                }
                var (u, v, depth) = pose.Project(centre);
                int x = (int)u, y = (int)v;
                if (x < 0 || y < 0 || x >= truth.Width || y >= truth.Height || truth.Labels[y * truth.Width + x] != SyntheticClasses.Sphere
                    || truth.Depth[y * truth.Width + x] >= depth || depth - truth.Depth[y * truth.Width + x] > 0.6f)
                {
                    continue; // out of view, hidden, or another sphere in front of the centre
                }
                var i = y * truth.Width + x;
                var n = new Vec3(truth.Normals[3 * i], truth.Normals[3 * i + 1], truth.Normals[3 * i + 2]);
                var toCamera = -new Vec3((x + 0.5f - pose.CentreX) / pose.FocalPixels, (y + 0.5f - pose.CentreY) / pose.FocalPixels, 1).Normalized();
                Assert.True(Vec3.Dot(n, toCamera) > 0.99f, $"seed {seed}: sphere centre normal {n}, to camera {toCamera}");
                checkedSpheres++;
            }
        }
        Assert.True(checkedSpheres >= 5, $"only {checkedSpheres} visible spheres checked");
    }

    [Fact]
    public void OverTwentySeeds_EveryClassAppears()
    {
        var seen = new bool[SyntheticClasses.Count];
        for (var seed = 1; seed <= 20; seed++)
        {
            var (_, truth) = Render.Frame(new SyntheticCamera(Render.Small(seed)), 0);
            foreach (var label in truth.Labels)
            {
                Assert.True(label < SyntheticClasses.Count, $"label {label} outside the class table");
                seen[label] = true;
            }
        }
        Assert.All(Enumerable.Range(0, SyntheticClasses.Count), c => Assert.True(seen[c], $"class {SyntheticClasses.Names[c]} never seen"));
    }

    [Fact]
    public void EveryScene_ShowsMostOfItsObjects()
    {
        for (var seed = 1; seed <= 10; seed++)
        {
            var (_, truth) = Render.Frame(new SyntheticCamera(Render.Small(seed)), 0);
            var classes = truth.Labels.Where(l => l >= SyntheticClasses.Box).Distinct().Count();
            Assert.True(classes >= 3, $"seed {seed} shows only {classes} object classes");
        }
    }
}
