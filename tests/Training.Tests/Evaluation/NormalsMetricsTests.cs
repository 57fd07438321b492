using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>Angular errors against vectors with known angles to the truth (0, 1) along z.</summary>
public sealed class NormalsMetricsTests
{
    private static readonly float Sin20 = (float)Math.Sin(20 * Math.PI / 180);
    private static readonly float Cos20 = (float)Math.Cos(20 * Math.PI / 180);

    [Theory]
    [InlineData(0f, 0f, 2f, 0.0)]
    [InlineData(1f, 0f, 0f, 90.0)]
    [InlineData(0f, 0f, -1f, 180.0)]
    [InlineData(1f, 0f, 1f, 45.0)]
    [InlineData(0f, 0f, 0f, 90.0)]
    public void AngleToZ(float x, float y, float z, double degrees) =>
        Assert.Equal(degrees, NormalsMetrics.AngleDegrees([x, y, z], [0f, 0f, 1f]), 5);

    [Fact]
    public void HandWorkedExampleSkipsZeroTruth()
    {
        var m = new NormalsMetrics();
        float[] predicted = [0, 0, 2, Sin20, 0, Cos20, 1, 0, 1, 1, 0, 0, 0, 0, -1, 5, 5, 5];
        float[] truth = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0];
        m.Add(predicted, truth);

        // Angles 0, 20, 45, 90, 180.
        Assert.Equal(5, m.Pixels);
        Assert.Equal(335.0 / 5, m.MeanDeg, 4);
        Assert.Equal(45.0, m.MedianDeg, 4);
        Assert.Equal(Math.Sqrt((0 + 400 + 2025 + 8100 + 32400) / 5.0), m.RmseDeg, 3);
        Assert.Equal(0.2, m.Within11_25, 12);
        Assert.Equal(0.4, m.Within22_5, 12);
        Assert.Equal(0.4, m.Within30, 12);
    }

    [Fact]
    public void AngleSplitsByTrueClass()
    {
        var m = new NormalsMetrics(classes: 2);
        float[] predicted = [0, 0, 2, Sin20, 0, Cos20, 1, 0, 1, 1, 0, 0, 0, 0, -1, 5, 5, 5];
        float[] truth = [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 0];
        // Angles 0, 20, 45, 90, 180 on classes 0, 0, 1, 1, 1; the zero-truth pixel (class 0) is skipped.
        m.Add(predicted, truth, [0, 0, 1, 1, 1, 0]);

        Assert.Equal(10.0, m.AngleByClass!.Mean(0), 4);
        Assert.Equal(105.0, m.AngleByClass.Mean(1), 4);
        Assert.Equal(20.0 / 335, m.AngleByClass.ShareOfError(0), 4);
        Assert.Equal(335.0 / 5, m.MeanDeg, 4);
        Assert.Throws<ArgumentException>(() => m.Add(predicted, truth, [0, 1]));
    }

    [Fact]
    public void MedianOfAnEvenCountAveragesTheMiddlePair()
    {
        var m = new NormalsMetrics();
        m.Add([0, 0, 1, 1, 0, 0, 0, 0, -1, 1, 0, 1], [0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1]);
        Assert.Equal(67.5, m.MedianDeg, 4); // (45 + 90) / 2
    }

    [Fact]
    public void MedianOfManyAnglesIsWithinTheBinResolution()
    {
        var rng = new Random(11);
        var m = new NormalsMetrics();
        var angles = new List<double>();
        for (int frame = 0; frame < 10; frame++)
        {
            var predicted = new float[300];
            var truth = new float[300];
            for (int i = 0; i < 300; i += 3)
            {
                double a = rng.NextDouble() * Math.PI;
                predicted[i] = (float)Math.Sin(a);
                predicted[i + 2] = (float)Math.Cos(a);
                truth[i + 2] = 1;
                angles.Add(NormalsMetrics.AngleDegrees(predicted.AsSpan(i, 3), truth.AsSpan(i, 3)));
            }
            m.Add(predicted, truth);
        }
        angles.Sort();
        double exact = (angles[499] + angles[500]) / 2;
        Assert.InRange(m.MedianDeg, exact - NormalsMetrics.MedianResolutionDegrees, exact + NormalsMetrics.MedianResolutionDegrees);
        Assert.Equal(angles.Average(), m.MeanDeg, 6);
    }

    [Fact]
    public void ChannelsFirstTensorsAreInterleavedPerPixel()
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        // [1, 3, 1, 2]: pixel 0 predicts +x, pixel 1 +z; truth +z for both -> 90 and 0 degrees.
        var predicted = TorchSharp.torch.tensor(new float[] { 1, 0, 0, 0, 0, 1 }, [1, 3, 1, 2]);
        var truth = TorchSharp.torch.tensor(new float[] { 0, 0, 0, 0, 1, 1 }, [1, 3, 1, 2]);
        var m = new NormalsMetrics();
        m.Add(predicted, truth);
        Assert.Equal(45.0, m.MeanDeg, 5);
        var depth = new DepthMetrics();
        depth.Add(TorchSharp.torch.tensor(new float[] { 2, 3 }, [1, 1, 1, 2]), TorchSharp.torch.tensor(new float[] { 2, 0 }, [1, 1, 1, 2]));
        Assert.Equal(1, depth.Pixels);
    }

    [Fact]
    public void EmptyIsNaNAndShapesMustMatch()
    {
        var m = new NormalsMetrics();
        Assert.True(double.IsNaN(m.MedianDeg));
        Assert.True(double.IsNaN(m.MeanDeg));
        Assert.Throws<ArgumentException>(() => m.Add([0, 0, 1, 0], [0, 0, 1, 0]));
    }
}
