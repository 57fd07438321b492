using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Token-local dense head: each token's final feature, concatenated with its patch embedding (the
/// pixels' own detail, for sharp boundaries inside a patch), goes through a two-layer MLP to a
/// p x p x C patch; the patches are pixel-shuffled to full resolution. Token-local, so it can be
/// recomputed for changed tokens only.
/// With a refinement (<see cref="ModelConfig.RefineTasks"/>), the patch's raw outputs and its own pixels
/// then go through a small convolution (3x3 to <see cref="ModelConfig.RefineHidden"/> channels, GELU, 1x1
/// back), added to the raw outputs: it snaps outlines to the edges in the pixels. It is padded with zeros
/// at the patch border, not read across it, so the head stays token-local. Its head input carries the
/// patch's normalised pixels after the two feature vectors: [.., 2D + 3*p*p].
/// </summary>
public sealed class TokenHead : nn.Module
{
    private readonly LinearWeights _fc1;
    private readonly LinearWeights _fc2;
    private readonly ConvWeights? _refine;
    private readonly ConvWeights? _refineOut;
    private readonly int _patch;

    public TokenHead(string name, ModelConfig config, VisionTask task) : base(name)
    {
        Task = task;
        Channels = task.Channels(config.Classes);
        _patch = config.Patch;
        _fc1 = new LinearWeights("fc1", 2L * config.Dim, config.HeadHidden);
        _fc2 = new LinearWeights("fc2", config.HeadHidden, (long)Channels * config.Patch * config.Patch);
        register_module("fc1", _fc1);
        register_module("fc2", _fc2);
        if (config.RefineTasks.Contains(task))
        {
            // The output conv starts at zero: a refinement added to a trained head leaves its outputs as they were.
            _refine = new ConvWeights("refine", Channels + 3, config.RefineHidden, 3);
            _refineOut = new ConvWeights("refine_out", config.RefineHidden, Channels, 1, zeroInit: true);
            register_module("refine", _refine);
            register_module("refine_out", _refineOut);
        }
    }

    /// <summary>True when the head has the pixel-aware refinement, and so takes the patch's pixels in its input.</summary>
    public bool Refines => _refine != null;

    public VisionTask Task { get; }

    public int Channels { get; }

    public long InFeatures => _fc1.InFeatures;

    /// <summary>Pixel values appended to the head input (3*p*p with a refinement, else 0).</summary>
    public long PixelInputs => Refines ? 3L * _patch * _patch : 0;

    public long Hidden => _fc1.OutFeatures;

    public long OutFeatures => _fc2.OutFeatures;

    /// <summary>FLOPs of one token through both linears and the refinement (2 per multiply-add).</summary>
    public long FlopsPerToken => 2 * (InFeatures * Hidden + Hidden * OutFeatures)
        + (Refines ? (long)_patch * _patch * (_refine!.FlopsPerPixel + _refineOut!.FlopsPerPixel) : 0);

    /// <summary>Counts <paramref name="rows"/> of <paramref name="denseRows"/> tokens through the head.</summary>
    public void CountFlops(FlopCounter counter, VisionTask task, long rows, long denseRows)
    {
        counter.Linear(task, rows, denseRows, InFeatures, Hidden);
        counter.Linear(task, rows, denseRows, Hidden, OutFeatures);
        if (Refines)
        {
            // A k x k convolution per pixel is a linear map of its in * k * k inputs.
            long area = (long)_patch * _patch;
            counter.Linear(task, rows * area, denseRows * area, _refine!.InChannels * _refine.Kernel * _refine.Kernel, _refine.OutChannels);
            counter.Linear(task, rows * area, denseRows * area, _refineOut!.InChannels, _refineOut.OutChannels);
        }
    }

    /// <summary>Per-token patch outputs [..., p*p*C] from head inputs [..., 2D] (plus [3*p*p] pixels with a refinement).</summary>
    public Tensor TokenOutputs(Tensor headInput)
    {
        if (!Refines)
        {
            return _fc2.Apply(F.gelu(_fc1.Apply(headInput)));
        }
        var raw = _fc2.Apply(F.gelu(_fc1.Apply(headInput.narrow(-1, 0, InFeatures))));
        var leading = raw.shape[..^1];
        int p = _patch;
        var logits = raw.reshape(-1, Channels, p, p);
        var pixels = headInput.narrow(-1, InFeatures, PixelInputs).reshape(-1, 3, p, p);
        var delta = _refineOut!.Apply(F.gelu(_refine!.Apply(cat([logits, pixels], dim: 1))));
        return logits.Plus(delta).view([.. leading, OutFeatures]);
    }

    /// <summary>Pixel-shuffles token outputs [B, h*w, C*p*p] (C, py, px order) to raw maps [B, C, h*p, w*p].</summary>
    public Tensor Assemble(Tensor tokenOutputs, int gridRows, int gridCols)
    {
        long b = tokenOutputs.shape[0];
        return tokenOutputs.view(b, gridRows, gridCols, Channels, _patch, _patch)
            .permute(0, 3, 1, 4, 2, 5)
            .reshape(b, Channels, gridRows * _patch, gridCols * _patch);
    }

    /// <summary>Maps raw head output to the task's quantity: logits, metric depth (exp of log-depth), unit normals.</summary>
    public static Tensor Finish(VisionTask task, Tensor raw) => task switch
    {
        VisionTask.Segmentation => raw,
        VisionTask.Depth => raw.clamp(Scalars.Of(-6), Scalars.Of(6)).exp(),
        VisionTask.Normals => UnitVectors(raw),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>
    /// What F.normalize(x, p: 2, dim: 1, eps: 1e-6) gives, from elementwise ops: libtorch's norm over a dimension that is
    /// not the innermost took 6.3 ms on a [1, 3, 240, 320] map (2 threads), this 0.1 ms.
    /// </summary>
    public static Tensor UnitVectors(Tensor x) =>
        x.div(x.mul(x).sum(1, keepdim: true).sqrt().clamp_min(Scalars.Of(1e-6)));
}
