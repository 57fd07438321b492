using StreamMtl.Training.Evaluation;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>Confusion matrix, IoU and accuracy against a 3x3 example worked out by hand.</summary>
public sealed class SegmentationMetricsTests
{
    // Four classes; class 3 never occurs, one pixel is ignored (its prediction 2 must not count as a false positive).
    private static readonly byte[] Truth = [0, 0, 1, 1, 1, 255, 0, 1, 0];
    private static readonly byte[] Predicted = [0, 1, 1, 1, 0, 2, 0, 1, 2];

    [Fact]
    public void HandWorkedExample()
    {
        var m = new SegmentationMetrics(4);
        m.Add(Predicted, Truth);

        Assert.Equal(8, m.Pixels);
        long[,] expected = { { 2, 1, 1, 0 }, { 1, 3, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
        for (int t = 0; t < 4; t++)
            for (int p = 0; p < 4; p++)
                Assert.Equal(expected[t, p], m.Confusion(t, p));
        var iou = m.ClassIoU();
        Assert.Equal(2.0 / 5, iou[0], 12);
        Assert.Equal(3.0 / 5, iou[1], 12);
        Assert.Equal(0.0, iou[2], 12); // predicted only: a false positive, IoU 0
        Assert.True(double.IsNaN(iou[3])); // absent everywhere: left out of the mean
        Assert.Equal(1.0 / 3, m.MeanIoU, 12);
        Assert.Equal(5.0 / 8, m.PixelAccuracy, 12);
    }

    [Fact]
    public void FramesArePooledNotAveraged()
    {
        var pooled = new SegmentationMetrics(4);
        pooled.Add(Predicted.AsSpan(0, 4), Truth.AsSpan(0, 4));
        pooled.Add(Predicted.AsSpan(4), Truth.AsSpan(4));
        var whole = new SegmentationMetrics(4);
        whole.Add(Predicted, Truth);
        Assert.Equal(whole.MeanIoU, pooled.MeanIoU, 12);
        Assert.Equal(whole.PixelAccuracy, pooled.PixelAccuracy, 12);
    }

    [Fact]
    public void A_confusion_matrix_counted_elsewhere_gives_the_same_figures()
    {
        var counted = new SegmentationMetrics(4);
        counted.Add(Predicted, Truth);
        var cells = new long[16];
        for (int t = 0; t < 4; t++)
            for (int p = 0; p < 4; p++)
                cells[t * 4 + p] = counted.Confusion(t, p);

        var copied = SegmentationMetrics.FromConfusion(4, cells);

        Assert.Equal(counted.Pixels, copied.Pixels);
        Assert.Equal(counted.MeanIoU, copied.MeanIoU, 12);
        Assert.Equal(counted.PixelAccuracy, copied.PixelAccuracy, 12);
        Assert.Throws<ArgumentException>(() => SegmentationMetrics.FromConfusion(3, cells));
    }

    [Fact]
    public void EmptyAndInvalidInput()
    {
        var m = new SegmentationMetrics(3, ignore: 9);
        Assert.True(double.IsNaN(m.MeanIoU));
        Assert.True(double.IsNaN(m.PixelAccuracy));
        m.Add([9, 9], [9, 9]); // custom ignore label on the truth side only
        Assert.Equal(0, m.Pixels);
        Assert.Throws<ArgumentException>(() => m.Add([0], [0, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.Add([3], [0]));
    }

    [Fact]
    public void LogitsTensorsAreReducedByArgmax()
    {
        using var scope = NewDisposeScope();
        // Two classes, 1x1x2 image: pixel 0 favours class 1, pixel 1 class 0; truth [1, 1].
        var logits = tensor(new float[] { 0f, 5f, 1f, -1f }, [1, 2, 1, 2]);
        var truth = tensor(new byte[] { 1, 1 }, [1, 1, 2]);
        var m = new SegmentationMetrics(2);
        m.Add(logits, truth);
        Assert.Equal(1, m.Confusion(1, 1));
        Assert.Equal(1, m.Confusion(1, 0));
    }
}
