using TorchSharp;

namespace StreamMtl.Pipeline.Model;

/// <summary>One pre-norm transformer block's weights (timm naming: norm1, attn.qkv, attn.proj, norm2, mlp.fc1, mlp.fc2).</summary>
public sealed class BlockWeights : torch.nn.Module
{
    private readonly LinearWeights[] _linears;

    public BlockWeights(string name, ModelConfig config) : base(name)
    {
        long d = config.Dim;
        Norm1 = new NormWeights("norm1", d);
        Norm2 = new NormWeights("norm2", d);
        _linears =
        [
            new LinearWeights("qkv", d, 3 * d),
            new LinearWeights("proj", d, d),
            new LinearWeights("fc1", d, config.MlpDim),
            new LinearWeights("fc2", config.MlpDim, d),
        ];
        register_module("norm1", Norm1);
        register_module("attn", new Group("attn", ("qkv", _linears[0]), ("proj", _linears[1])));
        register_module("norm2", Norm2);
        register_module("mlp", new Group("mlp", ("fc1", _linears[2]), ("fc2", _linears[3])));
    }

    public NormWeights Norm1 { get; }

    public NormWeights Norm2 { get; }

    public LinearWeights this[BlockLinear which] => _linears[(int)which];
}
