using StreamMtl.Pipeline.Runners;
using StreamMtl.Training.Evaluation;
using StreamMtl.Pipeline.Model;
using StreamMtl.Training;
using StreamMtl.Pipeline.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Training.Calibration;

/// <summary>What <see cref="ClassBiasCalibration.Run"/> did: the offsets it chose and the validation mIoU before and after.</summary>
public sealed record CalibrationResult(float[] Offsets, double MiouBefore, double MiouAfter, int Frames, long Pixels, int Trials);

/// <summary>
/// Post-hoc calibration of the segmentation decision: one offset per class added to the logits, chosen to maximise
/// the dataset-pooled mIoU on a validation set, then folded into the head's output bias so the model file carries
/// it and inference costs nothing more. A network trained with per-pixel cross-entropy (class-balanced or not) is
/// not argmax-optimal for mIoU, which weighs each class's false positives and false negatives by that class's
/// size: a small class that loses its outline pixels to the floor gains more IoU from being called a little more
/// often than the floor loses. The search is coordinate ascent with a shrinking step over the C offsets, on the
/// logits of every validation pixel held in memory.
/// </summary>
public static class ClassBiasCalibration
{
    /// <summary>Step sizes of the coordinate ascent, in logits, coarse to fine.</summary>
    private static readonly double[] Steps = [0.5, 0.2, 0.1, 0.05, 0.02];

    /// <summary>
    /// Loads <paramref name="validation"/>'s model, renders its validation frames, chooses the offsets there and
    /// writes the calibrated model to <paramref name="output"/>, with a training record that names the offsets and
    /// the validation set.
    /// </summary>
    public static CalibrationResult Run(EvalOptions validation, string output, double maxOffset = 3, Action<string>? log = null)
    {
        string modelPath = validation.ModelPath;
        var (model, metadata) = ModelFile.Load(modelPath);
        using (model)
        {
            if (!model.Config.Has(VisionTask.Segmentation))
            {
                throw new ArgumentException($"{modelPath} has no segmentation head to calibrate");
            }
            var frames = Evaluator.RenderFrames(validation);
            log?.Invoke($"rendered {frames.Count} validation frames (seeds {validation.FirstSeed}..{validation.FirstSeed + validation.Sequences - 1})");
            int classes = model.Config.Classes;
            using var scope = NewDisposeScope();
            var (logits, truth) = Collect(model, frames);
            var (offsets, before, after, trials) = Search(logits, truth, classes, maxOffset);
            Fold(model, offsets);
            string names = string.Join(", ", offsets.Select((o, c) => $"{Evaluator.ClassName(metadata.Classes, c)} {o:+0.00;-0.00}"));
            log?.Invoke($"offsets: {names}; validation mIoU {before:F4} -> {after:F4} ({trials} trials)");
            var record = new TrainingRecord("calibrate", VisionTask.Segmentation.Name(), 0, 0, "", validation.FirstSeed, frames.Count, 0, 0,
                $"no training (no loss): segmentation logit offsets per class ({names}) chosen for pooled mIoU on validation seeds " +
                $"{validation.FirstSeed}..{validation.FirstSeed + validation.Sequences - 1} ({frames.Count} frames at {validation.Width}x{validation.Height}): " +
                $"{before:F4} -> {after:F4}");
            var calibrated = metadata with { Training = [.. metadata.Training, record], Metrics = [] };
            ModelFile.Save(output, model, calibrated);
            return new CalibrationResult(offsets, before, after, frames.Count, truth.shape[0], trials);
        }
    }

