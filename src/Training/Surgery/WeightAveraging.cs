using StreamMtl.Pipeline.Weights;
using StreamMtl.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Training.Surgery;

/// <summary>
/// Averages the weights of several files of one architecture, e.g. the checkpoints along the end of a training
/// run (stochastic weight averaging, Izmailov et al., 2018): the mean sits in a flatter part of the loss than any
/// one checkpoint, and decisions that swing from checkpoint to checkpoint settle.
/// </summary>
public static class WeightAveraging
{
    /// <summary>
    /// Writes the element-wise mean of <paramref name="inputs"/>' tensors to <paramref name="output"/>, with the
    /// first file's metadata plus a training record naming the inputs; refused unless all files share one
    /// architecture (their configurations compare equal) and class table. The output may be one of the inputs.
    /// </summary>
    public static ModelMetadata Average(IReadOnlyList<string> inputs, string output)
    {
        if (inputs.Count < 2)
        {
            throw new ArgumentException($"averaging needs at least two model files, got {inputs.Count}");
        }
        var (sum, metadata) = ModelFile.Load(inputs[0]);
        using (sum)
        {
            string architecture = Architecture(metadata);
            var totals = sum.named_parameters().ToDictionary(p => p.name, p => p.parameter, StringComparer.Ordinal);
            using (no_grad())
            {
                foreach (string path in inputs.Skip(1))
                {
                    var (model, other) = ModelFile.Load(path);
                    using (model)
                    {
                        if (Architecture(other) != architecture)
                        {
                            throw new ModelFormatException($"{path}: its architecture or classes differ from {inputs[0]}'s, so its weights cannot be averaged with them");
                        }
                        foreach (var (name, parameter) in model.named_parameters())
                        {
                            totals[name].PlusInPlace(parameter);
                        }
                    }
                }
                using var count = ((double)inputs.Count).ToScalar();
                foreach (var total in totals.Values)
                {
                    total.div_(count);
                }
            }
            var record = new TrainingRecord("average", metadata.Config.BaseTask.Name(), 0, 0, "", 0, 0, 0, 0,
                $"no training (no loss): element-wise mean of {inputs.Count} files: {string.Join(", ", inputs.Select(Path.GetFileName))}");
            var averaged = metadata with { Training = [.. metadata.Training, record], Metrics = [] };
            ModelFile.Save(output, sum, averaged);
            return averaged;
        }
    }

    private static string Architecture(ModelMetadata metadata) =>
        System.Text.Json.JsonSerializer.Serialize(metadata.Config) + string.Join(",", metadata.Classes);
}
