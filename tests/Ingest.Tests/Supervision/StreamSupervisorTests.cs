using System.Runtime.CompilerServices;
using OpenCvSharp;
using StreamMtl.Ingest.Frames;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;
using StreamMtl.Ingest.Tests.Infrastructure;

namespace StreamMtl.Ingest.Tests.Supervision;

public sealed class StreamSupervisorTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_finished_file_stops_and_every_frame_is_delivered_or_counted_as_dropped()
    {
        await using var supervisor = StreamSupervisor.Create(new FrameSourceFactory(), TestPaths.Video("car-detection.mp4") + "#mode=batch&width=192&height=108");
        var taken = await StartAndDrainAsync(supervisor);

        var status = supervisor.Status;
        Assert.Equal(StreamState.Stopped, status.State);
        Assert.Equal(377, status.Frames);
        Assert.Equal(377, taken + status.Drops);
        Assert.Null(status.LastErrorKind);
        Assert.EndsWith("end of file after 377 frames", status.LastError);
    }

    /// <summary>Issue 21: a truncated looping file used to be retried forever, replaying its first frames.</summary>
    [Fact]
    public async Task A_truncated_looping_file_fails_once_with_a_clear_error_instead_of_replaying()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "truncated.avi");
        var bytes = await File.ReadAllBytesAsync(TestPaths.Video("vtest.avi"));
        await File.WriteAllBytesAsync(path, bytes.AsSpan(0, bytes.Length / 3).ToArray());
        await using var supervisor = StreamSupervisor.Create(new FrameSourceFactory(), path + "#mode=batch&loop=1&width=192&height=144");
        var taken = await StartAndDrainAsync(supervisor);

        var status = supervisor.Status;
        Assert.Equal(StreamState.Failed, status.State);
        Assert.Equal(SourceErrorKind.Truncated, status.LastErrorKind);
        Assert.Contains("truncated", status.LastError);
        Assert.Equal(0, status.Reconnects);
        // Each frame once: about a third of the clip's 795.
        Assert.InRange(status.Frames, 100, 400);
        Assert.Equal(status.Frames, taken + status.Drops);
    }

    [Fact]
    public async Task A_missing_file_fails_permanently()
    {
        await using var supervisor = StreamSupervisor.Create(new FrameSourceFactory(), "/nonexistent/clip.mp4");
        supervisor.Start();

        await Eventually.Within(supervisor.Completion.ContinueWith(_ => true), Bound);

        Assert.Equal(StreamState.Failed, supervisor.Status.State);
        Assert.Equal(SourceErrorKind.NotFound, supervisor.Status.LastErrorKind);
    }

    [Fact]
    public async Task A_silent_source_is_declared_stalled_torn_down_and_reconnected()
    {
        var created = 0;
        var disposed = 0;
        var options = new SupervisorOptions { StallTimeout = TimeSpan.FromMilliseconds(300), BackoffInitial = TimeSpan.FromMilliseconds(50), BackoffMax = TimeSpan.FromMilliseconds(100) };
        var states = new List<StreamState>();
        await using var supervisor = new StreamSupervisor("fake://cam", () =>
        {
            Interlocked.Increment(ref created);
            return new FreezingSource(framesBeforeFreeze: 3, () => Interlocked.Increment(ref disposed));
        }, options);
        supervisor.StateChanged += s =>
        {
            lock (states)
            {
                states.Add(s.State);
            }
        };
        supervisor.Start();

        await Eventually.UntilAsync(() => supervisor.Status.Stalls >= 3, Bound, () => supervisor.Status.ToString());
        await supervisor.StopAsync();

        var status = supervisor.Status;
        Assert.Equal(StreamState.Stopped, status.State);
        Assert.Equal(SourceErrorKind.Stalled, status.LastErrorKind);
        Assert.True(status.Reconnects >= 2);
        Assert.Equal(created, Volatile.Read(ref disposed));
        lock (states)
        {
            var firstStall = states.IndexOf(StreamState.Stalled);
            Assert.Equal([StreamState.Running, StreamState.Stalled, StreamState.Backoff, StreamState.Connecting], states.Skip(firstStall - 1).Take(4));
        }
    }

    /// <summary>Issue 21: a stream nobody watches costs nothing; the synthetic camera renders on demand only.</summary>
    [Fact]
    public async Task A_pull_source_nobody_wants_is_read_once_then_not_until_wanted()
    {
        using var demand = new SourceDemand(false, TimeSpan.Zero);
        await using var supervisor = StreamSupervisor.Create(new FrameSourceFactory(), "synthetic://moving?seed=3&w=64&h=48&fps=30", demand: demand);
        supervisor.Start();
        await Eventually.UntilAsync(() => supervisor.Status.State == StreamState.Idle, Bound, () => supervisor.Status.ToString());
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        // One frame proves the source opens (a missing file fails even when nobody watches); then nothing is read.
        Assert.Equal(1, supervisor.Status.Frames);

        demand.Set(true);
        await Eventually.UntilAsync(() => supervisor.Status is { State: StreamState.Running, Frames: >= 5 }, Bound, () => supervisor.Status.ToString());
        demand.Set(false);
        await Eventually.UntilAsync(() => supervisor.Status.State == StreamState.Idle, Bound, () => supervisor.Status.ToString());
        var framesWhenIdle = supervisor.Status.Frames;
        await Task.Delay(TimeSpan.FromMilliseconds(500));

        // At most the frame being rendered when demand went away; no reconnect, no stall.
        Assert.InRange(supervisor.Status.Frames - framesWhenIdle, 0, 1);
        Assert.Equal(0, supervisor.Status.Reconnects);
        Assert.Equal(0, supervisor.Status.Stalls);
    }

    [Fact]
    public async Task Stop_while_connecting_ends_promptly()
    {
        var options = new SupervisorOptions { ConnectTimeout = TimeSpan.FromSeconds(60) };
        await using var supervisor = new StreamSupervisor("fake://cam", () => new FreezingSource(0, () => { }), options);
        supervisor.Start();
        await Eventually.UntilAsync(() => supervisor.Status.State == StreamState.Connecting, Bound, () => "connecting");

        await Eventually.Within(supervisor.StopAsync().ContinueWith(_ => true), TimeSpan.FromSeconds(5));

        Assert.Equal(StreamState.Stopped, supervisor.Status.State);
    }

    [Fact]
    public async Task Connect_timeout_counts_as_unreachable_and_retries()
    {
        var options = new SupervisorOptions { ConnectTimeout = TimeSpan.FromMilliseconds(200), BackoffInitial = TimeSpan.FromMilliseconds(50), BackoffMax = TimeSpan.FromMilliseconds(50) };
        await using var supervisor = new StreamSupervisor("fake://cam", () => new FreezingSource(0, () => { }), options);
        supervisor.Start();

        await Eventually.UntilAsync(() => supervisor.Status.Reconnects >= 2, Bound, () => supervisor.Status.ToString());

        Assert.Equal(SourceErrorKind.Unreachable, supervisor.Status.LastErrorKind);
        Assert.Equal(0, supervisor.Status.Stalls);
    }

    /// <summary>Delivers a few frames and then goes silent until cancelled, like a frozen camera.</summary>
    private sealed class FreezingSource(int framesBeforeFreeze, Action onDispose) : IFrameSource
    {
        public string DisplayUri => "fake://cam";

        public SourceInfo Info { get; } = new(8, 8, 25, IsLive: true);

        public async IAsyncEnumerable<Frame> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < framesBeforeFreeze; i++)
            {
                yield return new Frame(new Mat(8, 8, MatType.CV_8UC3, Scalar.All(i)), i, TimeSpan.FromMilliseconds(40 * i), DateTimeOffset.UtcNow);
            }
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        public ValueTask DisposeAsync()
        {
            onDispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Starts the supervisor and takes (and disposes) every frame until it completes; returns how many it took.</summary>
    private static async Task<int> StartAndDrainAsync(StreamSupervisor supervisor)
    {
        supervisor.Start();
        var taken = 0;
        await foreach (var frame in supervisor.Frames.ReadAllAsync().WithCancellation(new CancellationTokenSource(Bound).Token))
        {
            frame.Dispose();
            taken++;
        }
        return taken;
    }
}
