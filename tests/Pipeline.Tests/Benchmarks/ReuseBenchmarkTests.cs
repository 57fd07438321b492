using StreamMtl.Pipeline.Benchmarks;
using StreamMtl.Pipeline.Reuse;
using StreamMtl.Pipeline.Tests.Reuse;

namespace StreamMtl.Pipeline.Tests.Benchmarks;

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
        var (float32, bfloat16) = (rows[0], rows[1]);
        Assert.True(float32.FlopsRatio > 1, "the float32 reuse row saved nothing");
        // bfloat16 products move the outputs a little, never a lot.
        Assert.NotEqual(float32.DepthMeanRelativeDifference, bfloat16.DepthMeanRelativeDifference);
        Assert.True(bfloat16.DepthMeanRelativeDifference < 0.05, $"bfloat16 depth differs by {bfloat16.DepthMeanRelativeDifference:P2}");
    }
}
