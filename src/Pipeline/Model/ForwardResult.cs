using StreamMtl.Pipeline.Model.Policy;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>Outputs of one forward pass: raw head maps per task [B, C, H, W] (logits, log-depth, unnormalised normals).</summary>
public sealed class ForwardResult : IDisposable
{
    private readonly Dictionary<VisionTask, Tensor> _raw = [];
    private readonly Dictionary<VisionTask, List<Tensor>> _blockOutputs = [];

    public ForwardResult(FlopCounter flops)
    {
        Flops = flops;
    }

    public FlopCounter Flops { get; }

    /// <summary>Sub-task tokens recomputed by the activation-sharing gate, summed over gated linears.</summary>
    public long SharedRowsComputed { get; internal set; }

    /// <summary>Sub-task token rows the activation-sharing gate looked at.</summary>
    public long SharedRowsTotal { get; internal set; }

    /// <summary>
    /// The units (<see cref="ComputeUnits"/>) each sample ran when the pass skipped units (a plan, or the policy's
    /// choice under a budget below 1); null when every unit the tasks need ran (or under training gates).
    /// </summary>
    public UnitPlan? Executed { get; internal set; }

    /// <summary>Under a budget below 1: the policy's logit of each unit, batch x units row-major (its ranking); else null.</summary>
    public float[]? UnitScores { get; internal set; }

    public IEnumerable<VisionTask> Tasks => _raw.Keys;

    public bool Has(VisionTask task) => _raw.ContainsKey(task);

    public Tensor Raw(VisionTask task) => _raw.TryGetValue(task, out var t)
        ? t
        : throw new InvalidOperationException($"task {task.Name()} was not computed in this pass");

    /// <summary>The task's output in its units: logits, metres, unit normals.</summary>
    public Tensor Final(VisionTask task) => TokenHead.Finish(task, Raw(task));

    /// <summary>
    /// With <see cref="ForwardOptions.KeepBlockOutputs"/>: the outputs [B, N, D] of the blocks <paramref name="task"/>
    /// computes itself, in order (the base task: every block it ran; a sub-task: its own blocks split+1..L).
    /// They belong to the caller's dispose scope, like the raw outputs.
    /// </summary>
    public IReadOnlyList<Tensor> BlockOutputs(VisionTask task) => _blockOutputs.TryGetValue(task, out var list)
        ? list
        : throw new InvalidOperationException($"block outputs of {task.Name()} were not kept in this pass");

    internal void Set(VisionTask task, Tensor raw) => _raw[task] = raw;

    internal void KeepBlockOutput(VisionTask task, Tensor output)
    {
        if (!_blockOutputs.TryGetValue(task, out var list))
        {
            _blockOutputs[task] = list = [];
        }
        list.Add(output);
    }

    public void Dispose()
    {
        foreach (var t in _raw.Values)
        {
            t.Dispose();
        }
        _raw.Clear();
    }
}
