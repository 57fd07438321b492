using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Model.Policy;

/// <summary>
/// The compute policy (after AdaMTL, Neseem et al. 2023): from cheap features of the frame (mean and standard deviation
/// over tokens of the patch embeddings, before the position term, layer-normalised) and the target complexity, an MLP
/// gives one logit per unit (<see cref="ComputeUnits"/>). Units are per task, so the scores are task-aware: a sub-task's
/// own blocks have their own logits. The target enters centred and scaled, z = (X - 0.7) * 5 (about -1.5..1.5 over the
/// trained 0.4..1), into the MLP and through a learned per-unit gain added to the logits: a target that only reached the
/// logits through the MLP's small initial weights was ignored in a first run (its FLOP error stayed at that of a
/// constant, 0.15). Stored under "policy.*" (norm, fc1, fc2, target_gain).
/// </summary>
public sealed class UnitPolicy : nn.Module
{
    private readonly NormWeights _norm;
    private readonly LinearWeights _fc1;
    private readonly LinearWeights _fc2;
    private readonly Parameter _targetGain;
    private readonly long _dim;

    public UnitPolicy(string name, ModelConfig config, PolicyConfig policy) : base(name)
    {
        _dim = config.Dim;
        Units = ComputeUnits.Of(config).Count;
        _norm = new NormWeights("norm", 2 * _dim);
        _fc1 = new LinearWeights("fc1", 2 * _dim + 1, policy.Hidden);
        _fc2 = new LinearWeights("fc2", policy.Hidden, Units);
        register_module("norm", _norm);
        register_module("fc1", _fc1);
        _targetGain = nn.Parameter(ones(Units));
        register_module("fc2", _fc2);
        register_parameter("target_gain", _targetGain);
    }

    /// <summary>Logits per unit.</summary>
    public int Units { get; }

    /// <summary>Unit logits [B, U] from patch embeddings <paramref name="x0"/> [B, N, D] and targets [B] in (0, 1].</summary>
    public Tensor Logits(Tensor x0, Tensor targets)
    {
        using var scope = NewDisposeScope();
        return LogitsOfPooled(Pooled(x0), targets).MoveToOuterDisposeScope();
    }

    /// <summary>The frame's summary the policy reads, [B, 2D]: mean and standard deviation over tokens of <paramref name="x0"/> [B, N, D].</summary>
    public static Tensor Pooled(Tensor x0)
    {
        using var scope = NewDisposeScope();
        var (std, mean) = std_mean(x0, [1L], unbiased: false);
        return cat([mean, std], 1).MoveToOuterDisposeScope();
    }

    /// <summary>Unit logits [B, U] from <see cref="Pooled"/> summaries [B, 2D] and targets [B] (training on summaries computed once).</summary>
    public Tensor LogitsOfPooled(Tensor pooled, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var features = _norm.Apply(pooled);
        var z = targets.to(features.dtype).sub(Scalars.Of(0.7)).mul(Scalars.Of(5)).view(-1, 1);
        var input = cat([features, z], 1);
        return _fc2.Apply(F.relu(_fc1.Apply(input))).Plus(z.mul(_targetGain)).MoveToOuterDisposeScope();
    }

    /// <summary>FLOPs of deciding for one sample of <paramref name="tokens"/> tokens: the pooling and the MLP.</summary>
    public long Flops(long tokens) => 4 * tokens * _dim + 2 * (_fc1.InFeatures * _fc1.OutFeatures + _fc2.InFeatures * _fc2.OutFeatures + Units);
}
