using System.Globalization;
using System.Text;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Everything that determines a synthetic video, parsed from <c>synthetic://static|moving?key=value&amp;...</c>.
/// A render is a pure function of (spec, frame index), so a spec is also a dataset description.
/// </summary>
/// <param name="Mode">Fixed or moving camera.</param>
/// <param name="Seed">Chooses the room, objects, textures, lights and camera placement.</param>
/// <param name="Width">Frame width in pixels.</param>
/// <param name="Height">Frame height in pixels.</param>
/// <param name="Fps">Frame rate; scene time is frameIndex / Fps, so it also sets the motion per frame.</param>
/// <param name="Noise">Sensor noise standard deviation in 8-bit levels (0 = off). Real cameras are never noise
/// free, and temporal reuse has to learn to ignore that noise floor, so the default is 2.</param>
/// <param name="Objects">Number of objects in the room.</param>
/// <param name="Frames">Length of the video, or null for an endless stream.</param>
/// <param name="Truth">Attach ground truth (labels, depth, normals) to every frame.</param>
/// <param name="Realtime">Pace frames at <paramref name="Fps"/> like a live camera. The service's embedded source wants
/// this (default on); training and benchmarks call <see cref="SyntheticCamera"/> directly and are not paced.</param>
public sealed partial record SyntheticSpec(
    SyntheticMode Mode = SyntheticMode.Static,
    int Seed = 1,
    int Width = 320,
    int Height = 240,
    double Fps = 15,
    double Noise = 2,
    int Objects = 6,
    long? Frames = null,
    bool Truth = true,
    bool Realtime = true)
{
    public const string Scheme = "synthetic";
    public const int MinSize = 16;
    public const int MaxSize = 4096;
    public const double MaxFps = 240;
    public const double MaxNoise = 64;
    public const int MaxObjects = 24;

    /// <summary>The canonical URI; <see cref="Parse"/> of it gives back an equal spec.</summary>
    public string ToUri()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.Append(Scheme).Append("://").Append(Mode == SyntheticMode.Static ? "static" : "moving");
        sb.Append(inv, $"?seed={Seed}&w={Width}&h={Height}&fps={Fps.ToString("R", inv)}&noise={Noise.ToString("R", inv)}");
        sb.Append(inv, $"&objects={Objects}");
        if (Frames is long frames)
        {
            sb.Append(inv, $"&frames={frames}");
        }
        sb.Append(inv, $"&truth={(Truth ? 1 : 0)}&realtime={(Realtime ? 1 : 0)}");
        return sb.ToString();
    }
}
