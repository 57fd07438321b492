namespace StreamMtl.Ingest.Frames;

/// <summary>
/// Exact per-pixel ground truth in row-major order: semantic class id, metric depth along the camera's
/// optical axis (metres, 0 where nothing was hit), and camera-space unit surface normal (x right, y down,
/// z forward; three floats per pixel).
/// </summary>
public sealed record FrameTruth(int Width, int Height, byte[] Labels, float[] Depth, float[] Normals)
{
    /// <summary>Label value meaning "no ground truth for this pixel" (ignored by metrics).</summary>
    public const byte Ignore = 255;
}
