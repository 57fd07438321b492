using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Results;

/// <summary>
/// What one subscriber wants in each result: immutable, validated at the door, and equal for equal requests (so
/// subscribers with the same spec share one encoding).
/// </summary>
public sealed record OutputSpec(TaskSet Tasks, PayloadFormat Depth, PayloadFormat Normals, float DepthScale, bool IncludeInput, int JpegQuality,
    int Width, int Height)
{
    public const float DefaultDepthScale = 0.001f;

    /// <summary>Bytes of the fixed-size (raw float16) payloads; PNGs are bounded by the per-message check at encode time.</summary>
    public long RawBytes()
    {
        long pixels = (long)Width * Height;
        long bytes = 0;
        if (Tasks.Contains(VisionTask.Depth) && Depth == PayloadFormat.Float16) bytes += pixels * 2;
        if (Tasks.Contains(VisionTask.Normals) && Normals == PayloadFormat.Float16) bytes += pixels * 6;
        return bytes;
    }
}
