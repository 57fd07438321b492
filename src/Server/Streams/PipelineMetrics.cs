using StreamMtl.Api.V1;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Server.Metrics;

namespace StreamMtl.Server.Streams;

/// <summary>Records one processed frame's cost and stage times (shared by camera streams and Process calls).</summary>
public static class PipelineMetrics
{
    public static void Record(ServerMetrics metrics, string stream, InferenceOutput output)
    {
        var analysis = output.Analysis!;
        var accounting = analysis.Accounting;
        metrics.FramesProcessed.WithLabels(stream).Inc();
        foreach (var (task, dense) in accounting.DenseFlops)
        {
            metrics.FlopsDense.WithLabels(stream, task.Name()).Inc(dense);
            metrics.FlopsExecuted.WithLabels(stream, task.Name()).Inc(accounting.ExecutedFlops.GetValueOrDefault(task));
        }
        metrics.FlopsSavedRatio.WithLabels(stream).Observe(accounting.SavedRatio);
        metrics.TokensRecomputedRatio.WithLabels(stream).Observe(accounting.RecomputedRatio);
        if (accounting.Keyframe)
        {
            metrics.Keyframes.WithLabels(stream).Inc();
        }
        metrics.StageLatency.WithLabels(stream, "queue").Observe(output.QueueTime.TotalSeconds);
        metrics.StageLatency.WithLabels(stream, "inference").Observe(analysis.InferenceTime.TotalSeconds);
    }

    public static IEnumerable<StageTiming> Timings(InferenceOutput output) =>
    [
        new StageTiming { Stage = "preprocess", Seconds = output.Job.Preprocess.TotalSeconds },
        new StageTiming { Stage = "queue", Seconds = output.QueueTime.TotalSeconds },
        new StageTiming { Stage = "inference", Seconds = output.Analysis?.InferenceTime.TotalSeconds ?? 0 },
    ];
}
