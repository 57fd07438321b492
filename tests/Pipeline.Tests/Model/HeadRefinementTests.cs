using StreamMtl.Ingest.Synthetic;
using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Tests.Weights;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Tests.Model;

/// <summary>The pixel-aware head refinement: added to a trained model it starts as the identity, and it stays token-local.</summary>
public sealed class HeadRefinementTests
{
    private static readonly VisionTask[] Segmentation = [VisionTask.Segmentation];

    [Fact]
    public void Adding_a_refinement_to_a_trained_model_leaves_its_outputs_unchanged_until_trained()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        string path = dir.File("plain.safetensors");
        using (var trained = TinyModels.WithRandomDeltas(TinyModels.Config()))
        {
            ModelFile.Save(path, trained, new ModelMetadata { Config = trained.Config, Classes = [.. SyntheticClasses.Names] });
        }
        var (plain, _) = ModelFile.Load(path);
        var (refined, metadata) = ModelFile.Load(path, null, Segmentation, 4);
        using (plain)
        using (refined)
        {
            Assert.Equal(Segmentation, metadata.Config.RefineTasks);
            Assert.Equal(4, metadata.Config.RefineHidden);
            Assert.Contains(refined.named_parameters(), p => p.name == "heads.segmentation.refine.weight");
            var images = randn(2, 3, 48, 64, generator: new Generator(3));
            using var a = plain.Forward(images, new ForwardOptions());
            using var b = refined.Forward(images, new ForwardOptions());
            foreach (var task in VisionTasks.All)
            {
                Assert.True(a.Raw(task).allclose(b.Raw(task), rtol: 0, atol: 0), $"{task} changed");
            }
        }
    }

    [Fact]
    public void A_refined_model_round_trips_and_its_refinement_changes_only_the_refined_head()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        string path = dir.File("refined.safetensors");
        var config = TinyModels.Config() with { RefineTasks = Segmentation, RefineHidden = 3 };
        using var source = TinyModels.WithRandomDeltas(config);
        ModelFile.Save(path, source, new ModelMetadata { Config = config, Classes = [.. SyntheticClasses.Names] });
        var (loaded, metadata) = ModelFile.Load(path);
        using (loaded)
        {
            Assert.Equal(Segmentation, metadata.Config.RefineTasks);
            var images = randn(1, 3, 32, 48, generator: new Generator(4));
            using var a = source.Forward(images, new ForwardOptions());
            using var b = loaded.Forward(images, new ForwardOptions());
            Assert.True(a.Raw(VisionTask.Segmentation).allclose(b.Raw(VisionTask.Segmentation), rtol: 0, atol: 0));

            // With its output conv zeroed the refinement adds nothing: segmentation moves, the other heads do not.
            foreach (var (name, p) in loaded.named_parameters().Where(p => p.name.Contains(".refine_out.", StringComparison.Ordinal)))
            {
                p.zero_();
            }
            using var c = loaded.Forward(images, new ForwardOptions());
            Assert.False(a.Raw(VisionTask.Segmentation).allclose(c.Raw(VisionTask.Segmentation), rtol: 0, atol: 1e-6));
            Assert.True(a.Raw(VisionTask.Depth).allclose(c.Raw(VisionTask.Depth), rtol: 0, atol: 0));
            Assert.True(a.Raw(VisionTask.Normals).allclose(c.Raw(VisionTask.Normals), rtol: 0, atol: 0));
        }
    }

    [Fact]
    public void A_refined_model_whose_file_lacks_the_refinement_names_the_missing_tensors()
    {
        using var dir = new TempDirectory();
        using var scope = NewDisposeScope();
        string path = dir.File("cut.safetensors");
        var config = TinyModels.Config() with { RefineTasks = Segmentation };
        using var model = new MultiTaskVit(config);
        var tensors = model.named_parameters().Where(p => !p.name.Contains(".refine", StringComparison.Ordinal)).Select(p => (p.name, (Tensor)p.parameter));
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string>
        {
            [ModelMetadata.Key] = new ModelMetadata { Config = config, Classes = [.. SyntheticClasses.Names] }.ToJson(),
        });
        var error = Assert.Throws<ModelFormatException>(() => ModelFile.Load(path));
        Assert.Contains("missing 4 tensor(s): heads.segmentation.refine.weight, heads.segmentation.refine.bias, heads.segmentation.refine_out.weight, heads.segmentation.refine_out.bias", error.Message);
    }

    [Fact]
    public void A_refinement_of_a_task_the_model_does_not_have_is_refused()
    {
        var config = TinyModels.Config() with { SubTasks = [VisionTask.Depth], RefineTasks = [VisionTask.Normals] };
        Assert.Contains("refined tasks must be tasks of the model, got normals", config.Validate());
        Assert.Contains("refine hidden must be >= 1, got 0", (TinyModels.Config() with { RefineTasks = Segmentation, RefineHidden = 0 }).Validate());
    }
}
