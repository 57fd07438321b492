using System.Diagnostics;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Ingest.Synthetic;

/// <summary>Measures how fast the synthetic camera renders, into reused buffers (what training and serving pay).</summary>
public static class RenderBenchmark
{
    /// <summary>Frames rendered before timing starts, so tiered JIT has promoted the hot loops.</summary>
    public const int WarmupFrames = 20;

    /// <summary>
    /// Renders <paramref name="frames"/> consecutive frames in order, <paramref name="framesInFlight"/> at once (each on
    /// its share of the cores, as an unpaced <see cref="SyntheticSource"/> does; 1: one frame at a time on all cores).
    /// Frames per second is the in-order throughput; the latencies are those of single renders.
    /// </summary>
    public static RenderBenchmarkResult Run(SyntheticSpec spec, int frames, bool withTruth, int framesInFlight = SyntheticCamera.FramesInFlight)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentOutOfRangeException.ThrowIfLessThan(frames, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(framesInFlight, 1);
        var camera = new SyntheticCamera(spec);
        var threads = Math.Max(1, camera.MaxDegreeOfParallelism / framesInFlight);
        // Frame i renders into buffer set i mod (in flight + 1): see RenderAhead.
        var buffers = new (byte[] Pixels, FrameTruth? Truth)[framesInFlight + 1];
        for (var i = 0; i < buffers.Length; i++)
        {
            buffers[i] = (new byte[spec.Width * spec.Height * 3], withTruth ? camera.CreateTruth() : null);
        }
        var times = new double[WarmupFrames + frames];
        void RenderAll(long first, long end)
        {
            using var ahead = new RenderAhead<long>(index =>
            {
                var start = Stopwatch.GetTimestamp();
                var (pixels, truth) = buffers[index % buffers.Length];
                camera.Render(index, pixels, truth, threads);
                times[index] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                return index;
            }, _ => { }, first, end, framesInFlight);
            while (ahead.HasNext)
            {
                ahead.Take();
            }
        }

        RenderAll(0, WarmupFrames);
        var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var total = Stopwatch.StartNew();
        RenderAll(WarmupFrames, WarmupFrames + frames);
        var seconds = total.Elapsed.TotalSeconds;
        process.Refresh();
        var cpuMs = (process.TotalProcessorTime - cpuStart).TotalMilliseconds;
        var timed = times[WarmupFrames..];
        Array.Sort(timed);
        return new RenderBenchmarkResult(
            spec.Width,
            spec.Height,
            withTruth,
            frames,
            framesInFlight,
            threads,
            frames / seconds,
            timed.Average(),
            Percentile(timed, 0.50),
            Percentile(timed, 0.95),
            cpuMs / frames);
    }

    private static double Percentile(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
}
