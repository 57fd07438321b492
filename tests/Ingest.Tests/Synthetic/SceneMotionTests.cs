using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

public sealed class SceneMotionTests
{
    [Theory]
    [InlineData(SyntheticMode.Static, 6)]
    [InlineData(SyntheticMode.Moving, 6)]
    [InlineData(SyntheticMode.Static, SyntheticSpec.MaxObjects)]
    public void ObjectsStayInTheRoomInFrontOfTheCameraAndNeverInterpenetrate(SyntheticMode mode, int count)
    {
        for (var seed = 1; seed <= 10; seed++)
        {
            var spec = new SyntheticSpec(mode, seed, Objects: count);
            var scene = SceneBuilder.Build(spec);
            var camera = new SyntheticCamera(spec);
            var room = scene.Room;
            Assert.Equal(count, scene.Objects.Length);
            for (var frame = 0L; frame < 60 * 15; frame += 37)
            {
                var time = camera.TimeOf(frame);
                var pose = camera.PoseAt(frame);
                Assert.InRange(pose.Position.Y, 1.4f, 2.6f);
                var placed = scene.Objects.Select(o => o.Place(time)).ToArray();
                for (var i = 0; i < placed.Length; i++)
                {
                    var o = placed[i];
                    var foot = o.Shape.FootprintRadius;
                    Assert.InRange(o.Centre.X, room.MinX + foot, room.MaxX - foot);
                    Assert.InRange(o.Centre.Z, room.MinZ + foot, room.MaxZ - foot);
                    Assert.True(o.Centre.Y + o.Shape.HalfHeight < room.Height);
                    Assert.InRange(pose.WorldToCamera(o.Centre).Z, 1.5f, 9.5f);
                    for (var j = i + 1; j < placed.Length; j++)
                    {
                        var gap = new Vec3(o.Centre.X - placed[j].Centre.X, 0, o.Centre.Z - placed[j].Centre.Z).Length;
                        Assert.True(gap > foot + placed[j].Shape.FootprintRadius, $"seed {seed} frame {frame}: objects {i} and {j} overlap");
                    }
                }
            }
        }
    }

    [Fact]
    public void ObjectsMoveAtWalkingSpeedOrSlower()
    {
        var spec = new SyntheticSpec(Seed: 4, Fps: 30);
        var camera = new SyntheticCamera(spec);
        var before = camera.ObjectsAt(300);
        var after = camera.ObjectsAt(301);

        var speeds = before.Zip(after, (a, b) => (b.Centre - a.Centre).Length * 30f).ToArray();
        Assert.All(speeds, s => Assert.InRange(s, 0f, 1.6f));
        Assert.Contains(speeds, s => s > 0.05f);
    }
}
