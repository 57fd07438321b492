namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>
/// The executable units of a model, in the policy's output order: trunk blocks 1..L, then each sub-task's own blocks
/// split+1..L in the order of <see cref="ModelConfig.SubTasks"/>. A skipped unit is the identity on the residual stream.
/// </summary>
public static class ComputeUnits
{
    /// <summary>The units of <paramref name="config"/> at its split layer.</summary>
    public static IReadOnlyList<ComputeUnit> Of(ModelConfig config)
    {
        var units = new List<ComputeUnit>();
        for (int i = 0; i < config.Blocks; i++)
        {
            units.Add(new ComputeUnit(i, null));
        }
        foreach (var task in config.SubTasks)
        {
            for (int i = config.SplitLayer; i < config.Blocks; i++)
            {
                units.Add(new ComputeUnit(i, task));
            }
        }
        return units;
    }

    /// <summary>Index of the trunk block <paramref name="block"/> (null task) or of a sub-task's own block.</summary>
    public static int IndexOf(ModelConfig config, int block, VisionTask? subTask)
    {
        if (subTask is not VisionTask task)
        {
            return block;
        }
        int k = Array.IndexOf(config.SubTasks, task);
        return config.Blocks + k * (config.Blocks - config.SplitLayer) + (block - config.SplitLayer);
    }
}
