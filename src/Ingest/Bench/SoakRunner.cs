using System.Diagnostics;
using StreamMtl.Ingest.Sources;
using StreamMtl.Ingest.Supervision;

namespace StreamMtl.Ingest.Bench;

/// <summary>One memory sample of a soak run.</summary>
public sealed record SoakSample(TimeSpan Elapsed, long RssBytes, long ManagedBytes, long Frames, long Drops);

/// <summary>A soak run's samples and the figures that say whether memory stayed flat.</summary>
public sealed record SoakResult(string DisplayUri, TimeSpan Duration, IReadOnlyList<SoakSample> Samples, long Frames, long Drops, long Reconnects,
    StreamState FinalState, string? LastError)
{
    /// <summary>RSS once warmed up (first sample after a tenth of the run), the baseline for growth.</summary>
    public long RssAfterWarmup => Samples.FirstOrDefault(s => s.Elapsed >= Duration / 10)?.RssBytes ?? Samples[0].RssBytes;

    public long RssEnd => Samples[^1].RssBytes;

    public long RssMax => Samples.Max(s => s.RssBytes);

    public long RssGrowth => RssEnd - RssAfterWarmup;

    public override string ToString() =>
        $"{DisplayUri}: {Duration.TotalSeconds:0} s, {Frames} frames ({Frames / Math.Max(1, Duration.TotalSeconds):0} fps), {Drops} dropped, {Reconnects} reconnects, " +
        $"RSS warm {RssAfterWarmup / 1048576.0:0.0} MiB, end {RssEnd / 1048576.0:0.0} MiB, max {RssMax / 1048576.0:0.0} MiB, growth {RssGrowth / 1048576.0:+0.0;-0.0} MiB, state {FinalState}";
}

/// <summary>
/// Runs a supervised source with a consumer that takes and disposes every frame it gets, sampling process memory, to
/// show that nothing (Mats, buffers, children, timers) accumulates. Use a looping batch file for the hardest case:
/// <c>/path/vtest.avi#mode=batch&amp;loop=1</c>.
/// </summary>
public static class SoakRunner
{
    public static async Task<SoakResult> RunAsync(string uri, TimeSpan duration, TimeSpan? sampleEvery = null, SourceOptions? options = null,
        FrameSourceFactory? factory = null, Action<SoakSample>? onSample = null, CancellationToken cancellationToken = default)
    {
        var every = sampleEvery ?? TimeSpan.FromSeconds(Math.Clamp(duration.TotalSeconds / 60, 1, 10));
        await using var supervisor = StreamSupervisor.Create(factory ?? new FrameSourceFactory(), uri, options);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var consumer = Task.Run(async () =>
        {
            await foreach (var frame in supervisor.Frames.ReadAllAsync(cts.Token).ConfigureAwait(false))
            {
                frame.Dispose();
            }
        }, CancellationToken.None);
        var samples = new List<SoakSample>();
        var watch = Stopwatch.StartNew();
        supervisor.Start();
        try
        {
            while (watch.Elapsed < duration && !cts.IsCancellationRequested && !supervisor.Completion.IsCompleted)
            {
                var wait = TimeSpan.FromTicks(Math.Min(every.Ticks, (duration - watch.Elapsed).Ticks));
                await Task.WhenAny(Task.Delay(wait, cts.Token), supervisor.Completion).ConfigureAwait(false);
                var status = supervisor.Status;
                var sample = new SoakSample(watch.Elapsed, CurrentRss(), GC.GetTotalMemory(false), status.Frames, status.Drops);
                samples.Add(sample);
                onSample?.Invoke(sample);
            }
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
        }
        finally
        {
            await supervisor.StopAsync().ConfigureAwait(false);
            await cts.CancelAsync().ConfigureAwait(false);
            await consumer.ContinueWith(_ => { }, TaskScheduler.Default).ConfigureAwait(false);
        }
        if (samples.Count == 0)
        {
            samples.Add(new SoakSample(watch.Elapsed, CurrentRss(), GC.GetTotalMemory(false), 0, 0));
        }
        var final = supervisor.Status;
        return new SoakResult(supervisor.DisplayUri, watch.Elapsed, samples, final.Frames, final.Drops, final.Reconnects, final.State, final.LastError);
    }

    /// <summary>Resident set size of this process (VmRSS), the number an operator's top or cgroup limit sees.</summary>
    public static long CurrentRss()
    {
        using var process = Process.GetCurrentProcess();
        return process.WorkingSet64;
    }
}
