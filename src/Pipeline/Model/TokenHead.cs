using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model;

/// <summary>
/// Token-local dense head: each token's final feature, concatenated with its patch embedding (the
/// pixels' own detail, for sharp boundaries inside a patch), goes through a two-layer MLP to a
/// p x p x C patch; the patches are pixel-shuffled to full resolution. Token-local, so it can be
/// recomputed for changed tokens only.
/// </summary>
public sealed class TokenHead : nn.Module
{
    private readonly LinearWeights _fc1;
    private readonly LinearWeights _fc2;
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
    }

    public VisionTask Task { get; }

    public int Channels { get; }

    public long InFeatures => _fc1.InFeatures;

    public long Hidden => _fc1.OutFeatures;

    public long OutFeatures => _fc2.OutFeatures;

    /// <summary>FLOPs of one token through both linears (2 per multiply-add).</summary>
    public long FlopsPerToken => 2 * (InFeatures * Hidden + Hidden * OutFeatures);

    /// <summary>Per-token patch outputs [..., p*p*C] from head inputs [..., 2D].</summary>
    public Tensor TokenOutputs(Tensor headInput) => _fc2.Apply(F.gelu(_fc1.Apply(headInput)));

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
        VisionTask.Normals => F.normalize(raw, p: 2, dim: 1, eps: 1e-6),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };
}
