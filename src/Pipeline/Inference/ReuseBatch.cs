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

    /// <summary>True when <paramref name="job"/> of <paramref name="lane"/> may join a batch of reuse frames.</summary>
    public static bool Joins(InferenceLane lane, InferenceJob job) =>
        !lane.Reuse.Dense && GatedPass.PropagatesWith(lane.Reuse, job.ComputeBudget ?? lane.Reuse.ComputeBudget);

    private sealed record ReuseBatchKey;
}
