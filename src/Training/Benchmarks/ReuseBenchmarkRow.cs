using StreamMtl.Pipeline.Results;

namespace StreamMtl.Training.Benchmarks;

/// <summary>
/// One reuse setting measured against dense on the same frames: FLOPs (all tasks and encoder only, i.e.
/// without the heads), wall-clock, fidelity to dense, and accuracy against truth for both when known.
/// <see cref="DenseFrameToFrameAgreement"/>, <see cref="DenseFrameToFrameDepth"/> and <see cref="DenseFrameToFrameNormalsDeg"/>
/// compare dense outputs with dense on the previous frame: how much dense output itself changes per frame (noise
/// flicker plus real motion), the scale against which reuse's differences to dense are read. <see cref="ReuseMs"/>: the
/// timed frames' median and 99th percentile (their spread is issue 22's smooth-latency figure for one stream, in-process).
/// </summary>
public sealed record ReuseBenchmarkRow(
    string Setting,
    double Threshold,
    double Budget,
    double AttentionRefresh,
    double FlopsRatio,
    double EncoderFlopsRatio,
    double DenseMsPerFrame,
    double ReuseMsPerFrame,
    Percentiles ReuseMs,
    double SpeedUp,
    double RecomputedFraction,
    int Keyframes,
    double SegmentationAgreement,
    double DepthMeanRelativeDifference,
    double NormalsMeanAngleDeg,
    TruthScores? DenseTruth,
    TruthScores? ReuseTruth,
    double DenseFrameToFrameAgreement,
    double DenseFrameToFrameDepth,
    double DenseFrameToFrameNormalsDeg);
