using System.Diagnostics;
using StreamMtl.Ingest.Network;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;
using Xunit.Abstractions;

namespace StreamMtl.Ingest.Tests.Network;

/// <summary>Pulls from a real GStreamer RTSP server on loopback through a real ffmpeg child.</summary>
[Collection(RtspCollection.Name)]
public sealed class RtspPullTests(TestClip clip, ITestOutputHelper output)
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);
    private readonly FrameSourceFactory _factory = new();

    [Theory]
    [InlineData("", TestClip.Width, TestClip.Height)]
    [InlineData("#width=160&height=120", 160, 120)]
    public async Task Pull_delivers_frames_of_the_right_size_and_count(string fragment, int width, int height)
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        var source = Assert.IsType<FfmpegFrameSource>(_factory.Create(server.Url + fragment));
        var frames = 0;
        var watch = Stopwatch.StartNew();
        try
        {
            using var cts = new CancellationTokenSource(Bound);
            await foreach (var frame in source.ReadAsync(cts.Token))
            {
                using (frame)
                {
                    Assert.Equal(width, frame.Width);
                    Assert.Equal(height, frame.Height);
                    Assert.Equal(frames, frame.Index);
                }
                if (++frames == 20)
                {
                    break;
                }
            }
        }
        finally
        {
            await source.DisposeAsync();
        }

        // 20 frames of a 10 fps clip served in real time take about 2 s.
        Assert.Equal(20, frames);
        Assert.InRange(watch.Elapsed.TotalSeconds, 1.0, 15);
        Assert.Equal(0, source.ProcessId);
        Assert.Empty(ChildProcesses.Matching($"127.0.0.1:{server.Port}"));
        output.WriteLine($"20 frames {width}x{height} in {watch.ElapsedMilliseconds} ms");
    }

    /// <summary>
    /// Issue 21's recovery with the production defaults: however many blips came before, frames flow again within seconds
    /// of the camera being back (the backoff resets once frames flow and stays short within an outage's first minute).
    /// </summary>
    [Fact]
    public async Task Ten_kill_and_restart_cycles_each_recover_in_seconds_with_the_default_policy()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        await using var supervisor = StreamSupervisor.Create(_factory, server.Url);
        using var drain = new CancellationTokenSource();
        var consumer = Drain(supervisor, drain.Token);
        var recoveries = new List<double>();
        try
        {
            supervisor.Start();
            await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running, Frames: >= 5 }, Bound, () => supervisor.Status.ToString());
            for (var round = 1; round <= 10; round++)
            {
                server.Kill();
                await Eventually.UntilAsync(() => supervisor.Status.State is StreamState.Backoff or StreamState.Connecting or StreamState.Stalled,
                    Bound, () => $"round {round} disconnect: {supervisor.Status}");
                server.Start();
                var framesAtRestart = supervisor.Status.Frames;
                var back = await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running } s && s.Frames > framesAtRestart,
                    Bound, () => $"round {round} recovery: {supervisor.Status}");
                recoveries.Add(back.TotalSeconds);
            }
        }
        finally
        {
            await supervisor.StopAsync();
            drain.Cancel();
            await consumer.ContinueWith(_ => { });
        }
        AssertRecoveredInSeconds("recovery after the server is back", recoveries);
    }

    /// <summary>Issue 21's freezes with the production defaults: a camera frozen past the stall timeout streams again within seconds of waking.</summary>
    [Fact]
    public async Task Three_freezes_past_the_stall_timeout_each_recover_in_seconds_of_waking()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        await using var supervisor = StreamSupervisor.Create(_factory, server.Url);
        using var drain = new CancellationTokenSource();
        var consumer = Drain(supervisor, drain.Token);
        var recoveries = new List<double>();
        try
        {
            supervisor.Start();
            await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running, Frames: >= 5 }, Bound, () => supervisor.Status.ToString());
            for (var round = 1; round <= 3; round++)
            {
                var stalls = supervisor.Status.Stalls;
                server.Freeze();
                await Eventually.UntilAsync(() => supervisor.Status.Stalls > stalls, Bound, () => $"round {round} stall: {supervisor.Status}");
                await Task.Delay(TimeSpan.FromSeconds(2));
                var framesAtThaw = supervisor.Status.Frames;
                server.Thaw();
                var back = await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running } s && s.Frames > framesAtThaw,
                    Bound, () => $"round {round} recovery: {supervisor.Status}");
                recoveries.Add(back.TotalSeconds);
            }
        }
        finally
        {
            server.Thaw();
            await supervisor.StopAsync();
            drain.Cancel();
            await consumer.ContinueWith(_ => { });
        }
        AssertRecoveredInSeconds("frames again after SIGCONT", recoveries);
    }

    /// <summary>
    /// Issue 21: a live stream nobody watches keeps its connection but decodes key frames only (the clip has one per
    /// second at 10 fps); when frames are wanted it reconnects at full rate at once, without counting a failure.
    /// </summary>
    [Fact]
    public async Task An_unwatched_live_stream_decodes_key_frames_only_and_returns_to_full_rate_when_wanted()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        using var demand = new SourceDemand(false, TimeSpan.Zero);
        await using var supervisor = StreamSupervisor.Create(_factory, server.Url, demand: demand);
        using var drain = new CancellationTokenSource();
        var consumer = Drain(supervisor, drain.Token);
        try
        {
            supervisor.Start();
            await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Idle, Frames: >= 1 }, Bound, () => supervisor.Status.ToString());
            var idleStart = (supervisor.Status.Frames, Stopwatch.GetTimestamp());
            await Task.Delay(TimeSpan.FromSeconds(4));
            var idleFrames = supervisor.Status.Frames - idleStart.Frames;
            var idleSeconds = Stopwatch.GetElapsedTime(idleStart.Item2).TotalSeconds;

            demand.Set(true);
            var back = await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running }, Bound, () => supervisor.Status.ToString());
            var fullStart = (supervisor.Status.Frames, Stopwatch.GetTimestamp());
            await Task.Delay(TimeSpan.FromSeconds(3));
            var fullFrames = supervisor.Status.Frames - fullStart.Frames;
            var fullSeconds = Stopwatch.GetElapsedTime(fullStart.Item2).TotalSeconds;

            output.WriteLine($"idle: {idleFrames} frames in {idleSeconds:0.0} s; full rate {back.TotalSeconds:0.00} s after demand: {fullFrames} frames in {fullSeconds:0.0} s");
            // Key frames only: about 1/s while idle against 10/s when watched.
            Assert.InRange(idleFrames / idleSeconds, 0.2, 2.5);
            Assert.True(fullFrames / fullSeconds > 5, $"{fullFrames} frames in {fullSeconds:0.0} s at full rate");
            Assert.Equal(0, supervisor.Status.Reconnects);
            Assert.Null(supervisor.Status.LastError);
        }
        finally
        {
            await supervisor.StopAsync();
            drain.Cancel();
            await consumer.ContinueWith(_ => { });
        }
        Assert.Empty(ChildProcesses.Matching($"127.0.0.1:{server.Port}"));
    }

    [Fact]
    public async Task Server_killed_mid_stream_is_a_disconnect_then_resumes_three_times_without_leaks()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        var options = new SupervisorOptions
        {
            StallTimeout = TimeSpan.FromSeconds(3),
            ConnectTimeout = TimeSpan.FromSeconds(5),
            BackoffInitial = TimeSpan.FromMilliseconds(200),
            BackoffMax = TimeSpan.FromSeconds(1),
        };
        var marker = $"127.0.0.1:{server.Port}";
        var maxChildren = 0;
        await using var supervisor = StreamSupervisor.Create(_factory, server.Url, new SourceOptions { IoTimeout = TimeSpan.FromSeconds(2) }, options);
        using var drain = new CancellationTokenSource();
        var consumer = Task.Run(async () =>
        {
            await foreach (var frame in supervisor.Frames.ReadAllAsync(drain.Token))
            {
                frame.Dispose();
                maxChildren = Math.Max(maxChildren, ChildProcesses.Matching(marker).Count);
            }
        });
        try
        {
            supervisor.Start();
            for (var round = 1; round <= 3; round++)
            {
                var before = supervisor.Status.Frames;
                await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running } s && s.Frames >= before + 5, Bound, () => $"round {round}: {supervisor.Status}");
                server.Kill();
                var downFor = await Eventually.UntilAsync(() => supervisor.Status.State is StreamState.Backoff or StreamState.Connecting && supervisor.Status.LastErrorKind == SourceErrorKind.Unreachable,
                    Bound, () => $"round {round} disconnect: {supervisor.Status}");
                output.WriteLine($"round {round}: disconnect seen after {downFor.TotalMilliseconds:0} ms: {supervisor.Status.LastError}");
                await Task.Delay(500);
                server.Start();
            }
            await Eventually.UntilAsync(() => supervisor.Status.State == StreamState.Running, Bound, () => $"final: {supervisor.Status}");
        }
        finally
        {
            await supervisor.StopAsync();
            drain.Cancel();
            await consumer.ContinueWith(_ => { });
        }

        var status = supervisor.Status;
        output.WriteLine(status.ToString());
        Assert.True(status.Reconnects >= 3, status.ToString());
        Assert.Equal(StreamState.Stopped, status.State);
        Assert.InRange(maxChildren, 1, 1);
        Assert.Empty(ChildProcesses.Matching(marker));
    }

    [Fact]
    public async Task Frozen_server_is_detected_as_a_stall_and_the_child_is_killed()
    {
        using var server = new RtspServer(clip.Path);
        server.Start();
        var stall = TimeSpan.FromSeconds(2);
        var options = new SupervisorOptions { StallTimeout = stall, BackoffInitial = TimeSpan.FromMilliseconds(200), BackoffMax = TimeSpan.FromSeconds(1) };
        var marker = $"127.0.0.1:{server.Port}";
        // A long I/O timeout, so it is the supervisor, not ffmpeg, that notices.
        await using var supervisor = StreamSupervisor.Create(_factory, server.Url, new SourceOptions { IoTimeout = TimeSpan.FromSeconds(60) }, options);
        try
        {
            supervisor.Start();
            await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running, Frames: >= 5 }, Bound, () => supervisor.Status.ToString());
            var child = Assert.Single(ChildProcesses.Matching(marker));

            server.Freeze();
            var detected = await Eventually.UntilAsync(() => supervisor.Status.Stalls >= 1, Bound, () => supervisor.Status.ToString());
            await Eventually.UntilAsync(() => !ChildProcesses.IsAlive(child), TimeSpan.FromSeconds(5), () => $"child {child} still alive");

            output.WriteLine($"stall detected {detected.TotalMilliseconds:0} ms after SIGSTOP (timeout {stall.TotalMilliseconds} ms): {supervisor.Status.LastError}");
            Assert.InRange(detected, stall - TimeSpan.FromMilliseconds(300), stall + TimeSpan.FromSeconds(1.5));
            Assert.Equal(SourceErrorKind.Stalled, supervisor.Status.LastErrorKind);

            server.Thaw();
            await Eventually.UntilAsync(() => supervisor.Status.State == StreamState.Running && supervisor.Status.Reconnects >= 1, Bound, () => supervisor.Status.ToString());
        }
        finally
        {
            server.Thaw();
            await supervisor.StopAsync();
        }

        Assert.Empty(ChildProcesses.Matching(marker));
    }

    private static Task Drain(StreamSupervisor supervisor, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        await foreach (var frame in supervisor.Frames.ReadAllAsync(cancellationToken))
        {
            frame.Dispose();
        }
    });

    /// <summary>
    /// Reports the recoveries (issue 21's bar is 3 s; measured ~1.4 s after a restart, ~0.9 s after a thaw) and asserts a bound
    /// that holds on a loaded CI machine yet fails the old policy, whose backoff had grown to 13-30 s by the fifth blip.
    /// </summary>
    private void AssertRecoveredInSeconds(string what, List<double> recoveries)
    {
        string all = string.Join(", ", recoveries.Select(r => r.ToString("F2", System.Globalization.CultureInfo.InvariantCulture)));
        var sorted = recoveries.Order().ToList();
        output.WriteLine($"{what}, s: {all}; median {sorted[sorted.Count / 2]:F2}, max {sorted[^1]:F2}");
        Assert.All(recoveries, r => Assert.True(r <= 8, $"a recovery took {r:F2} s: {all}"));
    }
}
