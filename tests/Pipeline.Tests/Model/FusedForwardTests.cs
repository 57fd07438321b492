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

    [Fact]
    public void BFloat16CopiesOfTheWeightsMultiplyAsCastsPerCallDo()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        var images = randn(1, 3, 48, 64, generator: new Generator(6));
        var options = new ForwardOptions(TaskSet.All, KeepBlockOutputs: true);
        void Compare()
        {
            // With gradients on nothing is cached: weights are cast on every call and sub-tasks run unfolded.
            using var perCall = WithBFloat16(() => model.Forward(images, options));
            using var cached = WithBFloat16(() => { using var noGrad = no_grad(); return model.Forward(images, options); });
            float diff = (perCall.Raw(VisionTask.Segmentation) - cached.Raw(VisionTask.Segmentation)).abs().max().item<float>();
            Assert.True(diff < 1e-4f, $"segmentation: max |cached - per call| = {diff}");
            foreach (var task in new[] { VisionTask.Depth, VisionTask.Normals })
            {
                // Folded sub-task weights round W + B*A once instead of W, B and A apart: close, not equal.
                var a = perCall.BlockOutputs(task)[^1];
                var b = cached.BlockOutputs(task)[^1];
                double relative = (a - b).norm().item<float>() / a.norm().item<float>();
                Assert.True(relative < 0.02, $"{task}: the last block's output differs by {relative:P2} of its norm");
            }
        }
        Compare();
        using (no_grad())
        {
            var w = model.named_parameters().First(p => p.name == "blocks.0.attn.qkv.weight").parameter;
            w.mul_(Scalars.Of(2));
        }
        model.ClearCaches();
        Compare();
    }

    [Fact]
    public void UnitVectorsEqualFNormalizeIncludingZeroVectors()
    {
        using var scope = NewDisposeScope();
        var x = randn(2, 3, 5, 7, generator: new Generator(8));
        x[0, .., 1, 2] = zeros(3);
        var expected = nn.functional.normalize(x, p: 2, dim: 1, eps: 1e-6);
        float diff = (expected - TokenHead.UnitVectors(x)).abs().max().item<float>();
        Assert.True(diff < 1e-6f, $"max |UnitVectors - F.normalize| = {diff}");
    }

    private static ForwardResult WithBFloat16(Func<ForwardResult> forward)
    {
        using var bf16 = Autocast.BFloat16();
        return forward();
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
