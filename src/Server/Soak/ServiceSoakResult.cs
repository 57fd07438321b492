using System.Globalization;
using System.Text;

namespace StreamMtl.Server.Soak;

/// <summary>
/// A service soak's samples and its verdict. Warm-up: the first max(5 min, 10% of the run) but at most half of it (1 h -> 6 min,
/// 10 min -> 5 min, 40 s -> 20 s); the baseline is the first sample at or after it. The bars (issue 21): RSS at the end less
/// than <see cref="MaxRssGrowthPercent"/> above the baseline; file descriptors and threads flat, i.e. over the samples from
/// the baseline on, the highest value of the last third at most <see cref="FileDescriptorTolerance"/> (threads:
/// <see cref="ThreadTolerance"/>) above the highest of the first third. A leak climbs; the thread pool's swings (workers
/// added and retired as load varies: 30..50 threads within minutes, measured) come back down, so the range alone would fail them.
/// </summary>
public sealed record ServiceSoakResult(IReadOnlyList<SoakStream> Streams, TimeSpan Duration, IReadOnlyList<ServiceSample> Samples, int ServicePid,
    ClientCounters Clients)
{
    public const double MaxRssGrowthPercent = 5;

    /// <summary>The soak's connections are fixed (one channel); a couple of transient descriptors (a log file, a probe) are allowed.</summary>
    public const int FileDescriptorTolerance = 2;

    /// <summary>The .NET thread pool adds and retires workers as load varies (hill climbing); a leak keeps climbing.</summary>
    public const int ThreadTolerance = 8;

    public static TimeSpan WarmUpOf(TimeSpan duration) =>
        TimeSpan.FromTicks(Math.Min(Math.Max(TimeSpan.FromMinutes(5).Ticks, duration.Ticks / 10), duration.Ticks / 2));

    public TimeSpan WarmUp => WarmUpOf(Duration);

    /// <summary>The samples from the baseline on (the last sample alone when the run ended before its warm-up).</summary>
    public IReadOnlyList<ServiceSample> Settled
    {
        get
        {
            int first = Samples.ToList().FindIndex(s => s.Elapsed >= WarmUp);
            return Samples.Skip(first < 0 ? Samples.Count - 1 : first).ToList();
        }
    }

    public ServiceSample Baseline => Settled[0];

    public ServiceSample End => Samples[^1];

    public double RssGrowthPercent => (End.RssBytes - Baseline.RssBytes) * 100.0 / Baseline.RssBytes;

    public long RssMaxSettled => Settled.Max(s => s.RssBytes);

    public (int Min, int Max) FileDescriptors => (Settled.Min(s => s.FileDescriptors), Settled.Max(s => s.FileDescriptors));

    public (int Min, int Max) Threads => (Settled.Min(s => s.Threads), Settled.Max(s => s.Threads));

    /// <summary>How far the highest file descriptor count of the last third after warm-up lies above that of the first third.</summary>
    public int FileDescriptorRise => Rise(s => s.FileDescriptors);

    public int ThreadRise => Rise(s => s.Threads);

    private int Rise(Func<ServiceSample, int> value)
    {
        var settled = Settled;
        int third = Math.Max(1, settled.Count / 3);
        return settled.TakeLast(third).Max(value) - settled.Take(third).Max(value);
    }

    /// <summary>Why the run fails the bars or could not be judged; empty when it passes.</summary>
    public IReadOnlyList<string> Failures
    {
        get
        {
            var failures = new List<string>();
            if (Settled.Count < 3)
            {
                failures.Add($"only {Settled.Count} sample(s) after the {WarmUp.TotalSeconds:0} s warm-up: too short to judge");
            }
            if (RssGrowthPercent >= MaxRssGrowthPercent)
            {
                failures.Add($"RSS grew {RssGrowthPercent:F1}% after warm-up ({Baseline.RssMiB:F1} -> {End.RssMiB:F1} MiB; bar < {MaxRssGrowthPercent:0}%)");
            }
            if (FileDescriptorRise > FileDescriptorTolerance)
            {
                failures.Add($"file descriptors climb after warm-up: {FileDescriptors.Min}..{FileDescriptors.Max}, the last third's peak {FileDescriptorRise:+0} above the first's (tolerance {FileDescriptorTolerance})");
            }
            if (ThreadRise > ThreadTolerance)
            {
                failures.Add($"threads climb after warm-up: {Threads.Min}..{Threads.Max}, the last third's peak {ThreadRise:+0} above the first's (tolerance {ThreadTolerance})");
            }
            for (int i = 0; i < Streams.Count; i++)
            {
                if (End.StreamFrames[i] == 0)
                {
                    failures.Add($"the subscriber of '{Streams[i].Id}' received no result");
                }
            }
            if (End.ProcessReplies == 0)
            {
                failures.Add("the Process client received no result");
            }
            return failures;
        }
    }

    /// <summary>The summary lines: RSS, descriptors, threads, per-stream frames and fps, Process replies, client errors.</summary>
    public IEnumerable<string> Report()
    {
        var (fdMin, fdMax) = FileDescriptors;
        var (threadMin, threadMax) = Threads;
        double seconds = Math.Max(Duration.TotalSeconds, 1e-3);
        yield return $"service pid {ServicePid}, {Duration.TotalSeconds:0} s, {Samples.Count} samples, warm-up {WarmUp.TotalSeconds:0} s (baseline at t={Baseline.Elapsed.TotalSeconds:0} s)";
        yield return $"RSS: after warm-up {Baseline.RssMiB:F1} MiB, end {End.RssMiB:F1} MiB, max after warm-up {RssMaxSettled / 1048576.0:F1} MiB, growth {RssGrowthPercent:+0.0;-0.0}%";
        yield return $"file descriptors after warm-up: {fdMin}..{fdMax} (rise {FileDescriptorRise:+0;-0;0}); threads after warm-up: {threadMin}..{threadMax} (rise {ThreadRise:+0;-0;0})";
        for (int i = 0; i < Streams.Count; i++)
        {
            yield return $"stream '{Streams[i].Id}': {End.StreamFrames[i]} results ({End.StreamFrames[i] / seconds:F1} fps), {Clients.Resubscribes[i]} resubscriptions";
        }
        yield return $"Process: {End.ProcessReplies} results ({End.ProcessReplies / seconds:F2}/s) over {Clients.ProcessCalls} calls, {Clients.ProcessErrors} failed calls";
        if (Clients.LastError is { } error)
        {
            yield return $"last client error: {error}";
        }
    }

    /// <summary>Writes the samples as CSV: seconds, rss_mib, fds, threads, frames_ID per stream, process_replies.</summary>
    public void WriteCsv(string path)
    {
        var csv = new StringBuilder("seconds,rss_mib,fds,threads");
        foreach (var stream in Streams)
        {
            csv.Append(CultureInfo.InvariantCulture, $",frames_{stream.Id}");
        }
        csv.Append(",process_replies\n");
        foreach (var s in Samples)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{s.Elapsed.TotalSeconds:F1},{s.RssMiB:F2},{s.FileDescriptors},{s.Threads}");
            foreach (long frames in s.StreamFrames)
            {
                csv.Append(CultureInfo.InvariantCulture, $",{frames}");
            }
            csv.Append(CultureInfo.InvariantCulture, $",{s.ProcessReplies}\n");
        }
        CreateDirectoryOf(path);
        File.WriteAllText(path, csv.ToString());
    }

    internal static void CreateDirectoryOf(string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } directory)
        {
            Directory.CreateDirectory(directory);
        }
    }
}
