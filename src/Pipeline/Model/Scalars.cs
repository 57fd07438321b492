using System.Collections.Concurrent;
using TorchSharp;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Long-lived TorchSharp scalars for the per-frame paths. An implicit float -> Scalar conversion creates a
/// temporary whose finaliser frees the native scalar; TorchSharp 0.107 passes only the raw handle to the
/// native call, so the GC may finalise the temporary while libtorch still reads it (seen as a
/// "toDouble: Expected false to be true" crash under GC pressure). Cached scalars live for the process.
/// </summary>
public static class Scalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Cache = new();

    /// <summary>The process-wide scalar for <paramref name="value"/> (a handful of distinct values are used).</summary>
    public static Scalar Of(double value) => Cache.GetOrAdd(value, v => v.ToScalar());
}
