using StreamMtl.Ingest.Bench;
using StreamMtl.Ingest.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StreamMtl.Ingest.Tests.Bench;

[Collection(RtspCollection.Name)]
public sealed class IngestBenchmarkTests(TestClip clip, ITestOutputHelper output)
{
    [Fact]
    public async Task File_batch_benchmark_reports_latency_and_intervals()
    {
        var result = await IngestBenchmark.RunAsync(TestPaths.Video("vtest.avi") + "#mode=batch", frames: 200);
        output.WriteLine(result.ToString());

        Assert.Equal(200, result.Frames);
        Assert.Equal(768, result.Width);
        Assert.True(result.FirstFrameLatency > TimeSpan.Zero);
        Assert.True(result.MedianInterval <= result.P95Interval && result.P95Interval <= result.MaxInterval);
    }

    [Fact]
    public async Task Rtsp_benchmark_sees_the_served_frame_rate()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();

        var result = await Eventually.Within(IngestBenchmark.RunAsync(server.Url, frames: 30), TimeSpan.FromSeconds(30));
        output.WriteLine(result.ToString());

        // The server paces the 10 fps clip in real time.
        Assert.Equal(30, result.Frames);
        Assert.InRange(result.MeanInterval.TotalMilliseconds, 60, 160);
        Assert.True(result.FirstFrameLatency < TimeSpan.FromSeconds(5));
    }
}
