using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

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
