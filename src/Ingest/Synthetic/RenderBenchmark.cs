using System.Diagnostics;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>Measures how fast the synthetic camera renders, into reused buffers (what training and serving pay).</summary>
public static class RenderBenchmark
{
    /// <summary>Frames rendered before timing starts, so tiered JIT has promoted the hot loops.</summary>
    public const int WarmupFrames = 20;

    public static RenderBenchmarkResult Run(SyntheticSpec spec, int frames, bool withTruth)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        var camera = new SyntheticCamera(spec);
        var pixels = new byte[spec.Width * spec.Height * 3];
        var truth = withTruth ? camera.CreateTruth() : null;
        for (var i = 0; i < WarmupFrames; i++)
        {
            camera.Render(i, pixels, truth);
        }

        var times = new double[frames];
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var total = Stopwatch.StartNew();
        for (var i = 0; i < frames; i++)
        {
            var start = Stopwatch.GetTimestamp();
            camera.Render(WarmupFrames + i, pixels, truth);
            times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        var seconds = total.Elapsed.TotalSeconds;
        process.Refresh();
        var cpuMs = (process.TotalProcessorTime - cpuStart).TotalMilliseconds;
        Array.Sort(times);
        return new RenderBenchmarkResult(
            spec.Width,
            spec.Height,
            withTruth,
            frames,
            camera.MaxDegreeOfParallelism,
            frames / seconds,
            times.Average(),
            Percentile(times, 0.50),
            Percentile(times, 0.95),
            cpuMs / frames);
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
}
