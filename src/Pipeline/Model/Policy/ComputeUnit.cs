namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>
/// One unit the policy may skip: trunk block <paramref name="Block"/> (<paramref name="SubTask"/> null; at or below the
/// split it serves every task that shares it) or a sub-task's own block (split+1..L). Blocks count from 0.
/// </summary>
public sealed record ComputeUnit(int Block, VisionTask? SubTask)
{
    /// <summary>"trunk.3" or "depth.5" (1-based block numbers, as the docs count them).</summary>
    public string Name => $"{SubTask?.Name() ?? "trunk"}.{Block + 1}";
}
