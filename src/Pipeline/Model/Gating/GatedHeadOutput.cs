using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>A head's per-token outputs after a gated pass [N, C*p*p] (owned by the head gate) and the tokens recomputed this frame.</summary>
internal sealed record GatedHeadOutput(Tensor TokenOutputs, GateSelection Changed)
{
    /// <summary>The recomputed tokens' outputs [k, C*p*p] in the order of <see cref="Changed"/>'s rows when the pass has them
    /// apart (the propagated pass); null: the canvas gathers them from <see cref="TokenOutputs"/>.</summary>
    public Tensor? Fresh { get; init; }
}
