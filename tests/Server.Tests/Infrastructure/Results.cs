using Grpc.Core;
using OpenCvSharp;
using StreamMtl.Api.V1;

namespace StreamMtl.Server.Tests.Infrastructure;

/// <summary>Reads and decodes results in tests.</summary>
internal static class TestResults
{
    public static async Task<List<FrameResult>> TakeAsync(IAsyncStreamReader<FrameResult> stream, int count, CancellationToken cancellationToken)
    {
        var results = new List<FrameResult>();
        while (results.Count < count && await stream.MoveNext(cancellationToken))
        {
            results.Add(stream.Current);
        }
        return results;
    }

    public static byte[] Labels(TaskOutput output, out int width, out int height)
    {
        Assert.Equal(OutputFormat.PngLabels, output.Format);
        using var mat = Cv2.ImDecode(output.Data.Span, ImreadModes.Unchanged);
        Assert.Equal(MatType.CV_8UC1, mat.Type());
        width = mat.Width;
        height = mat.Height;
        mat.GetArray(out byte[] data);
        return data;
    }
}
