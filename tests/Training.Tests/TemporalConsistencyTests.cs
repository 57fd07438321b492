using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests;

[Collection(TinyTraining.Collection)]
public sealed class TemporalConsistencyTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"streammtl-temporal-{Guid.NewGuid():N}");

    [Fact]
    public void PenaltyIsTheRelativeL1ChangeWithinEachPairAveragedOverBlocks()
    {
        using var scope = NewDisposeScope();
        // Two pairs of one token with two features. Pair 1: (1, 1) -> (1, 3); pair 2: (2, 2) -> (2, 2).
        var block1 = tensor(new float[] { 1, 1, 1, 3, 2, 2, 2, 2 }, [4, 1, 2]);
        // mean |change| = (0 + 2 + 0 + 0) / 4 = 0.5; mean |a| = 14 / 8 = 1.75
        var block2 = zeros(4, 1, 2) + 1;  // identical pairs: no change
        Assert.Equal(0.5f / 1.75f, Losses.TemporalPenalty([block1]).item<float>(), 5);
        Assert.Equal(0f, Losses.TemporalPenalty([block2]).item<float>());
        Assert.Equal(0.5f / 1.75f / 2, Losses.TemporalPenalty([block1, block2]).item<float>(), 5);
        // Scale-free: halving every activation cannot lower the penalty.
        Assert.Equal(0.5f / 1.75f, Losses.TemporalPenalty([block1 * 0.5f]).item<float>(), 5);
        Assert.Throws<ArgumentException>(() => Losses.TemporalPenalty([zeros(3, 1, 2)]));
    }

    [Fact]
    public void PairBatchesHoldNeighbouringFramesWithTheSameCropAndFlip()
    {
        // One static sequence: every pair is the same scene a frame or two apart.
        var dataset = new SyntheticDataset(SyntheticDataset.FirstTrainingSeed, 1, 64, 48);
        var pool = new FramePool(dataset, 4, seed: 3, neighbourGap: 2);
        using var scope = NewDisposeScope();
        using var batch = TrainingBatch.Sample(pool, new Random(1), 6, 2, 3, TinyModels.Config(), pairs: true);
        Assert.Equal([6L, 3, 32, 48], batch.Images.shape);
        for (int i = 0; i < 6; i += 2)
        {
            // Same view (a different flip would mirror the labels), different frames (noise, motion).
            float labelsAgree = (batch.Labels[i] == batch.Labels[i + 1]).to(ScalarType.Float32).mean().item<float>();
            Assert.True(labelsAgree > 0.95f, $"pair {i / 2}: labels agree on only {labelsAgree:P1}");
            Assert.True((batch.Images[i] - batch.Images[i + 1]).abs().max().item<float>() > 0, $"pair {i / 2} holds the same frame twice");
        }
        Assert.Throws<ArgumentException>(() => TrainingBatch.Sample(pool, new Random(1), 5, 2, 3, TinyModels.Config(), pairs: true));
        var plain = new FramePool(dataset, 2, seed: 3);
        Assert.Throws<InvalidOperationException>(() => plain.SamplePair(new Random(1)));
    }

    [Fact]
    public void TrainingWithThePenaltyKeepsBlockOutputsCloserBetweenNeighbouringFrames()
    {
        float Penalty(string path)
        {
            var (model, _) = ModelFile.Load(path);
            using (model)
            using (NewDisposeScope())
            using (no_grad())
            {
                model.eval();
                var pool = new FramePool(SyntheticDataset.Training(64, 48), 16, seed: 99, neighbourGap: 2);
                using var batch = TrainingBatch.Sample(pool, new Random(5), 16, 3, 4, model.Config, pairs: true);
                var forward = model.Forward(batch.Images, new ForwardOptions(TaskSet.Segmentation, KeepBlockOutputs: true));
                Assert.Equal(model.Config.Blocks, forward.BlockOutputs(VisionTask.Segmentation).Count);
                return Losses.TemporalPenalty(forward.BlockOutputs(VisionTask.Segmentation)).item<float>();
            }
        }

        string plain = Path.Combine(_dir, "plain.safetensors");
        string temporal = Path.Combine(_dir, "temporal.safetensors");
        var reports = new List<TrainProgress>();
        new Trainer(Options(plain, 0)).Run();
        var record = new Trainer(Options(temporal, 0.5), reports.Add).Run();

        float without = Penalty(plain);
        float with = Penalty(temporal);
        Assert.True(with < without * 0.85f, $"penalty with training weight 0.5: {with:F4}, without: {without:F4}; during training: {string.Join(", ", reports.Select(r => r.Temporal.ToString("F3")))}");
        Assert.All(reports, r => Assert.False(double.IsNaN(r.Temporal)));
        Assert.Contains("temporal-consistency penalty 0.5", record.Crop, StringComparison.Ordinal);
    }

    private static TrainOptions Options(string output, double temporal) =>
        TinyTraining.Options(output, TrainStage.Base, VisionTask.Segmentation, 80) with { Seed = 4, TemporalWeight = temporal };

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
