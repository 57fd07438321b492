using StreamMtl.Pipeline.Model;
using StreamMtl.Pipeline.Weights;
using StreamMtl.Training.Data;

namespace StreamMtl.Training.Tests;

/// <summary>
/// train --features: beside the synthetic losses, a linear probe from the trunk's split-layer tokens learns a feature teacher's
/// maps on real frames (here a fixture whose maps are a fixed function of each block's colour); the probe is not saved.
/// </summary>
[Collection(TinyTraining.Collection)]
public sealed class FeatureTeacherTrainingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    private List<double> Train(string output, int steps, out TrainingRecord record)
    {
        string features = Path.Combine(_dir.Path, "features-fixture");
        if (!Directory.Exists(features))
        {
            FeatureFixture.Write(features);
        }
        var losses = new List<double>();
        var options = TinyTraining.Options(output, TrainStage.Base, VisionTask.Segmentation, steps) with
        {
            FeaturesPath = features,
            FeatureBatch = 2,
            Seed = 4,
        };
        record = new Trainer(options) { FeatureLossObserved = (_, loss) => losses.Add(loss) }.Run();
        return losses;
    }

    [Fact]
    public void The_feature_objective_decreases_deterministically_and_the_probe_is_not_saved()
    {
        string model = Path.Combine(_dir.Path, "a.safetensors");
        var losses = Train(model, 80, out var record);
        Assert.Equal(80, losses.Count);
        double first = losses.Take(10).Average(), last = losses.TakeLast(10).Average();
        Assert.True(first > 0.3, $"an untrained probe should be far from the teacher: 1 - cosine {first:F3}");
        Assert.True(last < 0.6 * first, $"1 - cosine went from {first:F3} (first 10 steps) to {last:F3} (last 10): the trunk and probe did not learn the maps");
        Assert.Contains("feature teacher x1: 12 real frames", record.Crop, StringComparison.Ordinal);

        var (loaded, metadata) = ModelFile.Load(model);
        using (loaded)
        using (var fresh = new MultiTaskVit(TinyModels.Config()))
        {
            Assert.Equal(fresh.named_parameters().Select(p => p.name).Order(), loaded.named_parameters().Select(p => p.name).Order());
        }

        var again = Train(Path.Combine(_dir.Path, "b.safetensors"), 80, out _);
        Assert.Equal(losses, again);
    }

    [Fact]
    public void Feature_folders_with_missing_or_inconsistent_files_are_named()
    {
        string root = FeatureFixture.Write(Path.Combine(_dir.Path, "broken"), count: 3);
        string npy = Path.Combine(root, "features", "000001.npy");
        File.Delete(npy);
        Assert.Equal($"{npy}: missing (the features of {Path.Combine(root, "images", "000001.png")})",
            Assert.Throws<DatasetException>(() => new FeatureFrames(root, 64, 48, 16)).Message);
        StreamMtl.Training.Teachers.Npy.Write(npy, new float[5 * 3 * 4], [1, 5, 3, 4]);
        Assert.Equal($"{npy}: 5 channels, but the maps before it have {FeatureFixture.Channels}",
            Assert.Throws<DatasetException>(() => new FeatureFrames(root, 64, 48, 16)).Message);
        StreamMtl.Training.Teachers.Npy.Write(npy, new float[12], [12]);
        Assert.StartsWith($"{npy}: shape [12]; a feature map is [1,C,h,w] or [C,h,w]",
            Assert.Throws<DatasetException>(() => new FeatureFrames(root, 64, 48, 16)).Message);
        string none = Path.Combine(_dir.Path, "none");
        Directory.CreateDirectory(none);
        Assert.StartsWith($"{Path.Combine(none, "images")}: missing",
            Assert.Throws<DatasetException>(() => new FeatureFrames(none, 64, 48, 16)).Message);
    }

    [Fact]
    public void Maps_at_another_stride_are_resized_to_the_token_grid()
    {
        string root = FeatureFixture.Write(Path.Combine(_dir.Path, "coarse"), count: 2, width: 128, height: 96);
        // Frames trained at 64x48: the 8x6 maps of the 128x96 images become 4x3.
        var frames = new FeatureFrames(root, 64, 48, 16);
        var (images, targets) = frames.Sample(new Random(1), 3, TinyModels.Config());
        using (images)
        using (targets)
        {
            Assert.Equal([3L, 3, 48, 64], images.shape);
            Assert.Equal([3L, FeatureFixture.Channels, 3, 4], targets.shape);
        }
    }

    public void Dispose() => _dir.Dispose();
}
