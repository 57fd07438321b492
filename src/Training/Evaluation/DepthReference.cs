using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Runners;
using StreamMtl.Training.Data;
using StreamMtl.Training.Teachers;
using static TorchSharp.torch;

namespace StreamMtl.Training.Evaluation;

/// <summary>
/// A real image with a relative disparity ground truth (<c>eval --depth-ref IMAGE:GT</c>, e.g. Middlebury's Aloe): the model
/// sees the image at the evaluation size, its depth is resized back to the truth's size and scored by
/// <see cref="RelativeDepthMetrics"/> over the pixels whose true disparity is not 0.
/// </summary>
public sealed record DepthReference(string Image, string Truth)
{
    /// <summary>Parses IMAGE:GT; a message saying what is wrong, or null.</summary>
    public static (DepthReference? Reference, string? Problem) Parse(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 2 || parts.Any(p => p.Length == 0))
        {
            return (null, $"'{text}' must be IMAGE:GT, an image and its disparity ground truth (0 = invalid), e.g. aloeL.jpg:aloeGT.png");
        }
        foreach (var (path, what) in new[] { (parts[0], "image"), (parts[1], "ground truth") })
        {
            if (!File.Exists(path))
            {
                return (null, $"{what} not found: {path}");
            }
        }
        return (new DepthReference(parts[0], parts[1]), null);
    }

    /// <summary>The disparity ground truth as floats, one per pixel of its width x height (8- or 16-bit, one channel or grey in three).</summary>
    public (float[] Disparity, int Width, int Height) ReadTruth()
    {
        using var read = Cv2.ImRead(Truth, ImreadModes.Unchanged);
        if (read.Empty())
        {
            throw new DatasetException($"{Truth}: not an image OpenCV can read");
        }
        using var grey = new Mat();
        if (read.Channels() == 1)
        {
            read.CopyTo(grey);
        }
        else
        {
            Cv2.CvtColor(read, grey, read.Channels() == 4 ? ColorConversionCodes.BGRA2GRAY : ColorConversionCodes.BGR2GRAY);
        }
        using var floats = new Mat();
        grey.ConvertTo(floats, MatType.CV_32FC1);
        if (!floats.GetArray(out float[] disparity))
        {
            throw new DatasetException($"{Truth}: could not read its pixels");
        }
        return (disparity, floats.Width, floats.Height);
    }

    /// <summary>Runs <paramref name="model"/>'s depth on the image at <paramref name="width"/> x <paramref name="height"/> and scores it against the truth.</summary>
    public RelativeDepthMetrics Score(MultiTaskVit model, int width, int height)
    {
        if (!model.Config.Has(VisionTask.Depth))
        {
            throw new DatasetException($"--depth-ref scores depth, and the model has no depth task (tasks: {string.Join(", ", model.Config.AllTasks.Select(t => t.Name()))})");
        }
        var (truth, tw, th) = ReadTruth();
        using var image = Cv2.ImRead(Image, ImreadModes.Color);
        if (image.Empty())
        {
            throw new DatasetException($"{Image}: not an image OpenCV can read");
        }
        if (image.Width != tw || image.Height != th)
        {
            throw new DatasetException($"{Truth} is {tw}x{th} but {Image} is {image.Width}x{image.Height}: the ground truth must be pixel for pixel the image's");
        }
        using var resized = new Mat();
        Downscale.Area(image, resized, width, height);
        resized.GetArray(out Vec3b[] pixels);
        byte[] bgr = System.Runtime.InteropServices.MemoryMarshal.AsBytes(pixels.AsSpan()).ToArray();
        float[] depth;
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            var input = ImageTensors.FromBgr(bgr, width, height, model.Config);
            using var result = model.Forward(input, new ForwardOptions(VisionTask.Depth.ToSet()));
            depth = Predictions.From(result).Depth!;
        }
        var metrics = RelativeDepthMetrics.Of(Planes.Resize(depth, 1, width, height, tw, th, InterpolationFlags.Linear), truth);
        return metrics.Pixels >= 2 && double.IsFinite(metrics.Spearman) ? metrics
            : throw new DatasetException($"{Truth}: {metrics.Pixels} pixels with a true disparity above 0 and a predicted depth above 0; the metrics need a varied disparity over several");
    }

    /// <summary>What the eval report says of the reference.</summary>
    public sealed record Report(string Image, string Truth, int Width, int Height, RelativeDepthMetrics Metrics);
}
