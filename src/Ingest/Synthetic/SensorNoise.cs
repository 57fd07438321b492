namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Stateless per-pixel Gaussian-ish noise: a hash of (seed, frame, pixel, channel), so it is identical however
/// rows are split across threads (a shared Random would not be).
/// </summary>
internal static class SensorNoise
{
    /// <summary>Irwin-Hall sum of four 16-bit uniforms, rescaled to zero mean and unit variance.</summary>
    public static float Sample(ulong key)
    {
        var h = SceneRandom.Mix(key);
        var sum = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
        // Each uniform has variance 1/12, four have 1/3; sqrt(3) restores unit variance.
        return (sum * (1f / 65536f) - 2f) * 1.7320508f;
    }

    public static ulong Key(int seed, long frameIndex, int pixel) =>
        ((ulong)(uint)seed << 32) ^ ((ulong)frameIndex * 0x9E3779B97F4A7C15UL) ^ ((ulong)pixel * 4);
}
