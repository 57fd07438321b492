using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace StreamMtl.Training;

/// <summary>Per-task training losses on raw head outputs.</summary>
public static class Losses
{
    /// <summary>
    /// Cross-entropy for segmentation (0, with its graph, for a batch without a labelled pixel); L1 on log-depth (scale-relative,
    /// matches AbsRel); L1 + (1 - cos) for normals. Ignored labels, invalid depth and missing normals are left out.
    /// </summary>
    public static Tensor For(VisionTask task, Tensor raw, TrainingBatch batch, Tensor? classWeights = null) => task switch
    {
        VisionTask.Segmentation => batch.LabelledPixels > 0
            ? F.cross_entropy(raw, batch.Labels, weight: classWeights, ignore_index: 255)
            : raw.sum().mul(Scalars.Of(0)),
        VisionTask.Depth => LogDepth(raw, batch.Depth),
        VisionTask.Normals => Normals(raw, batch.Normals),
        _ => throw new ArgumentOutOfRangeException(nameof(task)),
    };

    /// <summary>
    /// Lovász-softmax loss (Berman et al., "The Lovász-Softmax loss", CVPR 2018): a convex surrogate of 1 - IoU per
    /// class, so training can optimise the metric itself rather than per-pixel likelihood. Pooled over every pixel
    /// of the batch (as mIoU pools over the data set), averaged over the classes present in the truth; pixels
    /// labelled <paramref name="ignore"/> are left out. <paramref name="raw"/> [B, C, H, W] logits, <paramref name="labels"/> [B, H, W].
    /// </summary>
    public static Tensor LovaszSoftmax(Tensor raw, Tensor labels, long ignore = 255)
    {
        long classes = raw.shape[1];
        var flatLabels = labels.reshape(-1);
        var keep = flatLabels.ne(Scalars.Of(ignore));
        var probabilities = F.softmax(raw, 1).permute(0, 2, 3, 1).reshape(-1, classes)[keep];
        var truth = flatLabels[keep];
        var perClass = new List<Tensor>();
        for (long c = 0; c < classes; c++)
        {
            var foreground = truth.eq(Scalars.Of(c)).to(probabilities.dtype);
            if (foreground.sum().item<float>() == 0)
            {
                continue;
            }
            var errors = (foreground - probabilities[.., c]).abs();
            var (sorted, order) = errors.sort(descending: true);
            perClass.Add(sorted.dot(LovaszGradient(foreground[order])));
        }
        return perClass.Count == 0 ? raw.sum().mul(Scalars.Of(0)) : stack(perClass).mean();
    }

    /// <summary>
    /// The gradient of the Lovász extension of the Jaccard loss at the sorted errors: the change of
    /// 1 - |truth ∩ predicted| / |truth ∪ predicted| as each pixel, in order of decreasing error, joins the prediction.
    /// </summary>
    private static Tensor LovaszGradient(Tensor sortedForeground)
    {
        var total = sortedForeground.sum();
        var intersection = total - sortedForeground.cumsum(0);
        var union = total.Plus(sortedForeground.neg().PlusInPlace(1).cumsum(0));
        var jaccard = (intersection / union).neg().PlusInPlace(1);
        return cat([jaccard[..1], jaccard[1..] - jaccard[..^1]]);
    }

    /// <summary>
    /// Temporal-consistency penalty (the seed's video training): the mean over blocks of the L1 change of each
    /// block's output between the two frames of a neighbour pair (samples 2i and 2i+1 of the batch), relative to
    /// the block's mean absolute activation: the same relative measure the temporal token gate thresholds. The
    /// ratio is scale-free (its gradient through the scale is kept), so the model cannot lower it by shrinking
    /// the residual stream; with the scale detached it did exactly that, and the relative change went up.
    /// </summary>
    public static Tensor TemporalPenalty(IReadOnlyList<Tensor> blockOutputs)
    {
        if (blockOutputs.Count == 0)
        {
            throw new ArgumentException("no block outputs to compare", nameof(blockOutputs));
        }
        Tensor? sum = null;
        foreach (var a in blockOutputs)
        {
            if (a.shape[0] % 2 != 0)
            {
                throw new ArgumentException($"block outputs must hold neighbour pairs (even batch); got [{string.Join(", ", a.shape)}]", nameof(blockOutputs));
            }
            var pairs = a.view(a.shape[0] / 2, 2, -1);
            var change = (pairs.select(1, 0) - pairs.select(1, 1)).abs().mean();
            var term = change / a.abs().mean().clamp_min(Scalars.Of(1e-6));
            sum = sum is null ? term : sum.Plus(term);
        }
        return sum!.div(Scalars.Of(blockOutputs.Count));
    }

