using StreamMtl.Pipeline.Model;
using System.Diagnostics;
using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Results;
using StreamMtl.Ingest.Frames;

namespace StreamMtl.Pipeline.Streams;

/// <summary>The result stage, shared by camera streams and client-fed streams: records a processed frame and encodes it for one spec.</summary>
public static class ResultStage
{
    /// <summary>Records one processed frame's cost and the times of its queue and inference stages.</summary>
    public static void Record(IStreamMetrics metrics, string stream, InferenceOutput output)
    {
        var analysis = output.Analysis!;
        metrics.FrameProcessed(stream, analysis.Accounting, output.QueueTime, analysis.InferenceTime);
    }

    /// <summary>Encodes a processed frame for <paramref name="spec"/>, its stage times (encode included) attached.</summary>
    public static EncodedResult Encode(IStreamMetrics metrics, string stream, InferenceOutput output, OutputSpec spec,
        IReadOnlyDictionary<VisionTask, (long ComputedOn, EncodedOutput Output)>? previous = null)
    {
        HelperPriority.Apply();
        var clock = Stopwatch.StartNew();
        var result = ResultEncoder.Encode(stream, output.Analysis!, output.Job.Input.Image, output.Job.Input.CaptureTime, spec,
        [
            new StageTime("preprocess", output.Job.Preprocess),
            new StageTime("queue", output.QueueTime),
            new StageTime("inference", output.Analysis!.InferenceTime),
        ], previous);
        var encode = clock.Elapsed;
        metrics.StageTime(stream, "encode", encode);
        return result with { Timings = [.. result.Timings, new StageTime("encode", encode)] };
    }
}
