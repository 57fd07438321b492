using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>A linear layer's weight [out, in] and bias [out], held as parameters so rows can be gathered.</summary>
public sealed class LinearWeights : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;

    public LinearWeights(string name, long inFeatures, long outFeatures) : base(name)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _weight = nn.Parameter(empty(outFeatures, inFeatures));
        _bias = nn.Parameter(zeros(outFeatures));
        using (no_grad())
        {
            TruncatedNormal.Fill(_weight, 0.02);
        }
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    public Tensor Weight => _weight;

    public Tensor Apply(Tensor x) => Autocast.Linear(x, _weight, _bias);

    /// <summary>This layer's bias with another weight of the same shape (a sub-task's folded W + B*A).</summary>
    public Tensor Apply(Tensor x, Tensor weight) => Autocast.Linear(x, weight, _bias);
}
