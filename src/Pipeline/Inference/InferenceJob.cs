using StreamMtl.Pipeline.Runners;
using StreamMtl.Ingest.Frames;
using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Inference;

/// <summary>One preprocessed frame (already at the model input size) waiting for the inference thread; owns the frame.</summary>
public sealed class InferenceJob(Frame input, TaskSet tasks, long enqueuedAt, TimeSpan preprocess) : IDisposable
{
    public Frame Input { get; } = input;
    public TaskSet Tasks { get; } = tasks;

    /// <summary>TimeProvider timestamp when the job entered the inference queue.</summary>
    public long EnqueuedAt { get; } = enqueuedAt;
    public TimeSpan Preprocess { get; } = preprocess;

    /// <summary>The compute level the stream's controller chose for this frame when it was queued.</summary>
    public ComputeLevel Level { get; init; }

    /// <summary>The compute budget the stream's controller chose for this frame when it was queued; null: the stream's own
    /// (<see cref="ReuseSettings.ComputeBudget"/>).</summary>
    public double? ComputeBudget { get; init; }

    public void Dispose() => Input.Dispose();
}

/// <summary>The inference thread's answer for one job: the analysis or an error; owns the job (its input frame) until disposed.</summary>
public sealed class InferenceOutput(InferenceJob job, FrameAnalysis? analysis, string? error, TimeSpan queueTime, long finishedAt) : IDisposable
{
    public InferenceJob Job { get; } = job;
    public FrameAnalysis? Analysis { get; } = analysis;
    public string? Error { get; } = error;
    public TimeSpan QueueTime { get; } = queueTime;
    public long FinishedAt { get; } = finishedAt;

    public void Dispose() => Job.Dispose();
}
