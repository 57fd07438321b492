using StreamMtl.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamMtl.Training.Surgery;

/// <summary>A new model of another architecture filled from a trained one: the common frame of the surgery operations.</summary>
internal static class Rebuilt
{
    /// <summary>
    /// Builds a model of <paramref name="config"/>, lets <paramref name="fill"/> write its parameters (by name, without gradients),
    /// drops caches derived from the weights and takes <paramref name="source"/>'s train/eval mode; disposed if filling fails.
    /// </summary>
    public static MultiTaskVit From(MultiTaskVit source, ModelConfig config, Action<IReadOnlyDictionary<string, TorchSharp.Modules.Parameter>> fill)
    {
        var model = new MultiTaskVit(config);
        try
        {
            using (no_grad())
            {
                fill(model.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal));
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
}
