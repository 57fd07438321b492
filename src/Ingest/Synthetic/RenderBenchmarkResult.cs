namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Throughput and latency of the synthetic renderer for one spec. <see cref="CpuMsPerFrame"/> is process CPU time
/// per frame: unlike wall time it barely moves when other jobs share the cores, so compare that across runs.
/// <see cref="FramesInFlight"/> frames render at once on <see cref="Threads"/> threads each; the latencies
/// (<see cref="MeanMs"/>, <see cref="P50Ms"/>, <see cref="P95Ms"/>) are those of one render.
/// </summary>
public sealed record RenderBenchmarkResult(
    int Width,
    int Height,
    bool WithTruth,
    int Frames,
    int FramesInFlight,
    int Threads,
    double FramesPerSecond,
    double MeanMs,
    double P50Ms,
    double P95Ms,
    double CpuMsPerFrame);
