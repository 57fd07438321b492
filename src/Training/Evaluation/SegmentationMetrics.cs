namespace StreamMtl.Training.Evaluation;

/// <summary>Dataset-pooled confusion matrix with mIoU and pixel accuracy; pixels labelled <c>ignore</c> in the truth are skipped.</summary>
public sealed class SegmentationMetrics
{
    private readonly long[] _confusion;

    public SegmentationMetrics(int classes, byte ignore = 255)
    {
        if (classes < 1 || classes > 256)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), $"classes must be in 1..256, got {classes}");
        }
        Classes = classes;
        Ignore = ignore;
        _confusion = new long[classes * classes];
    }

    /// <summary>Metrics of a confusion matrix counted elsewhere (row = truth, column = prediction, row-major).</summary>
    public static SegmentationMetrics FromConfusion(int classes, ReadOnlySpan<long> confusion)
    {
        var metrics = new SegmentationMetrics(classes);
        if (confusion.Length != metrics._confusion.Length)
        {
            throw new ArgumentException($"a {classes}-class confusion matrix has {metrics._confusion.Length} cells, got {confusion.Length}");
        }
        confusion.CopyTo(metrics._confusion);
        foreach (long cell in confusion)
        {
            metrics.Pixels += cell;
        }
        return metrics;
    }

    public int Classes { get; }

    public byte Ignore { get; }

    /// <summary>Pixels counted (truth not ignored).</summary>
    public long Pixels { get; private set; }

    /// <summary>Pixels whose truth is <paramref name="truth"/> and prediction is <paramref name="predicted"/>.</summary>
    public long Confusion(int truth, int predicted) => _confusion[truth * Classes + predicted];

    /// <summary>Adds one frame's label maps (same pixel order).</summary>
    public void Add(ReadOnlySpan<byte> predicted, ReadOnlySpan<byte> truth)
    {
        if (predicted.Length != truth.Length)
        {
            throw new ArgumentException($"prediction has {predicted.Length} pixels, truth {truth.Length}");
        }
        for (int i = 0; i < truth.Length; i++)
        {
            byte t = truth[i];
            if (t == Ignore)
            {
                continue;
            }
            byte p = predicted[i];
            // A label outside the class table is a bug upstream; counting it anywhere would hide it.
            if (t >= Classes || p >= Classes)
            {
                throw new ArgumentOutOfRangeException(nameof(predicted), $"pixel {i}: truth {t} / prediction {p} outside 0..{Classes - 1}");
            }
            _confusion[t * Classes + p]++;
            Pixels++;
        }
    }

    /// <summary>IoU = TP / (TP + FP + FN) per class; NaN for a class absent from both truth and prediction.</summary>
    public double[] ClassIoU()
    {
        var iou = new double[Classes];
        for (int c = 0; c < Classes; c++)
        {
            long tp = Confusion(c, c);
            long union = -tp;
            for (int k = 0; k < Classes; k++)
            {
                union += Confusion(c, k) + Confusion(k, c);
            }
            iou[c] = union == 0 ? double.NaN : (double)tp / union;
        }
        return iou;
    }

    /// <summary>
    /// Mean IoU over classes present in the truth or the prediction (counted pixels only). Classes absent from
    /// both have no defined IoU; counting them as 0 or 1 would move the mean by what the data set happens to
    /// contain rather than by how well the model does. NaN before any pixel is added.
    /// </summary>
    public double MeanIoU
    {
        get
        {
            var present = ClassIoU().Where(v => !double.IsNaN(v)).ToList();
            return present.Count == 0 ? double.NaN : present.Average();
        }
    }

    /// <summary>The confusion matrix as text, each row in percent of that truth class's pixels.</summary>
    public string FormatConfusion(Func<int, string> name)
    {
        var text = new System.Text.StringBuilder();
        text.Append($"{"",10}");
        for (int p = 0; p < Classes; p++) text.Append($"{name(p),9}");
        for (int t = 0; t < Classes; t++)
        {
            long row = 0;
            for (int p = 0; p < Classes; p++) row += Confusion(t, p);
            text.Append('\n').Append($"{name(t),10}");
            for (int p = 0; p < Classes; p++)
            {
                text.Append(row == 0 ? $"{"-",9}" : $"{100.0 * Confusion(t, p) / row,9:F1}");
            }
        }
        return text.ToString();
    }

    /// <summary>Correct pixels / counted pixels; NaN before any pixel is added.</summary>
    public double PixelAccuracy
    {
        get
        {
            long correct = 0;
            for (int c = 0; c < Classes; c++) correct += Confusion(c, c);
            return Pixels == 0 ? double.NaN : (double)correct / Pixels;
        }
    }
}
