using StreamMtl.Pipeline.Runners;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Reuse;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

public sealed class ReuseStreamRunnerTests
{
    [Fact]
    public void KeyframesAtStartIntervalGapResetSizeChangeAndSceneCut()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed with { KeyframeInterval = 3, MaxIndexStep = 2 });
        var a = ReuseTestModels.Frame(1);
        string[] reasons = [.. Enumerable.Range(0, 7).Select(f => runner.Run(a, f, TaskSet.All).Accounting.KeyframeReason ?? "-")];
        Assert.Equal(["start", "-", "-", "interval", "-", "-", "interval"], reasons);
        Assert.Equal("gap", runner.Run(a, 9, TaskSet.All).Accounting.KeyframeReason);
        Assert.Null(runner.Run(a, 10, TaskSet.All).Accounting.KeyframeReason);
        runner.Reset();
        Assert.Equal("start", runner.Run(a, 11, TaskSet.All).Accounting.KeyframeReason);
        Assert.Equal("scene-cut", runner.Run(ReuseTestModels.Frame(2), 12, TaskSet.All).Accounting.KeyframeReason);
        var scutTokens = runner.Run(ReuseTestModels.Frame(2), 13, TaskSet.All).Accounting;
        Assert.All(scutTokens.Tokens, t => Assert.Equal(0, t.Recomputed));
        Assert.Equal("size", runner.Run(randn(1, 3, 48, 64), 14, TaskSet.All).Accounting.KeyframeReason);
    }

    [Fact]
    public void A_keyframe_phase_brings_the_first_interval_keyframe_forward_and_keeps_the_interval_after_it()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed with { KeyframeInterval = 4 }, keyframePhase: 3);
        var a = ReuseTestModels.Frame(1);
        string[] reasons = [.. Enumerable.Range(0, 10).Select(f => runner.Run(a, f, TaskSet.All).Accounting.KeyframeReason ?? "-")];
        Assert.Equal(["start", "interval", "-", "-", "-", "interval", "-", "-", "-", "interval"], reasons);
        // A reset starts the phase again.
        runner.Reset();
        Assert.Equal(["start", "interval", "-"], Enumerable.Range(20, 3).Select(f => runner.Run(a, f, TaskSet.All).Accounting.KeyframeReason ?? "-"));
    }

    [Fact]
    public void Rolling_refresh_recomputes_a_stripe_of_every_gate_per_frame_and_never_keyframes_on_the_interval()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        const int K = 4;
        using var rolling = new ReuseStreamRunner(model, ReuseSettings.Default with { KeyframeInterval = K, RollingRefresh = true });
        var a = ReuseTestModels.Frame(1);
        var frames = Enumerable.Range(0, 3 * K + 1).Select(f => rolling.Run(a, f, TaskSet.All).Accounting).ToList();
        Assert.Equal(["start"], frames.Select(x => x.KeyframeReason).OfType<string>());
        foreach (var frame in frames.Skip(1))
        {
            // An unchanged frame: the gates pick nothing, so every gate recomputes exactly its stripe, ceil or floor of N/K.
            Assert.All(frame.Tokens, t => Assert.InRange(t.Recomputed, t.Total / K, (t.Total + K - 1) / K));
        }
    }

    [Theory]
    [InlineData(10, new[] { 0, 7, 4, 1, 8, 5, 2, 9, 6, 3, 0 })]
    [InlineData(4, new[] { 0, 3, 2, 1, 0 })]
    [InlineData(1, new[] { 0, 0 })]
    [InlineData(0, new[] { 0, 0 })]
    public void Streams_of_one_engine_get_distinct_phases_spread_over_the_interval(int interval, int[] expected)
    {
        Assert.Equal(expected, Enumerable.Range(0, expected.Length).Select(i => ReuseState.KeyframePhase(i, interval)));
        for (int k = 2; k <= 60; k++)
        {
            // The first k streams all differ, for every interval.
            Assert.Equal(k, Enumerable.Range(0, k).Select(i => ReuseState.KeyframePhase(i, k)).Distinct().Count());
        }
    }

    [Fact]
    public void SmallIndexStepsFromDroppedFramesAreGatedLargeOnesAndStepsBackAreKeyframes()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseSettings.Default with { KeyframeInterval = 0, MaxIndexStep = 4 });
        var a = ReuseTestModels.Frame(1);
        long[] indices = [0, 4, 9, 10, 7];
        var accountings = indices.Select(i => runner.Run(a, i, TaskSet.All).Accounting).ToList();
        Assert.Equal(["start", "-", "gap", "-", "gap"], accountings.Select(x => x.KeyframeReason ?? "-"));
        // After a skip the same frame is still reused: every branch ran on the previous processed frame.
        Assert.All(accountings[1].Tokens, t => Assert.Equal(0, t.Recomputed));
    }

    [Fact]
    public void The_interval_counts_frames_run_so_a_stream_that_loses_frames_under_load_is_still_gated()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed with { KeyframeInterval = 4 });
        var a = ReuseTestModels.Frame(1);
        // A starved stream: one frame in 20 reaches inference. Every 4th frame run is a keyframe, the rest are gated.
        string[] reasons = [.. Enumerable.Range(0, 9).Select(i => runner.Run(a, 20L * i, TaskSet.All).Accounting.KeyframeReason ?? "-")];
        Assert.Equal(["start", "-", "-", "-", "interval", "-", "-", "-", "interval"], reasons);
        // Past the default step limit (300 indices) the jump is still a gap keyframe.
        Assert.Equal("gap", runner.Run(a, 160 + ReuseSettings.Default.MaxIndexStep + 1, TaskSet.All).Accounting.KeyframeReason);
    }

    [Fact]
    public void KeyframeOutputsEqualDense()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var reuse = new ReuseStreamRunner(model, ReuseTestModels.Keyframed);
        using var dense = new DenseStreamRunner(model);
        var a = ReuseTestModels.Frame(4);
        var gated = reuse.Run(a, 0, TaskSet.All).Outputs;
        var reference = dense.Run(a, 0, TaskSet.All).Outputs;
        Assert.Equal(reference.Labels, gated.Labels);
        Assert.True(reference.Depth!.Zip(gated.Depth!).All(p => Math.Abs(p.First - p.Second) <= 1e-4 * Math.Abs(p.First)));
        Assert.True(reference.Normals!.Zip(gated.Normals!).All(p => Math.Abs(p.First - p.Second) <= 1e-4));
    }

    [Fact]
    public void StreamsKeepIndependentStates()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var one = new ReuseStreamRunner(model, ReuseTestModels.Keyframed);
        using var two = new ReuseStreamRunner(model, ReuseTestModels.Keyframed);
        var a = ReuseTestModels.Frame(1);
        var b = ReuseTestModels.WithPatchChanged(a, 1, 1, 5);
        one.Run(a, 0, TaskSet.All);
        Assert.Equal("start", two.Run(b, 0, TaskSet.All).Accounting.KeyframeReason);
        var oneNext = one.Run(b, 1, TaskSet.All).Accounting;
        var twoNext = two.Run(b, 1, TaskSet.All).Accounting;
        Assert.Equal(1, oneNext.Tokens.First(t => t.Layer == "blocks.0.qkv").Recomputed);
        Assert.Equal(0, twoNext.Tokens.First(t => t.Layer == "blocks.0.qkv").Recomputed);
    }

    [Fact]
    public void TaskThatSkippedFramesIsRecomputedInFullWhenItReturns()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed);
        var a = ReuseTestModels.Frame(1);
        runner.Run(a, 0, TaskSet.All);
        var segOnly = runner.Run(a, 1, TaskSet.Segmentation);
        Assert.Equal([VisionTask.Segmentation], segOnly.Accounting.DenseFlops.Keys);
        Assert.Null(segOnly.Outputs.Depth);
        var back = runner.Run(a, 2, TaskSet.All).Accounting;
        Assert.All(back.Tokens.Where(t => t.Task == VisionTask.Depth && t.Layer != "blocks.4.attn"),
            t => Assert.Equal(ReuseTestModels.Tokens, t.Recomputed));
        Assert.All(back.Tokens.Where(t => t.Task == VisionTask.Segmentation), t => Assert.Equal(0, t.Recomputed));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FlopsMatchHandCounts(bool gateEveryLayer)
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        var c = model.Config;
        using var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed with { GateEveryLayer = gateEveryLayer });
        long n = ReuseTestModels.Tokens, d = c.Dim, m = c.MlpDim, hd = c.HeadDim;
        long embed = 2 * n * c.PatchInputs * d;
        long block = 2 * n * (d * 3 * d + d * d + d * m + m * d) + 4 * c.Heads * n * n * hd;
        long Head(VisionTask t) => 2 * n * (2 * d * c.HeadHidden + c.HeadHidden * t.Channels(c.Classes) * c.Patch * c.Patch);
        int tail = c.Blocks - c.SplitLayer;
        var dense = new Dictionary<VisionTask, long>
        {
            [VisionTask.Segmentation] = embed + c.Blocks * block + Head(VisionTask.Segmentation),
            // Sub-task linears run on their folded weights W_base + B*A: the low-rank products do not run.
            [VisionTask.Depth] = tail * block + Head(VisionTask.Depth),
            [VisionTask.Normals] = tail * block + Head(VisionTask.Normals),
        };
        var a = ReuseTestModels.Frame(1);
        var key = runner.Run(a, 0, TaskSet.All).Accounting;
        foreach (var (task, flops) in dense)
        {
            Assert.Equal(flops, key.DenseFlops[task]);
            Assert.Equal(flops, key.ExecutedFlops[task]);
        }
        // Static frame: only scoring (3 flops per element) at the pixel gate in front of the patch embedding; gating every
        // layer, also at the qkv gate of every block (attention is never refreshed, so the proj and MLP gates take its rows)
        // and the head. The propagated pass scores nothing after the pixel gate.
        long pixelGate = 3 * n * c.PatchInputs;
        long blockGate = gateEveryLayer ? 3 * n * d : 0, headGate = gateEveryLayer ? 3 * n * 2 * d : 0;
        var still = runner.Run(a, 1, TaskSet.All).Accounting;
        Assert.Equal(pixelGate + c.Blocks * blockGate + headGate, still.ExecutedFlops[VisionTask.Segmentation]);
        Assert.Equal(tail * blockGate + headGate, still.ExecutedFlops[VisionTask.Depth]);
        Assert.Equal(dense[VisionTask.Depth], still.DenseFlops[VisionTask.Depth]);
        // One token changed: its embedding and rows through every linear, its query against all keys, plus the same scoring.
        var one = runner.Run(ReuseTestModels.WithPatchChanged(a, 0, 0, 3), 2, TaskSet.All).Accounting;
        long blockRow = block / n - 4 * c.Heads * n * hd + 4 * c.Heads * n * hd;
        Assert.Equal(pixelGate + embed / n + c.Blocks * (blockGate + blockRow) + headGate + Head(VisionTask.Segmentation) / n,
            one.ExecutedFlops[VisionTask.Segmentation]);
    }

    [Fact]
    public void The_mlp_gate_scores_its_own_rows_only_when_attention_may_be_refreshed()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        var c = model.Config;
        long n = ReuseTestModels.Tokens, d = c.Dim;
        long pixelGate = 3 * n * c.PatchInputs, headGate = 3 * n * 2 * d;
        var a = ReuseTestModels.Frame(1);
        long StillFrameFlops(ReuseSettings settings)
        {
            using var runner = new ReuseStreamRunner(model, settings);
            runner.Run(a, 0, TaskSet.Segmentation);
            return runner.Run(a, 1, TaskSet.Segmentation).Accounting.ExecutedFlops[VisionTask.Segmentation];
        }
        // Never refreshed: the qkv gate scores each block (gating every layer) or no gate after the first scores (propagated).
        // May be refreshed: the MLP gate scores too (nothing changed, so the proj gate still takes the qkv gate's rows).
        Assert.Equal(pixelGate + c.Blocks * 3 * n * d + headGate, StillFrameFlops(ReuseTestModels.Keyframed with { GateEveryLayer = true }));
        Assert.Equal(pixelGate, StillFrameFlops(ReuseTestModels.Keyframed));
        Assert.Equal(pixelGate + c.Blocks * 2 * 3 * n * d + headGate, StillFrameFlops(ReuseTestModels.Keyframed with { AttentionRefresh = 0.5f }));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void NoTensorLeaksOver500Frames(bool propagated)
    {
        using var model = ReuseTestModels.Model();
        using var frames = NewDisposeScope();
        var inputs = ReuseTestModels.LeakFrames(model);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        // Attention refreshed: a gate at every layer. Never refreshed: the propagated pass, here also through held and
        // resumed sub-tasks (the reduced level on every other stretch of frames).
        var runner = new ReuseStreamRunner(model, ReuseTestModels.Keyframed with { KeyframeInterval = 7, AttentionRefresh = propagated ? 1 : 0.5f });
        runner.Run(inputs[2], 0, TaskSet.All);
        long warm = 0;
        for (int f = 1; f <= 500; f++)
        {
            var tasks = f % 50 == 0 ? TaskSet.Depth : TaskSet.All;
            var level = propagated && f / 17 % 2 == 1 ? ComputeLevel.Reduced : ComputeLevel.Full;
            runner.Run(inputs[f % 13 == 0 ? 2 : f % 3 == 0 ? 1 : f % 5 == 0 ? 3 : 0], f % 101 == 0 ? f + 1 : f, tasks, level);
            if (f == 20) warm = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        Assert.Equal(warm, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        runner.Dispose();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void FactoryChoosesReuseUnlessDenseAndRejectsBadSettings()
    {
        using var model = ReuseTestModels.Model();
        using var reuse = StreamRunners.Create(model, ReuseSettings.Default);
        using var dense = StreamRunners.Create(model, ReuseSettings.Default with { Dense = true });
        Assert.IsType<ReuseStreamRunner>(reuse);
        Assert.IsType<DenseStreamRunner>(dense);
        var e = Assert.Throws<ArgumentException>(() => StreamRunners.Create(model, ReuseSettings.Default with { AttentionRefresh = 2, Budget = 0 }));
        Assert.Contains("attention refresh", e.Message);
        Assert.Contains("budget", e.Message);
    }
}
