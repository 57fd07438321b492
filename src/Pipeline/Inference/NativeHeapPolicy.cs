using System.Runtime.InteropServices;

namespace StreamMtl.Pipeline.Inference;

/// <summary>
/// Keeps the C library's heap from handing memory back to the kernel between frames. libtorch allocates and frees the
/// same few tensors of 0.1-4 MB on every frame (patches, key and value buffers, canvases); glibc serves blocks over its
/// mmap threshold (128 KB at start, raised only as freed blocks are seen) with fresh mappings and returns free heap tops
/// over its trim threshold, so each frame page-faults its memory in again: 2-4 % of the service's CPU in the kernel at 12
/// streams (docs/experiments.md). Setting both thresholds fixes them: blocks up to 32 MB come from the heap and stay
/// mapped once touched, and a heap is trimmed only past 256 MB of free top. The resident size then stays at its peak
/// instead of breathing with each frame. glibc only (mallopt); an operator's own MALLOC_* or GLIBC_TUNABLES settings are
/// kept. Call once at process start.
/// </summary>
public static partial class NativeHeapPolicy
{
    /// <summary>glibc's largest mmap threshold on 64-bit (HEAP_MAX_SIZE / 2): a larger value is refused.</summary>
    public const int MmapThreshold = 32 << 20;

    public const int TrimThreshold = 256 << 20;

    private const int MTrimThreshold = -1;
    private const int MMmapThreshold = -3;

    private static readonly string[] OperatorVariables = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"];

    /// <summary>What <see cref="Apply"/> did, for the start-up log.</summary>
    public static string Described { get; private set; } = "not set";

    /// <summary>Sets glibc's mmap and trim thresholds unless the operator set heap tunables; returns what it did.</summary>
    public static string Apply()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Described = "not Linux: unchanged";
        }
        if (OperatorVariables.FirstOrDefault(v => Environment.GetEnvironmentVariable(v) is { Length: > 0 }) is { } set)
        {
            return Described = $"{set} set by the operator: unchanged";
        }
        try
        {
            bool mmap = MallOpt(MMmapThreshold, MmapThreshold) == 1;
            bool trim = MallOpt(MTrimThreshold, TrimThreshold) == 1;
            return Described = mmap && trim
                ? $"glibc mmap threshold {MmapThreshold >> 20} MB, trim threshold {TrimThreshold >> 20} MB"
                : $"mallopt refused (mmap {mmap}, trim {trim})";
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // Another C library (musl): it has no mallopt tunables to set.
            return Described = "no glibc mallopt: unchanged";
        }
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);
}
