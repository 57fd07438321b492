using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training.Surgery;

/// <summary>
/// Gives a trained model a segmentation head for another class table (a data set with other classes): the head's output
/// layers (and its refinement, whose input carries the class scores) start fresh, everything else keeps its trained values.
/// </summary>
public static class SegmentationHead
{
    /// <summary>
    /// A new model like <paramref name="source"/> with <paramref name="classes"/> segmentation classes: the head's last linear
    /// and refinement start fresh (even at an equal class count, the old rows score other classes); every other tensor is copied.
    /// </summary>
    public static MultiTaskVit Recreate(MultiTaskVit source, int classes)
    {
        var model = new MultiTaskVit(source.Config with { Classes = classes });
        try
        {
            var trained = source.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
            using var grad = no_grad();
            foreach (var (name, parameter) in model.named_parameters())
            {
                if (!Fresh(name) && trained.TryGetValue(name, out var value))
                {
                    parameter.copy_(value);
                }
            }
            model.ClearCaches();
            model.train(source.training);
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static bool Fresh(string name) =>
        name.StartsWith($"heads.{VisionTask.Segmentation.Name()}.fc2.", StringComparison.Ordinal)
        || name.StartsWith($"heads.{VisionTask.Segmentation.Name()}.refine", StringComparison.Ordinal);
}
