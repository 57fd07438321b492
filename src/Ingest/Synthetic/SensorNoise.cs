using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Stateless per-pixel Gaussian-ish noise: a hash of (seed, frame, pixel, channel), so it is identical however
/// rows are split across threads (a shared Random would not be). A frame's noise is new in every pixel, so it is
/// computed 16 or eight channels at a time with 64-bit integer vectors; the vector paths do the scalar path's
/// operations in the same order (integer hashing, then IEEE float products and sums), so the bytes are the same.
/// </summary>
internal static class SensorNoise
{
    private const float Unit = 1f / 65536f;
    private const float Sqrt3 = 1.7320508f;

    /// <summary>Irwin-Hall sum of four 16-bit uniforms, rescaled to zero mean and unit variance.</summary>
    public static float Sample(ulong key)
    {
        var h = SceneRandom.Mix(key);
        var sum = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
        // Each uniform has variance 1/12, four have 1/3; sqrt(3) restores unit variance.
        return (sum * Unit - 2f) * Sqrt3;
    }

    /// <summary>The part of every key of a frame that does not depend on the pixel.</summary>
    public static ulong FrameKey(int seed, long frameIndex) => ((ulong)(uint)seed << 32) ^ ((ulong)frameIndex * 0x9E3779B97F4A7C15UL);

    /// <summary>The key of channel 0 of a pixel; channel c uses key + c.</summary>
    public static ulong Key(ulong frameKey, int pixel) => frameKey ^ ((ulong)pixel * 4);

    /// <summary>
    /// Rounds BGR levels (<see cref="RenderJob.Level"/>, pixels from <paramref name="firstPixel"/> on) to bytes, adding
    /// <paramref name="noise"/> (standard deviation in 8-bit levels) times the channel's sample.
    /// </summary>
    public static void Quantise(ReadOnlySpan<float> levels, Span<byte> bgr, ulong frameKey, int firstPixel, float noise)
    {
        var j = Vector512.IsHardwareAccelerated ? QuantiseVectors512(levels, bgr, frameKey, firstPixel, noise) : 0;
        if (Vector256.IsHardwareAccelerated)
        {
            j += QuantiseVectors(levels[j..], bgr[j..], frameKey, firstPixel, noise, j);
        }
        for (; j < levels.Length; j++)
        {
            var pixel = firstPixel + j / 3;
            bgr[j] = Quantise(levels[j], noise > 0 ? noise * Sample(Key(frameKey, pixel) + (ulong)(j - 3 * (j / 3))) : 0f);
        }
    }

    private static byte Quantise(float level, float noise) => (byte)Math.Clamp((int)(level + noise + 0.5f), 0, 255);

