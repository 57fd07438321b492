using OpenCvSharp;
using StreamMtl.Api.V1;

namespace StreamMtl.Server.Service;

/// <summary>Reads a result's task outputs back from the wire formats the service encodes (the client's side of
/// <see cref="ApiMapping"/>): depth in metres and unit normals as float images.</summary>
public static class ResultOutputs
{
    /// <summary>Depth in metres (CV_32FC1) from PNG16 (times scale) or float16.</summary>
    public static Mat DecodeDepth(TaskOutput output)
    {
        if (output.Format == OutputFormat.Float16)
        {
            return FromHalf(output, 1);
        }
        using var units = Cv2.ImDecode(output.Data.Span, ImreadModes.Unchanged);
        var metres = new Mat();
        units.ConvertTo(metres, MatType.CV_32FC1, output.Scale);
        return metres;
    }

    /// <summary>Unit normals as x, y, z floats (CV_32FC3, channels in that order) from an RGB8 PNG or float16.</summary>
    public static Mat DecodeNormals(TaskOutput output)
    {
        if (output.Format == OutputFormat.Float16)
        {
            return FromHalf(output, 3);
        }
        // The PNG holds x, y, z as R, G, B; OpenCV decodes to B, G, R.
        using var bgr = Cv2.ImDecode(output.Data.Span, ImreadModes.Color);
        using var rgb = new Mat();
        Cv2.CvtColor(bgr, rgb, ColorConversionCodes.BGR2RGB);
        var normals = new Mat();
        rgb.ConvertTo(normals, MatType.CV_32FC3, 1 / 127.5, -1);
        return normals;
    }

    private static unsafe Mat FromHalf(TaskOutput output, int channels)
    {
        var mat = new Mat(output.Height, output.Width, channels == 1 ? MatType.CV_32FC1 : MatType.CV_32FC3);
        var half = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, Half>(output.Data.Span);
        var dst = new Span<float>((void*)mat.Data, output.Width * output.Height * channels);
        for (int i = 0; i < dst.Length && i < half.Length; i++)
        {
            dst[i] = (float)half[i];
        }
        return mat;
    }
}
