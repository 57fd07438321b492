using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>A sub-task's own parameters for one block: LayerNorm copies and low-rank deltas on the four linears.</summary>
public sealed class SubTaskBlockWeights : nn.Module
{
    private readonly LowRankDelta[] _deltas;
    private readonly DerivedTensor[] _merged = [new(), new(), new(), new()];
    private readonly DerivedTensor[] _mergedBFloat16 = [new(), new(), new(), new()];
    private readonly DerivedPacked[] _mergedPacked = [new(), new(), new(), new()];

    public SubTaskBlockWeights(string name, ModelConfig config) : base(name)
    {
        long d = config.Dim;
        long r = config.Rank;
        Norm1 = new NormWeights("norm1", d);
        Norm2 = new NormWeights("norm2", d);
        _deltas =
        [
            new LowRankDelta("qkv", d, 3 * d, r),
            new LowRankDelta("proj", d, d, r),
            new LowRankDelta("fc1", d, config.MlpDim, r),
            new LowRankDelta("fc2", config.MlpDim, d, r),
        ];
        register_module("norm1", Norm1);
        register_module("attn", new Group("attn", ("qkv", _deltas[0]), ("proj", _deltas[1])));
        register_module("norm2", Norm2);
        register_module("mlp", new Group("mlp", ("fc1", _deltas[2]), ("fc2", _deltas[3])));
    }

    public NormWeights Norm1 { get; }

    public NormWeights Norm2 { get; }

    public LowRankDelta this[BlockLinear which] => _deltas[(int)which];

    /// <summary>
    /// The folded weight W_base + B*A of one linear, for inference: one product per linear instead of the base
    /// product, two low-rank products and an add. Computed on first use and kept until <see cref="ClearMerged"/>
    /// (<see cref="MultiTaskVit.ClearCaches"/>, <c>train()</c>, <c>eval()</c>) or disposal; only for passes that
    /// cannot change the weights (no gradients, eval mode), like the position-embedding cache.
    /// </summary>
    internal Tensor Merged(BlockLinear which, LinearWeights baseWeights) =>
        _merged[(int)which].Get(() => baseWeights.Weight.Plus(this[which].Dense()));

    /// <summary><see cref="Merged"/> in bfloat16, for inference inside <see cref="Autocast.BFloat16"/>.</summary>
    internal Tensor MergedBFloat16(BlockLinear which, LinearWeights baseWeights) =>
        _mergedBFloat16[(int)which].Get(() => Merged(which, baseWeights).to(ScalarType.BFloat16));

    /// <summary><see cref="Merged"/> packed for <see cref="PackedLinear"/>.</summary>
    internal PackedWeight MergedPacked(BlockLinear which, LinearWeights baseWeights) =>
        _mergedPacked[(int)which].Get(() => Merged(which, baseWeights));

    /// <summary>Drops the folded weights (after the weights changed in place).</summary>
    public void ClearMerged()
    {
        Derived[] all = [.. _merged, .. _mergedBFloat16, .. _mergedPacked];
        foreach (var derived in all)
        {
            derived.Clear();
        }
    }

    public override void train(bool on = true)
    {
        ClearMerged();
        base.train(on);
    }

    /// <summary>Starts the sub-task's norms from the base block's, so a fresh sub-task equals the base.</summary>
    public void InitialiseFrom(BlockWeights block)
    {
        Norm1.CopyFrom(block.Norm1);
        Norm2.CopyFrom(block.Norm2);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            ClearMerged();
        }
        base.Dispose(disposing);
    }
}
