using static TorchSharp.torch;

namespace StreamMtl.Training.Evaluation;

/// <summary>Feeds the metric accumulators from tensors (copied to CPU arrays; evaluation, not the real-time path).</summary>
public static class MetricTensors
{
    /// <summary>Labels [B, H, W] (or logits [B, C, H, W], reduced by argmax over C) against truth labels [B, H, W].</summary>
    public static void Add(this SegmentationMetrics metrics, Tensor predicted, Tensor truth)
    {
        using var scope = NewDisposeScope();
        var labels = predicted.dim() == truth.dim() + 1 ? predicted.argmax(1) : predicted;
        metrics.Add(Bytes(labels), Bytes(truth));
    }

    /// <summary>Depth maps of any matching shape, e.g. [B, 1, H, W] or [B, H, W].</summary>
    public static void Add(this DepthMetrics metrics, Tensor predicted, Tensor truth)
    {
        using var scope = NewDisposeScope();
        metrics.Add(Floats(predicted), Floats(truth));
    }

    /// <summary>Normal maps [B, 3, H, W], channels first as the model emits them.</summary>
    public static void Add(this NormalsMetrics metrics, Tensor predicted, Tensor truth)
    {
        using var scope = NewDisposeScope();
        metrics.Add(Floats(ChannelsLast(predicted)), Floats(ChannelsLast(truth)));
    }

    private static Tensor ChannelsLast(Tensor t) => t.dim() == 4 && t.shape[1] == 3
        ? t.permute(0, 2, 3, 1)
        : throw new ArgumentException($"normals must be [B, 3, H, W], got [{string.Join(", ", t.shape)}]");

    private static byte[] Bytes(Tensor t) => t.detach().cpu().to_type(ScalarType.Byte).contiguous().data<byte>().ToArray();

    private static float[] Floats(Tensor t) => t.detach().cpu().to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
}
