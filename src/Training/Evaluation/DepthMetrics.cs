namespace StreamMtl.Training.Evaluation;

/// <summary>Dataset-pooled depth errors over valid pixels (truth &gt; 0): RMSE, AbsRel and the delta thresholds.</summary>
public sealed class DepthMetrics
{
    private double _sumSquared;
    private double _sumRelative;
    private readonly long[] _within = new long[3];

    /// <param name="classes">With a class count, <see cref="AbsRelByClass"/> splits AbsRel by the true class
    /// of each pixel (labels passed to <see cref="Add"/>).</param>
    public DepthMetrics(int classes = 0)
    {
        AbsRelByClass = classes > 0 ? new ClassBreakdown(classes) : null;
    }

    /// <summary>Valid pixels counted.</summary>
    public long Pixels { get; private set; }

    /// <summary>Relative error |d - d_hat| / d by true class, when built with a class count.</summary>
    public ClassBreakdown? AbsRelByClass { get; }

    /// <summary>
    /// Adds one frame's depth maps (same pixel order, metres). Pixels whose truth is not a positive finite number
    /// are skipped; a NaN prediction on a valid pixel is counted and turns RMSE/AbsRel into NaN, so it is noticed.
    /// <paramref name="labels"/> (true class per pixel) feeds <see cref="AbsRelByClass"/>.
    /// </summary>
    public void Add(ReadOnlySpan<float> predicted, ReadOnlySpan<float> truth, ReadOnlySpan<byte> labels = default)
    {
        if (predicted.Length != truth.Length)
        {
            throw new ArgumentException($"prediction has {predicted.Length} pixels, truth {truth.Length}");
        }
        bool byClass = AbsRelByClass != null && !labels.IsEmpty;
        if (byClass && labels.Length != truth.Length)
        {
            throw new ArgumentException($"labels have {labels.Length} pixels, truth {truth.Length}");
        }
        for (int i = 0; i < truth.Length; i++)
        {
            double t = truth[i];
            if (!(t > 0) || double.IsInfinity(t))
            {
                continue;
            }
            double p = predicted[i];
            double error = p - t;
            _sumSquared += error * error;
            double relative = Math.Abs(error) / t;
            _sumRelative += relative;
            if (byClass)
            {
                AbsRelByClass!.Add(labels[i], relative);
            }
            // A non-positive prediction is infinitely far off in ratio; max(p/t, t/p) alone would call -t a match.
            double ratio = p > 0 ? Math.Max(p / t, t / p) : double.PositiveInfinity;
            if (ratio < 1.25) _within[0]++;
            if (ratio < 1.25 * 1.25) _within[1]++;
            if (ratio < 1.25 * 1.25 * 1.25) _within[2]++;
            Pixels++;
        }
    }

    public double Rmse => Pixels == 0 ? double.NaN : Math.Sqrt(_sumSquared / Pixels);

    /// <summary>Mean |d - d_hat| / d.</summary>
    public double AbsRel => Pixels == 0 ? double.NaN : _sumRelative / Pixels;

    /// <summary>Share (0..1) of pixels with max(d_hat/d, d/d_hat) &lt; 1.25.</summary>
    public double Delta1 => Share(0);

    /// <summary>Share with ratio &lt; 1.25^2.</summary>
    public double Delta2 => Share(1);

    /// <summary>Share with ratio &lt; 1.25^3.</summary>
    public double Delta3 => Share(2);

    private double Share(int k) => Pixels == 0 ? double.NaN : (double)_within[k] / Pixels;
}
