namespace StreamMtl.Training.Evaluation;

/// <summary>Mean relative difference mean(|a - b| / b) of a reused depth map a against the dense one b (= AbsRel with b as truth).</summary>
public sealed class DepthAgreement
{
    private readonly DepthMetrics _metrics = new();

    public long Pixels => _metrics.Pixels;

    /// <summary>Pixels where the dense depth is not positive are skipped, as in <see cref="DepthMetrics"/>.</summary>
    public void Add(ReadOnlySpan<float> reused, ReadOnlySpan<float> dense) => _metrics.Add(reused, dense);

    public double MeanRelativeDifference => _metrics.AbsRel;

    /// <summary>The full set of depth statistics with the dense output as reference.</summary>
    public DepthMetrics Metrics => _metrics;
}
