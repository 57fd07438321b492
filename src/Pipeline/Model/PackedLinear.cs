using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// A linear layer's weight [out, in] copied once into panels of 16 output features, each panel's [in, 16] values contiguous,
/// for <see cref="PackedLinear"/>: the layout its kernel streams through, so no product has to repack the weight.
/// </summary>
internal sealed unsafe class PackedWeight : IDisposable
{
    private float* _panels;

    private PackedWeight(float* panels, int outFeatures, int inFeatures)
    {
        _panels = panels;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    public int OutFeatures { get; }

    public int InFeatures { get; }

    /// <summary>The panels, [out / 16][in][16].</summary>
    public float* Panels => _panels != null ? _panels : throw new ObjectDisposedException(nameof(PackedWeight));

    /// <summary>Packs a float32 weight [out, in] whose out is a multiple of <see cref="PackedLinear.PanelWidth"/>.</summary>
    public static PackedWeight Pack(Tensor weight)
    {
        if (weight.dim() != 2 || weight.dtype != ScalarType.Float32 || weight.shape[0] % PackedLinear.PanelWidth != 0)
        {
            throw new ArgumentException($"a float32 [out, in] weight with out a multiple of {PackedLinear.PanelWidth} packs, got {weight.dtype} [{string.Join(", ", weight.shape)}]");
        }
        int n = checked((int)weight.shape[0]), k = checked((int)weight.shape[1]);
        using var contiguous = weight.detach().contiguous();
        var source = MemoryMarshal.Cast<byte, float>(contiguous.bytes);
        var panels = (float*)NativeMemory.AlignedAlloc((nuint)((long)n * k * sizeof(float)), 64);
        const int w = PackedLinear.PanelWidth;
        for (int p = 0; p < n / w; p++)
        {
            float* panel = panels + (long)p * k * w;
            for (int c = 0; c < w; c++)
            {
                var row = source.Slice((p * w + c) * k, k);
                for (int i = 0; i < k; i++)
                {
                    panel[i * w + c] = row[i];
                }
            }
        }
        return new PackedWeight(panels, n, k);
    }

    public void Dispose()
    {
        if (_panels != null)
        {
            NativeMemory.AlignedFree(_panels);
            _panels = null;
        }
    }
}

/// <summary>A weight packed on first use (<see cref="Derived{T}"/>).</summary>
internal sealed class DerivedPacked : Derived<PackedWeight>
{
    public PackedWeight Get(Func<Tensor> weight) => GetOrMake(() => PackedWeight.Pack(weight()));
}

/// <summary>
/// Float32 products of a few rows by a packed weight (<see cref="PackedWeight"/>), on the calling thread: x [m, in] W^T + b.
/// </summary>
/// <remarks>
/// Why not libtorch's: for the tens of rows a gated frame recomputes, libtorch's product (MKL's sgemm) copies the whole
/// weight into its packed layout on every call, and on this project's CPUs (AMD EPYC, where MKL takes its generic path)
/// that copy cost as much as the product itself in the service (docs/experiments.md, "Packed row products"). A weight
/// packed once and streamed by a register-blocked AVX2/FMA kernel (6 rows x 16 features of accumulators) took 20-47 % less
/// time for 10-100 rows over the 32 linears of eight blocks, and no more at 300. Only where the kernel applies
/// (<see cref="Takes"/>): one intra-op thread (the service's workers), x86 with AVX2 and FMA, no gradients, float32.
/// </remarks>
public static unsafe class PackedLinear
{
    /// <summary>Output features per panel: two 8-float AVX registers.</summary>
    public const int PanelWidth = 16;

    /// <summary>The most rows a product takes here; more go to libtorch (measured up to a 320x240 frame's 300 tokens).</summary>
    public const int MaxRows = 320;

    private const int RowBlock = 6;

    /// <summary>Per thread, so the workers' counts never share a cache line on the hot path.</summary>
    [ThreadStatic]
    private static long t_productsRun;

    /// <summary>Whether eligible products run here (<see cref="ModelOptions.Products"/>); false = every product in libtorch.</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>Whether this CPU has the kernel's instructions.</summary>
    public static bool Supported => Avx2.IsSupported && Fma.IsSupported;

    /// <summary>Products this thread ran here (what tests check the kernel ran by).</summary>
    internal static long ProductsRun => t_productsRun;

    /// <summary>What products of few rows run on, for the startup log, with <paramref name="intraOpThreads"/> threads per worker.</summary>
    public static string Described(int intraOpThreads) =>
        !Enabled ? "libtorch (Model:PackedProducts=false)"
        : !Supported ? "libtorch (this CPU has no AVX2 and FMA)"
        : intraOpThreads != 1 ? $"libtorch ({intraOpThreads} intra-op threads; packed products take one)"
        : $"packed weights, AVX2/FMA kernel, up to {MaxRows} rows";

