using StreamMtl.Pipeline.Runners;
using System.Diagnostics;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// Runs frames of several dense streams (no temporal reuse, hence no per-stream state) as one [N,3,H,W] forward pass.
/// Streams with reuse keep their own runners and run one by one: their gating is per stream.
/// </summary>
internal static class DenseBatch
{
    /// <summary>Streams whose frames may share a forward pass: dense, same tasks, same sharing threshold.</summary>
    public static (TaskSet Tasks, float Share)? Key(InferenceLane lane, InferenceJob job) =>
        lane.Reuse.Dense ? (job.Tasks, lane.Reuse.ShareThreshold) : null;

    /// <summary>Must run on the inference thread.</summary>
    public static FrameAnalysis[] Run(MultiTaskVit model, LoadedModel loaded, IReadOnlyList<InferenceJob> jobs, TaskSet tasks, float share)
    {
        var clock = Stopwatch.StartNew();
        var counter = new FlopCounter();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var inputs = jobs.Select(j => FrameInput.ToTensor(j.Input, loaded.InputWidth, loaded.InputHeight, loaded.Config)).ToArray();
        using var batch = cat(inputs, 0);
        using var result = model.Forward(batch, new ForwardOptions(tasks, share), counter);
        var outputs = Enumerable.Range(0, jobs.Count).Select(i => Predictions.From(result, i)).ToArray();
        var elapsed = clock.Elapsed;
        int n = jobs.Count;
        // FLOPs are linear in the batch: each frame is charged an equal share.
        var computed = result.Tasks.ToList();
        var dense = computed.ToDictionary(t => t, t => counter.Dense(t) / n);
        var executed = computed.ToDictionary(t => t, t => counter.Executed(t) / n);
        return jobs.Select((job, i) => new FrameAnalysis(job.Input.Index, outputs[i],
            new FrameAccounting(dense, executed, [], Keyframe: true, KeyframeReason: "dense"), elapsed)).ToArray();
    }
}
