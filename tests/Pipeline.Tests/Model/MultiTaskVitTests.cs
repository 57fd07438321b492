using StreamMtl.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

public sealed class MultiTaskVitTests
{
    [Theory]
    [InlineData(48, 64)]
    [InlineData(32, 32)]
    [InlineData(96, 160)]
    public void OutputsHaveFullResolutionForEveryGrid(int height, int width)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        using var noGrad = no_grad();
        using var result = model.Forward(randn(2, 3, height, width), new ForwardOptions(TaskSet.All));
        Assert.Equal(new long[] { 2, 7, height, width }, result.Raw(VisionTask.Segmentation).shape);
        Assert.Equal(new long[] { 2, 1, height, width }, result.Raw(VisionTask.Depth).shape);
        Assert.Equal(new long[] { 2, 3, height, width }, result.Raw(VisionTask.Normals).shape);
        Assert.True(result.Final(VisionTask.Depth).min().item<float>() > 0);
        var norms = result.Final(VisionTask.Normals).norm(1);
        Assert.True((norms - 1).abs().max().item<float>() < 1e-4);
    }

    [Fact]
    public void OnlyRequestedTasksAreComputed()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        using var noGrad = no_grad();
        var counter = new FlopCounter();
        using var result = model.Forward(randn(1, 3, 48, 64), new ForwardOptions(TaskSet.Depth), counter);
        Assert.Equal([VisionTask.Depth], result.Tasks);
        Assert.Equal(0, counter.Executed(VisionTask.Normals));
        Assert.True(counter.Executed(VisionTask.Depth) > 0);
    }

    [Fact]
    public void MalformedInputIsRejectedWithTheShape()
    {
        using var scope = NewDisposeScope();
        using var model = new MultiTaskVit(TinyModels.Config());
        var e = Assert.Throws<ArgumentException>(() => model.Forward(randn(1, 3, 40, 64), new ForwardOptions()));
        Assert.Contains("[1, 3, 40, 64]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward(randn(1, 3, 48, 64), new ForwardOptions(SplitLayer: 1)));
    }

    [Fact]
    public void PositionEmbeddingIsUsedAsIsOnItsOwnGridAndInterpolatedElsewhere()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config();
        var embed = new PatchEmbedding(config);
        using var noGrad = no_grad();
        Assert.Equal(0, (embed.Positions(3, 4, training: false) - embed.Pos).abs().max().item<float>());
        var resized = embed.Positions(6, 8, training: false);
        Assert.Equal(new long[] { 1, 48, config.Dim }, resized.shape);
        // Bicubic interpolation to the same grid and back stays close; a constant grid stays constant.
        embed.Pos.fill_(0.5f);
        embed.ClearCache();
        var constant = embed.Positions(5, 7, training: false);
        Assert.True((constant - 0.5f).abs().max().item<float>() < 1e-5);
        // The window of the full grid is the matching slice of the table.
        var window = embed.WindowPositions(1, 2, 2, 2);
        var table = embed.Pos.view(1, 3, 4, config.Dim);
        Assert.Equal(0, (window.view(1, 2, 2, config.Dim) - table[.., 1..3, 2..4]).abs().max().item<float>());
    }

    [Fact]
    public void SubTaskWithThresholdZeroEqualsDenseBasePlusLowRankWeights()
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config(blocks: 3, split: 1);
        using var model = TinyModels.WithRandomDeltas(config);
        using var noGrad = no_grad();
        var images = randn(2, 3, 48, 64);
        using var shared = model.Forward(images, new ForwardOptions(TaskSet.All, ShareThreshold: 0f));

        // A plain single-task depth model whose blocks after the split carry W_base + B*A (and the
        // sub-task's own norms), computed densely on every token.
        using var folded = new MultiTaskVit(config with { BaseTask = VisionTask.Depth, SubTasks = [] });
        var source = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, p) in folded.named_parameters())
        {
            var parts = name.Split('.');
            bool afterSplit = parts[0] == "blocks" && int.Parse(parts[1]) >= config.SplitLayer;
            Tensor value;
            if (name.StartsWith("norm.", StringComparison.Ordinal))
            {
                value = source["tasks.depth." + name];
            }
            else if (afterSplit && name.Contains("norm", StringComparison.Ordinal))
            {
                value = source["tasks.depth." + name];
            }
            else if (afterSplit && name.EndsWith(".weight", StringComparison.Ordinal))
            {
                string prefix = "tasks.depth." + name[..^".weight".Length];
                value = source[name] + source[prefix + ".lora_B"].matmul(source[prefix + ".lora_A"]);
            }
            else
            {
                value = source[name];
            }
            p.copy_(value);
        }
        folded.eval();
        using var dense = folded.Forward(images, new ForwardOptions(TaskSet.Depth));
        float diff = (dense.Raw(VisionTask.Depth) - shared.Raw(VisionTask.Depth)).abs().max().item<float>();
        Assert.True(diff < 1e-4f, $"threshold 0 must match the dense W_base + BA model; max difference {diff}");
    }

    [Fact]
    public void SharingThresholdSkipsWorkAndStaysClose()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        using var noGrad = no_grad();
        var images = randn(1, 3, 48, 64);
        var exact = new FlopCounter();
        var approx = new FlopCounter();
        using var a = model.Forward(images, new ForwardOptions(TaskSet.All), exact);
        using var b = model.Forward(images, new ForwardOptions(TaskSet.All, ShareThreshold: 1e9f), approx);
        Assert.True(approx.Executed(VisionTask.Depth) < exact.Executed(VisionTask.Depth));
        Assert.Equal(0, b.SharedRowsComputed);
        Assert.True(b.SharedRowsTotal > 0);
        // Everything shared: the depth branch sees base outputs + low-rank deltas only, still finite.
        Assert.True(float.IsFinite(b.Raw(VisionTask.Depth).sum().item<float>()));
        Assert.Equal(0, (a.Raw(VisionTask.Segmentation) - b.Raw(VisionTask.Segmentation)).abs().max().item<float>());
    }

    [Fact]
    public void TaskBytesCountOnlyTheDeltasTheSplitRuns()
    {
        using var scope = NewDisposeScope();
        // Deltas exist from block 2 (0-based index 1) on; at split 1 all three delta blocks run, at split 3 one.
        var config = TinyModels.Config(blocks: 4, split: 1);
        using var atOne = new MultiTaskVit(config);
        using var atThree = new MultiTaskVit(config with { SplitLayer = 3 });
        long d = config.Dim, m = config.MlpDim, r = config.Rank;
        long deltaBlock = 4 * (2 * 2 * d /* norms */ + r * ((d + 3 * d) + (d + d) + (d + m) + (m + d)));
        Assert.Equal(2 * deltaBlock, atOne.TaskBytes(VisionTask.Depth) - atThree.TaskBytes(VisionTask.Depth));
        Assert.Equal(atOne.TaskBytes(VisionTask.Segmentation), atThree.TaskBytes(VisionTask.Segmentation));
    }

    [Theory]
    [InlineData(0.1f)]
    [InlineData(0f)] // the fused path
    public void NoTensorLeaksAcross100ForwardPasses(float shareThreshold)
    {
        using var model = TinyModels.WithRandomDeltas(TinyModels.Config());
        using var images = randn(1, 3, 48, 64);
        void Pass()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var result = model.Forward(images, new ForwardOptions(TaskSet.All, ShareThreshold: shareThreshold));
            result.Final(VisionTask.Normals).sum().item<float>();
        }
        Pass();
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 100; i++)
        {
            Pass();
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
