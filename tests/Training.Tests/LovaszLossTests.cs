using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests;

/// <summary>The Lovász-softmax loss against a case worked by hand, its limits, its gradient, and a trainer run with it.</summary>
[Collection(TinyTraining.Collection)]
public sealed class LovaszLossTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    [Fact]
    public void Four_pixels_give_the_hand_computed_loss_and_an_ignored_pixel_changes_nothing()
    {
        using var scope = NewDisposeScope();
        // Five pixels in a 1x5 row, two classes; the last pixel is ignored. p(class 0) = 0.9, 0.4, 0.3, 0.2, truth 0, 0, 1, 1.
        float[] p0 = [0.9f, 0.4f, 0.3f, 0.2f, 0.5f];
        var logits = stack([tensor(p0).log(), tensor(p0.Select(p => 1 - p).ToArray()).log()]).view(1, 2, 1, 5);
        var labels = tensor(new long[] { 0, 0, 1, 1, 255 }).view(1, 1, 5);

        // Class 0: errors 0.6, 0.3, 0.2, 0.1 in sorted order, truth 1, 0, 0, 1; Jaccard losses 1/2, 2/3, 3/4, 1,
        // so the gradient is 1/2, 1/6, 1/12, 1/4 and the loss 0.3 + 0.05 + 0.2/12 + 0.025.
        double class0 = 0.3 + 0.05 + 0.2 / 12 + 0.025;
        // Class 1: errors 0.6, 0.3, 0.2, 0.1, truth 0, 1, 1, 0; Jaccard losses 1/3, 2/3, 1, 1: gradient 1/3 each for the first three.
        double class1 = (0.6 + 0.3 + 0.2) / 3;
        Assert.Equal((class0 + class1) / 2, Losses.LovaszSoftmax(logits, labels).item<float>(), 5);
    }

    [Fact]
    public void A_confident_right_answer_costs_nothing_and_a_wrong_one_costs_more()
    {
        using var scope = NewDisposeScope();
        var labels = randint(0, 3, [2, 8, 8], generator: new Generator(3));
        var right = nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).to(ScalarType.Float32).mul(30f);
        var wrong = nn.functional.one_hot(labels.add(1).remainder(3), 3).permute(0, 3, 1, 2).to(ScalarType.Float32).mul(30f);

        Assert.Equal(0, Losses.LovaszSoftmax(right, labels).item<float>(), 4);
        Assert.Equal(1, Losses.LovaszSoftmax(wrong, labels).item<float>(), 4);
        var uncertain = zeros(2, 3, 8, 8, requires_grad: true);
        var loss = Losses.LovaszSoftmax(uncertain, labels);
        Assert.InRange(loss.item<float>(), 0.1, 0.9);
        loss.backward();
        // Raising each pixel's true class lowers the loss.
        var towardTruth = nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).to(ScalarType.Float32);
        Assert.True(uncertain.grad!.mul(towardTruth).sum().item<float>() < 0);
    }

    [Fact]
    public void A_trainer_run_with_the_loss_records_it()
    {
        string output = _dir.File("lovasz.safetensors");
        var options = TinyTraining.Options(output, TrainStage.Base, VisionTask.Segmentation, 6) with { LovaszWeight = 0.5 };
        var record = new Trainer(options).Run();
        Assert.Contains("Lovász-softmax loss x0.5 on segmentation", record.Crop, StringComparison.Ordinal);
        Assert.True(File.Exists(output));
        Assert.False(double.IsNaN(record.FinalLoss));
    }

    [Fact]
    public void A_stage_without_segmentation_refuses_the_loss()
    {
        string output = _dir.File("depth.safetensors");
        var options = TinyTraining.Options(output, TrainStage.Single, VisionTask.Depth, 2) with { LovaszWeight = 1 };
        var error = Assert.Throws<ArgumentException>(() => new Trainer(options).Run());
        Assert.StartsWith("the Lovász-softmax loss is a segmentation loss;", error.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(output));
    }

    public void Dispose() => _dir.Dispose();
}
