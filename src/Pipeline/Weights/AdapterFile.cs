using System.Text.Json;
using StreamMtl.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamMtl.Pipeline.Weights;

/// <summary>What an adapter file records about itself: the base model it adapts (its version string) and the adapters' rank.</summary>
public sealed record AdapterMetadata
{
    public const string Key = "streammtl-adapter";
    public const string CurrentFormat = "streammtl-adapter/1";

    public string Format { get; init; } = CurrentFormat;

    /// <summary>The base model's <see cref="ModelVersion.Of"/> (format + sha256 of the file): the only base it loads on.</summary>
    public required string BaseVersion { get; init; }

    /// <summary>The base file's name when trained, for messages.</summary>
    public required string BaseName { get; init; }

    public required int Rank { get; init; }

    /// <summary>How the adapter was trained (as a model file's records).</summary>
    public List<TrainingRecord> Training { get; init; } = [];

    public string ToJson() => JsonSerializer.Serialize(this);

    public static AdapterMetadata FromJson(string json) =>
        JsonSerializer.Deserialize<AdapterMetadata>(json) ?? throw new JsonException("null adapter metadata");
}

/// <summary>
/// MTLoRA adapter files: the tensors an adapted model trained (shared adapters under adapters.*, the sub-tasks' own
/// parameters under tasks.*, the heads under heads.*), tied to one base model by its version string. Loading folds the
/// shared adapters into the base's trunk weights (W += B*A) and replaces the sub-task and head tensors, so the adapted
/// model costs nothing more per frame than the base.
/// </summary>
public static class AdapterFile
{
    /// <summary>Name prefixes of the model's own parameters an adapter file carries (besides the adapters).</summary>
    public static readonly string[] ModelPrefixes = ["tasks.", "heads."];

    /// <summary>Whether a model parameter belongs in an adapter file (trained while adapting).</summary>
    public static bool Carries(string name) => ModelPrefixes.Any(prefix => name.StartsWith(prefix, StringComparison.Ordinal));

