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
        if (options.FramePlans != null)
        {
            return forward;
        }
        if (options.Calibrate && (options.Static || options.Rule != BudgetRule.Average))
        {
            throw new ArgumentException("calibration shifts the average rule's threshold: it goes with that rule and not with the static baseline", nameof(options));
        }
        return options.Static
            ? forward with { Units = StaticPlan(model, budget, options) }
            : forward with { Budget = budget, Rule = options.Rule, LogitOffset = options.Calibrate ? CalibratedOffset(model, budget, options).Offset : 0 };
    }

    /// <summary>Validation sequences (seeds 101..108, 12 frames each: as many frames as the evaluation set) the average rule's offset is fitted on.</summary>
    public const int OffsetSequences = 8;

    /// <summary>
    /// The offset to every logit under which the average rule spends, over the validation frames (seeds 101..108, never
    /// evaluated or trained on) at <paramref name="budget"/>, the mean fraction nearest it (<see cref="Budget.CalibrateOffset"/>),
    /// and that mean.
    /// </summary>
    public static (float Offset, double Mean) CalibratedOffset(MultiTaskVit model, double budget, EvalOptions options)
    {
        var frames = Evaluator.RenderFrames(options with { FirstSeed = CalibrationFirstSeed, Sequences = OffsetSequences, FramesPerSequence = 12 });
        var scores = new List<float>();
        using var noGrad = no_grad();
        foreach (var chunk in frames.Chunk(16))
        {
            using var scope = NewDisposeScope();
            var images = cat([.. chunk.Select(f => ImageTensors.FromBgr(f.Bgr, f.Width, f.Height, model.Config))], 0);
            var targets = tensor(Enumerable.Repeat((float)budget, chunk.Length).ToArray());
            scores.AddRange(model.PolicyLogits(images, targets).to(ScalarType.Float32).data<float>().ToArray());
        }
        long tokens = InputGrid.Frame(options, model.Config.Patch).Tokens;
        return Budget.CalibrateOffset(scores, model.UnitCosts(tokens, TaskSet.All, fused: true), budget);
    }

    /// <summary>
    /// <paramref name="options"/>' <see cref="EvalOptions.FramePlans"/> as one plan per frame (checked against the model's
    /// units and the <paramref name="frames"/> evaluated), or null when it gives none.
    /// </summary>
    public static IReadOnlyList<UnitPlan>? FramePlans(MultiTaskVit model, EvalOptions options, int frames)
    {
        if (options.FramePlans is not { } plans)
        {
            return null;
        }
        if (options.Budget == null || options.Static)
        {
            throw new ArgumentException("unit sets per frame go with a budget (for the report) and not with the static baseline", nameof(options));
        }
        if (plans.Count != frames)
        {
            throw new ArgumentException($"{plans.Count} unit sets for {frames} evaluated frames", nameof(options));
        }
        if (plans.FirstOrDefault(p => p.Length != model.Units.Count) is { } wrong)
        {
            throw new ArgumentException($"a unit set of {wrong.Length} units for a model of {model.Units.Count}", nameof(options));
        }
        return [.. plans.Select(p => new UnitPlan(p))];
    }

    /// <summary>
    /// The content-blind baseline at equal FLOPs: the unit sets an adaptive run gave its frames (<paramref name="sets"/>, in
    /// evaluation order), dealt to the frames in an order drawn from <paramref name="seed"/>. Every set runs on as many frames
    /// as the policy gave it, so the executed FLOPs are the same frame for frame on average; only which frame gets which set
    /// no longer depends on the frame.
    /// </summary>
    public static List<bool[]> Shuffled(IReadOnlyList<bool[]> sets, int seed)
    {
        var dealt = sets.ToArray();
        new Random(seed).Shuffle(dealt);
        return [.. dealt];
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
        long tokens = InputGrid.Frame(options, model.Config.Patch).Tokens;
        var costs = model.UnitCosts(tokens, TaskSet.All, fused: true, withPolicy: false);
        return new UnitPlan(Budget.Choose(scores, costs.Costs, costs.Candidates, costs.Available(budget)));
    }
}
