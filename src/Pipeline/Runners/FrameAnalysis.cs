using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Runners;

/// <summary>The model's outputs for one frame, in plain arrays, with what computing them cost.</summary>
public sealed record FrameAnalysis(long FrameIndex, Predictions Outputs, FrameAccounting Accounting, TimeSpan InferenceTime);
