using System.Diagnostics;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Network;

/// <summary>Bad network inputs end in a specific error state, quickly, without leftovers.</summary>
[Collection(RtspCollection.Name)]
public sealed class NetworkFailureTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(20);
    private readonly FrameSourceFactory _factory = new();

    [Fact]
    public async Task Closed_port_is_Unreachable_and_the_secret_never_shows()
    {
        var port = FreePort.Next();
        var source = _factory.Create($"rtsp://admin:hunter2@127.0.0.1:{port}/cam");
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(Drain(source), Bound));

        Assert.Equal(SourceErrorKind.Unreachable, error.Kind);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("hunter2", error.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
        Assert.Empty(ChildProcesses.Matching($"127.0.0.1:{port}"));
    }

    [Fact]
    public async Task Supervised_unreachable_camera_keeps_retrying_with_a_redacted_error()
    {
        var port = FreePort.Next();
        var options = new SupervisorOptions { BackoffInitial = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromMilliseconds(200) };
        await using var supervisor = StreamSupervisor.Create(_factory, $"rtsp://admin:hunter2@127.0.0.1:{port}/cam", options: options);
        supervisor.Start();

        await Eventually.UntilAsync(() => supervisor.Status.Reconnects >= 2, Bound, () => supervisor.Status.ToString());
        await supervisor.StopAsync();

        var status = supervisor.Status;
        Assert.Equal(SourceErrorKind.Unreachable, status.LastErrorKind);
        Assert.DoesNotContain("hunter2", status.LastError);
        Assert.DoesNotContain("hunter2", status.DisplayUri);
        Assert.Empty(ChildProcesses.Matching($"127.0.0.1:{port}"));
    }

    [Fact]
    public async Task Missing_ffmpeg_binary_is_DependencyMissing_and_fails_the_stream()
    {
        var sourceOptions = new SourceOptions { FfmpegPath = "/nonexistent/bin/ffmpeg" };
        await using var supervisor = StreamSupervisor.Create(_factory, "rtsp://127.0.0.1:1/cam", sourceOptions);
        supervisor.Start();

        await Eventually.Within(supervisor.Completion.ContinueWith(_ => true), Bound);

        Assert.Equal(StreamState.Failed, supervisor.Status.State);
        Assert.Equal(SourceErrorKind.DependencyMissing, supervisor.Status.LastErrorKind);
        Assert.Contains("ffmpeg", supervisor.Status.LastError);
    }

    [Fact]
    public async Task Http_url_serving_a_non_video_is_a_specific_error()
    {
        // A plain TCP listener answering garbage: ffmpeg connects, reads, and finds no video in it.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        using var cts = new CancellationTokenSource(Bound);
        var serve = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync(cts.Token);
            var stream = client.GetStream();
            var body = System.Text.Encoding.ASCII.GetBytes("this is not a video at all\n");
            var header = System.Text.Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n");
            var request = new byte[4096];
            _ = await stream.ReadAsync(request, cts.Token);
            await stream.WriteAsync(header, cts.Token);
            await stream.WriteAsync(body, cts.Token);
        });
        var source = _factory.Create($"http://127.0.0.1:{port}/video");

        var error = await Assert.ThrowsAsync<SourceException>(() => Eventually.Within(Drain(source), Bound));
        await serve.ContinueWith(_ => { });

        Assert.Equal(SourceErrorKind.Corrupt, error.Kind);
        Assert.Contains("no frames", error.Message);
    }

    private static async Task<int> Drain(IFrameSource source)
    {
        var n = 0;
        try
        {
            await foreach (var frame in source.ReadAsync())
            {
                frame.Dispose();
                n++;
            }
        }
        finally
        {
            await source.DisposeAsync();
        }
        return n;
    }
}
