using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Long-lived TorchSharp scalars for the per-frame paths. An implicit float -> Scalar conversion creates a
/// temporary whose finaliser frees the native scalar; TorchSharp 0.107 passes only the raw handle to the
/// native call, so the GC may finalise the temporary while libtorch still reads it (seen as a
/// "toDouble/toFloat: Expected false to be true" crash under GC pressure). Cached scalars live for the process.
/// TorchSharp's own tensor <c>a + b</c>, <c>add(b)</c> and <c>add_(b)</c> create such a temporary too (the alpha of
/// 1; subtraction has no alpha): <c>a + b</c> in a loop beside a thread that forces collections crashes within
/// seconds, so model code uses <see cref="Plus"/> and <see cref="PlusInPlace(Tensor, Tensor)"/>, which pass the cached
/// <see cref="One"/> (tests <c>TemporaryScalarTests</c>).
/// </summary>
public static class Scalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Cache = new();

    /// <summary>The process-wide scalar for <paramref name="value"/> (a handful of distinct values are used).</summary>
    public static Scalar Of(double value) => Cache.GetOrAdd(value, v => v.ToScalar());

    /// <summary>The alpha of a plain addition or subtraction.</summary>
    public static Scalar One { get; } = Of(1);

    /// <summary><paramref name="a"/> + <paramref name="b"/> (broadcasting), with no temporary scalar.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary>In-place <paramref name="a"/> += <paramref name="b"/>, with no temporary scalar.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary>In-place <paramref name="a"/> += <paramref name="value"/>, with no temporary scalar.</summary>
    public static Tensor PlusInPlace(this Tensor a, double value) => a.add_(Of(value), One);
}
