using OpenCvSharp;
using StreamMtl.Api.V1;
using StreamMtl.Server.Tests.Infrastructure;
using Task = System.Threading.Tasks.Task;

namespace StreamMtl.Server.Tests.Service;

/// <summary><c>Encoding.png_compression</c>: stored PNGs carry the same pixels as compressed ones, at their fixed size.</summary>
public sealed class PngCompressionTests
{
    private const int W = 160;
    private const int H = 128;

    /// <summary>Two subscribers of one stream over a real gRPC socket, one asking for stored PNGs: frame by frame, equal maps.</summary>
    [Fact]
    public async Task Stored_pngs_decode_to_the_same_maps_as_compressed_ones_and_take_their_raw_size()
    {
        await using var server = await ServerUnderTest.StartOnSocketsAsync();
        await server.AddSyntheticAsync("cam", spec: $"synthetic://static?seed=5&w={W}&h={H}&fps=30");
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stored = server.Client.Subscribe(new SubscribeRequest
            { StreamId = "cam", Encoding = new Encoding { PngCompression = PngCompression.None } }, cancellationToken: cts.Token);
        using var compressed = server.Client.Subscribe(new SubscribeRequest
            { StreamId = "cam", Encoding = new Encoding { PngCompression = PngCompression.Fast } }, cancellationToken: cts.Token);
        var storedResults = (await TestResults.TakeAsync(stored.ResponseStream, 8, cts.Token)).ToDictionary(r => r.FrameIndex);
        var compressedResults = await TestResults.TakeAsync(compressed.ResponseStream, 8, cts.Token);

        var common = compressedResults.Where(r => storedResults.ContainsKey(r.FrameIndex)).ToList();
        Assert.NotEmpty(common);
        foreach (var small in common)
        {
            var big = storedResults[small.FrameIndex];
            Assert.Equal(small.Outputs.Select(o => o.Task), big.Outputs.Select(o => o.Task));
            foreach (var (s, b) in small.Outputs.Zip(big.Outputs))
            {
                using var fromSmall = Cv2.ImDecode(s.Data.ToByteArray(), ImreadModes.Unchanged);
                using var fromBig = Cv2.ImDecode(b.Data.ToByteArray(), ImreadModes.Unchanged);
                Assert.Equal(fromSmall.Type(), fromBig.Type());
                Assert.Equal(0, Cv2.Norm(fromSmall, fromBig, NormTypes.INF));
                long raw = (long)W * H * fromBig.ElemSize();
                Assert.InRange(b.Data.Length, raw, raw + raw / 20);
                if (s.Task == Api.V1.Task.Segmentation)
                {
                    // Label maps always compress (the test model's depth and normals can be noise that does not).
                    Assert.True(s.Data.Length < b.Data.Length / 2, $"labels: compressed {s.Data.Length} bytes, stored {b.Data.Length}");
                }
            }
        }
    }
}
