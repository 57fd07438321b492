using System.Runtime.Intrinsics;
using StreamMtl.Ingest.Synthetic;

namespace StreamMtl.Ingest.Tests.Synthetic;

/// <summary>The 16- and 8-channel vector paths of the sensor noise give exactly the scalar path's bytes.</summary>
public sealed class SensorNoiseTests
{
    [Theory]
    [InlineData(7, 0L, 0, 2f, 960)]
    [InlineData(7, 123_457L, 76_480, 2f, 960)]
    [InlineData(11, 5L, 97 * 60, 5f, 291)]
    [InlineData(3, 1_000_003L, 17, 0f, 101)]
    [InlineData(21, 42L, 640 * 359, 1.5f, 1920)]
    public void VectorPaths_EqualTheScalarPath(int seed, long frame, int firstPixel, float noise, int channels)
    {
        var random = new Random(seed);
        // Levels past both ends of 0..255 too, so the clamps are exercised.
        var levels = Enumerable.Range(0, channels).Select(_ => (float)(random.NextDouble() * 300 - 20)).ToArray();
        var key = SensorNoise.FrameKey(seed, frame);
        var expected = Scalar(levels, key, firstPixel, noise);

        var whole = new byte[channels];
        SensorNoise.Quantise(levels, whole, key, firstPixel, noise);
        Assert.Equal(expected, whole);

        if (Vector256.IsHardwareAccelerated)
        {
            var eights = new byte[channels];
            var done = SensorNoise.QuantiseVectors(levels, eights, key, firstPixel, noise);
            Assert.Equal(channels & ~7, done);
            Assert.Equal(expected.AsSpan(0, done).ToArray(), eights.AsSpan(0, done).ToArray());

            // From a row offset, as after the 16-channel path.
            var tail = new byte[channels];
            var offset = Math.Min(channels & ~15, 48);
            done = SensorNoise.QuantiseVectors(levels.AsSpan(offset), tail.AsSpan(offset), key, firstPixel, noise, offset);
            Assert.Equal(expected.AsSpan(offset, done).ToArray(), tail.AsSpan(offset, done).ToArray());
        }
        if (Vector512.IsHardwareAccelerated)
        {
            var sixteens = new byte[channels];
            var done = SensorNoise.QuantiseVectors512(levels, sixteens, key, firstPixel, noise);
            Assert.Equal(channels & ~15, done);
            Assert.Equal(expected.AsSpan(0, done).ToArray(), sixteens.AsSpan(0, done).ToArray());
        }
    }

    /// <summary>One channel at a time, from <see cref="SensorNoise.Sample"/>: the definition the vector paths must meet.</summary>
    private static byte[] Scalar(float[] levels, ulong frameKey, int firstPixel, float noise) =>
        [.. levels.Select((level, j) =>
        {
            var n = noise > 0 ? noise * SensorNoise.Sample(SensorNoise.Key(frameKey, firstPixel + j / 3) + (ulong)(j % 3)) : 0f;
            return (byte)Math.Clamp((int)(level + n + 0.5f), 0, 255);
        })];
}
