using StreamMtl.Training.Surgery;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests.Surgery;

/// <summary>Deepening a trained model: the inserted blocks start as the identity and the trained tensors move with their blocks.</summary>
public sealed class ModelGrowthTests
{
    [Theory]
    [InlineData(2, 2)]
    [InlineData(0, 1)]
    [InlineData(1, 3)]
    public void A_grown_model_computes_what_the_trained_one_did_for_every_task(int after, int count)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var source = TinyModels.WithRandomDeltas(TinyModels.Config(blocks: 4, split: 2));
        using var grown = ModelGrowth.InsertBlocks(source, after, count);

        Assert.Equal(4 + count, grown.Config.Blocks);
        Assert.Equal(2 + count, grown.Config.SplitLayer);
        Assert.Equal(2 + count, grown.Config.DeltaFrom);
        var images = randn(2, 3, 48, 64, generator: new Generator(11));
        using var a = source.Forward(images, new ForwardOptions());
        using var b = grown.Forward(images, new ForwardOptions());
        foreach (var task in VisionTasks.All)
        {
            Assert.True(a.Raw(task).allclose(b.Raw(task), rtol: 1e-5, atol: 1e-6), $"{task} changed by growing {count}@{after}");
        }
    }

    [Fact]
    public void Trained_tensors_move_with_their_blocks_and_new_blocks_can_learn()
    {
        using var scope = NewDisposeScope();
        using var source = TinyModels.WithRandomDeltas(TinyModels.Config(blocks: 4, split: 2));
        using var grown = ModelGrowth.InsertBlocks(source, 1, 2);
        var trained = source.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        var moved = grown.named_parameters().ToDictionary(p => p.name, p => p.parameter);

        Assert.True(trained["blocks.0.attn.qkv.weight"].allclose(moved["blocks.0.attn.qkv.weight"], rtol: 0, atol: 0));
        Assert.True(trained["blocks.1.mlp.fc1.weight"].allclose(moved["blocks.3.mlp.fc1.weight"], rtol: 0, atol: 0));
        Assert.True(trained["blocks.3.attn.proj.weight"].allclose(moved["blocks.5.attn.proj.weight"], rtol: 0, atol: 0));
        Assert.True(trained["tasks.depth.blocks.2.attn.qkv.lora_B"].allclose(moved["tasks.depth.blocks.4.attn.qkv.lora_B"], rtol: 0, atol: 0));
        Assert.True(trained["heads.normals.fc2.weight"].allclose(moved["heads.normals.fc2.weight"], rtol: 0, atol: 0));
        Assert.DoesNotContain(moved.Keys, name => name.StartsWith("tasks.depth.blocks.2.", StringComparison.Ordinal));

        // A new block is the identity through its zeroed output linears, but its input linears are random,
        // so gradients reach it once the output linears move off zero.
        foreach (int i in new[] { 1, 2 })
        {
            Assert.Equal(0f, moved[$"blocks.{i}.attn.proj.weight"].abs().max().item<float>());
            Assert.Equal(0f, moved[$"blocks.{i}.mlp.fc2.bias"].abs().max().item<float>());
            Assert.True(moved[$"blocks.{i}.mlp.fc1.weight"].abs().max().item<float>() > 0, $"block {i}'s fc1 is zero");
        }
        var images = randn(1, 3, 32, 48, generator: new Generator(12));
        using var result = grown.Forward(images, new ForwardOptions());
        result.Raw(VisionTask.Segmentation).square().sum().backward();
        Assert.True(moved["blocks.1.mlp.fc2.weight"].grad!.abs().max().item<float>() > 0, "no gradient reaches the new block");
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(-1, 1)]
    [InlineData(1, 0)]
    public void Growing_outside_the_shared_trunk_or_by_nothing_is_refused(int after, int count)
    {
        using var source = TinyModels.WithRandomDeltas(TinyModels.Config(blocks: 4, split: 2));
        var e = Assert.Throws<ArgumentException>(() => ModelGrowth.InsertBlocks(source, after, count).Dispose());
        Assert.Contains(count < 1 ? "at least one block" : "shared trunk", e.Message);
    }

    [Theory]
    [InlineData("blocks.5.attn.qkv.weight", "blocks.7.attn.qkv.weight")]
    [InlineData("blocks.2.norm1.bias", "blocks.2.norm1.bias")]
    [InlineData("tasks.normals.blocks.3.mlp.fc1.lora_A", "tasks.normals.blocks.5.mlp.fc1.lora_A")]
    [InlineData("heads.segmentation.fc1.weight", "heads.segmentation.fc1.weight")]
    [InlineData("pos_embed", "pos_embed")]
    public void Tensor_names_move_up_at_and_past_the_insertion(string before, string after) =>
        Assert.Equal(after, ModelGrowth.Renamed(before, 3, 2));
}
