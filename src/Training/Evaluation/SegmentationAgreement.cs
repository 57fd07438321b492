namespace StreamMtl.Training.Evaluation;

/// <summary>Share of pixels on which two label maps agree (temporal-reuse output vs dense output), pooled over frames.</summary>
public sealed class SegmentationAgreement
{
    private long _equal;

    public long Pixels { get; private set; }

    public void Add(ReadOnlySpan<byte> reused, ReadOnlySpan<byte> dense)
    {
        if (reused.Length != dense.Length)
        {
            throw new ArgumentException($"label maps have {reused.Length} and {dense.Length} pixels");
        }
        for (int i = 0; i < dense.Length; i++)
        {
            if (reused[i] == dense[i]) _equal++;
        }
        Pixels += dense.Length;
    }

    /// <summary>Equal pixels / all pixels (0..1); NaN before any pixel is added.</summary>
    public double Fraction => Pixels == 0 ? double.NaN : (double)_equal / Pixels;
}
