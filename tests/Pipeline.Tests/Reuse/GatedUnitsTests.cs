using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Reuse;
using StreamMtl.Pipeline.Runners;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

/// <summary>The compute policy inside the temporal-reuse pass: units skipped per frame at a compute budget.</summary>
public sealed class GatedUnitsTests
{
    /// <summary>The tiny reuse model with a policy whose weights rank units differently per frame; the other weights are
    /// those of <see cref="ReuseTestModels.Model"/>.</summary>
    private static MultiTaskVit WithPolicy()
    {
        using var plain = ReuseTestModels.Model();
        var model = TinyModels.WithRandomDeltas(TinyModels.Config() with { Policy = new PolicyConfig { Hidden = 8 } });
        using (no_grad())
        {
            var own = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            foreach (var (name, p) in plain.named_parameters())
            {
                own[name].copy_(p);
            }
            foreach (var (name, p) in own.Where(p => p.Key.StartsWith("policy.fc", StringComparison.Ordinal)))
            {
                p.normal_(0, 1, generator: new Generator(7));
            }
        }
        return model;
    }

    private static Tensor[] Frames()
    {
        var a = ReuseTestModels.Frame(1);
        var b = ReuseTestModels.WithPatchChanged(a, 2, 3, 9);
        return [a, a, b, ReuseTestModels.WithPatchChanged(b, 4, 1, 11), ReuseTestModels.WithPatchChanged(a, 0, 7, 12), b];
    }

    [Fact]
    public void Budget_one_reproduces_todays_gated_pass()
    {
        using var scope = NewDisposeScope();
        using var plain = ReuseTestModels.Model();
        using var model = WithPolicy();
        using var today = new ReuseStreamRunner(plain, ReuseSettings.Default);
        using var budgeted = new ReuseStreamRunner(model, ReuseSettings.Default with { ComputeBudget = 1 });
        var frames = Frames();
        for (int f = 0; f < frames.Length; f++)
        {
            var expected = today.Run(frames[f], f, TaskSet.All);
            var actual = budgeted.Run(frames[f], f, TaskSet.All, ComputeLevel.Full, 1);
            Assert.Equal(expected.Accounting.ExecutedTotal, actual.Accounting.ExecutedTotal);
            Assert.Equal(expected.Accounting.DenseTotal, actual.Accounting.DenseTotal);
            Assert.Equal(1, actual.Accounting.ComputeBudget);
            Assert.Empty(actual.Accounting.SkippedUnits);
            Assert.Equal(expected.Outputs.Labels, actual.Outputs.Labels);
            AssertClose(expected.Outputs.Depth!, actual.Outputs.Depth!, $"frame {f} depth");
            AssertClose(expected.Outputs.Normals!, actual.Outputs.Normals!, $"frame {f} normals");
        }
    }

