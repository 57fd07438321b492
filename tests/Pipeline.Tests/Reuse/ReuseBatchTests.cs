using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Reuse;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Reuse;

/// <summary>Several streams' frames run as one batch (<see cref="ReuseStreamRunner.RunBatch"/>) against the same streams run one
/// by one: the same rows, FLOPs, keyframes and outputs.</summary>
public sealed class ReuseBatchTests
{
    private static readonly ReuseSettings[] StreamSettings =
    [
        ReuseSettings.Default with { KeyframeInterval = 4 },
        ReuseTestModels.Keyframed with { KeyframeInterval = 5 },
        ReuseSettings.Default with { KeyframeInterval = 3 },
        // Not propagated: runs on its own inside the batch.
        ReuseSettings.Default with { GateEveryLayer = true },
    ];

    /// <summary>Frame f of stream s: a still scene for stream 0, a moving patch for 1, held sub-tasks for 2 (reduced and coarse
    /// in turn: the coarse threshold and stripe per frame), a scene cut at frame 6 for 3.</summary>
    private static (Tensor Frame, TaskSet Tasks, ComputeLevel Level) Input(int stream, int f, Tensor[] scenes) => stream switch
    {
        0 => (scenes[0], TaskSet.All, ComputeLevel.Full),
        1 => (ReuseTestModels.WithPatchChanged(scenes[1], f % 6, f % 8, f), f == 5 ? TaskSet.Segmentation | TaskSet.Depth : TaskSet.All, ComputeLevel.Full),
        2 => (ReuseTestModels.WithPatchChanged(scenes[2], 3, f % 8, 100 + f), TaskSet.All, f % 2 == 0 ? ComputeLevel.Reduced : ComputeLevel.Coarse),
        _ => (f < 6 ? scenes[3] : scenes[0], TaskSet.All, ComputeLevel.Full),
    };

    [Fact]
    public void A_batch_computes_what_each_stream_computes_alone()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model(hmlpStem: true);
        var scenes = new[] { ReuseTestModels.Frame(1), ReuseTestModels.Frame(2), ReuseTestModels.Frame(3), ReuseTestModels.Frame(4) };
        var alone = StreamSettings.Select((s, i) => new ReuseStreamRunner(model, s, keyframePhase: i)).ToArray();
        var batched = StreamSettings.Select((s, i) => new ReuseStreamRunner(model, s, keyframePhase: i)).ToArray();
        try
        {
            for (int f = 0; f < 10; f++)
            {
                // Stream 3 joins the batch late and skips frame 7 (a stream whose frame was dropped).
                var streams = Enumerable.Range(0, 4).Where(s => (s != 3 || f >= 2) && !(s == 3 && f == 7)).ToList();
                var inputs = streams.Select(s => Input(s, f, scenes)).ToList();
                var results = ReuseStreamRunner.RunBatch([.. streams.Select((s, i) =>
                    new ReuseFrame(batched[s], inputs[i].Frame, f, inputs[i].Tasks, inputs[i].Level, 1))]);
                for (int i = 0; i < streams.Count; i++)
                {
                    var one = alone[streams[i]].Run(inputs[i].Frame, f, inputs[i].Tasks, inputs[i].Level);
                    var many = results[i];
                    string where = $"stream {streams[i]} frame {f}";
                    Assert.Equal(one.Accounting.KeyframeReason, many.Accounting.KeyframeReason);
                    Assert.Equal(one.Accounting.HeldTasks, many.Accounting.HeldTasks);
                    Assert.Equal(one.Accounting.Tokens, many.Accounting.Tokens);
                    Assert.Equal(one.Accounting.ExecutedFlops, many.Accounting.ExecutedFlops);
                    Assert.Equal(one.Accounting.DenseFlops, many.Accounting.DenseFlops);
                    AssertClose(one.Outputs.Depth, many.Outputs.Depth, where + " depth");
                    AssertClose(one.Outputs.Normals, many.Outputs.Normals, where + " normals");
                    // Labels: argmax of logits equal within 1e-4 (a tie that close could flip one pixel, never more).
                    int differing = one.Outputs.Labels!.Zip(many.Outputs.Labels!).Count(p => p.First != p.Second);
                    Assert.True(differing <= 1, $"{where}: {differing} labels differ");
                }
            }
        }
        finally
        {
            foreach (var runner in alone.Concat(batched))
            {
                runner.Dispose();
            }
        }
    }

    private static void AssertClose(float[]? expected, float[]? actual, string what)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is null || actual is null)
        {
            return;
        }
        Assert.Equal(expected.Length, actual.Length);
        float worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / Math.Max(1f, Math.Abs(expected[i])));
        }
        Assert.True(worst < 1e-4f, $"{what}: max relative difference {worst}");
    }

    [Fact]
    public void No_tensor_leaks_over_200_batches()
    {
        using var model = ReuseTestModels.Model();
        using var frames = NewDisposeScope();
        var inputs = ReuseTestModels.LeakFrames(model);
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        var runners = Enumerable.Range(0, 3).Select(i => new ReuseStreamRunner(model, ReuseSettings.Default with { KeyframeInterval = 7 }, i)).ToArray();
        long warm = 0;
        for (int f = 0; f <= 200; f++)
        {
            ReuseStreamRunner.RunBatch([.. runners.Select((r, s) => new ReuseFrame(r, inputs[(f + s) % 13 == 0 ? 2 : (f + s) % 3 == 0 ? 1 : 0], f,
                f % 50 == 0 && s == 1 ? TaskSet.Depth : TaskSet.All, s == 2 && f / 17 % 2 == 1 ? ComputeLevel.Reduced : ComputeLevel.Full, 1))]);
            if (f == 20) warm = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        }
        Assert.Equal(warm, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        foreach (var runner in runners)
        {
            runner.Dispose();
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void A_batch_refuses_two_frames_of_one_stream_and_runners_of_other_models()
    {
        using var scope = NewDisposeScope();
        using var model = ReuseTestModels.Model();
        using var other = ReuseTestModels.Model();
        using var runner = new ReuseStreamRunner(model, ReuseSettings.Default);
        using var foreign = new ReuseStreamRunner(other, ReuseSettings.Default);
        var a = ReuseTestModels.Frame(1);
        var twice = Assert.Throws<ArgumentException>(() => ReuseStreamRunner.RunBatch(
            [new ReuseFrame(runner, a, 0, TaskSet.All, ComputeLevel.Full, 1), new ReuseFrame(runner, a, 1, TaskSet.All, ComputeLevel.Full, 1)]));
        Assert.Contains("one frame per runner", twice.Message);
        var mixed = Assert.Throws<ArgumentException>(() => ReuseStreamRunner.RunBatch(
            [new ReuseFrame(runner, a, 0, TaskSet.All, ComputeLevel.Full, 1), new ReuseFrame(foreign, a, 0, TaskSet.All, ComputeLevel.Full, 1)]));
        Assert.Contains("share one model", mixed.Message);
        Assert.Empty(ReuseStreamRunner.RunBatch([]));
    }
}
