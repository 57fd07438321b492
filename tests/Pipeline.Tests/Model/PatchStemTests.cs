using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Tests.Weights;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>The hierarchical-MLP patch stem: its per-patch implementation, its FLOP count and its weights.</summary>
public sealed class PatchStemTests
{
    private static readonly int[] Widths = [8, 12];

    private static ModelConfig StemConfig => TinyModels.Config(blocks: 2, split: 1) with { StemWidths = Widths };

    [Fact]
    public void PerPatchStemEqualsTheChainOfStridedConvolutions()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var config = StemConfig;
        var embed = new PatchEmbedding(config);
        var p = embed.Module.named_parameters().ToDictionary(x => x.name, x => x.parameter);
        using var noGrad = no_grad();
        foreach (var parameter in p.Values) parameter.add_(randn_like(parameter) * 0.1f);
        var images = randn(2, 3, 32, 48);

        // Reference: kernel 4 stride 4, then two kernel 2 stride 2 convolutions over the whole image,
        // LayerNorm over channels + GELU after the first two.
        Tensor NormGelu(Tensor x, string level)
        {
            var channelsLast = x.permute(0, 2, 3, 1);
            var normed = F.layer_norm(channelsLast, [x.shape[1]], p[$"stem.{level}.norm.weight"], p[$"stem.{level}.norm.bias"], 1e-6);
            return F.gelu(normed).permute(0, 3, 1, 2);
        }
        var y = NormGelu(F.conv2d(images, p["stem.0.weight"], p["stem.0.bias"], strides: [4, 4]), "0");
        y = NormGelu(F.conv2d(y, p["stem.1.weight"], p["stem.1.bias"], strides: [2, 2]), "1");
        y = F.conv2d(y, p["proj.weight"], p["proj.bias"], strides: [2, 2]);
        var expected = y.flatten(2).transpose(1, 2);

        var actual = embed.Embed(embed.Patches(images));
        Assert.Equal(new long[] { 2, 6, config.Dim }, actual.shape);
        Assert.True(actual.allclose(expected, rtol: 1e-4, atol: 1e-5), $"max difference {(actual - expected).abs().max().item<float>()}");
        // The whole-image path (dense forward) computes the same tokens.
        var whole = embed.EmbedImage(images);
        Assert.True(whole.allclose(expected, rtol: 1e-4, atol: 1e-5), $"max difference {(whole - expected).abs().max().item<float>()}");
        // A token's embedding depends on its own patch only (temporal reuse gates tokens independently).
        var changed = images.clone();
        changed[.., .., ..16, ..16] = randn(2, 3, 16, 16);
        var after = embed.Embed(embed.Patches(changed));
        Assert.False(after[.., 0].allclose(actual[.., 0]));
        Assert.True(after[.., 1..].allclose(actual[.., 1..], rtol: 0, atol: 0));
    }

    [Fact]
    public void StemFlopsMatchTheHandCount()
    {
        using var scope = NewDisposeScope();
        var config = StemConfig with { SubTasks = [] };
        using var model = new MultiTaskVit(config);
        using var noGrad = no_grad();
        var counter = new FlopCounter();
        using var result = model.Forward(randn(1, 3, 32, 48), new ForwardOptions(TaskSet.Segmentation), counter);

        long n = 6, d = 32, mlp = 128, p = 16, c = 7, hidden = 16;
        long stem = 2 * n * (16 * (3 * 4 * 4) * 8 + 4 * (4 * 8) * 12 + (4 * 12) * d);
        long linears = 2 * n * (d * 3 * d + d * d + d * mlp + mlp * d);
        long attention = 2 * 2 * 2 * n * n * (d / 2);
        long head = 2 * n * (2 * d * hidden + hidden * p * p * c);
        Assert.Equal(stem + 2 * (linears + attention) + head, counter.Executed(VisionTask.Segmentation));
    }

    [Fact]
    public void StemModelRoundTripsThroughSafetensorsWithItsConfig()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        random.manual_seed(4);
        using var model = new MultiTaskVit(StemConfig);
        model.eval();
        string path = dir.File("stem.safetensors");
        ModelFile.Save(path, model, new ModelMetadata { Config = model.Config, Classes = ["a", "b", "c", "d", "e", "f", "g"] });

        var (loaded, metadata) = ModelFile.Load(path);
        using var _ = loaded;
        Assert.Equal(Widths, metadata.Config.StemWidths);
        Assert.Contains(loaded.named_parameters(), x => x.name == "patch_embed.stem.1.norm.weight");
        using var noGrad = no_grad();
        var images = randn(1, 3, 32, 48);
        using var a = model.Forward(images, new ForwardOptions());
        using var b = loaded.Forward(images, new ForwardOptions());
        Assert.True(a.Raw(VisionTask.Depth).allclose(b.Raw(VisionTask.Depth), rtol: 0, atol: 0));
    }

    [Theory]
    [InlineData(new[] { 0, 8 })]
    [InlineData(new[] { 8, 8, 8, 8, 8 })]
    public void InvalidStemWidthsAreRejected(int[] widths)
    {
        var config = StemConfig with { StemWidths = widths };
        Assert.Contains(config.Validate(), e => e.Contains("stem", StringComparison.Ordinal));
    }
}
