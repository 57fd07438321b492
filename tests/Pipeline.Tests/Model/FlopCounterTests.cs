using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

public sealed class FlopCounterTests
{
    [Fact]
    public void DenseBaseCountMatchesTheHandCount()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config(blocks: 2, split: 1) with { SubTasks = [] };
        using var model = new MultiTaskVit(config);
        using var noGrad = no_grad();
        var counter = new FlopCounter();
        using var result = model.Forward(randn(1, 3, 32, 48), new ForwardOptions(TaskSet.Segmentation), counter);

        long n = 2 * 3;        // tokens
        long d = 32, mlp = 128, p = 16, c = 7, hidden = 16;
        long embed = 2 * n * (3 * p * p) * d;
        long linears = 2 * n * (d * 3 * d + d * d + d * mlp + mlp * d);
        long attention = 2 * 2 * 2 /*heads*/ * n * n * (d / 2);
        long head = 2 * n * (2 * d * hidden + hidden * p * p * c);
        long expected = embed + 2 * (linears + attention) + head;
        Assert.Equal(expected, counter.Executed(VisionTask.Segmentation));
        Assert.Equal(expected, counter.Dense(VisionTask.Segmentation));
    }

    [Fact]
    public void HeadRefinementIsCountedAsItsConvolutionsPerPixel()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config(blocks: 2, split: 1) with { SubTasks = [] };
        using var plain = new MultiTaskVit(config);
        using var refined = new MultiTaskVit(config with { RefineTasks = [VisionTask.Segmentation], RefineHidden = 5 });
        using var noGrad = no_grad();
        var images = randn(1, 3, 32, 48);
        var plainCount = new FlopCounter();
        var refinedCount = new FlopCounter();
        using var a = plain.Forward(images, new ForwardOptions(TaskSet.Segmentation), plainCount);
        using var b = refined.Forward(images, new ForwardOptions(TaskSet.Segmentation), refinedCount);

        long pixels = 32 * 48, c = 7, hidden = 5;
        long refine = 2 * pixels * ((c + 3) * 3 * 3 * hidden + hidden * c);
        Assert.Equal(plainCount.Executed(VisionTask.Segmentation) + refine, refinedCount.Executed(VisionTask.Segmentation));
        Assert.Equal(refinedCount.Executed(VisionTask.Segmentation), refinedCount.Dense(VisionTask.Segmentation));
        Assert.Equal(plain.HeadFlopsPerToken(VisionTask.Segmentation) + refine / 6, refined.HeadFlopsPerToken(VisionTask.Segmentation));
    }

    [Fact]
    public void SubTaskCountIncludesLowRankTermsAndGateOverhead()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config(blocks: 2, split: 1) with { SubTasks = [VisionTask.Depth] };
        using var model = TinyModels.WithRandomDeltas(config);
        using var noGrad = no_grad();
        long n = 6, d = 32, mlp = 128, r = 4, p = 16, hidden = 16;
        long lowRank = 2 * n * r * ((d + 3 * d) + (d + d) + (d + mlp) + (mlp + d));
        long linears = 2 * n * (d * 3 * d + d * d + d * mlp + mlp * d);
        long attention = 2 * 2 * 2 * n * n * (d / 2);
        long head = 2 * n * (2 * d * hidden + hidden * p * p * 1);

        // Inference folds B*A into the base weight: the low-rank products no longer run. The unfused pass runs them.
        var dense = new FlopCounter();
        using (model.Forward(randn(1, 3, 32, 48), new ForwardOptions(TaskSet.Depth), dense)) { }
        Assert.Equal(linears + attention + head, dense.Executed(VisionTask.Depth));
        var unfused = new FlopCounter();
        using (model.Forward(randn(1, 3, 32, 48), new ForwardOptions(TaskSet.Depth, Fused: false), unfused)) { }
        Assert.Equal(linears + lowRank + attention + head, unfused.Executed(VisionTask.Depth));

        var shared = new FlopCounter();
        using (model.Forward(randn(1, 3, 32, 48), new ForwardOptions(TaskSet.All, ShareThreshold: 1e9f), shared)) { }
        long overhead = 5 * n * (d + d + d + mlp);
        Assert.Equal(lowRank + attention + head + overhead, shared.Executed(VisionTask.Depth));
        Assert.Equal(linears + lowRank + attention + head, shared.Dense(VisionTask.Depth));
    }
}
