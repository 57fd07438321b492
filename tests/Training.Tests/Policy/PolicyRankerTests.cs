using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Policy;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests.Policy;

/// <summary>The policy-rank stage on the tiny model: the policy learns which frames gain from a unit; nothing else moves.</summary>
[Collection(TinyTraining.Collection)]
public sealed class PolicyRankerTests
{
    /// <summary>
    /// A tiny model with a fresh policy (every unit at probability 0.82, so nothing swings), or, with
    /// <paramref name="swinging"/>, one whose logits are scattered around 0 by frame (bias and target gain 0, large weights).
    /// </summary>
    private static string SavePolicyModel(TempDirectory dir, bool swinging)
    {
        var (path, _) = ShuffledBaselineTests.SaveTinyModel(dir);
        var (model, metadata) = PolicyModel.Load(path, 32);
        using var _ = model;
        if (swinging)
        {
            using var noGrad = no_grad();
            random.manual_seed(5);
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (name is "policy.fc2.bias" or "policy.target_gain")
                {
                    parameter.zero_();
                }
                else if (name is "policy.fc1.weight" or "policy.fc2.weight")
                {
                    parameter.copy_(randn(parameter.shape).mul(0.5));
                }
            }
        }
        string output = dir.File(swinging ? "swinging.safetensors" : "fresh.safetensors");
        ModelFile.Save(output, model, metadata);
        return output;
    }

    private static PolicyRankOptions Options(string init, string output) => new()
    {
        InitPath = init,
        OutputPath = output,
        // One frame from each of 16 scenes: frames of one static scene can be nearly the same at 64x48.
        Sequences = 16,
        FramesPerSequence = 1,
        Width = 64,
        Height = 48,
        Targets = [0.6],
        Steps = 400,
        LearningRate = 3e-2,
        MinShare = 0.1,
    };

    private static float[] Parameter(string path, string name)
    {
        var (model, _) = ModelFile.Load(path);
        using var _ = model;
        return model.named_parameters().Single(p => p.name == name).parameter.data<float>().ToArray();
    }

    [Fact]
    public void Ranking_teaches_the_policy_the_frames_that_gain_and_leaves_the_model_and_the_other_logits()
    {
        using var dir = new TempDirectory();
        string init = SavePolicyModel(dir, swinging: true);
        string output = dir.File("ranked.safetensors");

        var report = new PolicyRanker(Options(init, output)).Run();

        Assert.NotEmpty(report.Units);
        Assert.All(report.Units, u => Assert.True(u.AgreementAfter >= u.AgreementBefore && u.AgreementAfter >= 0.9,
            $"{u.Unit} at {u.Target}: decisions agreed with the ranking on {u.AgreementBefore:P0} before and {u.AgreementAfter:P0} after"));
        Assert.True(report.Units.Average(u => u.AgreementBefore) < 0.9, "the untrained decisions already agreed with the ranking");
        Assert.True(report.OtherLogitChange < 0.5, $"the other logits moved by {report.OtherLogitChange:F3}");
        Assert.True(report.Losses[^1] < report.Losses[0], $"loss {report.Losses[0]:F4} -> {report.Losses[^1]:F4}");
        Assert.Equal(Parameter(init, "blocks.0.attn.qkv.weight"), Parameter(output, "blocks.0.attn.qkv.weight"));
        Assert.NotEqual(Parameter(init, "policy.fc2.weight"), Parameter(output, "policy.fc2.weight"));
        var (_, metadata) = ModelFile.Load(output);
        Assert.Equal("policy-rank", metadata.Training.Last().Stage);
    }

    [Fact]
    public void Ranking_for_the_per_frame_rule_orders_the_fixed_sets_last_unit_against_the_first_left_out()
    {
        using var dir = new TempDirectory();
        string init = SavePolicyModel(dir, swinging: true);

        var report = new PolicyRanker(Options(init, dir.File("frame.safetensors")) with { Rule = BudgetRule.PerFrame }).Run();

        var pair = Assert.Single(report.Units);
        Assert.Contains(" for ", pair.Unit, StringComparison.Ordinal);
        Assert.InRange(pair.Runs, 1, pair.Frames - 1);
        Assert.True(pair.AgreementAfter >= 0.9 && pair.AgreementAfter > pair.AgreementBefore,
            $"{pair.Unit}: the order agreed with the labels on {pair.AgreementBefore:P0} before and {pair.AgreementAfter:P0} after");
        Assert.True(report.OtherLogitChange < 0.5, $"the other logits moved by {report.OtherLogitChange:F3}");
    }

    [Fact]
    public void Ranking_is_seeded()
    {
        using var dir = new TempDirectory();
        string init = SavePolicyModel(dir, swinging: true);
        var options = Options(init, dir.File("a.safetensors")) with { Steps = 20 };

        new PolicyRanker(options).Run();
        new PolicyRanker(options with { OutputPath = dir.File("b.safetensors") }).Run();

        Assert.Equal(Parameter(dir.File("a.safetensors"), "policy.fc1.weight"), Parameter(dir.File("b.safetensors"), "policy.fc1.weight"));
    }

    [Fact]
    public void A_policy_that_runs_every_unit_everywhere_has_nothing_to_rank_and_a_model_without_one_is_refused()
    {
        using var dir = new TempDirectory();
        string fresh = SavePolicyModel(dir, swinging: false);
        var (plain, _) = ShuffledBaselineTests.SaveTinyModel(dir);

        var nothing = Assert.Throws<InvalidOperationException>(() => new PolicyRanker(Options(fresh, dir.File("x.safetensors"))).Run());
        Assert.Contains("nothing to rank", nothing.Message, StringComparison.Ordinal);
        var noPolicy = Assert.Throws<ArgumentException>(() => new PolicyRanker(Options(plain, dir.File("y.safetensors"))).Run());
        Assert.Contains("has no compute policy", noPolicy.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("x.safetensors")));
    }

    [Theory]
    [InlineData(1.2, 0.1)]
    [InlineData(0.6, 0.6)]
    [InlineData(0.0, 0.1)]
    public void Invalid_settings_are_refused(double target, double minShare)
    {
        var options = Options("in.safetensors", "out.safetensors") with { Targets = [target], MinShare = minShare };
        var error = Assert.Throws<ArgumentException>(() => new PolicyRanker(options));
        Assert.Contains("invalid policy ranking settings", error.Message, StringComparison.Ordinal);
    }
}