    /// <summary>Writes the adapters and the model's sub-task and head tensors (CPU copies), with <paramref name="metadata"/>.</summary>
    public static void Save(string path, MultiTaskVit model, SharedAdapters adapters, AdapterMetadata metadata)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir != null)
        {
            Directory.CreateDirectory(dir);
        }
        var tensors = adapters.NamedTensors().Select(p => (p.Name, (Tensor)p.Parameter))
            .Concat(model.named_parameters().Where(p => Carries(p.name)).Select(p => (p.name, (Tensor)p.parameter)));
        SafeTensorsFile.Write(path, tensors, new Dictionary<string, string> { [AdapterMetadata.Key] = metadata.ToJson() });
    }

    /// <summary>Reads an adapter file's metadata; a missing file or one that is not an adapter file is a <see cref="ModelFormatException"/> naming it.</summary>
    public static AdapterMetadata ReadMetadata(string path)
    {
        using var file = Open(path);
        return ParseMetadata(file);
    }

    /// <summary>Reads an adapter file's metadata and checks it was trained on the model file at <paramref name="basePath"/>.</summary>
    public static AdapterMetadata ReadMetadata(string adapterPath, string basePath, ModelMetadata baseMetadata) =>
        CheckBase(ReadMetadata(adapterPath), adapterPath, basePath, baseMetadata);

    private static AdapterMetadata CheckBase(AdapterMetadata metadata, string adapterPath, string basePath, ModelMetadata baseMetadata)
    {
        string baseVersion = ModelVersion.Of(basePath, baseMetadata);
        if (metadata.BaseVersion != baseVersion)
        {
            throw new ModelFormatException($"{adapterPath}: adapts base {metadata.BaseName} ({metadata.BaseVersion}), not {basePath} ({baseVersion})");
        }
        if (metadata.Rank < 1)
        {
            throw new ModelFormatException($"{adapterPath}: adapter rank must be >= 1, got {metadata.Rank}");
        }
        return metadata;
    }

    /// <summary>
    /// Loads the base model at <paramref name="basePath"/> with the adapter at <paramref name="adapterPath"/> folded in
    /// (see <see cref="Apply"/>).
    /// </summary>
    public static (MultiTaskVit Model, ModelMetadata Metadata) LoadFolded(string basePath, string adapterPath, int? splitLayer = null)
    {
        var (model, metadata) = ModelFile.Load(basePath, splitLayer);
        try
        {
            Apply(adapterPath, basePath, metadata, model, fold: true)?.Dispose();
            return (model, metadata);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the adapter at <paramref name="adapterPath"/> into <paramref name="model"/> (loaded from <paramref name="basePath"/>):
    /// checks it was trained on that base file and fits the model, copies its sub-task and head tensors, and either folds the
    /// shared adapters into the trunk (<paramref name="fold"/>; returns null) or attaches them to run on the fly (returns them;
    /// the caller disposes them). Nothing changes when a check fails.
    /// </summary>
    public static SharedAdapters? Apply(string adapterPath, string basePath, ModelMetadata baseMetadata, MultiTaskVit model, bool fold)
    {
        using var file = Open(adapterPath);
        var metadata = CheckBase(ParseMetadata(file), adapterPath, basePath, baseMetadata);
        var adapters = new SharedAdapters(model.Config, metadata.Rank);
        try
        {
            var wanted = adapters.NamedTensors().Select(p => (p.Name, p.Parameter))
                .Concat(model.named_parameters().Where(p => Carries(p.name)).Select(p => (p.name, p.parameter))).ToList();
            var problems = new List<string>();
            foreach (var (name, parameter) in wanted)
            {
                if (!file.Contains(name))
                {
                    problems.Add($"missing '{name}'");
                }
                else if (!file.Info(name).Shape.SequenceEqual(parameter.shape))
                {
                    problems.Add($"'{name}' has shape {file.Info(name).ShapeText}, expected {SafeTensorInfo.FormatShape(parameter.shape)} (rank {metadata.Rank})");
                }
            }
            var known = wanted.Select(p => p.Item1).ToHashSet(StringComparer.Ordinal);
            problems.AddRange(file.Names.Where(n => !known.Contains(n)).Select(n => $"unexpected '{n}'"));
            if (problems.Count > 0)
            {
                throw new ModelFormatException($"{adapterPath}: does not fit {basePath}: {string.Join("; ", problems.Take(10))}" +
                    (problems.Count > 10 ? $" and {problems.Count - 10} more" : ""));
            }
            using (no_grad())
            {
                var device = model.parameters().First().device;
                adapters.to(device);
                foreach (var (name, parameter) in adapters.NamedTensors().Select(p => (p.Name, p.Parameter))
                    .Concat(model.named_parameters().Where(p => Carries(p.name)).Select(p => (p.name, p.parameter))))
                {
                    using var loaded = file.Load(name);
                    parameter.copy_(loaded);
                }
            }
            model.ClearCaches();
            if (!fold)
            {
                model.AttachAdapters(adapters);
                return adapters;
            }
            model.FoldAdapters(adapters);
            adapters.Dispose();
            return null;
        }
        catch
        {
            adapters.Dispose();
            throw;
        }
    }

    /// <summary>What an adapter adds to the served model's version string: "+adapter.sha256." and the file's hash.</summary>
    public static string VersionSuffix(string path)
    {
        using var stream = File.OpenRead(path);
        return $"+adapter.sha256.{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream))[..12]}";
    }

    private static SafeTensorsReader Open(string path)
    {
        if (!File.Exists(path))
        {
            throw new ModelFormatException($"adapter file {path} does not exist");
        }
        return SafeTensorsFile.Read(path);
    }

    private static AdapterMetadata ParseMetadata(SafeTensorsReader file)
    {
        if (!file.Metadata.TryGetValue(AdapterMetadata.Key, out var json))
        {
            throw new ModelFormatException($"{file.Path}: no \"{AdapterMetadata.Key}\" metadata entry; not a StreamMtl adapter file" +
                (file.Metadata.ContainsKey(ModelMetadata.Key) ? " (it is a model file: pass it as the model, not --adapter)" : ""));
        }
        try
        {
            var metadata = AdapterMetadata.FromJson(json);
            if (metadata.Format != AdapterMetadata.CurrentFormat)
            {
                throw new ModelFormatException($"{file.Path}: adapter format {metadata.Format} is not supported (expected {AdapterMetadata.CurrentFormat})");
            }
            return metadata;
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{file.Path}: adapter metadata is not valid JSON: {e.Message}");
        }
    }
}
