using System.Runtime.InteropServices;
using OpenCvSharp;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;

namespace StreamMtl.Pipeline.Results;

/// <summary>Turns one frame's predictions into an <see cref="EncodedResult"/> for one <see cref="OutputSpec"/> (resize, PNG/float16, optional input JPEG).</summary>
public static class ResultEncoder
{
    /// <param name="previous">The outputs last encoded for this spec, with the frame each was computed on: a task the frame held
    /// (repeated from an earlier frame at a reduced compute level) reuses the encoding of that same output instead of encoding
    /// the same map again.</param>
    public static EncodedResult Encode(string streamId, FrameAnalysis analysis, Mat? input, DateTimeOffset captureTime, OutputSpec spec,
        IReadOnlyList<StageTime> timings, IReadOnlyDictionary<VisionTask, (long ComputedOn, EncodedOutput Output)>? previous = null)
    {
        var outputs = new List<EncodedOutput>(3);
        var p = analysis.Outputs;
        var accounting = analysis.Accounting;
        EncodedOutput Reuse(VisionTask task, Func<Predictions, OutputSpec, EncodedOutput> encode) =>
            accounting.HeldTasks.Contains(task) && previous != null && previous.TryGetValue(task, out var last)
                && last.ComputedOn == accounting.ComputedOn(task, analysis.FrameIndex) ? last.Output : encode(p, spec);
        if (spec.Tasks.Contains(VisionTask.Segmentation) && p.Labels != null)
        {
            outputs.Add(Reuse(VisionTask.Segmentation, Labels));
        }
        if (spec.Tasks.Contains(VisionTask.Depth) && p.Depth != null)
        {
            outputs.Add(Reuse(VisionTask.Depth, Depth));
        }
        if (spec.Tasks.Contains(VisionTask.Normals) && p.Normals != null)
        {
            outputs.Add(Reuse(VisionTask.Normals, Normals));
        }
        byte[]? jpeg = spec.IncludeInput && input != null && !input.Empty() ? Jpeg(input, spec) : null;
        return new EncodedResult(streamId, analysis.FrameIndex, captureTime, analysis.Accounting, timings, outputs, jpeg);
    }

    private static EncodedOutput Labels(Predictions p, OutputSpec spec)
    {
        using var mat = FromArray(p.Labels!, p.Height, p.Width, MatType.CV_8UC1);
        using var sized = Resize(mat, spec, InterpolationFlags.Nearest);
        return Png(VisionTask.Segmentation, PayloadFormat.PngLabels, sized, 1f, spec, PngRows.Up);
    }

    private static EncodedOutput Depth(Predictions p, OutputSpec spec)
    {
        using var mat = FromArray(p.Depth!, p.Height, p.Width, MatType.CV_32FC1);
        using var sized = Resize(mat, spec, InterpolationFlags.Linear);
        if (spec.Depth == PayloadFormat.Float16)
        {
            return Half(VisionTask.Depth, sized, spec);
        }
        using var units = new Mat();
        // Saturating conversion: negative -> 0, beyond 65535 units -> 65535.
        sized.ConvertTo(units, MatType.CV_16UC1, 1.0 / spec.DepthScale);
        return Png(VisionTask.Depth, PayloadFormat.Png16Depth, units, spec.DepthScale, spec, PngRows.Sub, ImwritePNGFlags.StrategyHuffmanOnly);
    }

    private static EncodedOutput Normals(Predictions p, OutputSpec spec)
    {
        using var mat = FromArray(p.Normals!, p.Height, p.Width, MatType.CV_32FC3);
        using var sized = Resize(mat, spec, InterpolationFlags.Linear);
        if (spec.Normals == PayloadFormat.Float16)
        {
            return Half(VisionTask.Normals, sized, spec);
        }
        using var rgb = new Mat();
        sized.ConvertTo(rgb, MatType.CV_8UC3, 127.5, 127.5);
        // OpenCV writes BGR order; swap so the PNG's R,G,B are x,y,z.
        using var bgr = new Mat();
        Cv2.CvtColor(rgb, bgr, ColorConversionCodes.RGB2BGR);
        return Png(VisionTask.Normals, PayloadFormat.PngRgb8Normals, bgr, 1f, spec, PngRows.Paeth);
    }

    private static byte[] Jpeg(Mat input, OutputSpec spec)
    {
        using var sized = Resize(input, spec, InterpolationFlags.Area);
        Cv2.ImEncode(".jpg", sized, out byte[] jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, spec.JpegQuality));
        return jpeg;
    }

    /// <summary>PNG row filters (OpenCV's IMWRITE_PNG_FILTER values; OpenCvSharp's enum lacks the flag).</summary>
    internal enum PngRows
    {
        None = 8,
        Sub = 16,
        Up = 32,
        Paeth = 128,
    }

    /// <summary>OpenCV's IMWRITE_PNG_FILTER (19): the row filter libpng uses for every row (OpenCV's own choice at its fastest level is Sub).</summary>
    internal const ImwriteFlags PngFilterFlag = (ImwriteFlags)19;

    private static EncodedOutput Png(VisionTask task, PayloadFormat format, Mat mat, float scale, OutputSpec spec, PngRows rows,
        ImwritePNGFlags strategy = ImwritePNGFlags.StrategyRLE)
    {
        // Stored: level 0 with the None filter is a copy of the rows (0.2-0.3 ms for a 320x240 map). Level 0 alone would leave
        // libpng trying every filter on every row, which costs more than compressing (2.2 ms for 16-bit depth, measured).
        // Model-sized outputs: one row filter per task, and OpenCV's fastest compression (level 1 when no level is given) with
        // the strategy given (a level given would switch OpenCV to zlib's default strategy: twice as slow, measured).
        // Over 40 vtest frames of the shipped model (320x240; docs/service.md, "Encodings and message sizes"): 0.26 / 2.65 / 3.45
        // ms for 1.6 / 93.6 / 55.2 KB (labels / depth / normals), against 0.30 / 2.76 / 3.57 ms for 2.5 / 93.7 / 72.4 KB with
        // OpenCV's defaults (Sub rows, run-length matching). Depth's noisy low bits leave
        // nothing for string matching, so it is Huffman-coded only. Large (upsampled, smooth) outputs compress far better with
        // more effort, which keeps 1080p results under the 4 MB default client limit.
        ImageEncodingParam[] options = spec.StoredPngs
            ? [new ImageEncodingParam(PngFilterFlag, (int)PngRows.None), new ImageEncodingParam(ImwriteFlags.PngCompression, 0)]
            : (long)mat.Width * mat.Height > 500_000
            ? [new ImageEncodingParam(ImwriteFlags.PngCompression, 6)]
            : [new ImageEncodingParam(PngFilterFlag, (int)rows), new ImageEncodingParam(ImwriteFlags.PngStrategy, (int)strategy)];
        Cv2.ImEncode(".png", mat, out byte[] png, options);
        return new EncodedOutput(task, format, mat.Width, mat.Height, scale, png);
    }

    private static unsafe EncodedOutput Half(VisionTask task, Mat mat, OutputSpec spec)
    {
        int count = mat.Width * mat.Height * mat.Channels();
        var src = new ReadOnlySpan<float>((void*)mat.Data, count);
        var bytes = new byte[count * 2];
        var dst = MemoryMarshal.Cast<byte, System.Half>(bytes.AsSpan());
        for (int i = 0; i < count; i++)
        {
            dst[i] = (System.Half)src[i];
        }
        return new EncodedOutput(task, PayloadFormat.Float16, spec.Width, spec.Height, 1f, bytes);
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
