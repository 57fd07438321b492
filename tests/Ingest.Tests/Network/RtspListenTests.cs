using System.Diagnostics;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Network;

/// <summary>Push mode: the source listens and a real ffmpeg publishes a clip to it.</summary>
[Collection(RtspCollection.Name)]
public sealed class RtspListenTests(TestClip clip)
{
    [Fact]
    public async Task Published_clip_arrives_at_the_listening_source()
    {
        var port = FreePort.Next();
        var source = Assert.IsType<FfmpegFrameSource>(new FrameSourceFactory().Create($"rtsp://127.0.0.1:{port}/live?listen=1"));
        Assert.True(source.IsListener);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(40));
        Process? publisher = null;
        var frames = 0;
        try
        {
            var reader = Task.Run(async () =>
            {
                await foreach (var frame in source.ReadAsync(cts.Token))
                {
                    using (frame)
                    {
                        Assert.Equal(TestClip.Width, frame.Width);
                        Assert.Equal(TestClip.Height, frame.Height);
                    }
                    if (++frames == 15)
                    {
                        break;
                    }
                }
            });
            // The listener needs a moment to bind; a publisher that came too early exits and is retried.
            while (!reader.IsCompleted && !cts.IsCancellationRequested)
            {
                if (publisher is null || publisher.HasExited)
                {
                    publisher?.Dispose();
                    await Task.Delay(300, cts.Token);
                    publisher = StartPublisher(clip.Path, port);
                }
                await Task.WhenAny(reader, Task.Delay(200, cts.Token));
            }
            await reader;
        }
        finally
        {
            cts.Cancel();
            if (publisher is { HasExited: false })
            {
                publisher.Kill(entireProcessTree: true);
                publisher.WaitForExit(5000);
            }
            publisher?.Dispose();
            await source.DisposeAsync();
        }

        Assert.Equal(15, frames);
        Assert.Equal(0, source.ProcessId);
        Assert.Empty(ChildProcesses.Matching($":{port}/live"));
    }

    [Fact]
    public async Task Supervised_listener_waits_for_publishers_and_relistens_after_each_one_leaves()
    {
        var port = FreePort.Next();
        var options = new SupervisorOptions { ConnectTimeout = TimeSpan.FromSeconds(1), BackoffInitial = TimeSpan.FromMilliseconds(100), BackoffMax = TimeSpan.FromMilliseconds(300) };
        await using var supervisor = StreamSupervisor.Create(new FrameSourceFactory(), $"rtsp://127.0.0.1:{port}/live?listen=1", options: options);
        var bound = TimeSpan.FromSeconds(30);
        supervisor.Start();
        try
        {
            // Longer than the connect timeout: a listener is not timed out while nobody publishes.
            await Task.Delay(1500);
            Assert.Equal(StreamState.Connecting, supervisor.Status.State);
            Assert.Equal(0, supervisor.Status.Reconnects);
            for (var round = 1; round <= 2; round++)
            {
                var before = supervisor.Status.Frames;
                Process? publisher = null;
                try
                {
                    var watch = Stopwatch.StartNew();
                    while (supervisor.Status.Frames < before + 10)
                    {
                        Assert.True(watch.Elapsed < bound, $"round {round}: {supervisor.Status}");
                        if (publisher is null || publisher.HasExited)
                        {
                            publisher?.Dispose();
                            publisher = StartPublisher(clip.Path, port);
                        }
                        await Task.Delay(200);
                    }
                }
                finally
                {
                    if (publisher is { HasExited: false })
                    {
                        publisher.Kill(entireProcessTree: true);
                        publisher.WaitForExit(5000);
                    }
                    publisher?.Dispose();
                }
                await Eventually.UntilAsync(() => supervisor.Status.State is StreamState.Backoff or StreamState.Connecting, bound, () => supervisor.Status.ToString());
            }
        }
        finally
        {
            await supervisor.StopAsync();
        }

        Assert.True(supervisor.Status.Reconnects >= 1, supervisor.Status.ToString());
        Assert.Empty(ChildProcesses.Matching($":{port}/live"));
    }

    private static Process StartPublisher(string clip, int port)
    {
        var info = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var arg in new[] { "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", clip, "-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", $"rtsp://127.0.0.1:{port}/live" })
        {
            info.ArgumentList.Add(arg);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException("ffmpeg publisher did not start");
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }
}
