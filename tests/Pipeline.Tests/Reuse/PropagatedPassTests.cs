using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

/// <summary>
/// The propagated gated pass (the first gate's rows through every block, <see cref="GatedPass.Propagates"/>) against the
/// pass that scores a gate at every layer (<see cref="ReuseSettings.GateEveryLayer"/>).
/// </summary>
public sealed class PropagatedPassTests
{
    private static readonly int[] Grid = [6, 8];

    /// <summary>
    /// At threshold 0 a gate picks exactly the rows whose input moved at all; with attention never refreshed those are, at
    /// every layer, the first gate's rows (a held token's inputs are bit for bit last frame's). So the two passes pick the
    /// same rows at every layer and compute the same outputs, through held sub-tasks resumed, keyframes and the stripe.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void At_threshold_zero_it_picks_and_computes_what_gating_every_layer_does(bool stripe)
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model(hmlpStem: true, refine: true);
        using var noGrad = no_grad();
        var settings = new ReuseSettings { Threshold = 0, Budget = 1, SceneCutLimit = 1, KeyframeInterval = 4, RollingRefresh = stripe };
        using var propagated = new ReuseState(model.Config, 0);
        using var everyLayer = new ReuseState(model.Config, 0);
        var a = ReuseTestModels.Frame(1);
        var b = ReuseTestModels.WithPatchChanged(a, 2, 3, 9);
        var c = ReuseTestModels.WithPatchChanged(b, 4, 1, 11);
        var d = ReuseTestModels.WithPatchChanged(c, 0, 7, 12);
        // (frame, tasks computed, tasks resumed after being held): frame 3 holds the sub-tasks, frame 4 resumes them after
        // a patch moved while they were held; frame 6 is a keyframe in the middle.
        var plan = new (Tensor Frame, TaskSet Tasks, TaskSet Resumed, string? Keyframe)[]
        {
            (a, TaskSet.All, TaskSet.None, "start"), (a, TaskSet.All, TaskSet.None, null), (b, TaskSet.All, TaskSet.None, null),
            (c, TaskSet.Segmentation, TaskSet.None, null), (d, TaskSet.All, TaskSet.Depth | TaskSet.Normals, null),
            (d, TaskSet.All, TaskSet.None, null), (a, TaskSet.All, TaskSet.None, "interval"), (c, TaskSet.All, TaskSet.None, null),
        };
        for (int f = 0; f < plan.Length; f++)
        {
            var (frame, tasks, resumed, keyframe) = plan[f];
            int? slot = stripe && keyframe is null ? f % settings.KeyframeInterval : null;
            var one = new GatedPass(settings, new FlopCounter(), f, ReuseTestModels.Tokens, keyframe, slot);
            var other = new GatedPass(settings with { GateEveryLayer = true }, new FlopCounter(), f, ReuseTestModels.Tokens, keyframe, slot);
            Assert.True(one.Propagates);
            Assert.False(other.Propagates);
            var heads = model.ForwardGated(frame, tasks, propagated, one, resumed);
            var reference = model.ForwardGated(frame, tasks, everyLayer, other, resumed);
            propagated.Advance(f, (Grid[0], Grid[1]), keyframe is not null);
            everyLayer.Advance(f, (Grid[0], Grid[1]), keyframe is not null);

            // The resumed branch's own input gate is the one record the other pass has no counterpart for.
            Assert.Equal(Rows(other), Rows(one).Where(t => t.Layer != "input"));
            foreach (var task in tasks.Tasks())
            {
                float diff = (heads[task].TokenOutputs - reference[task].TokenOutputs).abs().max().item<float>();
                Assert.True(diff < 1e-4f, $"frame {f} {task}: max |propagated - every layer| = {diff}");
            }
            if (f == 4)
            {
                // What moved while the sub-tasks were held (frame 3's patch) plus this frame's patch (and the stripe).
                var depthInput = Rows(one).Single(t => t.Task == VisionTask.Depth && t.Layer == "input");
                Assert.InRange(depthInput.Recomputed, 2, ReuseTestModels.Tokens - 1);
                Assert.True(depthInput.Recomputed > Rows(one).First(t => t.Layer == "blocks.0.qkv").Recomputed);
            }
        }
    }

    private static List<(VisionTask Task, string Layer, int Recomputed)> Rows(GatedPass pass) =>
        [.. pass.Tokens.Select(t => (t.Task, t.Layer, t.Recomputed))];

    [Fact]
    public void A_token_the_first_gate_holds_is_not_recomputed_anywhere_and_one_that_moved_runs_every_block()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var noGrad = no_grad();
        using var state = new ReuseState(model.Config, ReuseTestModels.Keyframed.Threshold);
        var a = ReuseTestModels.Frame(1);
        model.ForwardGated(a, TaskSet.All, state, Pass(0, "start"));
        state.Advance(0, (Grid[0], Grid[1]), keyframe: true);
        var moved = Pass(1, null);
        model.ForwardGated(ReuseTestModels.WithPatchChanged(a, 2, 3, 9), TaskSet.All, state, moved);
        // One token everywhere: the pixel gate, then blocks 1..L of every branch and every head, none of them scored.
        Assert.All(moved.Tokens, t => Assert.Equal(1, t.Recomputed));
        Assert.Equal(1 + model.Config.SplitLayer * 4 + 3 * ((model.Config.Blocks - model.Config.SplitLayer) * 4 + 1), moved.Tokens.Count);
    }

    [Fact]
    public void Switching_between_the_passes_recomputes_everything_once_and_frees_the_other_passes_buffers()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var noGrad = no_grad();
        using var state = new ReuseState(model.Config, ReuseTestModels.Keyframed.Threshold);
        var a = ReuseTestModels.Frame(1);
        var b = ReuseTestModels.WithPatchChanged(a, 2, 3, 9);
        long n = ReuseTestModels.Tokens;
        var block = state.Trunk.Block(0);
        model.ForwardGated(a, TaskSet.All, state, Pass(0, "start"));
        state.Advance(0, (Grid[0], Grid[1]), keyframe: true);
        Assert.True(block.HasKeysValues(n));
        Assert.Null(block.Qkv.Output);

        var switched = Pass(1, null, everyLayer: true);
        model.ForwardGated(b, TaskSet.All, state, switched);
        state.Advance(1, (Grid[0], Grid[1]), switched.Keyframe);
        Assert.Equal("mode", switched.KeyframeReason);
        Assert.All(switched.Tokens, t => Assert.Equal(n, t.Recomputed));
        Assert.False(block.HasKeysValues(n));
        Assert.NotNull(block.Qkv.Output);

        // Gated again on the next frame, in the new pass's buffers.
        var next = Pass(2, null, everyLayer: true);
        model.ForwardGated(a, TaskSet.All, state, next);
        state.Advance(2, (Grid[0], Grid[1]), next.Keyframe);
        Assert.False(next.Keyframe);
        Assert.Equal(1, next.Tokens.First(t => t.Layer == "blocks.0.qkv").Recomputed);

        var back = Pass(3, null);
        model.ForwardGated(a, TaskSet.All, state, back);
        Assert.Equal("mode", back.KeyframeReason);
        Assert.True(block.HasKeysValues(n));
        Assert.Null(block.Qkv.Output);
    }

    private static GatedPass Pass(long frame, string? keyframe, bool everyLayer = false) =>
        new(ReuseTestModels.Keyframed with { GateEveryLayer = everyLayer }, new FlopCounter(), frame, ReuseTestModels.Tokens, keyframe);
}
