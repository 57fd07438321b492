using StreamMtl.Pipeline.Model;
using StreamMtl.Training.Benchmarks;

namespace StreamMtl.Training.Tests.Benchmarks;

public sealed class ReuseBenchmarkTests
{
    [Fact]
    public void With_bfloat16_each_setting_gets_a_second_row_measured_against_the_same_float32_dense()
    {
        using var model = ReuseTestModels.Model();
        model.eval();
        int w = ReuseTestModels.Width, h = ReuseTestModels.Height;
        var random = new Random(2);
        var first = new byte[w * h * 3];
        random.NextBytes(first);
        // A static scene: the same frame with a little sensor noise, so the gate reuses most tokens.
        var frames = Enumerable.Range(0, 8).Select(i =>
        {
            var bgr = (byte[])first.Clone();
            for (int k = i; k < bgr.Length; k += 97)
            {
                bgr[k] ^= 1;
            }
            return new BenchFrame(i, bgr, null);
        }).ToList();
        var settings = new[] { ReuseSettings.Default, ReuseSettings.Default with { Threshold = 0.2f } };

        var rows = ReuseBenchmark.Run(model, frames, w, h, settings, withBFloat16: true);

        Assert.Equal(4, rows.Count);
        Assert.Equal([false, true, false, true], rows.Select(r => r.Setting.EndsWith(" bf16", StringComparison.Ordinal)));
        float t = ReuseSettings.Default.Threshold;
        Assert.Equal([t, t, 0.2f, 0.2f], rows.Select(r => (float)r.Threshold));
        // One dense reference for all rows.
        Assert.Single(rows.Select(r => r.DenseMsPerFrame).Distinct());
        // Each row's per-frame times: one per timed frame, the median at most the 99th percentile.
        Assert.All(rows, r => Assert.InRange(r.ReuseMs.Count, 1, frames.Count));
        Assert.All(rows, r => Assert.True(r.ReuseMs.P50 <= r.ReuseMs.P99 && r.ReuseMs.Spread >= 1, $"{r.Setting}: {r.ReuseMs}"));
        var (float32, bfloat16) = (rows[0], rows[1]);
        Assert.True(float32.FlopsRatio > 1, "the float32 reuse row saved nothing");
        // bfloat16 products move the outputs a little, never a lot.
        Assert.NotEqual(float32.DepthMeanRelativeDifference, bfloat16.DepthMeanRelativeDifference);
        Assert.True(bfloat16.DepthMeanRelativeDifference < 0.05, $"bfloat16 depth differs by {bfloat16.DepthMeanRelativeDifference:P2}");
    }

    [Fact]
    public void Dense_frame_to_frame_change_is_zero_on_repeated_frames_and_grows_with_the_change()
    {
        using var model = ReuseTestModels.Model();
        model.eval();
        int w = ReuseTestModels.Width, h = ReuseTestModels.Height;
        var random = new Random(3);
        BenchFrame Frame(int i)
        {
            var bgr = new byte[w * h * 3];
            random.NextBytes(bgr);
            return new BenchFrame(i, bgr, null);
        }
        var still = Frame(0);
        var repeated = Enumerable.Range(0, 4).Select(i => still with { Index = i }).ToList();
        var changing = Enumerable.Range(0, 4).Select(Frame).ToList();
        var settings = new[] { ReuseSettings.Default };

        var same = ReuseBenchmark.Run(model, repeated, w, h, settings).Single();
        var moving = ReuseBenchmark.Run(model, changing, w, h, settings).Single();

        Assert.Equal((1.0, 0.0), (same.DenseFrameToFrameAgreement, same.DenseFrameToFrameDepth));
        Assert.True(same.DenseFrameToFrameNormalsDeg < 0.05, $"repeated frames: normals moved {same.DenseFrameToFrameNormalsDeg} deg"); // acos rounding of unit dots
        Assert.True(moving.DenseFrameToFrameDepth > 0, "unrelated frames gave the same dense depth");
        Assert.True(moving.DenseFrameToFrameNormalsDeg > 0.5, $"unrelated frames: normals moved {moving.DenseFrameToFrameNormalsDeg} deg");
    }
}
