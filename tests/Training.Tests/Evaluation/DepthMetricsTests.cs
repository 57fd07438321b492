using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>Depth errors against a small example worked out by hand.</summary>
public sealed class DepthMetricsTests
{
    [Fact]
    public void HandWorkedExampleSkipsInvalidTruth()
    {
        var m = new DepthMetrics();
        // Valid pairs (truth, prediction): (1, 1) (2, 3) (4, 2) (1, 1.9); truth 0, negative and NaN are skipped.
        m.Add([1f, 3f, 5f, 2f, 1.9f, 7f, 7f], [1f, 2f, 0f, 4f, 1f, -1f, float.NaN]);

        Assert.Equal(4, m.Pixels);
        Assert.Equal(Math.Sqrt((0 + 1 + 4 + 0.81) / 4), m.Rmse, 6);
        Assert.Equal((0 + 0.5 + 0.5 + 0.9) / 4, m.AbsRel, 6);
        // Ratios 1, 1.5, 2, 1.9 against 1.25, 1.5625, 1.953125.
        Assert.Equal(0.25, m.Delta1, 12);
        Assert.Equal(0.5, m.Delta2, 12);
        Assert.Equal(0.75, m.Delta3, 12);
    }

    [Fact]
    public void AbsRelSplitsByTrueClassAndTheSharesAddUp()
    {
        var m = new DepthMetrics(classes: 3);
        // Same pixels as above with classes 0, 1, 1, 2 on the valid ones (the skipped ones carry class 2 and 9).
        m.Add([1f, 3f, 5f, 2f, 1.9f, 7f, 7f], [1f, 2f, 0f, 4f, 1f, -1f, float.NaN], [0, 1, 2, 1, 2, 9, 2]);

        var byClass = m.AbsRelByClass!;
        Assert.Equal(0.0, byClass.Mean(0), 12);
        Assert.Equal((0.5 + 0.5) / 2, byClass.Mean(1), 6);
        Assert.Equal(0.9, byClass.Mean(2), 6);
        Assert.Equal(1.0 / 1.9, byClass.ShareOfError(1), 6);
        Assert.Equal(0.9 / 1.9, byClass.ShareOfError(2), 6);
        Assert.Equal((0 + 0.5 + 0.5 + 0.9) / 4, m.AbsRel, 6);  // the pooled figure is unchanged
        Assert.Contains("b 0.5 (53%)", byClass.Format(c => "abc"[c].ToString(), ""), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => m.Add([1f, 2f], [1f, 2f], [0]));
    }

    [Fact]
    public void NonPositivePredictionNeverCountsAsWithinThreshold()
    {
        var m = new DepthMetrics();
        m.Add([-2f, 0f], [2f, 2f]);
        Assert.Equal(0, m.Delta3);
        Assert.Equal((2.0 + 1.0) / 2, m.AbsRel, 12);
    }

    [Fact]
    public void EmptyIsNaNAndLengthsMustMatch()
    {
        var m = new DepthMetrics();
        Assert.True(double.IsNaN(m.Rmse));
        Assert.True(double.IsNaN(m.Delta1));
        Assert.Throws<ArgumentException>(() => m.Add([1f], [1f, 2f]));
    }
}
