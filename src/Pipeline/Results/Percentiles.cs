namespace StreamMtl.Pipeline.Results;

/// <summary>Median and 99th percentile of a sample (NaN when empty).</summary>
public sealed record Percentiles(double P50, double P99, int Count)
{
    public double Spread => P99 / P50;

    public static Percentiles Of(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
        {
            return new Percentiles(double.NaN, double.NaN, 0);
        }
        var sorted = values.Order().ToArray();
        return new Percentiles(At(sorted, 0.5), At(sorted, 0.99), sorted.Length);
    }

    /// <summary>Nearest-rank percentile of a sorted sample.</summary>
    private static double At(double[] sorted, double q) => sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];
}