    /// <summary>Whether x [m, in] times a weight of <paramref name="outFeatures"/> rows runs here.</summary>
    internal static bool Takes(Tensor x, long outFeatures) =>
        Enabled && Supported && outFeatures % PanelWidth == 0 && x.dim() == 2 && x.shape[0] is > 0 and <= MaxRows
        && x.dtype == ScalarType.Float32 && x.device_type == TorchSharp.DeviceType.CPU && !x.requires_grad && !is_grad_enabled()
        && x.is_contiguous() && get_num_threads() == 1;

    /// <summary>x [m, in] W^T + <paramref name="bias"/> [out] (or none): a new [m, out] tensor.</summary>
    internal static Tensor Apply(Tensor x, PackedWeight weight, Tensor? bias)
    {
        int m = checked((int)x.shape[0]), k = weight.InFeatures, n = weight.OutFeatures;
        if (x.shape[1] != k)
        {
            throw new ArgumentException($"input has {x.shape[1]} features, the weight takes {k}");
        }
        if (bias is not null && (bias.dtype != ScalarType.Float32 || bias.numel() != n || !bias.is_contiguous()))
        {
            throw new ArgumentException($"bias must be {n} contiguous float32 values");
        }
        if (!Supported)
        {
            throw new PlatformNotSupportedException("packed products need a CPU with AVX2 and FMA");
        }
        t_productsRun++;
        var y = empty(m, n, ScalarType.Float32);
        float* zeros = stackalloc float[PanelWidth];
        new Span<float>(zeros, PanelWidth).Clear();
        fixed (byte* xBytes = x.bytes)
        fixed (byte* yBytes = y.bytes)
        fixed (byte* bBytes = bias is null ? default : bias.bytes)
        {
            float* xs = (float*)xBytes, ys = (float*)yBytes, bs = (float*)bBytes;
            for (int p = 0; p < n / PanelWidth; p++)
            {
                float* panel = weight.Panels + (long)p * k * PanelWidth;
                float* panelBias = bs != null ? bs + p * PanelWidth : zeros;
                for (int r = 0; r < m; r += RowBlock)
                {
                    Block(xs + (long)r * k, k, Math.Min(RowBlock, m - r), panel, panelBias, ys + (long)r * n + p * PanelWidth, n);
                }
            }
        }
        return y;
    }

    /// <summary>
    /// Up to 6 rows of x (row stride k) times one panel, plus the panel's bias, into y (row stride n). Rows past
    /// <paramref name="rows"/> read row 0 again and are not stored, so every block runs the same register-resident loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(float* x, int k, int rows, float* panel, float* bias, float* y, int n)
    {
        var b0 = Avx.LoadVector256(bias);
        var b1 = Avx.LoadVector256(bias + 8);
        Vector256<float> a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1;
        Vector256<float> a30 = b0, a31 = b1, a40 = b0, a41 = b1, a50 = b0, a51 = b1;
        float* x0 = x;
        float* x1 = rows > 1 ? x + k : x;
        float* x2 = rows > 2 ? x + 2 * k : x;
        float* x3 = rows > 3 ? x + 3 * k : x;
        float* x4 = rows > 4 ? x + 4 * k : x;
        float* x5 = rows > 5 ? x + 5 * k : x;
        for (int i = 0; i < k; i++)
        {
            var w0 = Avx.LoadVector256(panel);
            var w1 = Avx.LoadVector256(panel + 8);
            panel += PanelWidth;
            var v = Vector256.Create(x0[i]);
            a00 = Fma.MultiplyAdd(v, w0, a00);
            a01 = Fma.MultiplyAdd(v, w1, a01);
            v = Vector256.Create(x1[i]);
            a10 = Fma.MultiplyAdd(v, w0, a10);
            a11 = Fma.MultiplyAdd(v, w1, a11);
            v = Vector256.Create(x2[i]);
            a20 = Fma.MultiplyAdd(v, w0, a20);
            a21 = Fma.MultiplyAdd(v, w1, a21);
            v = Vector256.Create(x3[i]);
            a30 = Fma.MultiplyAdd(v, w0, a30);
            a31 = Fma.MultiplyAdd(v, w1, a31);
            v = Vector256.Create(x4[i]);
            a40 = Fma.MultiplyAdd(v, w0, a40);
            a41 = Fma.MultiplyAdd(v, w1, a41);
            v = Vector256.Create(x5[i]);
            a50 = Fma.MultiplyAdd(v, w0, a50);
            a51 = Fma.MultiplyAdd(v, w1, a51);
        }
        Store(y, a00, a01);
        if (rows > 1)
        {
            Store(y + n, a10, a11);
        }
        if (rows > 2)
        {
            Store(y + 2 * n, a20, a21);
        }
        if (rows > 3)
        {
            Store(y + 3 * n, a30, a31);
        }
        if (rows > 4)
        {
            Store(y + 4 * n, a40, a41);
        }
        if (rows > 5)
        {
            Store(y + 5 * n, a50, a51);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* y, Vector256<float> low, Vector256<float> high)
    {
        Avx.Store(y, low);
        Avx.Store(y + 8, high);
    }
}
