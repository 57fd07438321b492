using StreamMtl.Training.Calibration;
using StreamMtl.Training.Evaluation;
using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training.Tests.Calibration;

/// <summary>Per-class segmentation offsets: the mIoU they give, the search that chooses them, and folding them into a head.</summary>
public sealed class ClassBiasCalibrationTests
{
    [Fact]
    public void The_mIoU_of_shifted_logits_matches_a_hand_computed_confusion()
    {
        using var scope = NewDisposeScope();
        // Truth 0,0,1,1; the second pixel leans to class 1 by 0.5.
        var logits = tensor(new float[] { 2, 0, 0, 0.5f, 0, 1.5f, 0, 3 }).reshape(4, 2);
        var truth = tensor(new long[] { 0, 0, 1, 1 });

        // Predicted 0,1,1,1: IoU 1/2 and 2/3.
        Assert.Equal((0.5 + 2.0 / 3) / 2, ClassBiasCalibration.MeanIoU(logits, truth, [0, 0], 2), 12);
        // +1 on class 0 wins the second pixel back: both IoUs 1.
        Assert.Equal(1.0, ClassBiasCalibration.MeanIoU(logits, truth, [1, 0], 2), 12);
        // +10 on class 0 calls every pixel 0: IoU 2/4 and 0.
        Assert.Equal(0.25, ClassBiasCalibration.MeanIoU(logits, truth, [10, 0], 2), 12);
    }

    [Fact]
    public void The_search_undoes_a_class_that_is_scored_too_low_and_stays_within_its_bound()
    {
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator(7);
        const int classes = 3;
        var truth = randint(0, classes, [30000], generator: generator);
        var clean = nn.functional.one_hot(truth, classes).to(ScalarType.Float32).mul(2.0f).Plus(randn([30000, classes], generator: generator));
        var biased = clean.clone();
        biased[TensorIndex.Colon, 2].sub_(1.5f);

        double clean0 = ClassBiasCalibration.MeanIoU(clean, truth, [0, 0, 0], classes);
        var (offsets, before, after, trials) = ClassBiasCalibration.Search(biased, truth, classes);

        Assert.Equal(ClassBiasCalibration.MeanIoU(biased, truth, [0, 0, 0], classes), before, 12);
        Assert.True(after > before + 0.05, $"mIoU {before:F4} -> {after:F4}");
        Assert.True(after > clean0 - 0.005, $"calibrated {after:F4} vs unbiased logits {clean0:F4}");
        Assert.Equal(after, ClassBiasCalibration.MeanIoU(biased, truth, offsets, classes), 12);
        Assert.InRange(offsets[2] - (offsets[0] + offsets[1]) / 2, 1.2, 1.8);
        Assert.Equal(0, offsets.Sum(), 4);
        Assert.True(trials > 2 * classes);

        var (bounded, _, _, _) = ClassBiasCalibration.Search(biased, truth, classes, maxOffset: 0.5);
        Assert.All(bounded, o => Assert.InRange(o, -1.0, 1.0));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Folded_offsets_add_to_every_pixel_s_logits_and_leave_the_other_tasks_alone(bool refine)
    {
        using var scope = NewDisposeScope();
        var config = TinyModels.Config() with { RefineTasks = refine ? [VisionTask.Segmentation] : [] };
        using var model = TinyModels.WithRandomDeltas(config);
        var input = randn(2, 3, 48, 64, generator: new TorchSharp.torch.Generator(3));
        float[] offsets = [0.5f, -1, 0, 2, -0.25f, 0.75f, -3];
        var (segBefore, depthBefore) = Outputs(model, input);

        ClassBiasCalibration.Fold(model, offsets);

        var (segAfter, depthAfter) = Outputs(model, input);
        var expected = segBefore.Plus(tensor(offsets).view(1, 7, 1, 1));
        Assert.True(segAfter.allclose(expected, rtol: 1e-5, atol: 1e-5), "segmentation logits are not the old ones plus the offsets");
        Assert.True(depthAfter.allclose(depthBefore, rtol: 0, atol: 0), "depth changed");
        Assert.Throws<ArgumentException>(() => ClassBiasCalibration.Fold(model, [1, 2]));
    }

    private static (Tensor Segmentation, Tensor Depth) Outputs(MultiTaskVit model, Tensor input)
    {
        using var noGrad = no_grad();
        using var result = model.Forward(input, new ForwardOptions());
        return (result.Final(VisionTask.Segmentation).clone(), result.Final(VisionTask.Depth).clone());
    }
}
