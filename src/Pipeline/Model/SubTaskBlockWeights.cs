using TorchSharp;

namespace StreamMtl.Pipeline.Model;

/// <summary>A sub-task's own parameters for one block: LayerNorm copies and low-rank deltas on the four linears.</summary>
public sealed class SubTaskBlockWeights : torch.nn.Module
{
    private readonly LowRankDelta[] _deltas;

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

    /// <summary>Starts the sub-task's norms from the base block's, so a fresh sub-task equals the base.</summary>
    public void InitialiseFrom(BlockWeights block)
    {
        Norm1.CopyFrom(block.Norm1);
        Norm2.CopyFrom(block.Norm2);
    }
}
