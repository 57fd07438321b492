using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Runners;
using static TorchSharp.torch;

namespace StreamMtl.Training.Evaluation;

/// <summary>
/// The forward options of an evaluation under a budget: the policy's per-frame choice, or the non-adaptive baseline
/// (<see cref="StaticPlan"/>), the same units for every frame at the same target.
/// </summary>
public static class BudgetedPasses
{
    /// <summary>Validation sequences (seeds 101.., never evaluated or trained on) whose policy scores fix the static plan.</summary>
    public const int CalibrationFirstSeed = 101;

    /// <summary>The options that evaluate <paramref name="model"/> as <paramref name="options"/> asks (a budget, static or not).</summary>
    public static ForwardOptions For(MultiTaskVit model, EvalOptions options)
    {
        var forward = new ForwardOptions(TaskSet.All, options.ShareThreshold);
        if (options.Budget is not double budget)
        {
            return forward;
        }
        Budget.Validate(budget, nameof(options));
        return options.Static
            ? forward with { Units = StaticPlan(model, budget, options) }
            : forward with { Budget = budget, Rule = options.Rule };
    }

    /// <summary>
    /// One unit set for every frame under <paramref name="budget"/>: the units in order of the policy's logits averaged over
    /// calibration frames (validation seeds) at that target, taken greedily while they fit, as the adaptive pass does per
    /// frame; so the baseline has the same weights and the same ranking on average and differs only in not adapting to the
    /// frame. A model without a policy drops the deepest blocks first. No policy runs per frame, so it pays no policy FLOPs.
    /// </summary>
    public static UnitPlan StaticPlan(MultiTaskVit model, double budget, EvalOptions options)
    {
        Budget.Validate(budget);
        var units = model.Units;
        float[] scores;
        if (model.Policy == null)
        {
            scores = [.. units.Select(u => (float)-u.Block)];
        }
        else
        {
            var calibration = Evaluator.RenderFrames(options with { FirstSeed = CalibrationFirstSeed, Sequences = 4, FramesPerSequence = 3 });
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var images = cat([.. calibration.Select(f => ImageTensors.FromBgr(f.Bgr, f.Width, f.Height, model.Config))], 0);
            var targets = tensor(Enumerable.Repeat((float)budget, calibration.Count).ToArray());
            scores = model.PolicyLogits(images, targets).mean([0L]).data<float>().ToArray();
        }
        long tokens = (long)(options.Height / model.Config.Patch) * (options.Width / model.Config.Patch);
        var costs = model.UnitCosts(tokens, TaskSet.All, fused: true, withPolicy: false);
        return new UnitPlan(Budget.Choose(scores, costs.Costs, costs.Candidates, costs.Available(budget)));
    }
}
