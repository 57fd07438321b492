using StreamMtl.Pipeline.Model;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// Which streams with temporal reuse a worker runs together (<see cref="Reuse.ReuseStreamRunner.RunBatch"/>): those whose
/// frame takes the propagated pass, whose rows share each block's products; each keeps its own state.
/// </summary>
internal static class ReuseBatch
{
    /// <summary>The batch key of such frames (any two may share a batch, whatever their tasks and levels).</summary>
    public static readonly object Key = new ReuseBatchKey();

    /// <summary>
    /// True when <paramref name="job"/> of <paramref name="lane"/> may join a batch of reuse frames: always with
    /// <paramref name="always"/> (<see cref="PipelineOptions.BatchReuse"/>), else when the box is behind: the frame has
    /// waited long (<paramref name="behind"/>: <see cref="PipelineOptions.ReuseBatchAfter"/>, off by default), or the
    /// stream's overload controller has stepped it below its own level. Frames then wait in the queues anyway, and sharing each
    /// block's products gets more of them through (2x overload, 12 vtest streams: 113-115 against 99 fps, docs/service.md).
    /// </summary>
    public static bool Joins(InferenceLane lane, InferenceJob job, bool always, bool behind) =>
        !lane.Reuse.Dense && GatedPass.PropagatesWith(lane.Reuse, job.ComputeBudget ?? lane.Reuse.ComputeBudget)
        && (always || behind || (lane.Reuse.Adaptive && job.Level != lane.Reuse.Level));

    private sealed record ReuseBatchKey;
}
