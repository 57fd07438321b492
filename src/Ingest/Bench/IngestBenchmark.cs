using StreamMtl.Ingest.Supervision;
using System.Diagnostics;
using StreamMtl.Ingest.Sources;

namespace StreamMtl.Ingest.Bench;

/// <summary>What one ingest benchmark measured; intervals are between consecutive frames as the reader saw them.</summary>
public sealed record IngestBenchmarkResult(
    string DisplayUri,
    int Width,
    int Height,
    int Frames,
    TimeSpan FirstFrameLatency,
    TimeSpan MeanInterval,
    TimeSpan MedianInterval,
    TimeSpan P95Interval,
    TimeSpan MaxInterval,
    double FramesPerSecond)
{
    public override string ToString() =>
        $"{DisplayUri}: {Frames} frames {Width}x{Height}, first frame {FirstFrameLatency.TotalMilliseconds:0.0} ms, " +
        $"interval mean {MeanInterval.TotalMilliseconds:0.00} / p50 {MedianInterval.TotalMilliseconds:0.00} / p95 {P95Interval.TotalMilliseconds:0.00} / " +
        $"max {MaxInterval.TotalMilliseconds:0.00} ms, {FramesPerSecond:0.0} fps";
}

/// <summary>Measures a source's first-frame latency (create to first frame, including connect) and frame intervals.</summary>
public static class IngestBenchmark
{
    /// <summary>Reads <paramref name="frames"/> frames from <paramref name="uri"/> and times them.</summary>
    public static async Task<IngestBenchmarkResult> RunAsync(string uri, int frames = 200, SourceOptions? options = null,
        FrameSourceFactory? factory = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 2);
        factory ??= new FrameSourceFactory();
        var watch = Stopwatch.StartNew();
        var source = factory.Create(uri, options);
        var times = new List<double>(frames);
        int width = 0, height = 0;
        try
        {
            await foreach (var frame in source.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                times.Add(watch.Elapsed.TotalMilliseconds);
                width = frame.Width;
                height = frame.Height;
                frame.Dispose();
                if (times.Count == frames)
                {
                    break;
                }
            }
        }
        finally
        {
            await source.DisposeAsync().ConfigureAwait(false);
        }
        if (times.Count < 2)
        {
            throw new SourceException(SourceErrorKind.Corrupt, $"{source.DisplayUri}: only {times.Count} frame(s), too few to benchmark");
        }
        var intervals = times.Zip(times.Skip(1), (a, b) => b - a).Order().ToArray();
        static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);
        var span = times[^1] - times[0];
        return new IngestBenchmarkResult(source.DisplayUri, width, height, times.Count, Ms(times[0]), Ms(intervals.Average()),
            Ms(Percentile(intervals, 0.5)), Ms(Percentile(intervals, 0.95)), Ms(intervals[^1]), span > 0 ? (times.Count - 1) * 1000 / span : 0);
    }

    private static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
