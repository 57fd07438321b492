using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// ViT-style truncated-normal initialisation (clipped at two standard deviations). libtorch's
/// trunc_normal_ through TorchSharp 0.107 occasionally yields NaN (seen with seed 1), so we clip a
/// normal sample instead.
/// </summary>
public static class TruncatedNormal
{
    public static void Fill(Tensor tensor, double std)
    {
        using var noGrad = no_grad();
        using var low = (-2 * std).ToScalar();
        using var high = (2 * std).ToScalar();
        tensor.normal_(0, std).clamp_(low, high);
    }
}