    /// <summary>
    /// Eight channels at a time; returns how many it did (a multiple of eight). The spans start <paramref name="offset"/>
    /// channels into the row.
    /// </summary>
    internal static int QuantiseVectors(ReadOnlySpan<float> levels, Span<byte> bgr, ulong frameKey, int firstPixel, float noise, int offset = 0)
    {
        var count = levels.Length & ~7;
        ref var source = ref MemoryMarshal.GetReference(levels);
        ref var target = ref MemoryMarshal.GetReference(bgr);
        var half = Vector256.Create(0.5f);
        var lane = Vector256.Create(0UL, 1, 2, 3);
        var key = Vector256.Create(frameKey);
        var first = Vector256.Create((ulong)firstPixel);
        for (var j = 0; j < count; j += 8)
        {
            var n = Vector256<float>.Zero;
            if (noise > 0)
            {
                var element = Vector256.Create((ulong)(offset + j)) + lane;
                var sums = Vector256.Narrow(Sums(element, key, first), Sums(element + Vector256.Create(4UL), key, first));
                n = Vector256.Create(noise) * ((Vector256.ConvertToSingle(sums.AsInt32()) * Unit - Vector256.Create(2f)) * Sqrt3);
            }
            var v = Vector256.ConvertToInt32(Vector256.LoadUnsafe(ref source, (nuint)j) + n + half);
            var clamped = Vector256.Min(Vector256.Max(v, Vector256<int>.Zero), Vector256.Create(255));
            var words = Vector256.Narrow(clamped, clamped).AsUInt16();
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref target, j), Vector256.Narrow(words, words).AsUInt64().ToScalar());
        }
        return count;
    }

    /// <summary>
    /// Sixteen channels at a time, the same operations on twice the lanes (where 512-bit vectors are fast); returns how
    /// many it did (a multiple of 16).
    /// </summary>
    internal static int QuantiseVectors512(ReadOnlySpan<float> levels, Span<byte> bgr, ulong frameKey, int firstPixel, float noise)
    {
        var count = levels.Length & ~15;
        ref var source = ref MemoryMarshal.GetReference(levels);
        ref var target = ref MemoryMarshal.GetReference(bgr);
        var half = Vector512.Create(0.5f);
        var lane = Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        var key = Vector512.Create(frameKey);
        var first = Vector512.Create((ulong)firstPixel);
        for (var j = 0; j < count; j += 16)
        {
            var n = Vector512<float>.Zero;
            if (noise > 0)
            {
                var element = Vector512.Create((ulong)j) + lane;
                var sums = Vector512.Narrow(Sums(element, key, first), Sums(element + Vector512.Create(8UL), key, first));
                n = Vector512.Create(noise) * ((Vector512.ConvertToSingle(sums.AsInt32()) * Unit - Vector512.Create(2f)) * Sqrt3);
            }
            var v = Vector512.ConvertToInt32(Vector512.LoadUnsafe(ref source, (nuint)j) + n + half);
            var clamped = Vector512.Min(Vector512.Max(v, Vector512<int>.Zero), Vector512.Create(255));
            var words = Vector512.Narrow(clamped, clamped).AsUInt16();
            Vector512.Narrow(words, words).GetLower().GetLower().AsByte().StoreUnsafe(ref target, (nuint)j);
        }
        return count;
    }

    /// <summary>The four 16-bit fields of the hash summed, for the channels at row offsets <paramref name="element"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<ulong> Sums(Vector256<ulong> element, Vector256<ulong> frameKey, Vector256<ulong> firstPixel)
    {
        // element / 3 by multiply and shift (exact for element < 2^32), then the channel is what remains.
        var pixel = Vector256.ShiftRightLogical(element * 0xAAAAAAABUL, 33);
        var channel = element - pixel * 3UL;
        var z = (frameKey ^ Vector256.ShiftLeft(firstPixel + pixel, 2)) + channel;
        z = (z ^ Vector256.ShiftRightLogical(z, 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ Vector256.ShiftRightLogical(z, 27)) * 0x94D049BB133111EBUL;
        z ^= Vector256.ShiftRightLogical(z, 31);
        var field = Vector256.Create(0xFFFFUL);
        return (z & field) + (Vector256.ShiftRightLogical(z, 16) & field) + (Vector256.ShiftRightLogical(z, 32) & field)
            + Vector256.ShiftRightLogical(z, 48);
    }

    /// <summary>
    /// The same on eight lanes: written out again because .NET 10 has no public interface over vector widths
    /// (ISimdVector is internal), and running the 256-bit one on two halves measured 1.14x slower per frame.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Sums(Vector512<ulong> element, Vector512<ulong> frameKey, Vector512<ulong> firstPixel)
    {
        var pixel = Vector512.ShiftRightLogical(element * 0xAAAAAAABUL, 33);
        var channel = element - pixel * 3UL;
        var z = (frameKey ^ Vector512.ShiftLeft(firstPixel + pixel, 2)) + channel;
        z = (z ^ Vector512.ShiftRightLogical(z, 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ Vector512.ShiftRightLogical(z, 27)) * 0x94D049BB133111EBUL;
        z ^= Vector512.ShiftRightLogical(z, 31);
        var field = Vector512.Create(0xFFFFUL);
        return (z & field) + (Vector512.ShiftRightLogical(z, 16) & field) + (Vector512.ShiftRightLogical(z, 32) & field)
            + Vector512.ShiftRightLogical(z, 48);
    }
}
