using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Evaluation;

namespace StreamMtl.Training.Tests.Policy;

/// <summary>The content-blind baseline at equal FLOPs: unit sets given per frame, and the adaptive run's sets dealt at random.</summary>
[Collection(TinyTraining.Collection)]
public sealed class ShuffledBaselineTests
{
    /// <summary>A tiny model without a policy, saved in <paramref name="dir"/>, and its number of compute units.</summary>
    internal static (string Path, int Units) SaveTinyModel(TempDirectory dir)
    {
        var config = TinyModels.Config();
        string path = dir.File("tiny.safetensors");
        using var model = TinyModels.WithRandomDeltas(config);
        ModelFile.Save(path, model, new ModelMetadata { Config = config, Classes = [.. SyntheticClasses.Names] });
        return (path, model.Units.Count);
    }

    [Fact]
    public void Shuffling_deals_every_set_as_often_as_given_in_an_order_fixed_by_the_seed()
    {
        var sets = Enumerable.Range(0, 24).Select(i => new[] { i % 2 == 0, i % 3 == 0, i < 5 }).ToList();
        static string Key(bool[] set) => string.Concat(set.Select(r => r ? '1' : '0'));

        var first = BudgetedPasses.Shuffled(sets, 1);

        Assert.Equal(sets.Select(Key).Order(), first.Select(Key).Order());
        Assert.Equal(first.Select(Key), BudgetedPasses.Shuffled(sets, 1).Select(Key));
        Assert.NotEqual(first.Select(Key), BudgetedPasses.Shuffled(sets, 2).Select(Key));
        Assert.NotEqual(sets.Select(Key), first.Select(Key));
    }

    [Fact]
    public void Unit_sets_given_per_frame_are_the_units_each_frame_runs()
    {
        using var dir = new TempDirectory();
        var (path, units) = SaveTinyModel(dir);
        var options = new EvalOptions { ModelPath = path, Sequences = 2, FramesPerSequence = 3, Width = 64, Height = 48, Budget = 1 };
        var all = Enumerable.Repeat(true, units).ToArray();
        var skipping = all.Select((_, u) => u != 0 && u != units - 1).ToArray();
        bool[][] alternating = [.. Enumerable.Range(0, 6).Select(i => i % 2 == 0 ? all : skipping)];

        var full = Evaluator.Run(options);
        var everyUnit = Evaluator.Run(options with { FramePlans = [.. Enumerable.Repeat(all, 6)] });
        var given = Evaluator.Run(options with { FramePlans = alternating });
        var again = Evaluator.Run(options with { FramePlans = given.Budget!.FrameUnits });

        // Every unit on every frame is the full model; skipping units on half the frames changes the figures and the FLOPs.
        Assert.Equal(full.Metrics["segmentation.miou"], everyUnit.Metrics["segmentation.miou"], 9);
        Assert.Equal(full.Metrics["normals.mean_deg"], everyUnit.Metrics["normals.mean_deg"], 9);
        Assert.NotEqual(full.Metrics["normals.mean_deg"], given.Metrics["normals.mean_deg"]);
        var budget = given.Budget!;
        Assert.Equal("given", budget.Rule);
        Assert.Equal(2, budget.DistinctPlans);
        Assert.Equal(1.0, budget.MaxFraction, 9);
        Assert.True(budget.MinFraction < 0.95, $"a frame skipping two units spent {budget.MinFraction:F3}");
        Assert.Equal(0.5, budget.UnitRates[budget.UnitRates.Keys.First()], 9);
        Assert.Equal(alternating.Select(s => string.Concat(s.Select(r => r ? '1' : '0'))), budget.FrameUnits.Select(s => string.Concat(s.Select(r => r ? '1' : '0'))));
        Assert.Equal(given.Metrics["normals.mean_deg"], again.Metrics["normals.mean_deg"], 9);
    }

    [Fact]
    public void Unit_sets_per_frame_must_match_the_frames_and_the_model()
    {
        using var dir = new TempDirectory();
        var (path, units) = SaveTinyModel(dir);
        var options = new EvalOptions { ModelPath = path, Sequences = 1, FramesPerSequence = 2, Width = 64, Height = 48, Budget = 1 };
        var all = Enumerable.Repeat(true, units).ToArray();

        var tooFew = Assert.Throws<ArgumentException>(() => Evaluator.Run(options with { FramePlans = [all] }));
        Assert.Contains("1 unit sets for 2 evaluated frames", tooFew.Message, StringComparison.Ordinal);
        var wrongModel = Assert.Throws<ArgumentException>(() => Evaluator.Run(options with { FramePlans = [all, [true, false]] }));
        Assert.Contains($"a unit set of 2 units for a model of {units}", wrongModel.Message, StringComparison.Ordinal);
        var withStatic = Assert.Throws<ArgumentException>(() => Evaluator.Run(options with { FramePlans = [all, all], Static = true }));
        Assert.Contains("not with the static baseline", withStatic.Message, StringComparison.Ordinal);
    }
}

/// <summary>The oracle: the costlier of two unit sets to the frames it helps most, as many as the adaptive run gave it.</summary>
[Collection(TinyTraining.Collection)]
public sealed class OracleBaselineTests
{
    [Fact]
    public void A_frames_gain_weighs_each_task_by_its_mean_error_under_the_cheap_set()
    {
        // Two tasks; the first task's errors are ten times the second's, so equal relative gains weigh the same.
        double[][] cheap = [[10, 1], [10, 1], [10, 1]];
        double[][] costly = [[9, 1], [10, 0.9], [10, 1.2]];

        var gains = OracleBaseline.Combine(cheap, costly);

        Assert.Equal(0.1, gains[0], 12);
        Assert.Equal(0.1, gains[1], 12);
        Assert.Equal(-0.2, gains[2], 12);
    }

    [Fact]
    public void The_oracle_keeps_each_sets_count_and_needs_exactly_two_sets()
    {
        using var dir = new TempDirectory();
        var (path, units) = ShuffledBaselineTests.SaveTinyModel(dir);
        var options = new EvalOptions { ModelPath = path, Sequences = 2, FramesPerSequence = 3, Width = 64, Height = 48, Budget = 1 };
        var all = Enumerable.Repeat(true, units).ToArray();
        var skipping = all.Select((_, u) => u != 0).ToArray();
        // The costlier set on two of six frames, as a policy might have given it.
        bool[][] given = [all, skipping, skipping, all, skipping, skipping];

        var oracle = OracleBaseline.Run(options, new BudgetReport { FrameUnits = given })!;
        var shuffled = Evaluator.Run(options with { FramePlans = given });

        var gains = OracleBaseline.Combine(OracleBaseline.FrameErrors(options, skipping, 6), OracleBaseline.FrameErrors(options, all, 6));
        var best = Enumerable.Range(0, 6).OrderByDescending(f => gains[f]).Take(2).Order();
        Assert.Equal(best, Enumerable.Range(0, 6).Where(f => oracle.Budget!.FrameUnits[f].All(u => u)));
        Assert.True(gains.Distinct().Count() == 6, "the frames' gains must differ for the choice to be checked");
        Assert.Equal(shuffled.Budget!.MeanFraction, oracle.Budget!.MeanFraction, 9);
        Assert.Null(OracleBaseline.Run(options, new BudgetReport { FrameUnits = [.. Enumerable.Repeat(all, 6)] }));
    }
}
