using OpenCvSharp;

namespace StreamMtl.Training;

/// <summary>
/// What a real camera stream adds to a clean rendered frame: lossy compression. Re-encoding each training crop
/// as JPEG at a random quality teaches the model to ignore blocking and ringing, and, for the two frames of a
/// neighbour pair degraded independently, to keep its activations still when only the artefacts change (as on a
/// static camera's compressed stream, where every frame re-quantises the same scene differently).
/// </summary>
public static class CameraDegradation
{
    /// <summary>Highest quality drawn; above it JPEG is close to lossless at these sizes.</summary>
    public const int MaxQuality = 95;

    /// <summary>Share of crops degraded when degradation is on; the rest stay clean.</summary>
    public const double Probability = 0.75;

    /// <summary>JPEG-encodes and decodes an interleaved BGR image in place at <paramref name="quality"/> (1..100).</summary>
    public static unsafe void JpegInPlace(Span<byte> bgr, int height, int width, int quality)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        int bytes = height * width * 3;
        if (bgr.Length < bytes)
        {
            throw new ArgumentException($"image buffer holds {bgr.Length} bytes, {height}x{width}x3 = {bytes} needed", nameof(bgr));
        }
        using var mat = new Mat(height, width, MatType.CV_8UC3);
        bgr[..bytes].CopyTo(new Span<byte>((void*)mat.Data, bytes));
        Cv2.ImEncode(".jpg", mat, out byte[] jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
        using var decoded = Cv2.ImDecode(jpeg, ImreadModes.Color);
        if (decoded.Rows != height || decoded.Cols != width || !decoded.IsContinuous())
        {
            throw new InvalidOperationException($"JPEG round trip returned {decoded.Cols}x{decoded.Rows}, expected {width}x{height}");
        }
        new ReadOnlySpan<byte>((void*)decoded.Data, bytes).CopyTo(bgr);
    }

    /// <summary>The augmentation as a training recipe records it, e.g. "JPEG q30-95 on 75 % of crops".</summary>
    public static string Describe(int minQuality) => $"JPEG q{minQuality}-{MaxQuality} on {Probability:P0} of crops";

    /// <summary>With probability <see cref="Probability"/>, degrades the image at a quality drawn from [<paramref name="minQuality"/>, <see cref="MaxQuality"/>].</summary>
    public static void Apply(Span<byte> bgr, int height, int width, int minQuality, Random rng)
    {
        if (minQuality <= 0 || rng.NextDouble() >= Probability)
        {
            return;
        }
        JpegInPlace(bgr, height, width, rng.Next(Math.Min(minQuality, MaxQuality), MaxQuality + 1));
    }
}
