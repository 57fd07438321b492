using OpenCvSharp;
using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Evaluation;

/// <summary>Scale-and-shift-invariant depth against a disparity ground truth (eval --depth-ref), on fixtures made here.</summary>
public sealed class RelativeDepthMetricsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    /// <summary>A seeded disparity map in 5..60 with every seventh pixel invalid (0).</summary>
    private static float[] Disparity(int n, int seed = 3)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, n).Select(i => i % 7 == 0 ? 0f : 5f + 55f * (float)random.NextDouble())];
    }

    [Fact]
    public void A_depth_whose_inverse_is_the_truth_up_to_scale_and_shift_scores_perfectly()
    {
        float[] truth = Disparity(500);
        // 1/depth = (g - 2) / 40: any positive scale and shift of the truth.
        float[] depth = [.. truth.Select(g => g > 0 ? 40f / (g - 2f) : 1f)];
        var metrics = RelativeDepthMetrics.Of(depth, truth);
        Assert.Equal(truth.Count(g => g > 0), metrics.Pixels);
        Assert.Equal(0, metrics.AbsRel, 5);
        Assert.Equal(1, metrics.Delta1, 9);
        Assert.Equal(1, metrics.Spearman, 9);
        Assert.Equal(40, metrics.Scale, 2);
        Assert.Equal(2, metrics.Shift, 2);
    }

    [Fact]
    public void Invalid_pixels_are_ignored_whatever_is_predicted_there()
    {
        float[] truth = Disparity(500);
        float[] depth = [.. truth.Select(g => 40f / (g + 1f))];
        var clean = RelativeDepthMetrics.Of(depth, truth);
        for (int i = 0; i < depth.Length; i += 7)
        {
            depth[i] = i % 2 == 0 ? 1e6f : 1e-6f; // absurd, where the truth is 0
        }
        Assert.Equal(clean, RelativeDepthMetrics.Of(depth, truth));
        // A non-positive or non-finite prediction is not scored either.
        depth[1] = float.NaN;
        depth[2] = -1;
        Assert.Equal(clean.Pixels - 2, RelativeDepthMetrics.Of(depth, truth).Pixels);
    }

    [Fact]
    public void A_reversed_ordering_scores_badly_and_ties_share_ranks()
    {
        float[] truth = Disparity(400);
        float[] reversed = [.. truth.Select(g => g)]; // depth growing with disparity: near looks far
        var metrics = RelativeDepthMetrics.Of(reversed, truth);
        Assert.Equal(-1, metrics.Spearman, 9);
        Assert.True(metrics.AbsRel > 0.2 && metrics.Delta1 < 0.8, $"{metrics}");
        Assert.Equal([1.5, 1.5, 3, 4.5, 4.5], RelativeDepthMetrics.Ranks([2, 2, 5, 7, 7]));
    }

    [Fact]
    public void Noise_lowers_the_scores_by_a_plausible_amount()
    {
        float[] truth = Disparity(2000, seed: 9);
        var random = new Random(5);
        float[] depth = [.. truth.Select(g => 1f / (g * (1f + 0.1f * (float)(random.NextDouble() - 0.5))))];
        var metrics = RelativeDepthMetrics.Of(depth, truth);
        Assert.InRange(metrics.AbsRel, 0.005, 0.05);
        Assert.Equal(1, metrics.Delta1, 9);
        Assert.InRange(metrics.Spearman, 0.98, 0.9999);
    }

    [Fact]
    public void A_reference_reads_an_8_bit_ground_truth_and_refuses_mismatched_or_missing_files()
    {
        string image = Path.Combine(_dir.Path, "left.png");
        string truth = Path.Combine(_dir.Path, "gt.png");
        using (var left = new Mat(24, 32, MatType.CV_8UC3, Scalar.All(90)))
        using (var gt = new Mat(24, 32, MatType.CV_8UC1, Scalar.All(0)))
        {
            gt.Set(3, 4, (byte)200);
            Cv2.ImWrite(image, left);
            Cv2.ImWrite(truth, gt);
        }
        var (reference, problem) = DepthReference.Parse($"{image}:{truth}");
        Assert.Null(problem);
        var (disparity, w, h) = reference!.ReadTruth();
        Assert.Equal((32, 24), (w, h));
        Assert.Equal(200f, disparity[3 * 32 + 4]);
        Assert.Equal(1, disparity.Count(d => d > 0));

        Assert.Equal($"'{image}' must be IMAGE:GT, an image and its disparity ground truth (0 = invalid), e.g. aloeL.jpg:aloeGT.png", DepthReference.Parse(image).Problem);
        Assert.Equal($"ground truth not found: {truth}x", DepthReference.Parse($"{image}:{truth}x").Problem);
        Assert.Equal($"image not found: {image}x", DepthReference.Parse($"{image}x:{truth}").Problem);
    }

    public void Dispose() => _dir.Dispose();
}
