using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Results;

namespace StreamMtl.Server.Web;

/// <summary>
/// A still of a stream's next result as one PNG: the asked layers side by side (input, segmentation in class colours,
/// depth in a colour map, normals as encoded), decoded and colourised here from the payloads the viewers get.
/// </summary>
public static class Snapshot
{
    public static readonly IReadOnlyList<string> Layers = ["input", "seg", "depth", "normals"];

    /// <summary>The layers named in <paramref name="text"/> (comma-separated; default input,seg), or null with what is wrong.</summary>
    public static List<string>? ParseLayers(string? text, out string? error)
    {
        error = null;
        var layers = new List<string>();
        foreach (var name in (string.IsNullOrEmpty(text) ? "input,seg" : text).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Layers.Contains(name))
            {
                error = $"unknown layer '{Security.InputText.Echo(name)}' (input, seg, depth, normals)";
                return null;
            }
            if (!layers.Contains(name))
            {
                layers.Add(name);
            }
        }
        if (layers.Count == 0)
        {
            error = "no layers (input, seg, depth, normals)";
            return null;
        }
        return layers;
    }

    /// <summary>The subscription a snapshot of <paramref name="layers"/> needs (input only still runs segmentation, the cheapest).</summary>
    public static SubscribeRequest Request(string streamId, IReadOnlyList<string> layers)
    {
        var request = new SubscribeRequest { StreamId = streamId, Encoding = new Api.V1.Encoding { IncludeInput = layers.Contains("input") } };
        if (layers.Contains("seg") || !(layers.Contains("depth") || layers.Contains("normals"))) request.Tasks.Add(Api.V1.Task.Segmentation);
        if (layers.Contains("depth")) request.Tasks.Add(Api.V1.Task.Depth);
        if (layers.Contains("normals")) request.Tasks.Add(Api.V1.Task.Normals);
        return request;
    }

    /// <summary>The PNG of <paramref name="result"/>'s layers; <paramref name="colors"/> are 0xRRGGBB per class.</summary>
    public static byte[] Render(EncodedResult result, IReadOnlyList<string> layers, IReadOnlyList<uint> colors)
    {
        var panels = new List<Mat>();
        try
        {
            foreach (var layer in layers)
            {
                var panel = layer == "input" ? Decode(result.InputJpeg, ImreadModes.Color) : Output(result, layer, colors);
                if (panel != null)
                {
                    panels.Add(panel);
                }
            }
            if (panels.Count == 0)
            {
                throw new InvalidOperationException("the result carries none of the asked layers");
            }
            using var row = new Mat();
            var first = panels[0];
            for (int i = 1; i < panels.Count; i++)
            {
                if (panels[i].Size() != first.Size())
                {
                    var resized = new Mat();
                    Cv2.Resize(panels[i], resized, first.Size(), interpolation: InterpolationFlags.Nearest);
                    panels[i].Dispose();
                    panels[i] = resized;
                }
            }
            Cv2.HConcat(panels.ToArray(), row);
            return row.ImEncode(".png");
        }
        finally
        {
            foreach (var panel in panels)
            {
                panel.Dispose();
            }
        }
    }

    private static Mat? Output(EncodedResult result, string layer, IReadOnlyList<uint> colors)
    {
        var task = layer switch { "seg" => Pipeline.Model.VisionTask.Segmentation, "depth" => Pipeline.Model.VisionTask.Depth, _ => Pipeline.Model.VisionTask.Normals };
        var output = result.Outputs.FirstOrDefault(o => o.Task == task);
        if (output == null || output.Format == PayloadFormat.Float16)
        {
            return null;
        }
        if (layer == "normals")
        {
            return Decode(output.Data, ImreadModes.Color);
        }
        using var raw = Decode(output.Data, ImreadModes.Unchanged)!;
        var coloured = new Mat();
        if (layer == "seg")
        {
            using var table = new Mat(1, 256, MatType.CV_8UC3, Scalar.Black);
            for (int i = 0; i < Math.Min(256, colors.Count); i++)
            {
                uint c = colors[i];
                table.Set(0, i, new Vec3b((byte)c, (byte)(c >> 8), (byte)(c >> 16)));
            }
            using var labels3 = new Mat();
            Cv2.CvtColor(raw, labels3, ColorConversionCodes.GRAY2BGR);
            Cv2.LUT(labels3, table, coloured);
        }
        else
        {
            using var bytes = new Mat();
            Cv2.Normalize(raw, bytes, 0, 255, NormTypes.MinMax, (int)MatType.CV_8U);
            Cv2.ApplyColorMap(bytes, coloured, ColormapTypes.Turbo);
        }
        return coloured;
    }

    private static Mat? Decode(byte[]? data, ImreadModes mode)
    {
        if (data == null)
        {
            return null;
        }
        var mat = Cv2.ImDecode(data, mode);
        if (mat.Empty())
        {
            mat.Dispose();
            throw new InvalidOperationException("a payload did not decode");
        }
        return mat;
    }
}
