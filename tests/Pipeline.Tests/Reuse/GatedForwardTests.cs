using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Reuse;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

public sealed class GatedForwardTests
{
    [Fact]
    public void ThresholdZeroEqualsDenseOnEveryFrame() => AssertEqualsDense(ReuseTestModels.Exact);

    [Fact]
    public void IncrementalAttentionKeepsUnchangedQueriesExact() =>
        AssertEqualsDense(ReuseTestModels.Exact with { AttentionRefresh = 1, IncrementalAttention = true });

    [Fact]
    public void HeadsWithTheRefinementEqualDenseOnEveryFrame() => AssertEqualsDense(ReuseTestModels.Exact, refine: true);

    private static void AssertEqualsDense(ReuseSettings settings, bool refine = false)
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model(refine: refine);
        using var noGrad = no_grad();
        using var state = new ReuseState(model.Config, 0);
        var a = ReuseTestModels.Frame(1);
        var b = ReuseTestModels.WithPatchChanged(a, 2, 3, 9);
        var frames = new[] { a, a, b, ReuseTestModels.WithPatchChanged(b, 4, 1, 11), ReuseTestModels.WithPatchChanged(a, 0, 7, 12), ReuseTestModels.Frame(2) };
        for (int f = 0; f < frames.Length; f++)
        {
            var pass = new GatedPass(settings, new FlopCounter(), f, ReuseTestModels.Tokens, f == 0 ? "start" : null);
            var heads = model.ForwardGated(frames[f], TaskSet.All, state, pass);
            // Against the unfused reference (base and low-rank products apart, as training runs them).
            using var dense = model.Forward(frames[f], new ForwardOptions(TaskSet.All, Fused: false));
            foreach (var task in VisionTasks.All)
            {
                var gated = model.AssembleHead(task, heads[task].TokenOutputs, 6, 8);
                float diff = (gated - dense.Raw(task)).abs().max().item<float>();
                Assert.True(diff < 1e-4f, $"frame {f} {task}: max |gated - dense| = {diff}");
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ChangeConfinedToOnePatchRecomputesOnlyThatToken(bool refine)
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model(refine: refine);
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed with { Threshold = 0.05f });
        var a = ReuseTestModels.Frame(1);
        var first = runner.Run(a, 0, TaskSet.All);
        var second = runner.Run(ReuseTestModels.WithPatchChanged(a, 2, 3, 9), 1, TaskSet.All);
        Assert.False(second.Accounting.Keyframe);
        Assert.Equal(1, second.Accounting.Tokens.Single(t => t.Layer == "blocks.0.qkv").Recomputed);
        Assert.All(second.Accounting.Tokens, t => Assert.True(t.Recomputed <= 1, $"{t.Task} {t.Layer}: {t.Recomputed}"));
        // Outside the changed patch (rows 32..47, cols 48..63) every output pixel is the previous frame's.
        for (int y = 0; y < ReuseTestModels.Height; y++)
        {
            for (int x = 0; x < ReuseTestModels.Width; x++)
            {
                if (y / 16 == 2 && x / 16 == 3) continue;
                int i = y * ReuseTestModels.Width + x;
                Assert.Equal(first.Outputs.Labels![i], second.Outputs.Labels![i]);
                Assert.Equal(first.Outputs.Depth![i], second.Outputs.Depth![i]);
            }
        }
    }

    [Fact]
    public void StaticRepeatedFrameRecomputesNothingAfterTheFirst()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed);
        var a = ReuseTestModels.Frame(1);
        var first = runner.Run(a, 0, TaskSet.All);
        Assert.True(first.Accounting.Keyframe);
        Assert.Equal("start", first.Accounting.KeyframeReason);
        for (int f = 1; f < 5; f++)
        {
            var frame = runner.Run(a, f, TaskSet.All);
            Assert.False(frame.Accounting.Keyframe);
            Assert.All(frame.Accounting.Tokens, t => Assert.Equal(0, t.Recomputed));
            Assert.Equal(first.Outputs.Depth, frame.Outputs.Depth);
            // Sub-tasks pay only the gates' scoring (the tiny model's dense patch embedding is charged to the base).
            var depth = VisionTask.Depth;
            Assert.True(frame.Accounting.ExecutedFlops[depth] < 0.05 * frame.Accounting.DenseFlops[depth]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // the hMLP stem's per-cell LayerNorm magnifies noise in flat patches
    public void CameraNoiseOnAStaticSceneRecomputesFewTokens(bool hmlpStem)
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model(hmlpStem);
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed);
        // Textured top half, flat mid-grey bottom half (0 after normalisation, like a plain wall): in flat
        // patches a stem's output is mostly its response to the noise itself.
        var scene = ReuseTestModels.Frame(1);
        scene[.., .., TensorIndex.Slice(ReuseTestModels.Height / 2, null), ..] = 0;
        var generator = new Generator(3);
        double recomputed = 0;
        for (int f = 0; f < 10; f++)
        {
            // ~1.3 grey levels of noise (input std is 0.25 per unit pixel).
            var noisy = scene + 0.02f * randn(scene.shape, generator: generator);
            var frame = runner.Run(noisy, f, TaskSet.All);
            if (f > 0) recomputed += frame.Accounting.RecomputedRatio;
        }
        Assert.True(recomputed / 9 < 0.05, $"recomputed {recomputed / 9:P1} of tokens under noise");
    }
}