    /// <summary>
    /// Output-stability penalty between the two samples of each pair (2i and 2i+1) of a batch of twins, the same
    /// frame degraded twice: segmentation, the symmetric KL divergence between the two pixel-wise class
    /// distributions (the decision flips a compressed static stream shows come from small changes of nearly tied
    /// logits); depth, the L1 difference of log-depth; normals, 1 - cos between the two directions. Mean over pixels.
    /// </summary>
    public static Tensor Stability(VisionTask task, Tensor raw)
    {
        if (raw.shape[0] % 2 != 0)
        {
            throw new ArgumentException($"outputs must hold pairs (even batch); got [{string.Join(", ", raw.shape)}]", nameof(raw));
        }
        var pairs = raw.view([raw.shape[0] / 2, 2, .. raw.shape[1..]]);
        var a = pairs.select(1, 0);
        var b = pairs.select(1, 1);
        switch (task)
        {
            case VisionTask.Segmentation:
                var logA = F.log_softmax(a, 1);
                var logB = F.log_softmax(b, 1);
                // KL(a||b) + KL(b||a) = sum over classes of (p_a - p_b)(log p_a - log p_b); halved.
                return (logA.exp() - logB.exp()).mul(logA - logB).sum(1).mean().mul(Scalars.Of(0.5));
            case VisionTask.Depth:
                return (a - b).abs().mean();
            case VisionTask.Normals:
                var cosine = (F.normalize(a, p: 2, dim: 1, eps: 1e-6) * F.normalize(b, p: 2, dim: 1, eps: 1e-6)).sum(1);
                return cosine.neg().PlusInPlace(1).mean();
            default:
                throw new ArgumentOutOfRangeException(nameof(task));
        }
    }

    /// <summary>
    /// Class weights (1/frequency)^0.5, normalised to mean 1, from the labels of a frame pool. Floor and
    /// walls cover most pixels; without weighting the small objects, which decide mIoU, learn last.
    /// </summary>
    public static float[] BalancedClassWeights(FramePool pool, int classes)
    {
        var counts = new double[classes];
        for (int i = 0; i < pool.Size; i++)
        {
            foreach (byte label in pool[i].Truth.Labels)
            {
                if (label < classes)
                {
                    counts[label]++;
                }
            }
        }
        double total = counts.Sum();
        var weights = counts.Select(c => 1.0 / Math.Sqrt(Math.Max(c / total, 1e-4))).ToArray();
        double mean = weights.Average();
        return weights.Select(w => (float)(w / mean)).ToArray();
    }

    private static Tensor LogDepth(Tensor raw, Tensor depth)
    {
        // A pixel without a finite positive depth is left out; a NaN must not reach the sum (NaN x 0 is NaN).
        var valid = depth.gt(Scalars.Of(0)).logical_and(depth.isfinite());
        var target = depth.nan_to_num(1, 1, 1).clamp_min(Scalars.Of(1e-3)).log();
        var error = (raw - target).abs().masked_fill(valid.logical_not(), Scalars.Of(0));
        return error.sum() / valid.sum().clamp_min(Scalars.One);
    }

    private static Tensor Normals(Tensor raw, Tensor truth)
    {
        var predicted = F.normalize(raw, p: 2, dim: 1, eps: 1e-6);
        // A pixel without a finite, non-zero normal is left out (masked, not multiplied: NaN x 0 is NaN).
        var invalid = truth.abs().sum(1, keepdim: true).gt(Scalars.Of(0)).logical_and(truth.isfinite().all(1, keepdim: true)).logical_not();
        truth = truth.nan_to_num(0, 0, 0);
        var cosine = (predicted * truth).sum(1, keepdim: true);
        var l1 = (predicted - truth).abs().sum(1, keepdim: true);
        // 1 - cosine + l1, without temporary scalars (see Scalars).
        var valid = invalid.logical_not().to(ScalarType.Float32);
        return l1.sub(cosine).PlusInPlace(1).masked_fill(invalid, Scalars.Of(0)).sum() / valid.sum().clamp_min(Scalars.One);
    }
}
