using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Sources;

// No webcam on CI machines: these cover the error paths; docs/ingest.md says how to try a real device.
public sealed class DeviceFrameSourceTests
{
    [Fact]
    public async Task Missing_device_is_NotFound()
    {
        await using var source = new DeviceFrameSource("/dev/video97");

        var error = await Assert.ThrowsAsync<SourceException>(async () =>
        {
            await foreach (var frame in source.ReadAsync())
            {
                frame.Dispose();
            }
        });

        Assert.Equal(SourceErrorKind.NotFound, error.Kind);
    }

    [Fact]
    public async Task Not_a_capture_device_is_NotAVideo()
    {
        // /dev/null exists and opens, but it is no V4L2 device.
        await using var source = new DeviceFrameSource("/dev/null");

        var error = await Assert.ThrowsAsync<SourceException>(async () =>
        {
            await foreach (var frame in source.ReadAsync())
            {
                frame.Dispose();
            }
        });

        Assert.Equal(SourceErrorKind.NotAVideo, error.Kind);
    }

    [Fact]
    public async Task Supervised_missing_device_fails_without_retrying()
    {
        await using var supervisor = StreamSupervisor.Create(new FrameSourceFactory(), "v4l2:///dev/video97");
        supervisor.Start();

        await Eventually.Within(supervisor.Completion.ContinueWith(_ => true), TimeSpan.FromSeconds(10));

        Assert.Equal(StreamState.Failed, supervisor.Status.State);
        Assert.Equal(SourceErrorKind.NotFound, supervisor.Status.LastErrorKind);
        Assert.Equal(0, supervisor.Status.Reconnects);
    }
}
