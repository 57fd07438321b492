using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests;

[Collection(TinyTraining.Collection)]
public sealed class CameraDegradationTests
{
    private static byte[] Rendered()
    {
        var pool = new FramePool(new SyntheticDataset(SyntheticDataset.FirstTrainingSeed, 1, 64, 48), 1, seed: 2);
        return (byte[])pool[0].Bgr.Clone();
    }

    private static double MeanAbsDifference(byte[] a, byte[] b) => a.Zip(b).Average(p => Math.Abs(p.First - p.Second));

    [Fact]
    public void Jpeg_round_trip_adds_artefacts_that_shrink_with_quality()
    {
        var clean = Rendered();
        var low = (byte[])clean.Clone();
        var high = (byte[])clean.Clone();
        CameraDegradation.JpegInPlace(low, 48, 64, 20);
        CameraDegradation.JpegInPlace(high, 48, 64, 95);
        double lowError = MeanAbsDifference(clean, low);
        double highError = MeanAbsDifference(clean, high);
        Assert.True(lowError > 0.5, $"quality 20 changed the image by only {lowError:F2} levels");
        Assert.True(lowError < 25, $"quality 20 changed the image by {lowError:F2} levels: no longer the same picture");
        Assert.True(highError < lowError * 0.6, $"quality 95 error {highError:F2} vs quality 20 {lowError:F2}");
        Assert.Throws<ArgumentException>(() => CameraDegradation.JpegInPlace(new byte[100], 48, 64, 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => CameraDegradation.JpegInPlace(clean, 48, 64, 0));
    }

    [Fact]
    public void Off_leaves_crops_clean_and_on_degrades_most_of_them()
    {
        var clean = Rendered();
        var untouched = (byte[])clean.Clone();
        CameraDegradation.Apply(untouched, 48, 64, 0, new Random(1));
        Assert.Equal(clean, untouched);
        var rng = new Random(1);
        int degraded = 0;
        for (int i = 0; i < 40; i++)
        {
            var copy = (byte[])clean.Clone();
            CameraDegradation.Apply(copy, 48, 64, 30, rng);
            degraded += copy.AsSpan().SequenceEqual(clean) ? 0 : 1;
        }
        Assert.InRange(degraded, 20, 38);
    }

    [Fact]
    public void A_pair_batch_with_compression_keeps_its_truth_and_the_run_records_the_augmentation()
    {
        var pool = new FramePool(new SyntheticDataset(SyntheticDataset.FirstTrainingSeed, 1, 64, 48), 4, seed: 3, neighbourGap: 2);
        using (NewDisposeScope())
        {
            using var batch = TrainingBatch.Sample(pool, new Random(1), 4, 2, 3, TinyModels.Config(), pairs: true, jpegMinQuality: 10);
            Assert.Equal([4L, 3, 32, 48], batch.Images.shape);
            Assert.True((batch.Labels[0] == batch.Labels[1]).to(ScalarType.Float32).mean().item<float>() > 0.95f);
        }
        using var dir = new TempDirectory();
        string output = dir.File("jpeg.safetensors");
        var record = new Trainer(TinyTraining.Options(output, TrainStage.Base, VisionTask.Segmentation, 3) with { JpegMinQuality = 30, TemporalWeight = 0.5 }).Run();
        Assert.True(File.Exists(output));
        Assert.Contains("JPEG q30-95", record.Crop, StringComparison.Ordinal);
    }
}
