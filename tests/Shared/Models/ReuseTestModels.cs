using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Tests.Shared;

/// <summary>Tiny models and frames for the reuse tests: a 6x8 token grid (96x128 pixels).</summary>
internal static class ReuseTestModels
{
    public const int Height = 96;
    public const int Width = 128;
    public const int Tokens = 48;

    /// <summary>The default settings with full keyframes on the interval instead of the rolling refresh's stripe: the
    /// gating tests count exactly what each gate picked.</summary>
    public static ReuseSettings Keyframed => ReuseSettings.Default with { RollingRefresh = false };

    public static MultiTaskVit Model(bool hmlpStem = false, bool refine = false) => TinyModels.WithRandomDeltas(
        TinyModels.Config() with
        {
            StemWidths = hmlpStem ? [8, 12] : [],
            RefineTasks = refine ? [VisionTask.Segmentation, VisionTask.Normals] : [],
        });

    public static Tensor Frame(int seed) => randn(1, 3, Height, Width, generator: new Generator((ulong)seed));

    /// <summary>A copy of <paramref name="frame"/> with token (row, col)'s 16x16 patch replaced by new content.</summary>
    public static Tensor WithPatchChanged(Tensor frame, int row, int col, int seed)
    {
        var changed = frame.clone();
        changed[.., .., TensorIndex.Slice(row * 16, row * 16 + 16), TensorIndex.Slice(col * 16, col * 16 + 16)] =
            randn(1, 3, 16, 16, generator: new Generator((ulong)seed));
        return changed;
    }

    /// <summary>
    /// Frames for the leak tests (a scene, one patch of it moved, another scene, a brightness step), after one dense pass that
    /// fills the model's own interpolated position-embedding cache for their grid (kept by the model, not by a stream).
    /// </summary>
    public static Tensor[] LeakFrames(MultiTaskVit model)
    {
        var a = Frame(1);
        using (no_grad())
        {
            model.Forward(a, new ForwardOptions()).Dispose();
        }
        return [a, WithPatchChanged(a, 2, 2, 4), Frame(2), a + 0.01f];
    }

    /// <summary>Settings under which a gated pass must equal dense.</summary>
    public static ReuseSettings Exact { get; } = new()
    {
        Threshold = 0,
        Budget = 1,
        SceneCutLimit = 1,
        KeyframeInterval = 0,
        AttentionRefresh = 0,
    };
}
