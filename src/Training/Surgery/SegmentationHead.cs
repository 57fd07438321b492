using StreamMtl.Pipeline.Model;

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
        var trained = source.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
        return Rebuilt.From(source, source.Config with { Classes = classes }, target =>
        {
            foreach (var (name, parameter) in target.Where(p => !Fresh(p.Key)))
            {
                parameter.copy_(trained[name]);
            }
        });
    }

    private static bool Fresh(string name) =>
        name.StartsWith($"heads.{VisionTask.Segmentation.Name()}.fc2.", StringComparison.Ordinal)
        || name.StartsWith($"heads.{VisionTask.Segmentation.Name()}.refine", StringComparison.Ordinal);
}
