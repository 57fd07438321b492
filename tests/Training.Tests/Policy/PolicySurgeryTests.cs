using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Model.Policy;
using StreamMtl.Training.Surgery;

namespace StreamMtl.Training.Tests.Policy;

/// <summary>Model surgery on a model with a compute policy.</summary>
public sealed class PolicySurgeryTests
{
    [Fact]
    public void Growing_the_trunk_drops_the_policy_and_keeps_the_rest()
    {
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config() with { Policy = new PolicyConfig { Hidden = 8 } });
        using var grown = ModelGrowth.InsertBlocks(model, after: 1, count: 1);
        Assert.Null(grown.Policy);
        Assert.Null(grown.Config.Policy);
        Assert.Equal(model.Config.Blocks + 1, grown.Config.Blocks);
        Assert.DoesNotContain(grown.named_parameters(), p => p.name.StartsWith("policy.", StringComparison.Ordinal));
    }
}
