using System.Runtime.InteropServices;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Server.Results;

/// <summary>Turns one frame's predictions into a <see cref="FrameResult"/> for one <see cref="OutputSpec"/> (resize, PNG/float16, optional input JPEG).</summary>
public static class ResultEncoder
{
    public static FrameResult Encode(string streamId, FrameAnalysis analysis, Mat? input, DateTimeOffset captureTime, OutputSpec spec,
        IEnumerable<StageTiming> timings)
    {
        var result = new FrameResult
        {
            StreamId = streamId,
            FrameIndex = analysis.FrameIndex,
            CaptureTime = Timestamp.FromDateTimeOffset(captureTime),
            Accounting = Accounting(analysis.Accounting),
        };
        result.Timings.AddRange(timings);
        var p = analysis.Outputs;
        if (spec.Tasks.Contains(VisionTask.Segmentation) && p.Labels != null)
        {
            result.Outputs.Add(Labels(p, spec));
        }
        if (spec.Tasks.Contains(VisionTask.Depth) && p.Depth != null)
        {
            result.Outputs.Add(Depth(p, spec));
        }
        if (spec.Tasks.Contains(VisionTask.Normals) && p.Normals != null)
        {
            result.Outputs.Add(Normals(p, spec));
        }
        if (spec.IncludeInput && input != null && !input.Empty())
        {
            result.InputJpeg = Jpeg(input, spec);
        }
        return result;
    }

    public static Api.V1.Accounting Accounting(FrameAccounting a)
    {
        var accounting = new Api.V1.Accounting
        {
            FlopsSavedRatio = a.SavedRatio,
            TokensRecomputed = a.Tokens.Sum(t => (long)t.Recomputed),
            TokensTotal = a.Tokens.Sum(t => (long)t.Total),
            Keyframe = a.Keyframe,
            KeyframeReason = a.KeyframeReason ?? "",
        };
        foreach (var (task, dense) in a.DenseFlops.OrderBy(kv => kv.Key))
        {
            accounting.Flops.Add(new TaskFlops { Task = ApiTasks.ToApi(task), Dense = dense, Executed = a.ExecutedFlops.GetValueOrDefault(task) });
        }
        return accounting;
    }

    private static TaskOutput Labels(Predictions p, OutputSpec spec)
    {
        using var mat = FromArray(p.Labels!, p.Height, p.Width, MatType.CV_8UC1);
        using var sized = Resize(mat, spec, InterpolationFlags.Nearest);
        return Png(Api.V1.Task.Segmentation, OutputFormat.PngLabels, sized, 1f);
    }

    private static TaskOutput Depth(Predictions p, OutputSpec spec)
    {
        using var mat = FromArray(p.Depth!, p.Height, p.Width, MatType.CV_32FC1);
        using var sized = Resize(mat, spec, InterpolationFlags.Linear);
        if (spec.Depth == OutputFormat.Float16)
        {
            return Half(Api.V1.Task.Depth, sized, spec);
        }
        using var units = new Mat();
        // Saturating conversion: negative -> 0, beyond 65535 units -> 65535.
        sized.ConvertTo(units, MatType.CV_16UC1, 1.0 / spec.DepthScale);
        return Png(Api.V1.Task.Depth, OutputFormat.Png16Depth, units, spec.DepthScale);
    }

    private static TaskOutput Normals(Predictions p, OutputSpec spec)
    {
        using var mat = FromArray(p.Normals!, p.Height, p.Width, MatType.CV_32FC3);
        using var sized = Resize(mat, spec, InterpolationFlags.Linear);
        if (spec.Normals == OutputFormat.Float16)
        {
            return Half(Api.V1.Task.Normals, sized, spec);
        }
        using var rgb = new Mat();
        sized.ConvertTo(rgb, MatType.CV_8UC3, 127.5, 127.5);
        // OpenCV writes BGR order; swap so the PNG's R,G,B are x,y,z.
        using var bgr = new Mat();
        Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
        return Png(Api.V1.Task.Normals, OutputFormat.PngRgb8Normals, bgr, 1f);
    }

    private static ByteString Jpeg(Mat input, OutputSpec spec)
    {
        using var sized = Resize(input, spec, InterpolationFlags.Area);
        Cv2.ImEncode(".jpg", sized, out byte[] jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, spec.JpegQuality));
        return UnsafeByteOperations.UnsafeWrap(jpeg);
    }

    private static TaskOutput Png(Api.V1.Task task, OutputFormat format, Mat mat, float scale)
    {
        // Fast compression for model-sized outputs; large (upsampled, smooth) outputs compress far better with more effort,
        // which keeps 1080p results under the 4 MB default client limit.
        int level = (long)mat.Width * mat.Height > 500_000 ? 6 : 1;
        Cv2.ImEncode(".png", mat, out byte[] png, new ImageEncodingParam(ImwriteFlags.PngCompression, level));
        return new TaskOutput { Task = task, Format = format, Width = mat.Width, Height = mat.Height, Scale = scale, Data = UnsafeByteOperations.UnsafeWrap(png) };
    }

    private static unsafe TaskOutput Half(Api.V1.Task task, Mat mat, OutputSpec spec)
    {
        int count = mat.Width * mat.Height * mat.Channels();
        var src = new ReadOnlySpan<float>((void*)mat.Data, count);
        var bytes = new byte[count * 2];
        var dst = MemoryMarshal.Cast<byte, System.Half>(bytes.AsSpan());
        for (int i = 0; i < count; i++)
        {
            dst[i] = (System.Half)src[i];
        }
        return new TaskOutput { Task = task, Format = OutputFormat.Float16, Width = spec.Width, Height = spec.Height, Scale = 1f, Data = UnsafeByteOperations.UnsafeWrap(bytes) };
    }

    private static Mat Resize(Mat mat, OutputSpec spec, InterpolationFlags interpolation)
    {
        var sized = new Mat();
        if (mat.Width == spec.Width && mat.Height == spec.Height)
        {
            mat.CopyTo(sized);
        }
        else
        {
            Cv2.Resize(mat, sized, new OpenCvSharp.Size(spec.Width, spec.Height), 0, 0, interpolation);
        }
        if (!sized.IsContinuous())
        {
            var copy = sized.Clone();
            sized.Dispose();
            return copy;
        }
        return sized;
    }

    private static unsafe Mat FromArray<T>(T[] data, int rows, int cols, MatType type) where T : unmanaged
    {
        var mat = new Mat(rows, cols, type);
        int elements = rows * cols * type.Channels;
        if (data.Length < elements)
        {
            mat.Dispose();
            throw new ArgumentException($"prediction array has {data.Length} values, {rows}x{cols}x{type.Channels} expected");
        }
        data.AsSpan(0, elements).CopyTo(new Span<T>((void*)mat.Data, elements));
        return mat;
    }
}
