using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Model;
using StreamMtl.Server.Configuration;
using StreamMtl.Pipeline.Inference;

namespace StreamMtl.Server.Results;

/// <summary>What one subscriber wants in each result: validated, immutable, and equal for equal requests (encodings are shared).</summary>
public sealed record OutputSpec(TaskSet Tasks, OutputFormat Depth, OutputFormat Normals, float DepthScale, bool IncludeInput, int JpegQuality,
    int Width, int Height)
{
    public const float DefaultDepthScale = 0.001f;

    /// <summary>Builds a spec from API fields; the error says what is wrong (InvalidArgument) or is null.</summary>
    public static OutputSpec? TryCreate(IEnumerable<StreamMtl.Api.V1.Task> tasks, StreamMtl.Api.V1.Encoding? encoding, Size? size, TaskSet allowed,
        LoadedModel model, LimitOptions limits, out string? error)
    {
        error = null;
        var set = ApiTasks.ToSet(tasks, out var badTask);
        if (badTask != null)
        {
            error = badTask;
            return null;
        }
        if (set == TaskSet.None)
        {
            set = allowed;
        }
        if ((set & ~allowed) != TaskSet.None)
        {
            error = $"tasks {ApiTasks.Describe(set & ~allowed)} are not served here (available: {ApiTasks.Describe(allowed)})";
            return null;
        }
        encoding ??= new StreamMtl.Api.V1.Encoding();
        var depth = encoding.Depth == OutputFormat.Unspecified ? OutputFormat.Png16Depth : encoding.Depth;
        if (depth is not (OutputFormat.Png16Depth or OutputFormat.Float16))
        {
            error = $"depth encoding must be PNG16_DEPTH or FLOAT16, got {encoding.Depth}";
            return null;
        }
        var normals = encoding.Normals == OutputFormat.Unspecified ? OutputFormat.PngRgb8Normals : encoding.Normals;
        if (normals is not (OutputFormat.PngRgb8Normals or OutputFormat.Float16))
        {
            error = $"normals encoding must be PNG_RGB8_NORMALS or FLOAT16, got {encoding.Normals}";
            return null;
        }
        float scale = encoding.DepthScale == 0 ? DefaultDepthScale : encoding.DepthScale;
        if (!(scale > 0) || float.IsInfinity(scale))
        {
            error = $"depth_scale must be a positive number of metres per unit, got {encoding.DepthScale}";
            return null;
        }
        int quality = encoding.InputJpegQuality == 0 ? 80 : encoding.InputJpegQuality;
        if (quality is < 1 or > 100)
        {
            error = $"input_jpeg_quality must be in 1..100, got {encoding.InputJpegQuality}";
            return null;
        }
        int width = size == null || (size.Width == 0 && size.Height == 0) ? model.InputWidth : size.Width;
        int height = size == null || (size.Width == 0 && size.Height == 0) ? model.InputHeight : size.Height;
        if (width < 16 || height < 16 || width > limits.MaxOutputWidth || height > limits.MaxOutputHeight)
        {
            error = $"output size {width}x{height} must be within 16x16..{limits.MaxOutputWidth}x{limits.MaxOutputHeight}";
            return null;
        }
        var spec = new OutputSpec(set, depth, normals, scale, encoding.IncludeInput, quality, width, height);
        long raw = spec.RawBytes();
        if (raw > limits.MaxSendMessageBytes * 0.9)
        {
            error = $"raw float16 outputs at {width}x{height} take {raw} bytes, over the {limits.MaxSendMessageBytes}-byte message limit: use PNG encodings or a smaller output size";
            return null;
        }
        return spec;
    }

    /// <summary>Bytes of the fixed-size (raw float16) payloads; PNGs are bounded by the per-message check at encode time.</summary>
    public long RawBytes()
    {
        long pixels = (long)Width * Height;
        long bytes = 0;
        if (Tasks.Contains(VisionTask.Depth) && Depth == OutputFormat.Float16) bytes += pixels * 2;
        if (Tasks.Contains(VisionTask.Normals) && Normals == OutputFormat.Float16) bytes += pixels * 6;
        return bytes;
    }
}
