namespace StreamMtl.Ingest.Synthetic;

/// <summary>
/// Throughput and latency of the synthetic renderer for one spec. <see cref="CpuMsPerFrame"/> is process CPU time
/// per frame: unlike wall time it barely moves when other jobs share the cores, so compare that across runs.
/// </summary>
public sealed record RenderBenchmarkResult(
    int Width,
    int Height,
    bool WithTruth,
    int Frames,
    int Threads,
    double FramesPerSecond,
    double MeanMs,
    double P50Ms,
    double P95Ms,
    double CpuMsPerFrame);
