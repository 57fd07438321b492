namespace StreamMtl.Training.Evaluation;

/// <summary>
/// Angles 0..180 degrees in 0.01-degree bins, each with its count and sum, so the median over any number of
/// pixels costs fixed memory (18000 bins, ~290 KB). The median is the mean of the angles in the bin holding
/// the middle rank: exact when that bin holds one distinct value, otherwise within 0.01 degree.
/// </summary>
internal sealed class AngleHistogram
{
    public const double BinDegrees = 0.01;
    private const int Bins = 18000;
    private readonly long[] _counts = new long[Bins];
    private readonly double[] _sums = new double[Bins];

    public long Count { get; private set; }

    public void Add(double degrees)
    {
        int bin = Math.Clamp((int)(degrees / BinDegrees), 0, Bins - 1);
        _counts[bin]++;
        _sums[bin] += degrees;
        Count++;
    }

    /// <summary>The median (mean of the two middle ranks for an even count); NaN when empty.</summary>
    public double Median()
    {
        if (Count == 0)
        {
            return double.NaN;
        }
        long lower = (Count - 1) / 2;
        long upper = Count / 2;
        return (AtRank(lower) + AtRank(upper)) / 2;
    }

    private double AtRank(long rank)
    {
        long seen = 0;
        for (int b = 0; b < Bins; b++)
        {
            seen += _counts[b];
            if (seen > rank)
            {
                return _sums[b] / _counts[b];
            }
        }
        throw new InvalidOperationException("rank beyond the histogram");
    }
}
