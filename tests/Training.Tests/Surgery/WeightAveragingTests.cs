using StreamMtl.Training.Surgery;
using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests.Surgery;

/// <summary>Averaging model files: the element-wise mean of one architecture's tensors, and nothing else.</summary>
public sealed class WeightAveragingTests
{
    [Fact]
    public void The_average_of_three_files_is_their_element_wise_mean_with_a_record_of_its_inputs()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        var config = TinyModels.Config();
        var paths = new[] { 5, 6, 7 }.Select(seed => Save(dir.File($"m{seed}.safetensors"), TinyModels.WithRandomDeltas(config, seed))).ToList();
        string output = dir.File("mean.safetensors");

        var metadata = WeightAveraging.Average(paths, output);

        var (mean, loaded) = ModelFile.Load(output);
        using (mean)
        {
            var sources = paths.Select(p => ModelFile.Load(p).Model).ToList();
            foreach (var (name, parameter) in mean.named_parameters())
            {
                using var expected = sources.Select(m => (Tensor)m.get_parameter(name)!).Aggregate((a, b) => a + b) / 3;
                Assert.True(parameter.allclose(expected, rtol: 1e-6, atol: 1e-7), $"{name} is not the mean");
            }
            Assert.False(mean.get_parameter("blocks.0.attn.qkv.weight")!.allclose(sources[0].get_parameter("blocks.0.attn.qkv.weight")!));
            sources.ForEach(m => m.Dispose());
        }
        Assert.Equal("average", loaded.Training[^1].Stage);
        Assert.Contains("m5.safetensors, m6.safetensors, m7.safetensors", loaded.Training[^1].Data, StringComparison.Ordinal);
        Assert.Equal(metadata.Config.Blocks, loaded.Config.Blocks);
    }

    [Fact]
    public void Files_of_different_architectures_are_refused_and_nothing_is_written()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string a = Save(dir.File("a.safetensors"), TinyModels.WithRandomDeltas(TinyModels.Config(blocks: 4, split: 2)));
        string b = Save(dir.File("b.safetensors"), TinyModels.WithRandomDeltas(TinyModels.Config(blocks: 4, split: 3)));
        string output = dir.File("mean.safetensors");

        var e = Assert.Throws<ModelFormatException>(() => WeightAveraging.Average([a, b], output));
        Assert.Contains("b.safetensors: its architecture or classes differ", e.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
        Assert.Throws<ArgumentException>(() => WeightAveraging.Average([a], output));
    }

    private static string Save(string path, MultiTaskVit model)
    {
        using (model)
        {
            ModelFile.Save(path, model, new ModelMetadata { Config = model.Config, Classes = [.. SyntheticClasses.Names] });
        }
        return path;
    }
}
