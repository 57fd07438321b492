using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>A head's per-token outputs after a gated pass [N, C*p*p] (owned by the head gate) and the tokens recomputed this frame.</summary>
internal sealed record GatedHeadOutput(Tensor TokenOutputs, GateSelection Changed);
