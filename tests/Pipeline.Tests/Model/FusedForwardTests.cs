using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>The inference fast paths (<see cref="ForwardOptions.Fused"/>) against the plain computation training runs.</summary>
public sealed class FusedForwardTests
{
    [Fact]
    public void FusedPassEqualsTheUnfusedReference()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        using var noGrad = no_grad();
        var images = randn(2, 3, 48, 64, generator: new Generator(3));
        using var fused = model.Forward(images, new ForwardOptions(TaskSet.All));
        using var reference = model.Forward(images, new ForwardOptions(TaskSet.All, Fused: false));
        AssertClose(reference, fused);
    }

    [Fact]
    public void FoldedWeightsFollowWeightsChangedInPlace()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        var images = randn(1, 3, 48, 64, generator: new Generator(4));
        using (no_grad())
        {
            using var warm = model.Forward(images, new ForwardOptions(TaskSet.All));
            var b = model.named_parameters().First(p => p.name == "tasks.depth.blocks.3.mlp.fc1.lora_B").parameter;
            b.add_(ones_like(b), Scalars.One);
            model.ClearCaches();
            using var fused = model.Forward(images, new ForwardOptions(TaskSet.All));
            using var reference = model.Forward(images, new ForwardOptions(TaskSet.All, Fused: false));
            AssertClose(reference, fused);
            b.sub_(ones_like(b));
        }
        // Switching modes drops the folded weights too: a training step's update shows in the next inference pass.
        model.train();
        model.eval();
        using (no_grad())
        {
            using var fused = model.Forward(images, new ForwardOptions(TaskSet.All));
            using var reference = model.Forward(images, new ForwardOptions(TaskSet.All, Fused: false));
            AssertClose(reference, fused);
        }
    }

    [Fact]
    public void TrainingPassesKeepTheLowRankFactorsTheirGradients()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        model.train();
        using var result = model.Forward(randn(1, 3, 48, 64, generator: new Generator(5)), new ForwardOptions(TaskSet.Depth));
        result.Raw(VisionTask.Depth).sum().backward();
        var a = model.named_parameters().First(p => p.name == "tasks.depth.blocks.3.attn.qkv.lora_A").parameter;
        Assert.NotNull(a.grad);
        Assert.True(a.grad!.abs().sum().item<float>() > 0);
    }

    private static void AssertClose(ForwardResult expected, ForwardResult actual)
    {
        foreach (var task in VisionTasks.All)
        {
            float diff = (expected.Raw(task) - actual.Raw(task)).abs().max().item<float>();
            Assert.True(diff < 1e-4f, $"{task}: max |fused - unfused| = {diff}");
        }
    }
}
