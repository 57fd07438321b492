namespace StreamMtl.Training.Evaluation;

/// <summary>Mean angle in degrees between reused and dense normal maps (x, y, z interleaved), pooled over frames.</summary>
public sealed class NormalsAgreement
{
    private readonly NormalsMetrics _metrics = new();

    public long Pixels => _metrics.Pixels;

    /// <summary>Pixels whose dense normal is the zero vector are skipped, as in <see cref="NormalsMetrics"/>.</summary>
    public void Add(ReadOnlySpan<float> reused, ReadOnlySpan<float> dense) => _metrics.Add(reused, dense);

    public double MeanAngleDeg => _metrics.MeanDeg;

    /// <summary>The full set of angular statistics with the dense output as reference.</summary>
    public NormalsMetrics Metrics => _metrics;
}
