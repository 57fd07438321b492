using StreamMtl.Pipeline.Model;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training;

namespace StreamMtl.Server.Cli;

/// <summary>
/// Where a model errs on one held-out frame, as one image (streammtl eval --dump): top row input,
/// segmentation errors (wrong pixels red), depth relative error; bottom row true normals, predicted
/// normals, normals angle error. Error maps use the Turbo colour map, blue = 0, red = at or over the scale
/// printed on the panel.
/// </summary>
public static class ErrorMaps
{
    public const double DepthScale = 0.5;
    public const double AngleScaleDeg = 90;

    public static Mat Compose(TruthFrame frame, Predictions predicted)
    {
        int w = frame.Width;
        int h = frame.Height;
        var truth = frame.Truth;
        var panels = new List<Mat>();
        try
        {
            using (var pixels = Mat.FromPixelData(h, w, MatType.CV_8UC3, frame.Bgr))
            {
                panels.Add(pixels.Clone());
                panels.Add(Label(SegmentationErrors(pixels, truth, predicted.Labels), "segmentation: wrong = red"));
            }
            Label(panels[0], "input");
            panels.Add(Label(Heat(w, h, predicted.Depth == null ? null : i =>
                truth.Labels[i] == FrameTruth.Ignore || truth.Depth[i] <= 0 ? float.NaN : Math.Abs(predicted.Depth[i] - truth.Depth[i]) / truth.Depth[i], DepthScale),
                $"depth |d-d*|/d*, red >= {DepthScale}"));
            panels.Add(Label(NormalsImage(w, h, truth.Normals), "true normals"));
            panels.Add(Label(NormalsImage(w, h, predicted.Normals), "predicted normals"));
            panels.Add(Label(Heat(w, h, predicted.Normals == null ? null : i =>
                truth.Labels[i] == FrameTruth.Ignore ? float.NaN
                    : (float)NormalsMetrics.AngleDegrees(predicted.Normals.AsSpan(3 * i, 3), truth.Normals.AsSpan(3 * i, 3)), AngleScaleDeg),
                $"normals error, red >= {AngleScaleDeg} deg"));
            using var top = new Mat();
            using var bottom = new Mat();
            Cv2.HConcat(panels.Take(3).ToArray(), top);
            Cv2.HConcat(panels.Skip(3).ToArray(), bottom);
            var composed = new Mat();
            Cv2.VConcat([top, bottom], composed);
            return composed;
        }
        finally
        {
            foreach (var panel in panels)
            {
                panel.Dispose();
            }
        }
    }

    private static unsafe Mat SegmentationErrors(Mat input, FrameTruth truth, byte[]? labels)
    {
        var gray = new Mat();
        using (var single = new Mat())
        {
            Cv2.CvtColor(input, single, ColorConversionCodes.BGR2GRAY);
            Cv2.CvtColor(single, gray, ColorConversionCodes.GRAY2BGR);
        }
        if (labels == null)
        {
            return gray;
        }
        var pixels = new Span<Vec3b>((void*)gray.Data, truth.Width * truth.Height);
        for (int i = 0; i < pixels.Length; i++)
        {
            if (truth.Labels[i] != FrameTruth.Ignore && labels[i] != truth.Labels[i])
            {
                pixels[i] = new Vec3b(0, 0, 255);
            }
        }
        return gray;
    }

    private static unsafe Mat NormalsImage(int w, int h, float[]? normals)
    {
        var image = new Mat(h, w, MatType.CV_8UC3, Scalar.Gray);
        if (normals == null)
        {
            return image;
        }
        var pixels = new Span<Vec3b>((void*)image.Data, w * h);
        for (int i = 0; i < pixels.Length; i++)
        {
            // RGB = (n + 1) / 2, written as BGR.
            pixels[i] = new Vec3b(ToByte(normals[3 * i + 2]), ToByte(normals[3 * i + 1]), ToByte(normals[3 * i]));
        }
        return image;

        static byte ToByte(float v) => (byte)Math.Clamp((v + 1) * 127.5f, 0, 255);
    }

    /// <summary>Turbo heat map of an error per pixel over [0, scale]; NaN (no truth) is black.</summary>
    private static unsafe Mat Heat(int w, int h, Func<int, float>? error, double scale)
    {
        if (error == null)
        {
            return new Mat(h, w, MatType.CV_8UC3, Scalar.Gray);
        }
        using var levels = new Mat(h, w, MatType.CV_8UC1);
        var missing = new bool[w * h];
        var values = new Span<byte>((void*)levels.Data, w * h);
        for (int i = 0; i < values.Length; i++)
        {
            float e = error(i);
            missing[i] = float.IsNaN(e);
            values[i] = missing[i] ? (byte)0 : (byte)Math.Clamp(e / scale * 255, 0, 255);
        }
        var colored = new Mat();
        Cv2.ApplyColorMap(levels, colored, ColormapTypes.Turbo);
        var pixels = new Span<Vec3b>((void*)colored.Data, w * h);
        for (int i = 0; i < pixels.Length; i++)
        {
            if (missing[i])
            {
                pixels[i] = default;
            }
        }
        return colored;
    }

    private static Mat Label(Mat panel, string text)
    {
        Cv2.PutText(panel, text, new Point(4, 14), HersheyFonts.HersheySimplex, 0.4, Scalar.Black, 3);
        Cv2.PutText(panel, text, new Point(4, 14), HersheyFonts.HersheySimplex, 0.4, Scalar.White, 1);
        return panel;
    }
}
