using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Runners;

/// <summary>
/// Runs the model for one stream, owning that stream's state (temporal-reuse references and buffers).
/// Not thread-safe: call it from the inference thread only (TorchSharp dispose scopes are thread-local).
/// </summary>
public interface IStreamRunner : IDisposable
{
    /// <summary>Runs the requested tasks on a normalised input [1, 3, H, W] (the runner does not take ownership).</summary>
    FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks);

    /// <summary>Runs one frame at a compute level (<see cref="ComputeLevels"/>); runners without levels compute in full.</summary>
    FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks, ComputeLevel level) => Run(input, frameIndex, tasks);

    /// <summary>Runs one frame at a compute level and a compute budget (<see cref="ReuseSettings.ComputeBudget"/>); runners without
    /// a budget ignore it.</summary>
    FrameAnalysis Run(Tensor input, long frameIndex, TaskSet tasks, ComputeLevel level, double computeBudget) => Run(input, frameIndex, tasks, level);

    /// <summary>Forgets all state: the next frame is a keyframe (stream start, reconnect, settings change).</summary>
    void Reset();
}
