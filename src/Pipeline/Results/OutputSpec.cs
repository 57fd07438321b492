using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Results;

/// <summary>
/// What one subscriber wants in each result: immutable, validated at the door, and equal for equal requests (so
/// subscribers with the same spec share one encoding).
/// </summary>
/// <param name="StoredPngs">PNG outputs in stored (uncompressed) deflate blocks: a fixed size, a tenth of the encoding CPU.</param>
public sealed record OutputSpec(TaskSet Tasks, PayloadFormat Depth, PayloadFormat Normals, float DepthScale, bool IncludeInput, int JpegQuality,
    int Width, int Height, bool StoredPngs = false)
{
    public const float DefaultDepthScale = 0.001f;

    /// <summary>
    /// Bytes of the fixed-size payloads: raw float16, and stored PNGs (their pixels, without the few bytes of headers per row
    /// and block). Compressed PNGs are bounded by the per-message check at encode time.
    /// </summary>
    public long RawBytes()
    {
        long pixels = (long)Width * Height;
        long bytes = 0;
        if (StoredPngs && Tasks.Contains(VisionTask.Segmentation)) bytes += pixels;
        if (Tasks.Contains(VisionTask.Depth) && (Depth == PayloadFormat.Float16 || StoredPngs)) bytes += pixels * 2;
        if (Tasks.Contains(VisionTask.Normals)) bytes += Normals == PayloadFormat.Float16 ? pixels * 6 : StoredPngs ? pixels * 3 : 0;
        return bytes;
    }
}