    /// <summary>
    /// The segmentation logits [P, C] (float32) and true labels [P] (int64) of every pixel of <paramref name="frames"/>
    /// whose truth is not <paramref name="ignore"/>, from a dense forward of the base task.
    /// </summary>
    public static (Tensor Logits, Tensor Truth) Collect(MultiTaskVit model, IReadOnlyList<TruthFrame> frames, byte ignore = 255)
    {
        var logits = new List<Tensor>(frames.Count);
        var truths = new List<Tensor>(frames.Count);
        var forward = new ForwardOptions(VisionTask.Segmentation.ToSet());
        using (no_grad())
        {
            foreach (var frame in frames)
            {
                using var scope = NewDisposeScope();
                var input = ImageTensors.FromBgr(frame.Bgr, frame.Width, frame.Height, model.Config);
                using var result = model.Forward(input, forward);
                var perPixel = result.Final(VisionTask.Segmentation)[0].flatten(1).t();
                var labels = tensor(frame.Truth.Labels).to(ScalarType.Int64);
                var keep = labels.ne(Scalars.Of(ignore));
                logits.Add(perPixel[keep].to(ScalarType.Float32).MoveToOuterDisposeScope());
                truths.Add(labels[keep].MoveToOuterDisposeScope());
            }
        }
        var all = (cat(logits, 0), cat(truths, 0));
        logits.ForEach(t => t.Dispose());
        truths.ForEach(t => t.Dispose());
        return all;
    }

    /// <summary>Pooled mIoU of argmax(<paramref name="logits"/> + <paramref name="offsets"/>) against <paramref name="truth"/>.</summary>
    public static double MeanIoU(Tensor logits, Tensor truth, ReadOnlySpan<float> offsets, int classes)
    {
        using var scope = NewDisposeScope();
        var shifted = logits.Plus(tensor(offsets.ToArray()));
        using var rows = ((long)classes).ToScalar();
        var cells = shifted.argmax(1).add(truth, rows); // prediction + classes * truth
        var confusion = cells.bincount(null, classes * classes).data<long>().ToArray();
        return SegmentationMetrics.FromConfusion(classes, confusion).MeanIoU;
    }

    /// <summary>
    /// Coordinate ascent over the per-class offsets (each within +-<paramref name="maxOffset"/>): at each step size,
    /// every class's offset is moved up or down while that raises the pooled mIoU; then the step shrinks. The
    /// offsets are returned centred on zero (only their differences change the argmax).
    /// </summary>
    public static (float[] Offsets, double Before, double After, int Trials) Search(Tensor logits, Tensor truth, int classes, double maxOffset = 3)
    {
        var offsets = new float[classes];
        double before = MeanIoU(logits, truth, offsets, classes);
        double best = before;
        int trials = 1;
        foreach (double step in Steps)
        {
            bool improved = true;
            for (int round = 0; improved && round < 50; round++)
            {
                improved = false;
                for (int c = 0; c < classes; c++)
                {
                    foreach (int sign in (ReadOnlySpan<int>)[1, -1])
                    {
                        float candidate = (float)(offsets[c] + sign * step);
                        if (Math.Abs(candidate) > maxOffset)
                        {
                            continue;
                        }
                        float kept = offsets[c];
                        offsets[c] = candidate;
                        double miou = MeanIoU(logits, truth, offsets, classes);
                        trials++;
                        if (miou > best + 1e-7)
                        {
                            best = miou;
                            improved = true;
                            break;
                        }
                        offsets[c] = kept;
                    }
                }
            }
        }
        float mean = offsets.Average();
        return (offsets.Select(o => o - mean).ToArray(), before, best, trials);
    }

    /// <summary>
    /// Adds <paramref name="offsets"/> to the segmentation head's output bias (the refinement's output bias when
    /// the head refines, since that is added last), so the model's logits become its old logits plus the offsets.
    /// </summary>
    public static void Fold(MultiTaskVit model, IReadOnlyList<float> offsets)
    {
        int classes = model.Config.Classes;
        if (offsets.Count != classes)
        {
            throw new ArgumentException($"{offsets.Count} offsets for {classes} classes");
        }
        string head = $"heads.{VisionTask.Segmentation.Name()}";
        bool refines = model.Config.RefineTasks.Contains(VisionTask.Segmentation);
        var bias = (Tensor)(model.get_parameter(refines ? $"{head}.refine_out.bias" : $"{head}.fc2.bias")
            ?? throw new InvalidOperationException($"{head} has no output bias"));
        long perClass = bias.shape[0] / classes;
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        // fc2's outputs are (C, py, px) per token: class c owns the contiguous run [c*p*p, (c+1)*p*p).
        var expanded = tensor(offsets.ToArray()).repeat_interleave(perClass);
        bias.PlusInPlace(expanded);
    }
}
