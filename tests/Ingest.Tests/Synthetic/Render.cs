using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

/// <summary>Renders into plain arrays, which keeps assertions free of Mat handling.</summary>
internal static class Render
{
    public static (byte[] Pixels, FrameTruth Truth) Frame(SyntheticCamera camera, long index)
    {
        var pixels = new byte[camera.Spec.Width * camera.Spec.Height * 3];
        var truth = camera.CreateTruth();
        camera.Render(index, pixels, truth);
        return (pixels, truth);
    }

    public static SyntheticSpec Small(int seed, SyntheticMode mode = SyntheticMode.Static, double noise = 0) =>
        new(mode, seed, 160, 120, 15, noise, Realtime: false);
}
