using StreamMtl.Pipeline.Inference;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Data;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests.Data;

/// <summary>
/// Adapting instead of retraining (MTLoRA, issue 26 item 3): on a folder-layout fixture, --adapt trains only the shared adapters,
/// the sub-tasks' own parameters and the heads; the adapter file round-trips, and the base with it folded in gives the outputs of
/// the trained model running the adapters on the fly (1e-4).
/// </summary>
[Collection(TinyTraining.Collection)]
public sealed class AdaptTrainingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private string BasePath => _dir.File("base.safetensors");

    private string AdapterPath => _dir.File("adapter.safetensors");

    private (Dataset Data, TrainOptions Options) Fixture(int steps)
    {
        var data = Dataset.Open("folder", DatasetFixtures.Folder(_dir.File("folder"), samples: 6));
        var options = TinyTraining.Options(BasePath, TrainStage.Base, VisionTask.Segmentation, steps) with { Data = data };
        return (data, options with { Config = options.Config with { SubTasks = [.. options.Config.SubTasks.Where(data.Tasks.Contains)] } });
    }

    private void TrainBase(TrainOptions options) => new Trainer(options).Run();

    [Fact]
    public void Adapting_changes_only_adapters_sub_task_parameters_and_heads_and_folds_to_the_same_outputs()
    {
        var (_, options) = Fixture(3);
        TrainBase(options);
        byte[] baseBytes = File.ReadAllBytes(BasePath);
        var log = new List<string>();
        Dictionary<string, Tensor> trained = [];
        Tensor? unfolded = null;
        using var images = rand(2, 3, 48, 64, generator: new Generator(5));
        var tasks = TaskSet.All;
        new Trainer(options with { InitPath = BasePath, OutputPath = AdapterPath, AdaptRank = 2, Steps = 4 }, log: log.Add)
        {
            Trained = model =>
            {
                trained = model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
                model.eval();
                using var grad = no_grad();
                using var result = model.Forward(images, new ForwardOptions(tasks));
                unfolded = cat([.. model.Config.AllTasks.Select(t => result.Raw(t).flatten())]).detach().clone();
            },
        }.Run();

        Assert.Equal(baseBytes, File.ReadAllBytes(BasePath));  // the base file is not touched
        Assert.Contains(log, l => l.Contains("at rank 2:", StringComparison.Ordinal) && l.Contains("trainable parameters of", StringComparison.Ordinal));

        // Every frozen tensor is bit for bit the base's; the carried ones (sub-task parameters, heads) moved.
        var (reference, metadata) = ModelFile.Load(BasePath);
        using (reference)
        {
            int changed = 0;
            foreach (var (name, parameter) in reference.named_parameters())
            {
                bool equal = trained[name].allclose(parameter, 0, 0);
                if (AdapterFile.Carries(name))
                {
                    changed += equal ? 0 : 1;
                }
                else
                {
                    Assert.True(equal, $"frozen tensor {name} changed");
                }
            }
            Assert.True(changed > 0, "no head or sub-task tensor changed");

            // Round trip: the file holds exactly the trained sub-task and head tensors, and adapters whose B moved off zero.
            using var adapters = AdapterFile.Apply(AdapterPath, BasePath, metadata, reference, fold: false)!;
            Assert.Equal(2, adapters.Rank);
            foreach (var (name, parameter) in reference.named_parameters().Where(p => AdapterFile.Carries(p.name)))
            {
                Assert.True(trained[name].allclose(parameter, 0, 0), name);
            }
            Assert.Contains(adapters.NamedTensors(), p => p.Name.EndsWith("lora_B", StringComparison.Ordinal) && p.Parameter.abs().max().item<float>() > 0);
            Assert.Equal(2, AdapterFile.ReadMetadata(AdapterPath).Rank);
            Assert.Equal(ModelVersion.Of(BasePath, metadata), AdapterFile.ReadMetadata(AdapterPath).BaseVersion);
            Assert.True(new FileInfo(AdapterPath).Length < baseBytes.Length / 2, "the adapter file is not small");
        }

        // Folded at load: the outputs of the trained model running the adapters on the fly.
        var (folded, _) = AdapterFile.LoadFolded(BasePath, AdapterPath);
        using (folded)
        using (no_grad())
        using (var result = folded.Forward(images, new ForwardOptions(tasks)))
        {
            using var outputs = cat([.. folded.Config.AllTasks.Select(t => result.Raw(t).flatten())]);
            double difference = outputs.sub(unfolded!).abs().max().item<float>();
            Assert.True(difference <= 1e-4, $"folded outputs differ from unfolded by {difference}");
        }
        unfolded!.Dispose();
        foreach (var tensor in trained.Values)
        {
            tensor.Dispose();
        }
    }

    [Fact]
    public void An_adapter_is_refused_on_another_base_and_other_files_are_refused_naming_them()
    {
        var (_, options) = Fixture(2);
        TrainBase(options);
        new Trainer(options with { InitPath = BasePath, OutputPath = AdapterPath, AdaptRank = 2, Steps = 1 }).Run();
        string other = _dir.File("other.safetensors");
        TrainBase(options with { OutputPath = other, Seed = 2 });

        var error = Assert.Throws<ModelFormatException>(() => AdapterFile.LoadFolded(other, AdapterPath));
        Assert.Contains($"{AdapterPath}: adapts base base.safetensors (", error.Message, StringComparison.Ordinal);
        Assert.Contains($"not {other} (", error.Message, StringComparison.Ordinal);

        error = Assert.Throws<ModelFormatException>(() => AdapterFile.LoadFolded(BasePath, other));
        Assert.Contains($"{other}: no \"streammtl-adapter\" metadata entry; not a StreamMtl adapter file (it is a model file", error.Message, StringComparison.Ordinal);

        string missing = _dir.File("absent.safetensors");
        error = Assert.Throws<ModelFormatException>(() => AdapterFile.LoadFolded(BasePath, missing));
        Assert.Equal($"adapter file {missing} does not exist", error.Message);

        // A rank that does not match the tensors (metadata edited): refused, naming the file and the rank.
        string edited = _dir.File("edited.safetensors");
        using (var file = SafeTensorsFile.Read(AdapterPath))
        {
            var metadata = AdapterMetadata.FromJson(file.Metadata[AdapterMetadata.Key]) with { Rank = 3 };
            var tensors = file.Names.Select(n => (n, file.Load(n))).ToList();
            SafeTensorsFile.Write(edited, tensors, new Dictionary<string, string> { [AdapterMetadata.Key] = metadata.ToJson() });
            tensors.ForEach(t => t.Item2.Dispose());
        }
        error = Assert.Throws<ModelFormatException>(() => AdapterFile.LoadFolded(BasePath, edited));
        Assert.Contains($"{edited}: does not fit {BasePath}: 'adapters.blocks.0.attn.qkv.lora_A' has shape [2, 32], expected [3, 32] (rank 3)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Adapting_needs_a_model_to_adapt()
    {
        var (_, options) = Fixture(1);
        var error = Assert.Throws<ArgumentException>(() => new Trainer(options with { OutputPath = AdapterPath, AdaptRank = 2 }).Run());
        Assert.Contains("--adapt) needs --init", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SharedAdapters(TinyModels.Config(), 0));
    }

    public void Dispose() => _dir.Dispose();
}
