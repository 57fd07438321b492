namespace StreamMtl.Training.Evaluation;

/// <summary>
/// Dataset-pooled angular errors of surface normals (x, y, z interleaved per pixel): mean, median, RMSE in
/// degrees and the shares under 11.25, 22.5 and 30 degrees. Pixels whose truth is the zero vector are skipped.
/// </summary>
public sealed class NormalsMetrics
{
    private readonly AngleHistogram _histogram = new();
    private double _sum;
    private double _sumSquared;
    private long _under11;
    private long _under22;
    private long _under30;

    /// <param name="classes">With a class count, <see cref="AngleByClass"/> splits the angular error by the true
    /// class of each pixel (labels passed to <see cref="Add"/>).</param>
    public NormalsMetrics(int classes = 0)
    {
        AngleByClass = classes > 0 ? new ClassBreakdown(classes) : null;
    }

    /// <summary>Valid pixels counted.</summary>
    public long Pixels => _histogram.Count;

    /// <summary>Angular error in degrees by true class, when built with a class count.</summary>
    public ClassBreakdown? AngleByClass { get; }

    /// <summary>Median resolution: see <see cref="AngleHistogram"/>.</summary>
    public static double MedianResolutionDegrees => AngleHistogram.BinDegrees;

    /// <summary>
    /// Adds one frame; both arrays hold 3 floats per pixel. Both vectors are normalised first.
    /// <paramref name="labels"/> (true class per pixel) feeds <see cref="AngleByClass"/>.
    /// </summary>
    public void Add(ReadOnlySpan<float> predicted, ReadOnlySpan<float> truth, ReadOnlySpan<byte> labels = default)
    {
        if (predicted.Length != truth.Length || truth.Length % 3 != 0)
        {
            throw new ArgumentException($"prediction has {predicted.Length} floats, truth {truth.Length}; both must be the same multiple of 3");
        }
        bool byClass = AngleByClass != null && !labels.IsEmpty;
        if (byClass && labels.Length * 3 != truth.Length)
        {
            throw new ArgumentException($"labels have {labels.Length} pixels, truth {truth.Length / 3}");
        }
        for (int i = 0; i < truth.Length; i += 3)
        {
            if (truth[i] == 0 && truth[i + 1] == 0 && truth[i + 2] == 0)
            {
                continue;
            }
            double angle = AngleDegrees(predicted.Slice(i, 3), truth.Slice(i, 3));
            _histogram.Add(angle);
            _sum += angle;
            _sumSquared += angle * angle;
            if (byClass)
            {
                AngleByClass!.Add(labels[i / 3], angle);
            }
            if (angle < 11.25) _under11++;
            if (angle < 22.5) _under22++;
            if (angle < 30) _under30++;
        }
    }

    /// <summary>
    /// Angle between two vectors after normalising both, as 2*atan2(|a-b|, |a+b|): accurate near 0 and 180
    /// degrees where arccos of the dot product loses precision. A zero prediction counts as 90 degrees off.
    /// </summary>
    public static double AngleDegrees(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double na = Math.Sqrt((double)a[0] * a[0] + (double)a[1] * a[1] + (double)a[2] * a[2]);
        double nb = Math.Sqrt((double)b[0] * b[0] + (double)b[1] * b[1] + (double)b[2] * b[2]);
        if (na == 0 || nb == 0)
        {
            return 90;
        }
        double dx = a[0] / na - b[0] / nb, dy = a[1] / na - b[1] / nb, dz = a[2] / na - b[2] / nb;
        double sx = a[0] / na + b[0] / nb, sy = a[1] / na + b[1] / nb, sz = a[2] / na + b[2] / nb;
        double radians = 2 * Math.Atan2(Math.Sqrt(dx * dx + dy * dy + dz * dz), Math.Sqrt(sx * sx + sy * sy + sz * sz));
        return radians * 180 / Math.PI;
    }

    public double MeanDeg => Pixels == 0 ? double.NaN : _sum / Pixels;

    public double MedianDeg => _histogram.Median();

    public double RmseDeg => Pixels == 0 ? double.NaN : Math.Sqrt(_sumSquared / Pixels);

    /// <summary>Share (0..1) of pixels with an error under 11.25 degrees.</summary>
    public double Within11_25 => Share(_under11);

    public double Within22_5 => Share(_under22);

    public double Within30 => Share(_under30);

    private double Share(long n) => Pixels == 0 ? double.NaN : (double)n / Pixels;
}
