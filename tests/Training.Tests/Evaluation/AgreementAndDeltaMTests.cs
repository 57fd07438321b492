using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>Reuse-vs-dense agreement helpers and the Delta-m sign conventions.</summary>
public sealed class AgreementAndDeltaMTests
{
    [Fact]
    public void AgreementMetrics()
    {
        var seg = new SegmentationAgreement();
        seg.Add([1, 2, 3, 4], [1, 2, 0, 4]);
        Assert.Equal(0.75, seg.Fraction, 12);

        var depth = new DepthAgreement();
        depth.Add([1.5f, 2f], [1f, 2f]);
        Assert.Equal(0.25, depth.MeanRelativeDifference, 6);

        var normals = new NormalsAgreement();
        normals.Add([1, 0, 0, 0, 1, 0], [0, 1, 0, 0, 1, 0]);
        Assert.Equal(45.0, normals.MeanAngleDeg, 5);
    }

    [Fact]
    public void HigherIsBetterGainIsPositive() =>
        Assert.Equal(10.0, DeltaM.Compute([(0.44, 0.40, false)]), 9);

    [Fact]
    public void LowerIsBetterDropIsPositive() =>
        Assert.Equal(10.0, DeltaM.Compute([(0.9, 1.0, true)]), 9);

    [Fact]
    public void MeanOverEntriesCancelsOpposites() =>
        Assert.Equal(0.0, DeltaM.Compute([(0.44, 0.40, false), (1.1, 1.0, true)]), 9);

    [Fact]
    public void WorseEverywhereIsNegative() =>
        Assert.Equal(-(5.0 + 20.0) / 2, DeltaM.Compute([(0.38, 0.40, false), (1.2, 1.0, true)]), 9);

    [Fact]
    public void EmptyOrZeroBaselineIsRejected()
    {
        Assert.Throws<ArgumentException>(() => DeltaM.Compute([]));
        Assert.Throws<ArgumentException>(() => DeltaM.Compute([(1.0, 0.0, false)]));
    }
}
