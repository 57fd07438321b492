using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Mixed precision for the model's matrix products, what torch.autocast("cpu", torch.bfloat16) does in
/// PyTorch (TorchSharp 0.107 has no autocast). Inside a <see cref="BFloat16"/> scope the linears, the patch
/// stem's convolutions and attention run on bfloat16 copies of their inputs and weights and hand back
/// float32; norms, activations, losses, parameters, gradients and optimiser state stay float32, and the
/// casts are differentiable, so training keeps float32 master weights. On CPUs with AVX-512 BF16 the
/// products run 2-3x faster. Per thread, like no_grad(): enter it on the thread that runs the forward pass.
/// </summary>
public static class Autocast
{
    [ThreadStatic]
    private static bool t_bfloat16;

    /// <summary>Whether matrix products on this thread currently run in bfloat16.</summary>
    public static bool IsBFloat16 => t_bfloat16;

    /// <summary>Runs matrix products in bfloat16 (or float32 when <paramref name="enabled"/> is false) until disposed.</summary>
    public static IDisposable BFloat16(bool enabled = true)
    {
        var scope = new Scope(t_bfloat16);
        t_bfloat16 = enabled;
        return scope;
    }

    /// <summary>
    /// Whether this CPU multiplies bfloat16 natively (x86 AVX-512 BF16 or AMX BF16; Arm BF16), from /proc/cpuinfo;
    /// null where that cannot be read (not Linux). Without it libtorch emulates bfloat16 and runs slower than float32.
    /// </summary>
    public static bool? CpuHasBFloat16() => CpuHasBFloat16("/proc/cpuinfo");

    internal static bool? CpuHasBFloat16(string cpuinfo)
    {
        if (!File.Exists(cpuinfo))
        {
            return null;
        }
        foreach (var line in File.ReadLines(cpuinfo))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0 || line[..colon].Trim() is not ("flags" or "Features"))
            {
                continue;
            }
            var flags = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return flags.Any(f => f is "avx512_bf16" or "amx_bf16" or "bf16");
        }
        return null;
    }

    public static Tensor Linear(Tensor input, Tensor weight, Tensor? bias = null) =>
        Run(input, weight, bias, (x, w, b) => F.linear(x, w!, b));

    /// <summary>A linear whose weight and bias are bfloat16 already (copies their owner keeps): only the input is cast.</summary>
    public static Tensor LinearOnBFloat16Weights(Tensor input, Tensor weight, Tensor? bias)
    {
        using var scope = NewDisposeScope();
        return F.linear(input.to(ScalarType.BFloat16), weight, bias).to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    public static Tensor Conv2d(Tensor input, Tensor weight, Tensor? bias, long[] strides)
    {
        long outChannels = weight.shape[0];
        long extra = (ConvChannelBlock - outChannels % ConvChannelBlock) % ConvChannelBlock;
        if (!t_bfloat16 || extra == 0)
        {
            return Run(input, weight, bias, (x, w, b) => F.conv2d(x, w!, b, strides: strides));
        }
        // oneDNN's bfloat16 convolution (libtorch 2.10, native AVX-512 BF16 and AVX-512 emulation alike) gives wrong
        // sums when the output channels are not a multiple of 16 and the kernel is wider than 1x1: 20-60% relative
        // error, measured. Zero filters up to the next multiple of 16, sliced off after, give the right result.
        using var scope = NewDisposeScope();
        var w = cat([weight, zeros([extra, .. weight.shape[1..]], weight.dtype, weight.device)], 0);
        var b = bias is null ? null : cat([bias, zeros([extra], bias.dtype, bias.device)], 0);
        var padded = Run(input, w, b, (x, w, b) => F.conv2d(x, w!, b, strides: strides));
        return padded.narrow(1, 0, outChannels).MoveToOuterDisposeScope();
    }

    /// <summary>The output-channel block oneDNN's bfloat16 convolutions compute correctly (see <see cref="Conv2d"/>).</summary>
    internal const long ConvChannelBlock = 16;

    /// <summary>Scaled dot-product attention (softmax(QK^T / sqrt(d)) V) over [.., n, d] queries, keys and values.</summary>
    public static Tensor Attention(Tensor queries, Tensor keys, Tensor values) =>
        Run(queries, keys, values, (q, k, v) => F.scaled_dot_product_attention(q, k!, v!));

    /// <summary>Runs <paramref name="op"/> as is, or inside a scope on bfloat16 copies with the result cast back to float32.</summary>
    private static Tensor Run(Tensor a, Tensor? b, Tensor? c, Func<Tensor, Tensor?, Tensor?, Tensor> op)
    {
        if (!t_bfloat16)
        {
            return op(a, b, c);
        }
        using var scope = NewDisposeScope();
        var result = op(a.to(ScalarType.BFloat16), Down(b), Down(c));
        return result.to(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    private static Tensor? Down(Tensor? t) => t?.to(ScalarType.BFloat16);

    private sealed class Scope(bool previous) : IDisposable
    {
        private bool _disposed;

        public void Dispose()
        {
            if (!_disposed)
            {
                t_bfloat16 = previous;
                _disposed = true;
            }
        }
    }
}
