using System.Globalization;
using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Server.Service;
using ApiTask = StreamMtl.Api.V1.Task;

namespace StreamMtl.Server.Cli;

/// <summary>Class colours from the model info (BGR lookup table for label maps).</summary>
public sealed class Palette(Vec3b[] colors)
{
    public Vec3b this[int label] => label < colors.Length ? colors[label] : new Vec3b(0, 0, 0);

    public static Palette FromModel(ModelInfo model)
    {
        var colors = new Vec3b[256];
        foreach (var c in model.Classes.Where(c => c.Id is >= 0 and < 256))
        {
            colors[c.Id] = new Vec3b((byte)(c.Color & 0xFF), (byte)((c.Color >> 8) & 0xFF), (byte)((c.Color >> 16) & 0xFF));
        }
        return new Palette(colors);
    }
}

/// <summary>Decodes a result's outputs into colour images and lays them out side by side with the input.</summary>
public static class Panels
{
    public static Mat Compose(FrameResult result, Palette palette, double fps)
    {
        var panels = new List<Mat>();
        try
        {
            if (!result.InputJpeg.IsEmpty)
            {
                panels.Add(Cv2.ImDecode(result.InputJpeg.Span, ImreadModes.Color));
            }
            foreach (var output in result.Outputs)
            {
                panels.Add(Render(output, palette));
            }
            if (panels.Count == 0)
            {
                return new Mat(240, 320, MatType.CV_8UC3, Scalar.Black);
            }
            int height = panels[0].Height;
            for (int i = 0; i < panels.Count; i++)
            {
                if (panels[i].Height != height)
                {
                    var resized = new Mat();
                    Cv2.Resize(panels[i], resized, new OpenCvSharp.Size(panels[i].Width * height / panels[i].Height, height));
                    panels[i].Dispose();
                    panels[i] = resized;
                }
            }
            var composed = new Mat();
            Cv2.HConcat(panels.ToArray(), composed);
            string text = string.Create(CultureInfo.InvariantCulture,
                $"#{result.FrameIndex}  {fps:F1} fps  FLOPs saved {result.Accounting.FlopsSavedRatio * 100:F1}%");
            Cv2.PutText(composed, text, new Point(6, 16), HersheyFonts.HersheySimplex, 0.45, Scalar.Black, 3);
            Cv2.PutText(composed, text, new Point(6, 16), HersheyFonts.HersheySimplex, 0.45, Scalar.White, 1);
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

    public static Mat Render(TaskOutput output, Palette palette)
    {
        switch (output.Task, output.Format)
        {
            case (ApiTask.Segmentation, OutputFormat.PngLabels):
            {
                using var labels = Cv2.ImDecode(output.Data.Span, ImreadModes.Unchanged);
                int rows = labels.Rows;
                int cols = labels.Cols;
                var colored = new Mat(rows, cols, MatType.CV_8UC3);
                unsafe
                {
                    var src = new ReadOnlySpan<byte>((void*)labels.Data, rows * cols);
                    var dst = new Span<Vec3b>((void*)colored.Data, rows * cols);
                    for (int i = 0; i < src.Length; i++)
                    {
                        dst[i] = palette[src[i]];
                    }
                }
                return colored;
            }
            case (ApiTask.Depth, _):
            {
                using var metres = ResultOutputs.DecodeDepth(output);
                using var scaled = new Mat();
                Cv2.MinMaxLoc(metres, out double min, out double max);
                metres.ConvertTo(scaled, MatType.CV_8UC1, max > min ? 255 / (max - min) : 0, max > min ? -min * 255 / (max - min) : 0);
                var colored = new Mat();
                Cv2.ApplyColorMap(scaled, colored, ColormapTypes.Turbo);
                return colored;
            }
            case (ApiTask.Normals, OutputFormat.PngRgb8Normals):
                return Cv2.ImDecode(output.Data.Span, ImreadModes.Color);
            case (ApiTask.Normals, OutputFormat.Float16):
            {
                using var normals = ResultOutputs.DecodeNormals(output);
                var colored = new Mat();
                using var rgb = new Mat();
                normals.ConvertTo(rgb, MatType.CV_8UC3, 127.5, 127.5);
                Cv2.CvtColor(rgb, colored, ColorConversionCodes.RGB2BGR);
                return colored;
            }
            default:
                return new Mat(Math.Max(output.Height, 16), Math.Max(output.Width, 16), MatType.CV_8UC3, Scalar.Gray);
        }
    }
}
