using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Reuse;
using StreamMtl.Pipeline.Runners;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

/// <summary>The reuse runner at reduced compute levels: sub-tasks held over frames, resumed gated, levels switchable per frame.</summary>
public sealed class ComputeLevelRunnerTests
{
    private static readonly ReuseSettings Settings = ReuseTestModels.Keyframed with { KeyframeInterval = 0 };

    [Fact]
    public void Reduced_alternates_the_sub_tasks_and_repeats_the_held_ones_last_output()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, Settings);
        var a = ReuseTestModels.Frame(1);
        var first = runner.Run(a, 0, TaskSet.All, ComputeLevel.Reduced);
        Assert.Equal("start", first.Accounting.KeyframeReason);
        Assert.Equal(TaskSet.None, first.Accounting.HeldTasks);
        Assert.Equal(ComputeLevel.Reduced, first.Accounting.Level);
        var held = new List<TaskSet>();
        var b = ReuseTestModels.WithPatchChanged(a, 1, 1, 7);
        for (int f = 1; f <= 6; f++)
        {
            var analysis = runner.Run(f % 2 == 0 ? a : b, f, TaskSet.All, ComputeLevel.Reduced);
            var accounting = analysis.Accounting;
            held.Add(accounting.HeldTasks);
            // Every requested output is in the result, computed or repeated.
            Assert.NotNull(analysis.Outputs.Labels);
            Assert.NotNull(analysis.Outputs.Depth);
            Assert.NotNull(analysis.Outputs.Normals);
            Assert.True(accounting.DenseFlops.ContainsKey(VisionTask.Segmentation));
            foreach (var task in accounting.HeldTasks.Tasks())
            {
                Assert.False(accounting.DenseFlops.ContainsKey(task), $"{task} held but counted");
            }
            // A sub-task run after being held is gated against its own references, not recomputed in full.
            foreach (var task in VisionTasks.SubTasks.Where(t => !accounting.HeldTasks.Contains(t)))
            {
                var tokens = accounting.Tokens.Where(t => t.Task == task).ToList();
                Assert.NotEmpty(tokens);
                Assert.True(tokens.Sum(t => (long)t.Recomputed) < tokens.Sum(t => (long)t.Total), $"{task} recomputed in full on frame {f}");
            }
        }
        Assert.Equal([TaskSet.Normals, TaskSet.Depth, TaskSet.Normals, TaskSet.Depth, TaskSet.Normals, TaskSet.Depth], held);
    }

    [Fact]
    public void A_held_output_is_the_one_computed_last()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, Settings);
        var a = ReuseTestModels.Frame(1);
        for (int f = 0; f < 7; f++)
        {
            runner.Run(a, f, TaskSet.All, ComputeLevel.Minimal);
        }
        var computed = runner.Run(ReuseTestModels.WithPatchChanged(a, 0, 0, 3), 7, TaskSet.All, ComputeLevel.Minimal);
        Assert.False(computed.Accounting.HeldTasks.Contains(VisionTask.Depth));
        var next = runner.Run(ReuseTestModels.WithPatchChanged(a, 2, 3, 4), 8, TaskSet.All, ComputeLevel.Minimal);
        Assert.True(next.Accounting.HeldTasks.Contains(VisionTask.Depth));
        // A held map is the same copy as the frame that computed it (never written after it is handed out), not copied again.
        Assert.Same(computed.Outputs.Depth, next.Outputs.Depth);
        var handedOut = computed.Outputs.Depth!.ToArray();
        // The next frame that computes depth on a changed patch writes a new copy and leaves the old one as it was.
        Predictions later;
        long frame = 9;
        do
        {
            later = runner.Run(ReuseTestModels.WithPatchChanged(a, 1, 2, (int)frame), frame, TaskSet.All, ComputeLevel.Minimal).Outputs;
            frame++;
        }
        while (ReferenceEquals(later.Depth, computed.Outputs.Depth) && frame < 30);
        Assert.NotSame(computed.Outputs.Depth, later.Depth);
        Assert.NotEqual(handedOut, later.Depth);
        Assert.Equal(handedOut, computed.Outputs.Depth);
    }

    [Fact]
    public void Minimal_computes_each_sub_task_every_eighth_frame_and_full_every_frame()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, Settings);
        var a = ReuseTestModels.Frame(1);
        runner.Run(a, 0, TaskSet.All, ComputeLevel.Minimal);
        var depthRuns = Enumerable.Range(1, 16).Count(f => !runner.Run(a, f, TaskSet.All, ComputeLevel.Minimal).Accounting.HeldTasks.Contains(VisionTask.Depth));
        Assert.Equal(2, depthRuns);
        // Back to full on the next frame, with nothing recomputed from scratch.
        var full = runner.Run(a, 17, TaskSet.All, ComputeLevel.Full).Accounting;
        Assert.Equal(TaskSet.None, full.HeldTasks);
        Assert.Equal(ComputeLevel.Full, full.Level);
        Assert.Null(full.KeyframeReason);
        Assert.All(full.Tokens, t => Assert.Equal(0, t.Recomputed));
    }

    [Fact]
    public void Coarse_spreads_the_rolling_refresh_over_twice_the_interval_and_holds_like_minimal()
    {
        using var scope = NewDisposeScope();
        foreach (var (f, m, c) in SideBySide(ComputeLevel.Minimal, ComputeLevel.Coarse, (a, _) => a))
        {
            // A still frame: the first gate recomputes the refresh stripe only, N/K tokens at minimal, N/2K at coarse.
            Assert.Equal(ComputeLevel.Coarse, c.Level);
            Assert.Equal(m.HeldTasks, c.HeldTasks);
            long stripe = c.Tokens[0].Total;
            Assert.Equal(Stripe(stripe, 4, f % 4), m.Tokens[0].Recomputed);
            Assert.Equal(Stripe(stripe, 8, f % 8), c.Tokens[0].Recomputed);
        }

        static long Stripe(long tokens, int interval, int slot) => Enumerable.Range(0, (int)tokens).Count(t => t % interval == slot);
    }

    [Fact]
    public void Lean_gates_like_coarse_and_computes_every_task_on_every_frame()
    {
        using var scope = NewDisposeScope();
        // Still frames and frames with one new patch: the first gate picks the same rows at both levels (the coarse
        // threshold and the stretched stripe), but lean runs depth and normals on every frame and holds nothing.
        foreach (var (f, l, c) in SideBySide(ComputeLevel.Lean, ComputeLevel.Coarse,
            (a, f) => f % 3 == 0 ? ReuseTestModels.WithPatchChanged(a, 2, f % 5, 50 + f) : a))
        {
            Assert.Equal(ComputeLevel.Lean, l.Level);
            Assert.Equal(TaskSet.None, l.HeldTasks);
            Assert.Equal(c.Tokens[0].Recomputed, l.Tokens[0].Recomputed);
            foreach (var task in VisionTasks.SubTasks)
            {
                Assert.True(l.DenseFlops.ContainsKey(task), $"{task} not computed at lean on frame {f}");
            }
        }
        Assert.Equal(ComputeLevel.Lean, ComputeLevels.All[3]);
        Assert.True(ComputeLevels.TryParse("LEAN", out var parsed) && parsed == ComputeLevel.Lean);
    }

    /// <summary>Two runners (refresh interval 4) over the same frames 1..16, one at each level after a first frame: per frame
    /// its index and the two accountings. <paramref name="frame"/> makes frame f from the first frame.</summary>
    private static List<(int Frame, FrameAccounting First, FrameAccounting Second)> SideBySide(ComputeLevel first, ComputeLevel second,
        Func<Tensor, int, Tensor> frame)
    {
        using var model = ReuseTestModels.Model();
        var settings = ReuseSettings.Default with { KeyframeInterval = 4 };
        using var one = new ReuseStreamRunner(model, settings);
        using var two = new ReuseStreamRunner(model, settings);
        var a = ReuseTestModels.Frame(1);
        one.Run(a, 0, TaskSet.All, first);
        two.Run(a, 0, TaskSet.All, second);
        var frames = new List<(int, FrameAccounting, FrameAccounting)>();
        for (int f = 1; f <= 16; f++)
        {
            var input = frame(a, f);
            frames.Add((f, one.Run(input, f, TaskSet.All, first).Accounting, two.Run(input, f, TaskSet.All, second).Accounting));
        }
        return frames;
    }

    [Fact]
    public void Keyframes_and_the_frame_after_a_scene_cut_compute_every_task()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, Settings);
        var a = ReuseTestModels.Frame(1);
        runner.Run(a, 0, TaskSet.All, ComputeLevel.Minimal);
        runner.Run(a, 1, TaskSet.All, ComputeLevel.Minimal);
        var cut = runner.Run(ReuseTestModels.Frame(2), 2, TaskSet.All, ComputeLevel.Minimal).Accounting;
        Assert.Equal("scene-cut", cut.KeyframeReason);
        Assert.NotEqual(TaskSet.None, cut.HeldTasks); // decided before the first gate saw the cut
        var after = runner.Run(ReuseTestModels.Frame(2), 3, TaskSet.All, ComputeLevel.Minimal).Accounting;
        Assert.Equal(TaskSet.None, after.HeldTasks & cut.HeldTasks);
        Assert.Equal("gap", runner.Run(a, 400, TaskSet.All, ComputeLevel.Minimal).Accounting.KeyframeReason);
    }

    [Fact]
    public void Without_the_base_task_nothing_is_held()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, Settings);
        var a = ReuseTestModels.Frame(1);
        for (int f = 0; f < 4; f++)
        {
            Assert.Equal(TaskSet.None, runner.Run(a, f, TaskSet.Depth | TaskSet.Normals, ComputeLevel.Minimal).Accounting.HeldTasks);
        }
    }

    [Fact]
    public void Invalid_levels_are_rejected_with_what_is_wrong()
    {
        Assert.Empty((ReuseSettings.Default with { Adaptive = true, Level = ComputeLevel.Reduced, Floor = ComputeLevel.Minimal }).Validate());
        Assert.Contains("floor (reduced) must not be above level (minimal): the order is full, reduced, minimal, lean or coarse",
            (ReuseSettings.Default with { Level = ComputeLevel.Minimal, Floor = ComputeLevel.Reduced }).Validate());
        Assert.Contains("level must be full, reduced, minimal, lean or coarse, got 5", (ReuseSettings.Default with { Level = (ComputeLevel)5 }).Validate());
        Assert.Contains("floor must be full, reduced, minimal, lean or coarse, got -1", (ReuseSettings.Default with { Floor = (ComputeLevel)(-1) }).Validate());
        Assert.Contains("adaptive and level need temporal reuse: a dense stream always computes in full",
            (ReuseSettings.Default with { Dense = true, Adaptive = true }).Validate());
        var e = Assert.Throws<ArgumentException>(() => StreamRunners.Create(ReuseTestModels.Model(), ReuseSettings.Default with { Level = (ComputeLevel)9 }));
        Assert.Contains("level must be", e.Message, StringComparison.Ordinal);
    }
}