    [Fact]
    public void Budget_one_with_exact_settings_equals_the_dense_model()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        using var state = new ReuseState(model.Config, 0);
        var frames = Frames();
        for (int f = 0; f < frames.Length; f++)
        {
            var pass = new GatedPass(ReuseTestModels.Exact, new FlopCounter(), f, ReuseTestModels.Tokens, f == 0 ? "start" : null) { ComputeBudget = 1 };
            var heads = model.ForwardGated(frames[f], TaskSet.All, state, pass);
            Assert.Null(pass.Units);
            using var dense = model.Forward(frames[f], new ForwardOptions(TaskSet.All, Fused: false));
            foreach (var task in VisionTasks.All)
            {
                float diff = (model.AssembleHead(task, heads[task].TokenOutputs, 6, 8) - dense.Raw(task)).abs().max().item<float>();
                Assert.True(diff < 1e-4f, $"frame {f} {task}: max |gated - dense| = {diff}");
            }
        }
    }

    /// <summary>With exact settings, a gated pass skipping some units equals the dense pass skipping the same units, on every
    /// frame, also when the set changes from frame to frame (the blocks after a change recompute every token once).</summary>
    [Fact]
    public void Exact_gated_passes_with_skipped_units_equal_the_dense_pass_with_the_same_plan()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        using var state = new ReuseState(model.Config, 0);
        int units = model.Units.Count;
        int[][] skips = [[1, 5], [1, 5], [], [2, 6, 7], [1, 5], [0, 3, 4]];
        var frames = Frames();
        for (int f = 0; f < frames.Length; f++)
        {
            var pass = new GatedPass(ReuseTestModels.Exact, new FlopCounter(), f, ReuseTestModels.Tokens, f == 0 ? "start" : null);
            var heads = model.ForwardGated(frames[f], TaskSet.All, state, pass, units: GatedUnits.Skipping(units, skips[f]));
            using var dense = model.Forward(frames[f], new ForwardOptions(TaskSet.All, Fused: false, Units: UnitPlan.Skipping(units, skips[f])));
            foreach (var task in VisionTasks.All)
            {
                float diff = (model.AssembleHead(task, heads[task].TokenOutputs, 6, 8) - dense.Raw(task)).abs().max().item<float>();
                Assert.True(diff < 1e-4f, $"frame {f} {task}: max |gated - dense| = {diff}");
            }
        }
    }

    [Fact]
    public void A_budget_of_0_6_runs_fewer_flops_and_says_which_units_it_skipped()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var full = new ReuseStreamRunner(model, ReuseSettings.Default);
        using var budgeted = new ReuseStreamRunner(model, ReuseSettings.Default with { ComputeBudget = 0.6 });
        var frames = Frames();
        long fullFlops = 0, budgetFlops = 0;
        for (int f = 0; f < frames.Length; f++)
        {
            fullFlops += full.Run(frames[f], f, TaskSet.All).Accounting.ExecutedTotal;
            var frame = budgeted.Run(frames[f], f, TaskSet.All);
            budgetFlops += frame.Accounting.ExecutedTotal;
            Assert.Equal(0.6, frame.Accounting.ComputeBudget);
            Assert.NotEmpty(frame.Accounting.SkippedUnits);
            Assert.True(frame.Accounting.UnitFraction < 1);
            if (f == 0)
            {
                // A keyframe follows the policy unless FullKeyframes: every token of the units run, within the budget.
                Assert.True(frame.Accounting.ExecutedTotal <= 0.6 * frame.Accounting.DenseTotal,
                    $"keyframe executed {frame.Accounting.ExecutedTotal} of {frame.Accounting.DenseTotal}");
            }
        }
        Assert.True(budgetFlops < fullFlops, $"budget 0.6: {budgetFlops} FLOPs, budget 1: {fullFlops}");
    }

    [Fact]
    public void Full_keyframes_run_every_unit_and_later_frames_follow_the_policy()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var runner = new ReuseStreamRunner(model, ReuseSettings.Default with { ComputeBudget = 0.6, FullKeyframes = true });
        var frames = Frames();
        var keyframe = runner.Run(frames[0], 0, TaskSet.All).Accounting;
        Assert.True(keyframe.Keyframe);
        Assert.Equal(keyframe.DenseTotal, keyframe.ExecutedTotal);
        Assert.Empty(keyframe.SkippedUnits);
        var gated = runner.Run(frames[1], 1, TaskSet.All).Accounting;
        Assert.False(gated.Keyframe);
        Assert.NotEmpty(gated.SkippedUnits);
    }

    [Fact]
    public void A_skipped_units_state_is_untouched_and_its_downstream_recomputes_once_when_it_returns()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        using var state = new ReuseState(model.Config, ReuseTestModels.Keyframed.Threshold);
        var a = ReuseTestModels.Frame(1);
        var b = ReuseTestModels.WithPatchChanged(a, 2, 3, 9);
        int units = model.Units.Count;
        // Skipped units are the gate-per-layer pass's (the policy's budgets below 1 run it): every frame here is one.
        var settings = ReuseTestModels.Keyframed with { GateEveryLayer = true };
        GatedPass Pass(long frame) => new(settings, new FlopCounter(), frame, ReuseTestModels.Tokens, frame == 0 ? "start" : null);

        model.ForwardGated(a, TaskSet.All, state, Pass(0));
        state.Advance(0, (6, 8), keyframe: true);
        var skipped = state.Trunk.Block(1);
        using var qkvBefore = skipped.Qkv.Output!.clone();
        using var mlpBefore = skipped.Mlp.Output!.clone();
        using var attentionBefore = skipped.Attention!.clone();
        long? upstreamBefore = skipped.Upstream;

        // Frame 1 moves one patch and skips trunk block 2 (unit 1): identity for this frame, its state as it was.
        var skipping = Pass(1);
        model.ForwardGated(b, TaskSet.All, state, skipping, units: GatedUnits.Skipping(units, 1));
        state.Advance(1, (6, 8), keyframe: false);
        Assert.True(qkvBefore.allclose(skipped.Qkv.Output!, rtol: 0, atol: 0));
        Assert.True(mlpBefore.allclose(skipped.Mlp.Output!, rtol: 0, atol: 0));
        Assert.True(attentionBefore.allclose(skipped.Attention!, rtol: 0, atol: 0));
        Assert.Equal(upstreamBefore, skipped.Upstream);
        Assert.DoesNotContain(skipping.Tokens, t => t.Layer.StartsWith("blocks.1.", StringComparison.Ordinal));
        // Blocks after the skipped one saw a different upstream than at their last run: every token, once.
        Assert.All(skipping.Tokens.Where(t => t.Layer == "blocks.2.qkv"), t => Assert.Equal(ReuseTestModels.Tokens, t.Recomputed));
        Assert.True(skipping.Flops.DenseTotal > skipping.Flops.ExecutedTotal);

        // Frame 2 repeats frame 1 with every unit: trunk block 2 is gated against its frame-0 references (only what moved
        // since frame 0); the blocks after it ran after a different upstream at frame 1, so they recompute every token once more.
        var back = Pass(2);
        model.ForwardGated(b, TaskSet.All, state, back);
        state.Advance(2, (6, 8), keyframe: false);
        int returned = back.Tokens.Single(t => t.Layer == "blocks.1.qkv").Recomputed;
        Assert.InRange(returned, 1, ReuseTestModels.Tokens - 1);
        Assert.All(back.Tokens.Where(t => t.Layer is "blocks.2.qkv" or "blocks.3.qkv"), t => Assert.Equal(ReuseTestModels.Tokens, t.Recomputed));

        // Frame 3, the same units again: nothing upstream changed, nothing moved.
        var settled = Pass(3);
        model.ForwardGated(b, TaskSet.All, state, settled);
        Assert.All(settled.Tokens.Where(t => t.Layer.EndsWith(".qkv", StringComparison.Ordinal)), t => Assert.Equal(0, t.Recomputed));
    }

    [Fact]
    public void A_budget_below_one_needs_a_policy()
    {
        using var scope = NewDisposeScope();
        using var plain = ReuseTestModels.Model();
        var error = Assert.Throws<ArgumentException>(() => new ReuseStreamRunner(plain, ReuseSettings.Default with { ComputeBudget = 0.6 }));
        Assert.Contains("compute policy", error.Message, StringComparison.Ordinal);
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= 1e-4f, $"{what}: max difference {worst}");
    }
}
