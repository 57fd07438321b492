using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Evaluation;
using StreamMtl.Training.Policy;

namespace StreamMtl.Training.Tests.Policy;

/// <summary>The policy co-training stage and the budgeted evaluation on the tiny model.</summary>
[Collection(TinyTraining.Collection)]
public sealed class PolicyTrainerTests
{
    private static string SaveTinyModel(TempDirectory dir)
    {
        var config = TinyModels.Config();
        using var model = TinyModels.WithRandomDeltas(config);
        string path = dir.File("tiny.safetensors");
        ModelFile.Save(path, model, new ModelMetadata { Config = config, Classes = [.. SyntheticClasses.Names], Metrics = { ["segmentation.miou"] = 0.5 } });
        return path;
    }

    /// <summary>The tiny model after two steps of co-training: a model with a policy.</summary>
    private static string SaveTinyPolicyModel(TempDirectory dir)
    {
        string adaptive = dir.File("adaptive.safetensors");
        new PolicyTrainer(TinyTraining.PolicyOptions(SaveTinyModel(dir), adaptive, 2)).Run();
        return adaptive;
    }

    [Fact]
    public void A_short_co_training_run_reduces_the_flop_target_error_and_writes_a_model_with_its_policy()
    {
        using var dir = new TempDirectory();
        string init = SaveTinyModel(dir);
        string output = dir.File("adaptive.safetensors");
        var steps = new PolicyTrainer(TinyTraining.PolicyOptions(init, output, 120)).Run();

        Assert.Equal(120, steps.Count);
        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss), $"step {s.Step}: loss {s.Loss}"));
        double first = steps.Take(20).Where(s => double.IsFinite(s.FlopError)).Average(s => s.FlopError);
        double last = steps.TakeLast(20).Where(s => double.IsFinite(s.FlopError)).Average(s => s.FlopError);
        Assert.True(last < 0.7 * first, $"mean |expected - target| went from {first:F4} to {last:F4}");

        var (model, metadata) = ModelFile.Load(output);
        using var _ = model;
        Assert.NotNull(model.Policy);
        Assert.Equal("policy", metadata.Training.Last().Stage);
        Assert.Empty(metadata.Metrics);
    }

    [Fact]
    public void The_batch_flop_loss_holds_the_mean_of_hard_decisions_at_one_target_per_step()
    {
        using var dir = new TempDirectory();
        string init = SaveTinyModel(dir);
        var options = TinyTraining.PolicyOptions(init, dir.File("batch.safetensors"), 120) with { FlopLoss = FlopLoss.Batch, NoiseEnd = 0.1 };
        var steps = new PolicyTrainer(options).Run();

        Assert.All(steps, s => Assert.True(double.IsFinite(s.Loss), $"step {s.Step}: loss {s.Loss}"));
        double first = steps.Take(20).Where(s => double.IsFinite(s.FlopError)).Average(s => s.FlopError);
        double last = steps.TakeLast(20).Where(s => double.IsFinite(s.FlopError)).Average(s => s.FlopError);
        Assert.True(last < 0.7 * first, $"|mean executed - target| went from {first:F4} to {last:F4}");
        // One target per step, spread over [0.4, 1] from step to step (not nearly the same draw every step).
        var targets = steps.Select(s => s.MeanTarget).Where(double.IsFinite).ToArray();
        Assert.True(targets.Max() - targets.Min() > 0.45, $"targets only spanned {targets.Min():F3}..{targets.Max():F3}");
        var (model, metadata) = ModelFile.Load(options.OutputPath);
        using var _ = model;
        Assert.Contains("FLOP (batch)", metadata.Training.Last().Crop, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Gate_noise_outside_0_to_1_is_rejected(double noiseEnd)
    {
        var options = TinyTraining.PolicyOptions("in.safetensors", "out.safetensors", 1) with { NoiseEnd = noiseEnd };
        var error = Assert.Throws<ArgumentException>(() => new PolicyTrainer(options));
        Assert.Contains("noise at the end", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Co_training_is_seeded()
    {
        using var dir = new TempDirectory();
        string init = SaveTinyModel(dir);
        var first = new PolicyTrainer(TinyTraining.PolicyOptions(init, dir.File("a.safetensors"), 4)).Run();
        var second = new PolicyTrainer(TinyTraining.PolicyOptions(init, dir.File("b.safetensors"), 4)).Run();
        // Equal up to libtorch's threaded sums, whose order may differ between runs in the last digits.
        Assert.Equal(first.Count, second.Count);
        Assert.All(first.Zip(second), p => Assert.True(Math.Abs(p.First.Loss - p.Second.Loss) <= 1e-4 * Math.Max(1, Math.Abs(p.First.Loss)),
            $"step {p.First.Step}: {p.First.Loss} vs {p.Second.Loss}"));
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.4, 1.5)]
    [InlineData(0.9, 0.5)]
    [InlineData(double.NaN, 1.0)]
    public void Invalid_target_ranges_are_rejected(double min, double max)
    {
        var options = TinyTraining.PolicyOptions("in.safetensors", "out.safetensors", 1) with { MinTarget = min, MaxTarget = max };
        var error = Assert.Throws<ArgumentException>(() => new PolicyTrainer(options));
        Assert.Contains("target", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_budgeted_evaluation_reports_the_executed_fraction_and_the_static_baseline_runs_one_block_set()
    {
        using var dir = new TempDirectory();
        string output = SaveTinyPolicyModel(dir);
        var options = new EvalOptions { ModelPath = output, Sequences = 2, FramesPerSequence = 3, Width = 64, Height = 48, Budget = 0.6 };

        var adaptive = Evaluator.Run(options).Budget!;
        var fixedSet = Evaluator.Run(options with { Static = true }).Budget!;

        Assert.Equal(6, adaptive.Histogram.Sum());
        Assert.Equal(0, adaptive.FramesOverTarget);
        Assert.InRange(adaptive.P10, adaptive.MinFraction, adaptive.P50);
        Assert.InRange(adaptive.P90, adaptive.P50, adaptive.MaxFraction);
        Assert.True(adaptive.MaxFraction <= 0.6);
        Assert.NotNull(adaptive.Easiest);
        Assert.True(fixedSet.Static);
        Assert.Equal(1, fixedSet.DistinctPlans);
        Assert.True(fixedSet.MaxFraction <= 0.6);
        Assert.All(fixedSet.UnitRates.Values, rate => Assert.True(rate is 0 or 1));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.2)]
    [InlineData(double.NaN)]
    public void The_evaluator_rejects_invalid_budgets(double budget)
    {
        using var dir = new TempDirectory();
        string init = SaveTinyModel(dir);
        var options = new EvalOptions { ModelPath = init, Sequences = 1, FramesPerSequence = 1, Width = 64, Height = 48, Budget = budget };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Evaluator.Run(options));
        Assert.Contains("budget must be a fraction of the dense FLOPs in (0, 1]", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Budget.Validate(budget));
    }

    [Fact]
    public void Under_plan_targets_the_policy_stays_and_the_model_learns_the_sets_the_per_frame_rule_picks()
    {
        using var dir = new TempDirectory();
        string adaptive = SaveTinyPolicyModel(dir);
        string output = dir.File("plans.safetensors");
        var options = TinyTraining.PolicyOptions(adaptive, output, 60) with
        {
            PlanTargets = [0.4], FullShare = 0, DistillWeight = 0, ModelLearningRate = 1e-3,
        };

        var steps = new PolicyTrainer(options).Run();
        var still = new PolicyTrainer(options with { OutputPath = dir.File("still.safetensors"), ModelLearningRate = 0 }).Run();

        // The same batches and sets with the weights held are the control: the model learns the tasks under the sets. (Not the
        // distillation: the tiny student starts at its teacher, where Adam's normalised steps on near-zero gradients only wander.)
        double learned = steps.TakeLast(15).Average(s => s.Task);
        double held = still.TakeLast(15).Average(s => s.Task);
        Assert.True(learned < 0.9 * held, $"task loss under the sets over the last steps: {learned:F4} trained, {held:F4} with the weights held");
        Assert.All(steps, s => Assert.Equal(0, s.Flop));
        // The per-frame rule never spends more than the target.
        Assert.All(steps, s => Assert.InRange(s.FlopError, 0, 0.6));
        var (before, _) = ModelFile.Load(adaptive);
        var (after, metadata) = ModelFile.Load(output);
        using (before)
        using (after)
        {
            var policy = before.named_parameters().Where(p => p.name.StartsWith("policy.", StringComparison.Ordinal)).ToDictionary(p => p.name, p => p.parameter);
            var trained = after.named_parameters().ToDictionary(p => p.name, p => p.parameter);
            Assert.NotEmpty(policy);
            Assert.All(policy, p => Assert.True(p.Value.allclose(trained[p.Key], 0, 0), $"{p.Key} changed"));
            Assert.False(before.named_parameters().First(p => p.name == "blocks.0.mlp.fc1.weight").parameter.allclose(trained["blocks.0.mlp.fc1.weight"], 0, 0));
        }
        Assert.Equal("policy-plans", metadata.Training.Last().Stage);
    }

    [Fact]
    public void Under_plan_targets_the_stability_penalty_makes_twins_agree_and_is_recorded_in_the_file()
    {
        using var dir = new TempDirectory();
        string adaptive = SaveTinyPolicyModel(dir);
        var options = TinyTraining.PolicyOptions(adaptive, dir.File("stable.safetensors"), 40) with
        {
            PlanTargets = [0.6], FullShare = 0, ModelLearningRate = 1e-3, JpegMinQuality = 10, StabilityWeight = 50,
        };

        var stable = new PolicyTrainer(options).Run();
        // The control: the same seed (so the same frames, degradations and sets), the penalty measured but weighed ~0.
        var control = new PolicyTrainer(options with { OutputPath = dir.File("control.safetensors"), StabilityWeight = 1e-9 }).Run();

        Assert.All(stable, s => Assert.True(double.IsFinite(s.Stability) && s.Stability >= 0, $"step {s.Step}: stability {s.Stability}"));
        Assert.Equal(control[0].Stability, stable[0].Stability, 6);
        double trained = stable.TakeLast(10).Average(s => s.Stability);
        double held = control.TakeLast(10).Average(s => s.Stability);
        Assert.True(trained < 0.7 * held, $"stability penalty over the last steps: {trained:F5} with the penalty, {held:F5} without");
        var (_, metadata) = ModelFile.Load(options.OutputPath);
        Assert.Contains("output-stability penalty 50 on twins", metadata.Training.Last().Crop, StringComparison.Ordinal);
        Assert.Contains("JPEG q10", metadata.Training.Last().Crop, StringComparison.Ordinal);
        // Without the penalty no twins are made and nothing is recorded.
        Assert.All(new PolicyTrainer(options with { OutputPath = dir.File("plain.safetensors"), StabilityWeight = 0, Steps = 2 }).Run(),
            s => Assert.True(double.IsNaN(s.Stability)));
    }

    [Fact]
    public void Co_training_the_policy_takes_the_stability_penalty_too()
    {
        using var dir = new TempDirectory();
        var options = TinyTraining.PolicyOptions(SaveTinyModel(dir), dir.File("stable.safetensors"), 3) with { JpegMinQuality = 10, StabilityWeight = 5 };

        var steps = new PolicyTrainer(options).Run();

        Assert.All(steps, s => Assert.True(double.IsFinite(s.Stability) && double.IsFinite(s.FlopError), $"step {s.Step}: stability {s.Stability}, error {s.FlopError}"));
        var (_, metadata) = ModelFile.Load(options.OutputPath);
        Assert.Equal("policy", metadata.Training.Last().Stage);
        Assert.Contains("output-stability penalty 5 on twins", metadata.Training.Last().Crop, StringComparison.Ordinal);
    }

    [Fact]
    public void Twins_run_the_first_copys_units()
    {
        using var rows = TorchSharp.torch.tensor(new float[] { 1, 0, 1, 0, 1, 1, 0, 0, 1, 0, 0, 1 }).view(4, 3);
        using var twinned = PolicyTrainer.TwinRows(rows);
        Assert.Equal(new float[] { 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1 }, twinned.data<float>().ToArray());
    }

    [Theory]
    [InlineData(5, 0, 4, "needs the compression augmentation")]
    [InlineData(5, 30, 3, "the batch must be even and at least 2")]
    [InlineData(-1, 30, 4, "stability weight must be >= 0")]
    [InlineData(0, 101, 4, "JPEG quality must be in 0..100")]
    public void Invalid_stability_settings_are_rejected(double weight, int jpeg, int batch, string message)
    {
        var options = TinyTraining.PolicyOptions("in.safetensors", "out.safetensors", 1) with { StabilityWeight = weight, JpegMinQuality = jpeg, Batch = batch };
        var error = Assert.Throws<ArgumentException>(() => new PolicyTrainer(options));
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_sets_trained_under_are_the_units_a_budgeted_pass_runs()
    {
        using var dir = new TempDirectory();
        string adaptive = SaveTinyPolicyModel(dir);
        var (model, _) = ModelFile.Load(adaptive);
        using var __ = model;
        using var scope = TorchSharp.torch.NewDisposeScope();
        TorchSharp.torch.random.manual_seed(3);
        var images = TorchSharp.torch.randn(3, 3, 48, 64);
        float[] targets = [0.6f, 0.4f, 1f];
        var costs = model.UnitCosts(12, TaskSet.All, fused: true);

        var gates = PolicyTrainer.PlanGates(model, images, targets, costs, [1, 1, 0]).data<float>().ToArray();

        int n = model.Units.Count;
        Assert.All(Enumerable.Range(0, n), u => Assert.Equal(1f, gates[2 * n + u]));
        for (int i = 0; i < 2; i++)
        {
            using var result = model.Forward(images[i].unsqueeze(0), new ForwardOptions(TaskSet.All, Budget: targets[i]));
            Assert.Equal(Enumerable.Range(0, n).Select(u => result.Executed!.Runs(0, u) ? 1f : 0f), gates.Skip(i * n).Take(n));
        }
        Assert.Contains(0f, gates.Take(2 * n));
    }

    [Fact]
    public void Plan_targets_need_a_model_with_a_policy_and_fractions_in_0_to_1()
    {
        using var dir = new TempDirectory();
        string init = SaveTinyModel(dir);
        var options = TinyTraining.PolicyOptions(init, dir.File("out.safetensors"), 1) with { PlanTargets = [0.6] };
        var error = Assert.Throws<ArgumentException>(() => new PolicyTrainer(options).Run());
        Assert.Contains("has no compute policy", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(options.OutputPath));
        foreach (double[] plans in new[] { Array.Empty<double>(), [0.6, 0], [1.5] })
        {
            Assert.Throws<ArgumentException>(() => new PolicyTrainer(options with { PlanTargets = plans }));
        }
    }

    [Fact]
    public void The_calibrated_average_rule_spends_on_its_validation_frames_what_the_offset_was_fitted_to()
    {
        using var dir = new TempDirectory();
        string adaptive = SaveTinyPolicyModel(dir);
        // The evaluated frames are the calibration frames themselves, so the report's mean is the fitted one.
        var options = new EvalOptions
        {
            ModelPath = adaptive, FirstSeed = BudgetedPasses.CalibrationFirstSeed, Sequences = BudgetedPasses.OffsetSequences, FramesPerSequence = 12,
            Width = 64, Height = 48, Budget = 0.6, Rule = BudgetRule.Average,
        };
        var (model, _) = ModelFile.Load(adaptive);
        (float Offset, double Mean) fitted;
        using (model)
        {
            fitted = BudgetedPasses.CalibratedOffset(model, 0.6, options);
        }

        var own = Evaluator.Run(options).Budget!;
        var calibrated = Evaluator.Run(options with { Calibrate = true }).Budget!;

        Assert.Equal(fitted.Offset, calibrated.LogitOffset);
        Assert.Null(own.LogitOffset);
        Assert.Equal(fitted.Mean, calibrated.MeanFraction, 9);
        Assert.True(Math.Abs(calibrated.MeanFraction - 0.6) <= Math.Abs(own.MeanFraction - 0.6) + 1e-12,
            $"calibrated {calibrated.MeanFraction:F4}, the policy's own threshold {own.MeanFraction:F4}");
        var withStatic = Assert.Throws<ArgumentException>(() => Evaluator.Run(options with { Calibrate = true, Static = true }));
        Assert.StartsWith("calibration shifts the average rule's threshold", withStatic.Message, StringComparison.Ordinal);
    }
}
