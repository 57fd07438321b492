using StreamMtl.Ingest.Network;

namespace StreamMtl.Ingest.Tests.Network;

public sealed class StderrTailTests
{
    [Fact]
    public async Task Learns_the_output_geometry_and_keeps_a_redacted_bounded_tail()
    {
        var tail = new StderrTail(capacity: 3);
        tail.Add("Input #0, rtsp, from 'rtsp://admin:secret@127.0.0.1:8554/clip':");
        tail.Add("  Stream #0:0: Video: h264 (High), yuv420p(progressive), 320x240, 10 fps, 10 tbr, 90k tbn");
        tail.Add("Output #0, rawvideo, to 'pipe:1':");
        tail.Add("  Stream #0:0: Video: rawvideo (BGR[24] / 0x18524742), bgr24(pc, gbr/unknown/unknown, progressive), 160x120, q=2-31, 4608 kb/s, 12.5 fps, 12.5 tbn");
        tail.Add("[rtsp @ 0x1] Connection to rtsp://admin:secret@127.0.0.1:8554/clip lost");

        Assert.True(tail.OutputSize.IsCompletedSuccessfully);
        Assert.Equal((160, 120, 12.5), await tail.OutputSize);
        Assert.Equal(3, tail.Lines().Count);
        Assert.DoesNotContain("secret", tail.All());
        Assert.Contains("lost", tail.Summary());
    }

    [Theory]
    [InlineData("rtsp://127.0.0.1:1/x: Connection refused", "Unreachable")]
    [InlineData("method DESCRIBE failed: 401 Unauthorized", "Forbidden")]
    [InlineData("pipe:: Invalid data found when processing input", "Corrupt")]
    [InlineData("Protocol not found", "UnsupportedScheme")]
    public void Classifies_ffmpeg_failures(string stderr, string kind)
        => Assert.Equal(kind, FfmpegErrors.Classify(stderr).ToString());
}
