using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>LayerNorm affine parameters.</summary>
public sealed class NormWeights : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;
    private readonly long _dim;

    public NormWeights(string name, long dim) : base(name)
    {
        _dim = dim;
        _weight = nn.Parameter(ones(dim));
        _bias = nn.Parameter(zeros(dim));
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public Tensor Apply(Tensor x) => F.layer_norm(x, [_dim], _weight, _bias, 1e-6);

    public void CopyFrom(NormWeights other)
    {
        using (no_grad())
        {
            _weight.copy_(other._weight);
            _bias.copy_(other._bias);
        }
    }
}
