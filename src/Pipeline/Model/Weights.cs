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
}

/// <summary>A low-rank weight delta B*A (A: [rank, in], B: [out, rank]); B starts at zero so W_base + BA = W_base.</summary>
public sealed class LowRankDelta : nn.Module
{
    private readonly Parameter _a;
    private readonly Parameter _b;

    public LowRankDelta(string name, long inFeatures, long outFeatures, long rank) : base(name)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Rank = rank;
        _a = nn.Parameter(empty(rank, inFeatures));
        _b = nn.Parameter(zeros(outFeatures, rank));
        using (no_grad())
        {
            nn.init.normal_(_a, std: 1.0 / Math.Sqrt(inFeatures));
        }
        register_parameter("lora_A", _a);
        register_parameter("lora_B", _b);
    }

    public long InFeatures { get; }

    public long OutFeatures { get; }

    public long Rank { get; }

    public Tensor Apply(Tensor x) => Autocast.Linear(Autocast.Linear(x, _a), _b);

    /// <summary>The dense delta B*A, for tests and for folding into a plain weight.</summary>
    public Tensor Dense() => _b.matmul(_a);
}

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

/// <summary>A 2-D convolution's weight [out, in, k, k] and bias; <paramref name="zeroInit"/> makes it start as the zero map.</summary>
public sealed class ConvWeights : nn.Module
{
    private readonly Parameter _weight;
    private readonly Parameter _bias;

    public ConvWeights(string name, long inChannels, long outChannels, int kernel, bool zeroInit = false) : base(name)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        _weight = nn.Parameter(zeros(outChannels, inChannels, kernel, kernel));
        _bias = nn.Parameter(zeros(outChannels));
        if (!zeroInit)
        {
            using (no_grad())
            {
                // He-style scale for a GELU layer: the sum over in x k x k inputs keeps unit variance.
                nn.init.normal_(_weight, std: Math.Sqrt(2.0 / (inChannels * kernel * kernel)));
            }
        }
        register_parameter("weight", _weight);
        register_parameter("bias", _bias);
    }

    public long InChannels { get; }

    public long OutChannels { get; }

    public int Kernel { get; }

    /// <summary>Multiply-adds x2 per output pixel.</summary>
    public long FlopsPerPixel => 2 * InChannels * Kernel * Kernel * OutChannels;

    /// <summary>Same-size convolution of [N, in, H, W] (zero padding of k/2).</summary>
    public Tensor Apply(Tensor x) => F.conv2d(x, _weight, _bias, padding: [Kernel / 2, Kernel / 2]);
}
