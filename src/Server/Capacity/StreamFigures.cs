using StreamMtl.Pipeline.Results;

namespace StreamMtl.Server.Capacity;

/// <summary>One stream's figures over a capacity run's measured window.</summary>
/// <param name="SourceFps">Frames the service read from the source per second.</param>
/// <param name="ProcessedFps">Frames run through the model per second.</param>
/// <param name="ReceivedFps">Results the stream's subscriber received per second.</param>
/// <param name="Sustained">Processed frames over the source's frames (its nominal rate when known, else what was ingested).</param>
/// <param name="Drops">Frames dropped in the window, by reason (the service's streammtl_frames_dropped_total).</param>
/// <param name="KeyframeShare">Received results computed in full (keyframes) over all received.</param>
/// <param name="Levels">Received results by compute level (full, reduced, minimal, lean, coarse) over all received; null when not recorded.</param>
/// <param name="MeanComputeBudget">The mean compute budget the received results ran at (1: every block).</param>
/// <param name="StageMs">Mean wall milliseconds per frame in each pipeline stage (preprocess, queue, inference, encode) over
/// the window, from the service's streammtl_stage_latency_seconds; null when not recorded.</param>
/// <param name="Delivered">The received results against the synthetic source's truth (bench --score-truth); null when not scored.</param>
public sealed record StreamFigures(string Id, double SourceFps, double ProcessedFps, double ReceivedFps, double Sustained,
    IReadOnlyDictionary<string, long> Drops, double KeyframeShare, Percentiles InferenceMs, Percentiles EndToEndMs,
    IReadOnlyDictionary<string, double>? Levels = null, double MeanComputeBudget = 1, IReadOnlyDictionary<string, double>? StageMs = null,
    DeliveredAccuracy? Delivered = null);

/// <summary>A capacity run: N streams of one source through the real service, per stream and in total.</summary>
/// <param name="CpuCores">The service process's CPU time with its children's (ffmpeg decoders) over the window per wall second (2.0 = both cores of this machine).</param>
public sealed record StreamsRun(string Source, int StreamCount, bool Dense, bool Neighbour, double? NominalFps, double Seconds, double CpuCores,
    IReadOnlyList<StreamFigures> Streams)
{
    public double TotalProcessedFps => Streams.Sum(s => s.ProcessedFps);

    /// <summary>The worst stream's share: the run sustains its streams when every one of them is at or above the bar.</summary>
    public double MinSustained => Streams.Count == 0 ? 0 : Streams.Min(s => s.Sustained);

    public bool Sustains => MinSustained >= StreamsBenchSettings.SustainedShare;

    /// <summary>The worst stream's p99 / median inference time.</summary>
    /// <summary>Each stage's mean milliseconds per frame over the streams that recorded it.</summary>
    public IReadOnlyDictionary<string, double> MeanStageMs =>
        Streams.Where(s => s.StageMs != null).SelectMany(s => s.StageMs!).GroupBy(kv => kv.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Average(kv => kv.Value), StringComparer.Ordinal);

    public double WorstInferenceSpread => Streams.Where(s => s.InferenceMs.Count > 0).Select(s => s.InferenceMs.Spread).DefaultIfEmpty(double.NaN).Max();
}
