namespace StreamMtl.Training.Evaluation;

/// <summary>
/// Depth against a relative ground truth that is a disparity up to an unknown scale and shift (Middlebury's Aloe, a
/// relative-depth teacher's output): the prediction's inverse depth is fitted to the true disparity by least squares
/// (scale and shift) over the valid pixels, and the aligned disparities are compared as depths, as MiDaS is evaluated:
/// AbsRel = mean |1/a - 1/g| / (1/g), delta1 = share of max(a/g, g/a) &lt; 1.25, plus Spearman's rank correlation between
/// the predicted and the true disparity (invariant to any monotone map, so no fit). A true disparity of 0 is invalid; so is
/// a predicted depth that is not positive and finite. Aligned disparities below the smallest true one are raised to it
/// (no aligned depth beyond the farthest true depth), as MiDaS caps depth.
/// </summary>
public sealed record RelativeDepthMetrics(long Pixels, double AbsRel, double Delta1, double Spearman, double Scale, double Shift)
{
    /// <summary>The metrics of <paramref name="depth"/> (predicted, any positive unit) against <paramref name="disparity"/> (0 = invalid), pixel for pixel.</summary>
    public static RelativeDepthMetrics Of(ReadOnlySpan<float> depth, ReadOnlySpan<float> disparity)
    {
        if (depth.Length != disparity.Length)
        {
            throw new ArgumentException($"{depth.Length} predicted depths for {disparity.Length} true disparities");
        }
        var x = new List<double>();
        var g = new List<double>();
        for (int i = 0; i < depth.Length; i++)
        {
            if (disparity[i] > 0 && float.IsFinite(disparity[i]) && depth[i] > 0 && float.IsFinite(depth[i]))
            {
                x.Add(1.0 / depth[i]);
                g.Add(disparity[i]);
            }
        }
        int n = x.Count;
        if (n < 2)
        {
            return new RelativeDepthMetrics(n, double.NaN, double.NaN, double.NaN, double.NaN, double.NaN);
        }
        var (scale, shift) = Fit(x, g);
        double floor = g.Min();
        double absRel = 0;
        long within = 0;
        for (int i = 0; i < n; i++)
        {
            double aligned = Math.Max(scale * x[i] + shift, floor);
            absRel += Math.Abs(g[i] / aligned - 1); // |1/a - 1/g| / (1/g)
            within += Math.Max(aligned / g[i], g[i] / aligned) < 1.25 ? 1 : 0;
        }
        return new RelativeDepthMetrics(n, absRel / n, (double)within / n, Pearson(Ranks(x), Ranks(g)), scale, shift);
    }

    /// <summary>The s, t minimising sum (s x + t - g)^2; a constant x gets s = 0 and t = mean g.</summary>
    private static (double Scale, double Shift) Fit(List<double> x, List<double> g)
    {
        double mx = x.Average(), mg = g.Average();
        double sxx = 0, sxg = 0;
        for (int i = 0; i < x.Count; i++)
        {
            sxx += (x[i] - mx) * (x[i] - mx);
            sxg += (x[i] - mx) * (g[i] - mg);
        }
        double scale = sxx > 0 ? sxg / sxx : 0;
        return (scale, mg - scale * mx);
    }

    /// <summary>Ranks from 1, ties sharing their mean rank.</summary>
    internal static double[] Ranks(List<double> values)
    {
        int[] order = [.. Enumerable.Range(0, values.Count).OrderBy(i => values[i])];
        var ranks = new double[values.Count];
        for (int start = 0; start < order.Length;)
        {
            int end = start;
            while (end + 1 < order.Length && values[order[end + 1]] == values[order[start]])
            {
                end++;
            }
            double rank = (start + end) / 2.0 + 1;
            for (int k = start; k <= end; k++)
            {
                ranks[order[k]] = rank;
            }
            start = end + 1;
        }
        return ranks;
    }

    private static double Pearson(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average();
        double sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return saa > 0 && sbb > 0 ? sab / Math.Sqrt(saa * sbb) : double.NaN;
    }
}
