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
        string init = SaveTinyModel(dir);
        string output = dir.File("adaptive.safetensors");
        new PolicyTrainer(TinyTraining.PolicyOptions(init, output, 2)).Run();
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
}
