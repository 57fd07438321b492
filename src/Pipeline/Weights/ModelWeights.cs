using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Weights;

/// <summary>Saves a module's named parameters to safetensors and loads them back with full checking.</summary>
public static class ModelWeights
{
    /// <summary>Metadata key holding the StreamMtl JSON document (model config, classes, training info).</summary>
    public const string MetadataKey = "streammtl";

    private const int MaxListed = 20;

    /// <summary>Writes every named parameter of <paramref name="module"/> as F32.</summary>
    public static void Save(string path, nn.Module module, IReadOnlyDictionary<string, string> metadata) =>
        SafeTensorsFile.Write(path, module.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), metadata);

    /// <summary>
    /// Copies the file's tensors into the module's parameters by name. Everything is checked before anything
    /// is copied, so a failed load leaves the module as it was. Extra tensors in the file are an error when
    /// <paramref name="strict"/>. Parameters for which <paramref name="mayBeMissing"/> is true keep their
    /// initial values when the file lacks them (parts added to a trained model, e.g. a head refinement).
    /// Modules that cache values derived from weights must drop those caches after.
    /// </summary>
    public static void LoadInto(nn.Module module, SafeTensorsReader file, bool strict = true, Func<string, bool>? mayBeMissing = null)
    {
        var parameters = module.named_parameters().ToList();
        var problems = new List<string>();
        var missing = parameters.Where(p => !file.Contains(p.name) && mayBeMissing?.Invoke(p.name) != true).Select(p => p.name).ToList();
        if (missing.Count > 0)
        {
            problems.Add($"missing {missing.Count} tensor(s): {List(missing)}");
        }
        foreach (var (name, parameter) in parameters.Where(p => file.Contains(p.name)))
        {
            var info = file.Info(name);
            if (!info.Shape.SequenceEqual(parameter.shape))
            {
                problems.Add($"tensor '{name}' has shape {info.ShapeText}, expected {SafeTensorInfo.FormatShape(parameter.shape)}");
            }
            else if (!info.DType.IsLoadableAsFloat())
            {
                problems.Add($"tensor '{name}' has dtype {info.DType.HeaderName()}, expected a float type");
            }
        }
        if (strict)
        {
            var known = parameters.Select(p => p.name).ToHashSet(StringComparer.Ordinal);
            var extra = file.Names.Where(n => !known.Contains(n)).ToList();
            if (extra.Count > 0)
            {
                problems.Add($"unexpected {extra.Count} tensor(s) not in the model: {List(extra)}");
            }
        }
        if (problems.Count > 0)
        {
            throw new ModelFormatException($"{file.Path}: weights do not fit the model: " + string.Join("; ", problems));
        }
        using var grad = no_grad();
        foreach (var (name, parameter) in parameters.Where(p => file.Contains(p.name)))
        {
            using var loaded = file.Load(name);
            parameter.copy_(loaded);
        }
    }

    /// <summary>Convenience overload that opens the file.</summary>
    public static void LoadInto(nn.Module module, string path, bool strict = true)
    {
        using var file = SafeTensorsFile.Read(path);
        LoadInto(module, file, strict);
    }

    private static string List(List<string> names) =>
        string.Join(", ", names.Take(MaxListed)) + (names.Count > MaxListed ? $" and {names.Count - MaxListed} more" : "");
}
