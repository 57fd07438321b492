using StreamMtl.Pipeline.Model;
using TorchSharp;

namespace StreamMtl.Pipeline.Weights;

/// <summary>Saves and loads a <see cref="MultiTaskVit"/> with its metadata as one safetensors file.</summary>
public static class ModelFile
{
    /// <summary>
    /// Writes the model's parameters and metadata (CPU copies; the file is replaced atomically). <paramref name="dropDeltasBeforeSplit"/> leaves out the sub-task blocks
    /// before the split layer (which that split never runs, so a sub-task stage never trained them) and records
    /// delta_from = split, so the file holds only what the model runs.
    /// </summary>
    public static void Save(string path, MultiTaskVit model, ModelMetadata metadata, bool dropDeltasBeforeSplit = false)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir != null)
        {
            Directory.CreateDirectory(dir);
        }
        var config = model.Config;
        var tensors = model.named_parameters().Select(p => (p.name, (torch.Tensor)p.parameter));
        if (dropDeltasBeforeSplit && config.SplitLayer > config.DeltaFrom)
        {
            var dropped = MultiTaskVit.UnusedDeltaPrefixes(config, config.SubTasks);
            tensors = tensors.Where(t => !dropped.Any(prefix => t.name.StartsWith(prefix, StringComparison.Ordinal)));
            config = config with { DeltaFrom = config.SplitLayer };
        }
        var withConfig = metadata with { Config = config };
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string> { [ModelMetadata.Key] = withConfig.ToJson() });
    }

    /// <summary>Replaces the metadata's evaluation figures; the weights, config and training records stay as they are.</summary>
    public static void WriteMetrics(string path, IReadOnlyDictionary<string, double> metrics)
    {
        var (model, metadata) = Load(path);
        using (model)
        {
            Save(path, model, metadata with { Metrics = new Dictionary<string, double>(metrics) });
        }
    }

    /// <summary>Reads the metadata only (no weights).</summary>
    public static ModelMetadata ReadMetadata(string path)
    {
        using var file = SafeTensorsFile.Read(path);
        return ParseMetadata(path, file.Metadata);
    }

    /// <summary>
    /// Builds the model described by the file and loads its weights. <paramref name="splitLayer"/>
    /// overrides the stored split layer (sub-tasks then share more or fewer base blocks).
    /// </summary>
    public static (MultiTaskVit Model, ModelMetadata Metadata) Load(string path, int? splitLayer = null) =>
        Load(path, splitLayer, [], 0);

    /// <summary>
    /// As <see cref="Load(string, int?)"/>, and gives the heads of <paramref name="refine"/> that lack it the
    /// pixel-aware refinement (<paramref name="refineHidden"/> channels), starting as the identity; for
    /// training a refinement on a trained model.
    /// </summary>
    public static (MultiTaskVit Model, ModelMetadata Metadata) Load(string path, int? splitLayer, VisionTask[] refine, int refineHidden)
    {
        using var file = SafeTensorsFile.Read(path);
        var metadata = ParseMetadata(path, file.Metadata);
        var config = splitLayer is int split ? metadata.Config with { SplitLayer = split } : metadata.Config;
        var added = refine.Where(t => !config.RefineTasks.Contains(t)).ToArray();
        if (added.Length > 0)
        {
            if (config.RefineTasks.Length > 0 && config.RefineHidden != refineHidden)
            {
                throw new ArgumentException($"{path} refines with {config.RefineHidden} hidden channels; cannot add refinements with {refineHidden}");
            }
            config = config with { RefineTasks = [.. config.RefineTasks, .. added], RefineHidden = refineHidden };
        }
        var newParts = added.Select(t => $"heads.{t.Name()}.refine").ToList();
        var errors = config.Validate();
        if (errors.Count > 0)
        {
            throw new ModelFormatException($"{path}: invalid model configuration: {string.Join("; ", errors)}");
        }
        var model = new MultiTaskVit(config);
        try
        {
            ModelWeights.LoadInto(model, file, strict: true,
                mayBeMissing: name => newParts.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal)));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        model.eval();
        return (model, metadata with { Config = config });
    }

    /// <summary>Loads weights into an existing model of the same architecture.</summary>
    public static void LoadWeights(string path, MultiTaskVit model)
    {
        using var file = SafeTensorsFile.Read(path);
        ModelWeights.LoadInto(model, file, strict: true);
        model.ClearCaches();
    }

    private static ModelMetadata ParseMetadata(string path, IReadOnlyDictionary<string, string> raw)
    {
        if (!raw.TryGetValue(ModelMetadata.Key, out var json))
        {
            throw new ModelFormatException($"{path}: no \"{ModelMetadata.Key}\" metadata entry; is this a StreamMtl model file?");
        }
        try
        {
            var metadata = ModelMetadata.FromJson(json);
            if (metadata.Format != ModelMetadata.CurrentFormat)
            {
                throw new ModelFormatException($"{path}: format {metadata.Format} is not supported (expected {ModelMetadata.CurrentFormat})");
            }
            return metadata;
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ModelFormatException($"{path}: metadata is not valid JSON: {e.Message}");
        }
    }
}
