using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>Compute units, budgeted decisions by the policy, and a policy's place in the model file.</summary>
public sealed class ComputePolicyTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("streammtl-policy-").FullName;

    /// <summary>The tiny test model with a policy whose weights are random enough to rank units differently per frame.</summary>
    private static MultiTaskVit WithPolicy(int seed = 5)
    {
        var model = TinyModels.WithRandomDeltas(TinyModels.Config() with { Policy = new PolicyConfig { Hidden = 8 } }, seed);
        using (no_grad())
        {
            foreach (var (name, p) in model.named_parameters().Where(p => p.name.StartsWith("policy.fc", StringComparison.Ordinal)))
            {
                p.normal_(0, 1);
            }
        }
        return model;
    }

    [Fact]
    public void Units_are_the_trunk_blocks_then_each_sub_tasks_own_blocks()
    {
        var config = TinyModels.Config(blocks: 4, split: 2);
        var names = ComputeUnits.Of(config).Select(u => u.Name);
        Assert.Equal(["trunk.1", "trunk.2", "trunk.3", "trunk.4", "depth.3", "depth.4", "normals.3", "normals.4"], names);
        Assert.Equal(6, ComputeUnits.IndexOf(config, 2, VisionTask.Normals));
    }

    [Fact]
    public void Decisions_respect_the_budget_for_many_targets_and_frames()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var rng = new Random(11);
        var plans = new HashSet<string>();
        for (int trial = 0; trial < 40; trial++)
        {
            var tasks = new[] { TaskSet.All, VisionTask.Depth.ToSet(), VisionTask.Segmentation.ToSet() | VisionTask.Normals.ToSet() }[trial % 3];
            // Targets from what always runs (patch embedding, heads, the policy) up to the full pass.
            var costs = model.UnitCosts(12, tasks, fused: true);
            double floor = (double)costs.Mandatory / costs.Dense;
            double budget = floor + rng.NextDouble() * (1 - floor);
            using var inner = NewDisposeScope();
            var images = randn(3, 3, 48, 64, generator: new Generator((ulong)(100 + trial)));
            for (int b = 0; b < 3; b++)
            {
                // One frame at a time: each pass's counter holds that frame alone.
                var counter = new FlopCounter();
                using var result = model.Forward(images.narrow(0, b, 1), new ForwardOptions(tasks, Budget: budget), counter);
                Assert.True(counter.ExecutedTotal <= budget * counter.DenseTotal, $"target {budget:F3}: executed {counter.ExecutedTotal} of {counter.DenseTotal}");
                var perTask = model.UnitCosts(12, tasks, fused: true);
                Assert.Equal(perTask.Dense, counter.DenseTotal);
                Assert.Equal(perTask.Executed(result.Executed!.Row(0)), counter.ExecutedTotal);
                // Close to the target: no unit the tasks need was left out that would still have fitted.
                long left = (long)Math.Floor(budget * perTask.Dense) - counter.ExecutedTotal;
                Assert.DoesNotContain(Enumerable.Range(0, model.Units.Count),
                    u => perTask.Candidates[u] && !result.Executed.Runs(0, u) && perTask.Costs[u] <= left);
                plans.Add(string.Concat(result.Executed.Row(0).Select(r => r ? '1' : '0')));
            }
        }
        Assert.True(plans.Count > 5, $"the policy chose only {plans.Count} distinct unit sets");
    }

    [Fact]
    public void The_average_rule_runs_the_units_the_policy_gives_a_positive_logit_and_lets_frames_spend_differently()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var fractions = new HashSet<long>();
        foreach (var tasks in new[] { TaskSet.All, VisionTask.Depth.ToSet() })
        {
            var costs = model.UnitCosts(12, tasks, fused: true);
            for (int frame = 0; frame < 12; frame++)
            {
                using var inner = NewDisposeScope();
                var image = randn(1, 3, 48, 64, generator: new Generator((ulong)(300 + frame)));
                var counter = new FlopCounter();
                using var result = model.Forward(image, new ForwardOptions(tasks, Budget: 0.5, Rule: BudgetRule.Average), counter);
                var scores = result.UnitScores!;
                for (int u = 0; u < model.Units.Count; u++)
                {
                    Assert.Equal(costs.Candidates[u] && scores[u] > 0, result.Executed!.Runs(0, u));
                }
                Assert.Equal(costs.Executed(result.Executed!.Row(0)), counter.ExecutedTotal);
                fractions.Add(counter.ExecutedTotal);
            }
        }
        // Not capped at the target: frames of the random policy spend different amounts, some above 0.5.
        Assert.True(fractions.Count > 2, $"only {fractions.Count} distinct executed FLOP totals");
    }

    [Fact]
    public void Decide_takes_exactly_the_candidates_with_a_positive_logit()
    {
        Assert.Equal([true, false, false, false, true], Budget.Decide([0.1f, -0.2f, 0f, 3f, 1e-3f], [true, true, true, false, true]));
        // An offset shifts every logit before the threshold.
        Assert.Equal([true, true, true, false, true], Budget.Decide([0.1f, -0.2f, 0f, 3f, 1e-3f], [true, true, true, false, true], 0.25f));
        Assert.Equal([false, false, false, false, false], Budget.Decide([0.1f, -0.2f, 0f, 3f, 1e-3f], [true, true, true, false, true], -0.5f));
    }

    [Fact]
    public void The_calibrated_offset_brings_the_mean_spend_nearest_the_target_and_stays_at_zero_when_it_already_is()
    {
        // Three units of 10 FLOPs, 10 mandatory, dense 40. Offset 0: frame 0 runs units 0 and 1 (0.75), frame 1 unit 0 (0.5).
        var costs = new UnitCosts([10, 10, 10], [true, true, true], 10, 40);
        float[] logits = [2f, 0.5f, -1f, 2f, -0.5f, -1f];

        Assert.Equal((0f, 0.625), Budget.CalibrateOffset(logits, costs, 0.625));
        // Dropping frame 0's unit 1 needs an offset in (-2, -0.5): the middle of that interval.
        Assert.Equal((-1.25f, 0.5), Budget.CalibrateOffset(logits, costs, 0.5));
        // 0.7: frame 1's unit 1 too (both at 0.75) is nearer than 0.625; the interval (0.5, 1).
        Assert.Equal((0.75f, 0.75), Budget.CalibrateOffset(logits, costs, 0.7));
        // Beyond every logit: nothing or everything optional runs.
        Assert.Equal((-3f, 0.25), Budget.CalibrateOffset(logits, costs, 0.1));
        Assert.Equal((2f, 1.0), Budget.CalibrateOffset(logits, costs, 1));
        var ragged = Assert.Throws<ArgumentException>(() => Budget.CalibrateOffset([1f, 2f], costs, 0.5));
        Assert.StartsWith("2 logits are not whole frames of 3 units", ragged.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Budget.CalibrateOffset(logits, costs, 0));
    }

    [Fact]
    public void A_budget_below_the_mandatory_part_runs_only_the_mandatory_part()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var counter = new FlopCounter();
        using var result = model.Forward(randn(1, 3, 48, 64, generator: new Generator(2)), new ForwardOptions(Budget: 1e-3), counter);
        Assert.All(result.Executed!.Row(0), Assert.False);
        Assert.Equal(model.UnitCosts(12, TaskSet.All, fused: true).Mandatory, counter.ExecutedTotal);
    }

    [Fact]
    public void A_budget_of_one_is_the_full_model()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var images = randn(2, 3, 48, 64, generator: new Generator(7));
        var fullCounter = new FlopCounter();
        var budgetCounter = new FlopCounter();
        using var full = model.Forward(images, new ForwardOptions(), fullCounter);
        using var budgeted = model.Forward(images, new ForwardOptions(Budget: 1.0), budgetCounter);
        foreach (var task in full.Tasks)
        {
            Assert.True(full.Raw(task).allclose(budgeted.Raw(task), rtol: 0, atol: 1e-4), task.Name());
        }
        Assert.Equal(fullCounter.ExecutedTotal, budgetCounter.ExecutedTotal);
        Assert.Equal(fullCounter.DenseTotal, budgetCounter.ExecutedTotal);
        Assert.Null(budgeted.Executed);
    }

    [Fact]
    public void A_skipped_unit_costs_nothing_and_changes_the_outputs()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var images = randn(1, 3, 48, 64, generator: new Generator(8));
        var costs = model.UnitCosts(12, TaskSet.All, fused: true);
        using var full = model.Forward(images, new ForwardOptions());
        int units = model.Units.Count;
        foreach (int skipped in new[] { 0, 3, units - 1 })
        {
            var counter = new FlopCounter();
            using var result = model.Forward(images, new ForwardOptions(Units: UnitPlan.Skipping(units, skipped)), counter);
            // An explicit plan asks no policy: the pass costs the dense pass less the skipped unit.
            Assert.Equal(costs.Dense - costs.Costs[skipped], counter.ExecutedTotal);
            Assert.Equal(costs.Dense, counter.DenseTotal);
            var unit = model.Units[skipped];
            // A trunk block at or below the split changes every task; a sub-task's own block only that task.
            foreach (var task in full.Tasks)
            {
                bool affected = unit.SubTask == null ? unit.Block < model.Config.SplitLayer || task == model.Config.BaseTask : unit.SubTask == task;
                Assert.Equal(affected, !full.Raw(task).allclose(result.Raw(task), rtol: 0, atol: 1e-6));
            }
        }
    }

    [Fact]
    public void Per_sample_plans_equal_each_sample_run_alone()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var images = randn(3, 3, 48, 64, generator: new Generator(9));
        int units = model.Units.Count;
        bool[][] rows = [.. Enumerable.Range(0, 3).Select(b => Enumerable.Range(0, units).Select(u => (u + b) % 3 != 0).ToArray())];
        using var together = model.Forward(images, new ForwardOptions(Units: new UnitPlan(rows)));
        for (int b = 0; b < 3; b++)
        {
            using var alone = model.Forward(images.narrow(0, b, 1), new ForwardOptions(Units: new UnitPlan(rows[b])));
            foreach (var task in alone.Tasks)
            {
                Assert.True(alone.Raw(task).allclose(together.Raw(task).narrow(0, b, 1), rtol: 0, atol: 1e-5), $"{task.Name()} sample {b}");
            }
        }
    }

    [Fact]
    public void Training_gates_of_one_and_zero_equal_running_and_skipping()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var images = randn(2, 3, 48, 64, generator: new Generator(10));
        int units = model.Units.Count;
        var gates = ones(2, units);
        gates[0, 2] = tensor(0f);
        gates[1, units - 1] = tensor(0f);
        var plan = new UnitPlan(
            [.. Enumerable.Range(0, units).Select(u => u != 2)],
            [.. Enumerable.Range(0, units).Select(u => u != units - 1)]);
        using var gated = model.Forward(images, new ForwardOptions(UnitGates: gates, Fused: false));
        using var planned = model.Forward(images, new ForwardOptions(Units: plan, Fused: false));
        foreach (var task in gated.Tasks)
        {
            Assert.True(gated.Raw(task).allclose(planned.Raw(task), rtol: 0, atol: 1e-5), task.Name());
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.0001)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void Invalid_budgets_are_rejected(double budget)
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        using var noGrad = no_grad();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(randn(1, 3, 48, 64), new ForwardOptions(Budget: budget)));
        Assert.Contains("budget must be a fraction of the dense FLOPs in (0, 1]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_model_file_with_a_policy_round_trips()
    {
        using var scope = NewDisposeScope();
        using var model = WithPolicy();
        string path = Path.Combine(_dir, "policy.safetensors");
        ModelFile.Save(path, model, new ModelMetadata { Config = model.Config, Classes = ["a", "b", "c", "d", "e", "f", "g"] });
        var (loaded, metadata) = ModelFile.Load(path);
        using var _ = loaded;
        Assert.Equal(8, metadata.Config.Policy!.Hidden);
        Assert.Contains("\"policy\":{\"hidden\":8}", ModelFile.ReadMetadata(path).ToJson(), StringComparison.Ordinal);
        using var noGrad = no_grad();
        var images = randn(2, 3, 48, 64, generator: new Generator(12));
        using var before = model.Forward(images, new ForwardOptions(Budget: 0.6));
        using var after = loaded.Forward(images, new ForwardOptions(Budget: 0.6));
        Assert.Equal(before.UnitScores, after.UnitScores);
        foreach (var task in before.Tasks)
        {
            Assert.True(before.Raw(task).equal(after.Raw(task)).all().item<bool>(), task.Name());
        }
    }

    [Fact]
    public void A_model_file_without_a_policy_loads_and_runs_as_before()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        string path = Path.Combine(_dir, "plain.safetensors");
        ModelFile.Save(path, model, new ModelMetadata { Config = model.Config, Classes = ["a", "b", "c", "d", "e", "f", "g"] });
        Assert.DoesNotContain("policy", ModelFile.ReadMetadata(path).ToJson(), StringComparison.Ordinal);
        var (loaded, _) = ModelFile.Load(path);
        using var _1 = loaded;
        Assert.Null(loaded.Policy);
        Assert.DoesNotContain(loaded.named_parameters(), p => p.name.StartsWith("policy.", StringComparison.Ordinal));
        using var noGrad = no_grad();
        var images = randn(1, 3, 48, 64, generator: new Generator(13));
        using var before = model.Forward(images, new ForwardOptions());
        using var after = loaded.Forward(images, new ForwardOptions());
        using var full = loaded.Forward(images, new ForwardOptions(Budget: 1.0));
        foreach (var task in before.Tasks)
        {
            Assert.True(before.Raw(task).equal(after.Raw(task)).all().item<bool>(), task.Name());
            Assert.True(before.Raw(task).equal(full.Raw(task)).all().item<bool>(), task.Name());
        }
        var error = Assert.Throws<InvalidOperationException>(() => loaded.Forward(images, new ForwardOptions(Budget: 0.5)));
        Assert.Contains("no compute policy", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
