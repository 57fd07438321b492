using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Weights;

/// <summary>A saved MultiTaskVit loads into a differently initialised one and then computes the same outputs.</summary>
public sealed class ModelWeightsRoundTripTests
{
    internal static ModelConfig Small { get; } = new()
    {
        Blocks = 2, Dim = 32, Heads = 2, SplitLayer = 1, DeltaFrom = 1, Rank = 4, HeadHidden = 16, PosGridRows = 3, PosGridCols = 4,
    };

    private static MultiTaskVit Model(int seed)
    {
        random.manual_seed(seed);
        var model = new MultiTaskVit(Small);
        // LoRA B starts at zero; perturb everything so a no-op load could not pass the comparison.
        using (no_grad())
        {
            foreach (var p in model.parameters()) p.add_(randn_like(p) * 0.05f);
        }
        return model;
    }

    [Fact]
    public void ParametersAndOutputsMatchAfterLoadIntoAFreshModel()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        var source = Model(1);
        var target = Model(2);
        string path = dir.File("model.safetensors");
        ModelWeights.Save(path, source, new Dictionary<string, string>());

        Assert.Contains(source.named_parameters(), p => !p.parameter.allclose(target.get_parameter(p.name)!, rtol: 0, atol: 0));
        using (var file = SafeTensorsFile.Read(path))
        {
            ModelWeights.LoadInto(target, file);
        }

        foreach (var (name, parameter) in source.named_parameters())
        {
            Assert.True(parameter.allclose(target.get_parameter(name)!, rtol: 0, atol: 0), $"parameter {name} differs");
        }
        AssertSameOutputs(source, target);
    }

    private static void AssertSameOutputs(MultiTaskVit expected, MultiTaskVit actual)
    {
        using var grad = no_grad();
        random.manual_seed(7);
        var images = randn(2, 3, 48, 64);
        using var a = expected.Forward(images, new ForwardOptions());
        using var b = actual.Forward(images, new ForwardOptions());
        foreach (var task in VisionTasks.All)
        {
            Assert.True(a.Raw(task).allclose(b.Raw(task), rtol: 0, atol: 0), $"{task} output differs");
        }
    }

    [Fact]
    public void Dropping_the_deltas_a_split_never_runs_keeps_every_output_and_records_delta_from()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        // Deltas from block 2 on, sub-tasks split at 3: blocks 2 and 3 of each sub-task are never run.
        var config = TinyModels.Config(blocks: 4, split: 1) with { SplitLayer = 3 };
        using var source = TinyModels.WithRandomDeltas(config);
        string full = dir.File("full.safetensors");
        string compact = dir.File("compact.safetensors");
        var metadata = new ModelMetadata { Config = config, Classes = [.. Enumerable.Range(0, config.Classes).Select(i => $"c{i}")] };
        ModelFile.Save(full, source, metadata);
        ModelFile.Save(compact, source, metadata, dropDeltasBeforeSplit: true);

        var (loaded, saved) = ModelFile.Load(compact);
        using (loaded)
        {
            Assert.Equal(3, saved.Config.DeltaFrom);
            Assert.True(new FileInfo(compact).Length < new FileInfo(full).Length);
            Assert.DoesNotContain(loaded.named_parameters(), p => p.name.StartsWith("tasks.depth.blocks.1.", StringComparison.Ordinal)
                || p.name.StartsWith("tasks.normals.blocks.2.", StringComparison.Ordinal));
            AssertSameOutputs(source, loaded);
        }
        // The dropped blocks are gone for good: an earlier split is refused with the reason.
        var error = Assert.Throws<ModelFormatException>(() => ModelFile.Load(compact, splitLayer: 1));
        Assert.Contains("delta_from 3", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void MetadataAndHeaderDescribeTheModel()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        var model = Model(3);
        string path = dir.File("model.safetensors");
        var metadata = new Dictionary<string, string> { [ModelWeights.MetadataKey] = "{\"dim\": 32, \"note\": \"é ünïcode\"}", ["format"] = "pt" };
        ModelWeights.Save(path, model, metadata);

        using var file = SafeTensorsFile.Read(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.Equal(model.named_parameters().Select(p => p.name), file.Names);
        var pos = file.Info("pos_embed");
        Assert.Equal(SafeTensorsDType.F32, pos.DType);
        Assert.Equal(new long[] { 1, 12, 32 }, pos.Shape);
        Assert.Equal(new long[] { 32, 3, 16, 16 }, file.Info("patch_embed.proj.weight").Shape);
        Assert.Equal(0, (new FileInfo(path).Length - file.Tensors.Sum(t => t.ByteLength)) % 8);
    }

    [Fact]
    public void SavingOverAnExistingFileReplacesItAndLeavesNoTemporaries()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = dir.File("w.safetensors");
        File.WriteAllText(path, "old");
        SafeTensorsFile.Write(path, [("x", ones(2, 2))], new Dictionary<string, string>());
        using (var file = SafeTensorsFile.Read(path))
        {
            Assert.True(file.Load("x").allclose(ones(2, 2), rtol: 0, atol: 0));
        }
        Assert.Equal(["w.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName));
    }

    [Fact]
    public void F16WritingRoundTripsToHalfPrecision()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = dir.File("h.safetensors");
        var t = tensor(new float[] { 0.1f, -2.5f, 1000f, 3e-5f }, [2, 2]);
        SafeTensorsFile.Write(path, [("t", t)], new Dictionary<string, string>(), SafeTensorsDType.F16);
        using var file = SafeTensorsFile.Read(path);
        Assert.Equal(SafeTensorsDType.F16, file.Info("t").DType);
        Assert.True(file.Load("t").allclose(t, rtol: 1e-3, atol: 1e-7));
    }
}
