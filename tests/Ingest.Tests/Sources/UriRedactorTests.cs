using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Tests.Sources;

public sealed class UriRedactorTests
{
    [Theory]
    [InlineData("rtsp://user:pass@cam:554/s", "rtsp://***@cam:554/s")]
    [InlineData("rtsp://user@cam/s", "rtsp://***@cam/s")]
    [InlineData("[tcp @ 0x1] Connection to rtsp://u:p%40ss@10.0.0.1/a failed", "[tcp @ 0x1] Connection to rtsp://***@10.0.0.1/a failed")]
    [InlineData("http://cam/video?user=a&password=secret&x=1", "http://cam/video?user=a&password=***&x=1")]
    [InlineData("rtsp://admin:p@ss@cam/live", "rtsp://***@cam/live")]
    [InlineData("rtsp://cam/live", "rtsp://cam/live")]
    [InlineData("/data/clip.mp4", "/data/clip.mp4")]
    public void Redacts_user_info_and_secret_parameters(string input, string expected)
        => Assert.Equal(expected, UriRedactor.Redact(input));
}
