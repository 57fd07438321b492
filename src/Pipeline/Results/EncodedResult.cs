using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;

namespace StreamMtl.Pipeline.Results;

/// <summary>One task's encoded output.</summary>
public sealed record EncodedOutput(VisionTask Task, PayloadFormat Format, int Width, int Height, float Scale, byte[] Data);

/// <summary>Time one pipeline stage took for one frame.</summary>
public sealed record StageTime(string Stage, TimeSpan Elapsed);

/// <summary>
/// One frame's result for one <see cref="OutputSpec"/>: immutable and shared by every subscriber of that spec; the door
/// maps it to its wire format.
/// </summary>
public sealed record EncodedResult(string StreamId, long FrameIndex, DateTimeOffset CaptureTime, FrameAccounting Accounting,
    IReadOnlyList<StageTime> Timings, IReadOnlyList<EncodedOutput> Outputs, byte[]? InputJpeg)
{
    /// <summary>Bytes of the encoded payloads (outputs and input JPEG), without the envelope.</summary>
    public long PayloadBytes => Outputs.Sum(o => (long)o.Data.Length) + (InputJpeg?.Length ?? 0);
}
