using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Training.Policy;

/// <summary>Losses of the policy co-training: distillation from the full model, the FLOP target, and the gates.</summary>
public static class PolicyLosses
{
    /// <summary>
    /// Distance of a student's raw output from the frozen full model's: soft cross-entropy on segmentation logits,
    /// L1 on log-depth, L1 between unit normals.
    /// </summary>
    public static Tensor Distill(VisionTask task, Tensor student, Tensor teacher) => task switch
    {
        VisionTask.Segmentation => F.softmax(teacher, 1).mul(F.log_softmax(student, 1)).sum(1).mean().neg(),
        VisionTask.Depth => student.sub(teacher).abs().mean(),
        VisionTask.Normals => TokenHead.UnitVectors(student).sub(TokenHead.UnitVectors(teacher)).abs().sum(1).mean(),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>
    /// Straight-through Gumbel-sigmoid gates [B, U]: hard 0/1 samples of sigmoid((logits + s x logistic noise) / temperature)
    /// forward, the soft sample's gradient backward (AdaMTL's decisions). <paramref name="noiseScale"/> s = 0 gives the
    /// deterministic decisions (logit above 0) that <see cref="Pipeline.Model.Policy.BudgetRule.Average"/> serves.
    /// </summary>
    public static Tensor StraightThroughGates(Tensor logits, double temperature, double noiseScale = 1)
    {
        var u = rand_like(logits).clamp(Scalars.Of(1e-6), Scalars.Of(1 - 1e-6));
        var noise = u.log().sub(u.neg().PlusInPlace(1).log()).mul(Scalars.Of(noiseScale));
        var soft = logits.Plus(noise).div(Scalars.Of(temperature)).sigmoid();
        var hard = soft.gt(Scalars.Of(0.5)).to(soft.dtype);
        return hard.sub(soft.detach()).Plus(soft);
    }

    /// <summary>
    /// Expected executed FLOP fraction per sample [B]: the mandatory part plus each unit's cost times its probability
    /// sigmoid(logit), over the dense pass. <paramref name="unitFractions"/> [U] is each unit's share of the dense FLOPs.
    /// </summary>
    public static Tensor ExpectedFraction(Tensor logits, Tensor unitFractions, double mandatoryFraction) =>
        logits.sigmoid().matmul(unitFractions).PlusInPlace(mandatoryFraction);

    /// <summary>
    /// Executed FLOP fraction per sample [B] of 0/1 (straight-through) <paramref name="gates"/> [B, U]: the mandatory part
    /// plus the cost of every unit whose gate is 1, over the dense pass.
    /// </summary>
    public static Tensor ExecutedFraction(Tensor gates, Tensor unitFractions, double mandatoryFraction) =>
        gates.matmul(unitFractions).PlusInPlace(mandatoryFraction);
}
