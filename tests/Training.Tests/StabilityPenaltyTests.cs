using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests;

[Collection(TinyTraining.Collection)]
public sealed class StabilityPenaltyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Segmentation_stability_is_the_halved_symmetric_KL_between_the_twins_class_distributions()
    {
        using var scope = NewDisposeScope();
        // Two pairs of one pixel, two classes. Pair 1: logits (0, 0) -> (ln 3, 0), i.e. p = (1/2, 1/2) -> (3/4, 1/4);
        // pair 2: identical.
        var logits = tensor(new float[] { 0, 0, MathF.Log(3), 0, 1, 2, 1, 2 }, [4, 2, 1, 1]);
        double kl = 0.5 * ((0.5 - 0.75) * (Math.Log(0.5) - Math.Log(0.75)) + (0.5 - 0.25) * (Math.Log(0.5) - Math.Log(0.25)));
        Assert.Equal(kl / 2, Losses.Stability(VisionTask.Segmentation, logits).item<float>(), 5);
        Assert.Equal(0f, Losses.Stability(VisionTask.Segmentation, logits[2..]).item<float>(), 6);
        Assert.Throws<ArgumentException>(() => Losses.Stability(VisionTask.Segmentation, logits[1..]));
    }

    [Fact]
    public void Depth_stability_is_the_log_depth_L1_and_normals_stability_one_minus_the_cosine()
    {
        using var scope = NewDisposeScope();
        var logDepth = tensor(new float[] { 1, 1.5f, 2, 2 }, [4, 1, 1, 1]);
        Assert.Equal(0.25f, Losses.Stability(VisionTask.Depth, logDepth).item<float>(), 5);
        // Pair 1: orthogonal directions (the second not unit length: only the direction counts); pair 2: the same.
        var normals = tensor(new float[] { 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 3 }, [4, 3, 1, 1]);
        Assert.Equal(0.5f, Losses.Stability(VisionTask.Normals, normals).item<float>(), 5);
    }

    [Fact]
    public void Twin_batches_hold_one_frame_twice_with_the_same_crop_and_flip_degraded_each_on_its_own()
    {
        var pool = new FramePool(SyntheticDataset.Training(64, 48), 4, seed: 3);
        using var scope = NewDisposeScope();
        using var batch = TrainingBatch.Sample(pool, new Random(1), 12, 2, 3, TinyModels.Config(), pairs: true, jpegMinQuality: 10, twins: true);
        int differing = 0;
        for (int i = 0; i < 12; i += 2)
        {
            Assert.True((batch.Labels[i] == batch.Labels[i + 1]).all().item<bool>(), $"twins {i / 2} have different labels");
            Assert.True((batch.Depth[i] == batch.Depth[i + 1]).all().item<bool>(), $"twins {i / 2} have different depth");
            differing += (batch.Images[i] - batch.Images[i + 1]).abs().max().item<float>() > 0 ? 1 : 0;
        }
        Assert.InRange(differing, 3, 6);
        using var clean = TrainingBatch.Sample(pool, new Random(1), 4, 2, 3, TinyModels.Config(), pairs: true, twins: true);
        Assert.True((clean.Images[0] == clean.Images[1]).all().item<bool>(), "without degradation twins are the same image");
    }

    [Fact]
    public void The_stability_penalty_needs_compression_and_excludes_the_temporal_penalty()
    {
        string output = _dir.File("refused.safetensors");
        var noJpeg = Assert.Throws<ArgumentException>(() => new Trainer(Options(output, 1) with { JpegMinQuality = 0 }).Run());
        Assert.Contains("compression augmentation", noJpeg.Message, StringComparison.Ordinal);
        var both = Assert.Throws<ArgumentException>(() => new Trainer(Options(output, 1) with { TemporalWeight = 0.3 }).Run());
        Assert.Contains("use one of them", both.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public void Training_with_the_penalty_keeps_segmentation_closer_between_two_degradations_of_a_frame()
    {
        float Penalty(string path)
        {
            var (model, _) = ModelFile.Load(path);
            using (model)
            using (NewDisposeScope())
            using (no_grad())
            {
                model.eval();
                var pool = new FramePool(SyntheticDataset.Training(64, 48), 16, seed: 99);
                using var batch = TrainingBatch.Sample(pool, new Random(5), 32, 3, 4, model.Config, pairs: true, jpegMinQuality: 10, twins: true);
                var forward = model.Forward(batch.Images, new ForwardOptions(TaskSet.Segmentation));
                return Losses.Stability(VisionTask.Segmentation, forward.Raw(VisionTask.Segmentation)).item<float>();
            }
        }

        string plain = _dir.File("plain.safetensors");
        string stable = _dir.File("stable.safetensors");
        var reports = new List<TrainProgress>();
        new Trainer(Options(plain, 0)).Run();
        var record = new Trainer(Options(stable, 100), reports.Add).Run();

        float without = Penalty(plain);
        float with = Penalty(stable);
        Assert.True(with < without * 0.85f, $"penalty with training weight 100: {with:F5}, without: {without:F5}; during training: {string.Join(", ", reports.Select(r => r.Temporal.ToString("F4")))}");
        Assert.All(reports, r => Assert.Equal("stability", r.PenaltyName));
        Assert.All(reports, r => Assert.False(double.IsNaN(r.Temporal)));
        Assert.Contains("output-stability penalty 100 on twins", record.Crop, StringComparison.Ordinal);
    }

    private static TrainOptions Options(string output, double stability) =>
        TinyTraining.Options(output, TrainStage.Base, VisionTask.Segmentation, 80) with { Seed = 4, StabilityWeight = stability, JpegMinQuality = 10 };

    public void Dispose() => _dir.Dispose();
}
