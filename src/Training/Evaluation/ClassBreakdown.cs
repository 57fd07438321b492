namespace StreamMtl.Training.Evaluation;

/// <summary>
/// A per-pixel error split by the pixel's true class: the mean within each class and each class's share of
/// the summed error, so a pooled figure (AbsRel, mean angle) can be traced to the classes that make it.
/// </summary>
public sealed class ClassBreakdown
{
    private readonly double[] _sum;
    private readonly long[] _count;

    public ClassBreakdown(int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        _sum = new double[classes];
        _count = new long[classes];
    }

    public int Classes => _sum.Length;

    /// <summary>Adds one pixel's error; labels outside the class table are ignored.</summary>
    public void Add(byte label, double error)
    {
        if (label < _sum.Length)
        {
            _sum[label] += error;
            _count[label]++;
        }
    }

    /// <summary>Mean error of the pixels of class <paramref name="c"/> (NaN when it has none).</summary>
    public double Mean(int c) => _count[c] == 0 ? double.NaN : _sum[c] / _count[c];

    /// <summary>Share (0..1) of the summed error over all classes that class <paramref name="c"/> contributes.</summary>
    public double ShareOfError(int c)
    {
        double total = _sum.Sum();
        return total > 0 ? _sum[c] / total : double.NaN;
    }

    /// <summary>"name mean (share%)" for every class that has pixels.</summary>
    public string Format(Func<int, string> name, string unit) => string.Join(", ",
        Enumerable.Range(0, _sum.Length).Where(c => _count[c] > 0).Select(c => FormattableString.Invariant($"{name(c)} {Mean(c):0.###}{unit} ({100 * ShareOfError(c):0}%)")));
}
