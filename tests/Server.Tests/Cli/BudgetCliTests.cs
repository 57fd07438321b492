using StreamMtl.Server.Cli;

namespace StreamMtl.Server.Tests.Cli;

/// <summary>The command lines that take a budget refuse one outside (0, 1] before loading or rendering anything.</summary>
public sealed class BudgetCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("streammtl-budget-cli-").FullName;

    private string FakeModel()
    {
        string model = Path.Combine(_dir, "model.safetensors");
        File.WriteAllBytes(model, [1, 2, 3]);
        return model;
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-0.2")]
    [InlineData("1.01")]
    public void Eval_refuses_a_budget_outside_zero_to_one(string budget)
    {
        var error = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), "--budget", budget])));
        Assert.StartsWith("--budget: budget must be a fraction of the dense FLOPs in (0, 1], got ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_refuses_a_budget_that_is_not_a_number_while_parsing()
    {
        foreach (string budget in new[] { "NaN", "half" })
        {
            var error = Assert.Throws<CliException>(() => CommandLine.Parse(["eval", "--budget", budget]));
            Assert.Contains("--budget", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Eval_refuses_static_without_a_budget_and_a_budget_with_sharing()
    {
        var noBudget = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), "--static"])));
        Assert.Equal("--static is the non-adaptive baseline at a budget: add --budget X", noBudget.Message);
        var sharing = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), "--budget", "0.5", "--threshold", "0.1"])));
        Assert.StartsWith("--budget skips blocks at the model's own split", sharing.Message, StringComparison.Ordinal);
        foreach (var args in new[] { new[] { "--budget-rule", "average" }, ["--budget", "0.5", "--static", "--budget-rule", "average"] })
        {
            var rule = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), .. args])));
            Assert.StartsWith("--budget-rule average is how the policy decides under --budget X", rule.Message, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("0")]
    [InlineData("1.5")]
    public void Eval_refuses_a_resolution_outside_zero_to_one(string fraction)
    {
        var error = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), "--resolution", fraction])));
        Assert.Equal($"--resolution must be a fraction of the dense FLOPs in (0, 1], got {fraction}", error.Message);
    }

    [Fact]
    public void Calibration_is_refused_without_the_average_rule()
    {
        foreach (var args in new[] { new[] { "--calibrate" }, ["--budget", "0.6", "--calibrate"] })
        {
            var error = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), .. args])));
            Assert.StartsWith("--calibrate shifts the threshold of --budget-rule average", error.Message, StringComparison.Ordinal);
        }
        var curve = Assert.Throws<CliException>(() => BudgetCurveCommand.Run(CommandLine.Parse(["budget-curve", "--model", FakeModel(), "--calibrate"])));
        Assert.StartsWith("--calibrate shifts the threshold of --budget-rule average", curve.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eval_refuses_a_resolution_beside_a_budget_and_when_recording()
    {
        var budget = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), "--resolution", "0.6", "--budget", "0.6"])));
        Assert.StartsWith("--resolution runs the full model on smaller frames: drop --budget", budget.Message, StringComparison.Ordinal);
        var record = Assert.Throws<CliException>(() => EvalCommand.Run(CommandLine.Parse(["eval", "--model", FakeModel(), "--resolution", "0.6", "--record"])));
        Assert.Contains("--resolution", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_budget_rules_and_flop_losses_are_refused_naming_the_choices()
    {
        var rule = Assert.Throws<CliException>(() => CommandLine.Parse(["eval", "--budget", "0.5", "--budget-rule", "mean"]));
        Assert.Contains("'mean' not recognized. Must be one of:", rule.Message, StringComparison.Ordinal);
        Assert.Contains("'average'", rule.Message, StringComparison.Ordinal);
        var loss = Assert.Throws<CliException>(() => CommandLine.Parse(["train", "--stage", "policy", "--flop-loss", "sum"]));
        Assert.Contains("'sum' not recognized", loss.Message, StringComparison.Ordinal);
        Assert.Contains("'batch'", loss.Message, StringComparison.Ordinal);
        var noise = Assert.Throws<CliException>(() => CommandLine.Parse(["train", "--stage", "policy", "--noise-end", "2"]));
        Assert.Contains("--noise-end", noise.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Budget_curve_refuses_a_budget_outside_zero_to_one()
    {
        var error = Assert.Throws<CliException>(() => BudgetCurveCommand.Run(CommandLine.Parse(["budget-curve", "--model", FakeModel(), "--budgets", "1,0.5,0"])));
        Assert.Equal("--budgets: budget must be a fraction of the dense FLOPs in (0, 1], got 0", error.Message);
    }

    [Fact]
    public void The_policy_stage_refuses_bad_settings()
    {
        var error = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", "--stage", "policy", "--out",
            Path.Combine(_dir, "out.safetensors")])));
        Assert.Equal("--stage policy needs --init MODEL (a trained model)", error.Message);
        var plans = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", "--stage", "policy", "--init", FakeModel(),
            "--out", Path.Combine(_dir, "out.safetensors"), "--plan-targets", "0.6,0"])));
        Assert.Equal("plan target: budget must be a fraction of the dense FLOPs in (0, 1], got 0", plans.Message);
        Assert.False(File.Exists(Path.Combine(_dir, "out.safetensors")));
    }

    [Fact]
    public void The_policy_rank_stage_refuses_bad_settings()
    {
        string output = Path.Combine(_dir, "out.safetensors");
        var noInit = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", "--stage", "policy-rank", "--out", output])));
        Assert.Equal("--stage policy-rank needs --init MODEL (a model with a compute policy)", noInit.Message);
        var target = Assert.Throws<CliException>(() => TrainCommand.Run(CommandLine.Parse(["train", "--stage", "policy-rank", "--init", FakeModel(),
            "--out", output, "--rank-targets", "0.6,1.5"])));
        Assert.Equal("targets: budget must be a fraction of the dense FLOPs in (0, 1], got 1.5", target.Message);
        Assert.False(File.Exists(output));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
